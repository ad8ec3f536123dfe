//! Announcement frames, built with pnet_packet: no sockets here.
//!
//! Three forms tell a link that an address now lives at a MAC:
//! - [`Announcement::PiranhaGarp`]: what Piranha's send_arp sends: an ARP
//!   *reply* whose sender and target are both the address and the MAC
//!   (RFC 2002's gratuitous form), padded to 60 bytes.
//! - [`Announcement::ArpRequest`]: what keepalived and `arping -U` send: an
//!   ARP *request* whose target hardware address is broadcast.
//! - [`Announcement::UnsolicitedNa`]: IPv6: an unsolicited neighbour
//!   advertisement with the Override flag, to all nodes (ff02::1).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use pnet_base::MacAddr as PnetMac;
use pnet_packet::arp::{ArpHardwareTypes, ArpOperation, ArpOperations, ArpPacket, MutableArpPacket};
use pnet_packet::ethernet::{EtherType, EtherTypes, EthernetPacket, MutableEthernetPacket};
use pnet_packet::icmpv6::ndp::{MutableNeighborAdvertPacket, NdpOption, NdpOptionTypes, NeighborAdvertFlags};
use pnet_packet::icmpv6::{Icmpv6Code, Icmpv6Packet, Icmpv6Types};
use pnet_packet::ip::IpNextHeaderProtocols;
use pnet_packet::ipv6::MutableIpv6Packet;
use pnet_packet::Packet;

use crate::mac::MacAddr;

const ETHERNET_HEADER: usize = 14;
const ARP_BODY: usize = 28;
/// The minimum Ethernet frame without its checksum; send_arp pads to it.
const MIN_FRAME: usize = 60;
const IPV6_HEADER: usize = 40;
const NA_BODY: usize = 24;
const NA_OPTION: usize = 8;
/// Hop limit of neighbour discovery messages (RFC 4861): receivers drop others.
const NDISC_HOP_LIMIT: u8 = 255;

/// An announcement of `ip` at `mac`, ready to be built into a frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Announcement {
    /// Piranha's gratuitous ARP (a reply), to `eth_destination` (pulse uses broadcast).
    PiranhaGarp {
        /// The address announced.
        ip: Ipv4Addr,
        /// The hardware address it is at.
        mac: MacAddr,
        /// Where the frame goes.
        eth_destination: MacAddr,
    },
    /// keepalived's gratuitous ARP (a request), to `eth_destination`.
    ArpRequest {
        /// The address announced.
        ip: Ipv4Addr,
        /// The hardware address it is at.
        mac: MacAddr,
        /// Where the frame goes.
        eth_destination: MacAddr,
    },
    /// IPv6 unsolicited neighbour advertisement; `router` sets the R flag
    /// (keepalived sets it when the interface forwards).
    UnsolicitedNa {
        /// The address announced.
        ip: Ipv6Addr,
        /// The hardware address it is at.
        mac: MacAddr,
        /// Where the frame goes.
        eth_destination: MacAddr,
        /// Whether the R flag is set.
        router: bool,
    },
}

impl Announcement {
    /// The usual form for an address: Piranha's GARP for IPv4, an unsolicited
    /// NA to all nodes for IPv6.
    pub fn for_address(ip: IpAddr, mac: MacAddr) -> Self {
        match ip {
            IpAddr::V4(ip) => Announcement::PiranhaGarp {
                ip,
                mac,
                eth_destination: MacAddr::BROADCAST,
            },
            IpAddr::V6(ip) => Announcement::UnsolicitedNa {
                ip,
                mac,
                eth_destination: MacAddr::IPV6_ALL_NODES,
                router: false,
            },
        }
    }

    /// The Ethernet destination of the frame.
    pub fn eth_destination(&self) -> MacAddr {
        match *self {
            Announcement::PiranhaGarp { eth_destination, .. }
            | Announcement::ArpRequest { eth_destination, .. }
            | Announcement::UnsolicitedNa { eth_destination, .. } => eth_destination,
        }
    }

    /// The whole Ethernet frame.
    pub fn frame(&self) -> Vec<u8> {
        match *self {
            Announcement::PiranhaGarp {
                ip,
                mac,
                eth_destination,
            } => arp_frame(ArpOperations::Reply, ip, mac, mac, eth_destination),
            Announcement::ArpRequest {
                ip,
                mac,
                eth_destination,
            } => arp_frame(
                ArpOperations::Request,
                ip,
                mac,
                MacAddr::BROADCAST,
                eth_destination,
            ),
            Announcement::UnsolicitedNa {
                ip,
                mac,
                eth_destination,
                router,
            } => na_frame(ip, mac, eth_destination, router),
        }
    }
}

fn pnet(mac: MacAddr) -> PnetMac {
    let [a, b, c, d, e, f] = mac.0;
    PnetMac(a, b, c, d, e, f)
}

fn ethernet(frame: &mut [u8], destination: MacAddr, source: MacAddr, ethertype: EtherType) {
    if let Some(mut eth) = MutableEthernetPacket::new(frame) {
        eth.set_destination(pnet(destination));
        eth.set_source(pnet(source));
        eth.set_ethertype(ethertype);
    }
}

fn arp_frame(
    op: ArpOperation,
    ip: Ipv4Addr,
    mac: MacAddr,
    target_mac: MacAddr,
    destination: MacAddr,
) -> Vec<u8> {
    let mut frame = vec![0u8; MIN_FRAME];
    ethernet(&mut frame, destination, mac, EtherTypes::Arp);
    if let Some(mut arp) = MutableArpPacket::new(&mut frame[ETHERNET_HEADER..ETHERNET_HEADER + ARP_BODY]) {
        arp.set_hardware_type(ArpHardwareTypes::Ethernet);
        arp.set_protocol_type(EtherTypes::Ipv4);
        arp.set_hw_addr_len(6);
        arp.set_proto_addr_len(4);
        arp.set_operation(op);
        arp.set_sender_hw_addr(pnet(mac));
        arp.set_sender_proto_addr(ip);
        arp.set_target_hw_addr(pnet(target_mac));
        arp.set_target_proto_addr(ip);
    }
    frame
}

fn na_frame(ip: Ipv6Addr, mac: MacAddr, destination: MacAddr, router: bool) -> Vec<u8> {
    let all_nodes = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);
    let icmp_len = NA_BODY + NA_OPTION;
    let mut frame = vec![0u8; ETHERNET_HEADER + IPV6_HEADER + icmp_len];
    ethernet(&mut frame, destination, mac, EtherTypes::Ipv6);
    let (ip_part, icmp_part) = frame[ETHERNET_HEADER..].split_at_mut(IPV6_HEADER);
    if let Some(mut ipv6) = MutableIpv6Packet::new(ip_part) {
        ipv6.set_version(6);
        ipv6.set_payload_length(icmp_len as u16);
        ipv6.set_next_header(IpNextHeaderProtocols::Icmpv6);
        ipv6.set_hop_limit(NDISC_HOP_LIMIT);
        ipv6.set_source(ip);
        ipv6.set_destination(all_nodes);
    }
    if let Some(mut na) = MutableNeighborAdvertPacket::new(icmp_part) {
        na.set_icmpv6_type(Icmpv6Types::NeighborAdvert);
        na.set_icmpv6_code(Icmpv6Code(0));
        let flags = NeighborAdvertFlags::Override | if router { NeighborAdvertFlags::Router } else { 0 };
        na.set_flags(flags);
        na.set_target_addr(ip);
        na.set_options(&[NdpOption {
            option_type: NdpOptionTypes::TargetLLAddr,
            length: 1,
            data: mac.0.to_vec(),
        }]);
    }
    let checksum = Icmpv6Packet::new(icmp_part).map(|p| pnet_packet::icmpv6::checksum(&p, &ip, &all_nodes));
    if let (Some(checksum), Some(mut na)) = (checksum, MutableNeighborAdvertPacket::new(icmp_part)) {
        na.set_checksum(checksum);
    }
    frame
}

/// A received frame, decoded as far as announcements go (for captures).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decoded {
    /// An ARP frame.
    Arp {
        /// The Ethernet destination.
        eth_destination: MacAddr,
        /// The Ethernet source.
        eth_source: MacAddr,
        /// The ARP header: hardware type (1, Ethernet), protocol type
        /// (0x0800, IPv4), and the two address lengths (6 and 4).
        hardware_type: u16,
        /// The protocol type.
        protocol_type: u16,
        /// The hardware address length.
        hw_addr_len: u8,
        /// The protocol address length.
        proto_addr_len: u8,
        /// 1 for a request, 2 for a reply.
        operation: u16,
        /// The sender's hardware address.
        sender_mac: MacAddr,
        /// The sender's IP address.
        sender_ip: Ipv4Addr,
        /// The target's hardware address.
        target_mac: MacAddr,
        /// The target's IP address.
        target_ip: Ipv4Addr,
        /// The frame's length as received.
        length: usize,
    },
    /// An ICMPv6 neighbour advertisement.
    NeighborAdvert {
        /// The Ethernet destination.
        eth_destination: MacAddr,
        /// The Ethernet source.
        eth_source: MacAddr,
        /// The IPv6 source.
        ip_source: Ipv6Addr,
        /// The IPv6 destination.
        ip_destination: Ipv6Addr,
        /// The IPv6 hop limit (255 for neighbour discovery).
        hop_limit: u8,
        /// The R, S and O flags.
        flags: u8,
        /// The address advertised.
        target: Ipv6Addr,
        /// The Target Link-Layer Address option.
        target_mac: Option<MacAddr>,
        /// Whether the ICMPv6 checksum verifies.
        checksum_ok: bool,
    },
}

fn ours(mac: PnetMac) -> MacAddr {
    MacAddr([mac.0, mac.1, mac.2, mac.3, mac.4, mac.5])
}

/// Decodes an ARP frame or an IPv6 neighbour advertisement; `None` for anything else.
pub fn decode(frame: &[u8]) -> Option<Decoded> {
    let eth = EthernetPacket::new(frame)?;
    match eth.get_ethertype() {
        EtherTypes::Arp => {
            let arp = ArpPacket::new(eth.payload())?;
            Some(Decoded::Arp {
                eth_destination: ours(eth.get_destination()),
                eth_source: ours(eth.get_source()),
                hardware_type: arp.get_hardware_type().0,
                protocol_type: arp.get_protocol_type().0,
                hw_addr_len: arp.get_hw_addr_len(),
                proto_addr_len: arp.get_proto_addr_len(),
                operation: arp.get_operation().0,
                sender_mac: ours(arp.get_sender_hw_addr()),
                sender_ip: arp.get_sender_proto_addr(),
                target_mac: ours(arp.get_target_hw_addr()),
                target_ip: arp.get_target_proto_addr(),
                length: frame.len(),
            })
        }
        EtherTypes::Ipv6 => {
            let ipv6 = pnet_packet::ipv6::Ipv6Packet::new(eth.payload())?;
            if ipv6.get_next_header() != IpNextHeaderProtocols::Icmpv6 {
                return None;
            }
            let icmp = Icmpv6Packet::new(ipv6.payload())?;
            if icmp.get_icmpv6_type() != Icmpv6Types::NeighborAdvert {
                return None;
            }
            let checksum_ok =
                pnet_packet::icmpv6::checksum(&icmp, &ipv6.get_source(), &ipv6.get_destination())
                    == icmp.get_checksum();
            let na = pnet_packet::icmpv6::ndp::NeighborAdvertPacket::new(ipv6.payload())?;
            let target_mac = na
                .get_options()
                .iter()
                .find(|o| o.option_type == NdpOptionTypes::TargetLLAddr && o.data.len() >= 6)
                .map(|o| MacAddr([o.data[0], o.data[1], o.data[2], o.data[3], o.data[4], o.data[5]]));
            Some(Decoded::NeighborAdvert {
                eth_destination: ours(eth.get_destination()),
                eth_source: ours(eth.get_source()),
                ip_source: ipv6.get_source(),
                ip_destination: ipv6.get_destination(),
                hop_limit: ipv6.get_hop_limit(),
                flags: na.get_flags(),
                target: na.get_target_addr(),
                target_mac,
                checksum_ok,
            })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAC: MacAddr = MacAddr([0x02, 0x00, 0x5e, 0x10, 0x20, 0x30]);

    #[test]
    fn piranha_garp_bytes() {
        let frame = Announcement::PiranhaGarp {
            ip: Ipv4Addr::new(192, 0, 2, 10),
            mac: MAC,
            eth_destination: MacAddr::BROADCAST,
        }
        .frame();
        #[rustfmt::skip]
        let expected: [u8; 60] = [
            0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // Ethernet destination
            0x02, 0x00, 0x5e, 0x10, 0x20, 0x30, // Ethernet source
            0x08, 0x06,                         // ARP
            0x00, 0x01, 0x08, 0x00, 6, 4,       // Ethernet, IPv4, lengths
            0x00, 0x02,                         // reply
            0x02, 0x00, 0x5e, 0x10, 0x20, 0x30, 192, 0, 2, 10, // sender
            0x02, 0x00, 0x5e, 0x10, 0x20, 0x30, 192, 0, 2, 10, // target
            0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // padding
        ];
        assert_eq!(frame, expected);
    }

    #[test]
    fn arp_request_form() {
        let frame = Announcement::ArpRequest {
            ip: Ipv4Addr::new(10, 0, 0, 1),
            mac: MAC,
            eth_destination: MacAddr::BROADCAST,
        }
        .frame();
        match decode(&frame) {
            Some(Decoded::Arp {
                operation,
                sender_mac,
                target_mac,
                sender_ip,
                target_ip,
                length,
                ..
            }) => {
                assert_eq!(operation, 1);
                assert_eq!((sender_mac, target_mac), (MAC, MacAddr::BROADCAST));
                assert_eq!(
                    (sender_ip, target_ip),
                    (Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 0, 0, 1))
                );
                assert_eq!(length, 60);
            }
            other => panic!("not ARP: {other:?}"),
        }
    }

    #[test]
    fn unsolicited_na_bytes() {
        let ip: Ipv6Addr = "2001:db8::10".parse().expect("literal");
        let frame = Announcement::for_address(IpAddr::V6(ip), MAC).frame();
        assert_eq!(frame.len(), 86);
        assert_eq!(
            &frame[..14],
            &[0x33, 0x33, 0, 0, 0, 1, 0x02, 0x00, 0x5e, 0x10, 0x20, 0x30, 0x86, 0xdd]
        );
        // IPv6: version 6, payload 32, ICMPv6, hop limit 255, VIP to ff02::1.
        assert_eq!(&frame[14..22], &[0x60, 0, 0, 0, 0, 32, 58, 255]);
        assert_eq!(&frame[22..38], &ip.octets());
        assert_eq!(
            &frame[38..54],
            &Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1).octets()
        );
        // NA: type 136, code 0, Override, target, option 2 (target link-layer address).
        assert_eq!(&frame[54..56], &[136, 0]);
        assert_eq!(&frame[58..62], &[0x20, 0, 0, 0]);
        assert_eq!(&frame[62..78], &ip.octets());
        assert_eq!(&frame[78..86], &[2, 1, 0x02, 0x00, 0x5e, 0x10, 0x20, 0x30]);
        match decode(&frame) {
            Some(Decoded::NeighborAdvert {
                checksum_ok,
                flags,
                target_mac,
                hop_limit,
                ..
            }) => {
                assert!(checksum_ok);
                assert_eq!(flags, NeighborAdvertFlags::Override);
                assert_eq!(target_mac, Some(MAC));
                assert_eq!(hop_limit, 255);
            }
            other => panic!("not an NA: {other:?}"),
        }
    }

    #[test]
    fn router_flag() {
        let ip: Ipv6Addr = "fd00::1".parse().expect("literal");
        let frame = Announcement::UnsolicitedNa {
            ip,
            mac: MAC,
            eth_destination: MacAddr::IPV6_ALL_NODES,
            router: true,
        }
        .frame();
        assert_eq!(frame[58], 0xa0);
    }

    #[test]
    fn other_frames_do_not_decode() {
        assert_eq!(decode(&[0u8; 10]), None);
        let mut ipv4 = vec![0u8; 60];
        ipv4[12..14].copy_from_slice(&[0x08, 0x00]);
        assert_eq!(decode(&ipv4), None);
    }
}
