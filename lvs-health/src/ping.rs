//! ICMP echo checks (ICMPv6 for IPv6 servers): one echo request over a raw
//! socket connected to the server, so that the kernel hands the socket only
//! that server's packets; up when the matching echo reply comes back.
//!
//! Raw sockets need `CAP_NET_RAW`, which the director has.

use std::io::Read;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use lvs_core::check::Failure;
use pnet_packet::icmp::echo_reply::EchoReplyPacket;
use pnet_packet::icmp::echo_request::MutableEchoRequestPacket;
use pnet_packet::icmp::IcmpTypes;
use pnet_packet::icmpv6::Icmpv6Types;
use pnet_packet::ipv4::Ipv4Packet;
use pnet_packet::Packet;
use socket2::{Domain, Protocol, Socket, Type};
use tokio::io::unix::AsyncFd;
use tokio::time::timeout;

/// An echo request's size: the 8-byte header and a payload naming the sender.
const REQUEST_BYTES: usize = 8 + 16;
const PAYLOAD: &[u8; 16] = b"lvs-rs ping\0\0\0\0\0";

pub(crate) async fn run(server: IpAddr, source: Option<IpAddr>, limit: Duration) -> Result<(), Failure> {
    let socket = open(server, source).map_err(|e| Failure::Connect(e.to_string()))?;
    // A fresh identifier per check, so that concurrent pings of one server
    // do not take each other's replies.
    let identifier = crate::run::random_u16();
    let sequence = 1;
    let request = request(server.is_ipv6(), identifier, sequence);
    let exchange = async {
        loop {
            let sent = socket
                .writable()
                .await
                .map_err(|e| Failure::Send(e.to_string()))?;
            let mut ready = sent;
            match ready.try_io(|s| s.get_ref().send(&request)) {
                Ok(result) => {
                    result.map_err(|e| Failure::Send(e.to_string()))?;
                    break;
                }
                Err(_would_block) => continue,
            }
        }
        let mut buffer = [0u8; 1500];
        loop {
            let mut ready = socket
                .readable()
                .await
                .map_err(|e| Failure::Read(e.to_string()))?;
            let read = match ready.try_io(|s| s.get_ref().read(&mut buffer)) {
                Ok(result) => result.map_err(|e| Failure::Read(e.to_string()))?,
                Err(_would_block) => continue,
            };
            if is_reply(&buffer[..read], server.is_ipv6(), identifier, sequence) {
                return Ok(());
            }
        }
    };
    match timeout(limit, exchange).await {
        Err(_) => Err(Failure::NoReply),
        Ok(result) => result,
    }
}

fn open(server: IpAddr, source: Option<IpAddr>) -> std::io::Result<AsyncFd<Socket>> {
    let (domain, protocol) = if server.is_ipv6() {
        (Domain::IPV6, Protocol::ICMPV6)
    } else {
        (Domain::IPV4, Protocol::ICMPV4)
    };
    let socket = Socket::new(domain, Type::RAW, Some(protocol))?;
    socket.set_nonblocking(true)?;
    if let Some(source) = source {
        socket.bind(&SocketAddr::new(source, 0).into())?;
    }
    // A connected raw socket receives only what the server sends.
    socket.connect(&SocketAddr::new(server, 0).into())?;
    // SAFETY: the AsyncFd owns the socket, which nothing else closes or
    // replaces while it is registered.
    unsafe { AsyncFd::register(socket) }.map_err(std::io::Error::from)
}

fn request(v6: bool, identifier: u16, sequence: u16) -> [u8; REQUEST_BYTES] {
    let mut bytes = [0u8; REQUEST_BYTES];
    if let Some(mut packet) = MutableEchoRequestPacket::new(&mut bytes) {
        // ICMPv6's echo request has the same layout under another type.
        if v6 {
            packet.set_icmp_type(pnet_packet::icmp::IcmpType(Icmpv6Types::EchoRequest.0));
        } else {
            packet.set_icmp_type(IcmpTypes::EchoRequest);
        }
        packet.set_identifier(identifier);
        packet.set_sequence_number(sequence);
        packet.set_payload(PAYLOAD);
    }
    // The kernel computes ICMPv6 checksums itself (RFC 3542 3.1).
    if !v6 {
        let checksum = pnet_packet::util::checksum(&bytes, 1);
        bytes[2..4].copy_from_slice(&checksum.to_be_bytes());
    }
    bytes
}

/// Whether `packet` (with its IPv4 header; ICMPv6 comes without one) is the
/// reply to our request.
fn is_reply(packet: &[u8], v6: bool, identifier: u16, sequence: u16) -> bool {
    let icmp = if v6 {
        packet
    } else {
        match Ipv4Packet::new(packet) {
            Some(ip) => {
                let header = usize::from(ip.get_header_length()) * 4;
                packet.get(header..).unwrap_or_default()
            }
            None => return false,
        }
    };
    let Some(reply) = EchoReplyPacket::new(icmp) else {
        return false;
    };
    let wanted = if v6 {
        Icmpv6Types::EchoReply.0
    } else {
        IcmpTypes::EchoReply.0
    };
    reply.get_icmp_type().0 == wanted
        && reply.get_identifier() == identifier
        && reply.get_sequence_number() == sequence
        && reply.payload().starts_with(PAYLOAD)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_checksums_to_zero_and_its_reply_is_recognised() {
        let request = request(false, 0x1234, 1);
        assert_eq!(
            pnet_packet::util::checksum(&request, 99),
            0,
            "a valid checksum sums to zero"
        );
        // The server's reply: type 0, behind a 20-byte IPv4 header.
        let mut reply = [0u8; 20 + REQUEST_BYTES];
        reply[0] = 0x45;
        reply[20..].copy_from_slice(&request);
        reply[20] = 0;
        assert!(is_reply(&reply, false, 0x1234, 1));
        assert!(!is_reply(&reply, false, 0x1235, 1), "another check's identifier");
        reply[20] = 8;
        assert!(
            !is_reply(&reply, false, 0x1234, 1),
            "our own request seen on loopback"
        );
    }
}
