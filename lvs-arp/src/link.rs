//! Interfaces and their addresses, over rtnetlink (neli).
//!
//! Everything here acts in the network namespace of the calling thread at
//! the time [`Rtnl::connect`] is called.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::unix::io::AsRawFd;
use std::time::Duration;

use neli::consts::nl::NlmF;
use neli::consts::rtnl::{Arphrd, Ifa, IfaF, Iff, Ifla, RtAddrFamily, RtScope, Rtm};
use neli::consts::socket::NlFamily;
use neli::nl::{NlPayload, NlmsghdrBuilder};
use neli::rtnl::{Ifaddrmsg, IfaddrmsgBuilder, Ifinfomsg, IfinfomsgBuilder, RtattrBuilder};
use neli::socket::synchronous::NlSocketHandle;
use neli::types::{Buffer, RtBuffer};
use neli::utils::Groups;
use neli::{FromBytesWithInput, Size, ToBytes};

use crate::error::{LinkError, LinkOp};
use crate::mac::MacAddr;

/// How long a request may wait for the kernel's answer.
const REPLY_TIMEOUT: Duration = Duration::from_secs(5);

/// A network interface.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Interface {
    /// Its index.
    pub index: u32,
    /// Its name.
    pub name: String,
    /// The hardware address; `None` for interfaces without one (loopback has all zeros).
    pub mac: Option<MacAddr>,
    /// Administratively up (`IFF_UP`).
    pub up: bool,
    /// The link has carrier (`IFF_LOWER_UP`).
    pub carrier: bool,
}

/// An address on an interface.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InterfaceAddress {
    /// The interface's index.
    pub index: u32,
    /// The address.
    pub ip: IpAddr,
    /// Its prefix length.
    pub prefix_len: u8,
    /// The IPv4 address label (`eth0:1`), Piranha's alias device.
    pub label: Option<String>,
}

/// What an idempotent change did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    /// It was added.
    Added,
    /// It was there already.
    AlreadyPresent,
    /// It was removed.
    Removed,
    /// It was not there.
    AlreadyAbsent,
}

/// Piranha names a VIP's device like `eth0:1`: the interface `eth0` with the
/// address label `eth0:1`. Returns the interface name and the label, if any.
pub fn split_alias(device: &str) -> (&str, Option<&str>) {
    match device.split_once(':') {
        Some((base, _)) if !base.is_empty() => (base, Some(device)),
        _ => (device, None),
    }
}

/// An rtnetlink connection.
pub struct Rtnl {
    socket: NlSocketHandle,
    seq: u32,
}

impl Rtnl {
    /// Opens an rtnetlink socket in the calling thread's network namespace.
    pub fn connect() -> Result<Self, LinkError> {
        let socket = NlSocketHandle::connect(NlFamily::Route, None, Groups::empty()).map_err(|e| {
            LinkError::Netlink {
                op: LinkOp::Connect,
                message: e.to_string(),
            }
        })?;
        set_receive_timeout(socket.as_raw_fd(), REPLY_TIMEOUT).map_err(|e| LinkError::Netlink {
            op: LinkOp::Connect,
            message: e.to_string(),
        })?;
        Ok(Rtnl { socket, seq: 0 })
    }

    /// Every interface.
    pub fn interfaces(&mut self) -> Result<Vec<Interface>, LinkError> {
        let request = IfinfomsgBuilder::default()
            .ifi_family(RtAddrFamily::Unspecified)
            .ifi_type(Arphrd::from(0))
            .build()
            .map_err(|e| build_error(LinkOp::ListInterfaces, e))?;
        let replies: Vec<Ifinfomsg> = self.dump(LinkOp::ListInterfaces, Rtm::Getlink, request)?;
        Ok(replies.iter().filter_map(interface_of).collect())
    }

    /// The interface called `name`.
    pub fn interface(&mut self, name: &str) -> Result<Interface, LinkError> {
        self.interfaces()?
            .into_iter()
            .find(|i| i.name == name)
            .ok_or_else(|| LinkError::NoSuchDevice(name.to_owned()))
    }

    /// Every address of every interface.
    pub fn addresses(&mut self) -> Result<Vec<InterfaceAddress>, LinkError> {
        let request = IfaddrmsgBuilder::default()
            .ifa_family(RtAddrFamily::Unspecified)
            .ifa_prefixlen(0)
            .ifa_scope(RtScope::Universe)
            .ifa_index(0)
            .build()
            .map_err(|e| build_error(LinkOp::ListAddresses, e))?;
        let replies: Vec<Ifaddrmsg> = self.dump(LinkOp::ListAddresses, Rtm::Getaddr, request)?;
        Ok(replies.iter().filter_map(address_of).collect())
    }

    /// The address `ip` on interface `index`, if present.
    pub fn find_address(&mut self, index: u32, ip: IpAddr) -> Result<Option<InterfaceAddress>, LinkError> {
        Ok(self
            .addresses()?
            .into_iter()
            .find(|a| a.index == index && a.ip == ip))
    }

    /// Adds `ip/prefix_len` to interface `index`, with an IPv4 label such as
    /// `eth0:1` (IPv6 addresses have no labels; one given is ignored). IPv6
    /// addresses skip duplicate address detection, so a VIP is usable at once.
    /// Adding an address that is already there changes nothing.
    pub fn add_address(
        &mut self,
        index: u32,
        ip: IpAddr,
        prefix_len: u8,
        label: Option<&str>,
    ) -> Result<Change, LinkError> {
        let op = LinkOp::AddAddress(ip);
        let max = if ip.is_ipv4() { 32 } else { 128 };
        if prefix_len > max {
            return Err(LinkError::InvalidPrefix { ip, prefix_len });
        }
        if let Some(label) = label.filter(|_| ip.is_ipv4()) {
            if label.len() >= libc::IFNAMSIZ {
                return Err(LinkError::InvalidLabel(label.to_owned()));
            }
        }
        let mut attrs = RtBuffer::new();
        attrs.push(rtattr(op, Ifa::Local, octets(ip))?);
        attrs.push(rtattr(op, Ifa::Address, octets(ip))?);
        if let IpAddr::V4(v4) = ip {
            if prefix_len <= 30 {
                let host_bits = u32::MAX.checked_shr(u32::from(prefix_len)).unwrap_or(0);
                let broadcast = Ipv4Addr::from(u32::from(v4) | host_bits);
                attrs.push(rtattr(op, Ifa::Broadcast, broadcast.octets().to_vec())?);
            }
            if let Some(label) = label {
                let mut bytes = label.as_bytes().to_vec();
                bytes.push(0);
                attrs.push(rtattr(op, Ifa::Label, bytes)?);
            }
        }
        let flags = if ip.is_ipv6() { IfaF::NODAD } else { IfaF::empty() };
        let message = IfaddrmsgBuilder::default()
            .ifa_family(family(ip))
            .ifa_prefixlen(prefix_len)
            .ifa_flags(flags)
            .ifa_scope(RtScope::Universe)
            .ifa_index(index)
            .rtattrs(attrs)
            .build()
            .map_err(|e| build_error(op, e))?;
        match self.request(op, Rtm::Newaddr, NlmF::CREATE | NlmF::EXCL, message) {
            Ok(()) => Ok(Change::Added),
            Err(LinkError::Kernel { errno, .. }) if errno == libc::EEXIST => Ok(Change::AlreadyPresent),
            Err(e) => Err(e),
        }
    }

    /// Removes `ip` from interface `index`, whatever its prefix. Removing an
    /// address that is not there changes nothing.
    pub fn remove_address(&mut self, index: u32, ip: IpAddr) -> Result<Change, LinkError> {
        let op = LinkOp::RemoveAddress(ip);
        let Some(present) = self.find_address(index, ip)? else {
            return Ok(Change::AlreadyAbsent);
        };
        let mut attrs = RtBuffer::new();
        attrs.push(rtattr(op, Ifa::Local, octets(ip))?);
        let message = IfaddrmsgBuilder::default()
            .ifa_family(family(ip))
            .ifa_prefixlen(present.prefix_len)
            .ifa_scope(RtScope::Universe)
            .ifa_index(index)
            .rtattrs(attrs)
            .build()
            .map_err(|e| build_error(op, e))?;
        match self.request(op, Rtm::Deladdr, NlmF::empty(), message) {
            Ok(()) => Ok(Change::Removed),
            // Gone between the look-up and the request.
            Err(LinkError::Kernel { errno, .. }) if errno == libc::EADDRNOTAVAIL || errno == libc::ENOENT => {
                Ok(Change::AlreadyAbsent)
            }
            Err(e) => Err(e),
        }
    }

    /// Brings `ip/prefix_len` up on a Piranha device name (`eth0` or the alias
    /// `eth0:1`, which becomes the address label) and returns the interface.
    pub fn add_vip(&mut self, device: &str, ip: IpAddr, prefix_len: u8) -> Result<Interface, LinkError> {
        let (name, label) = split_alias(device);
        let interface = self.interface(name)?;
        self.add_address(interface.index, ip, prefix_len, label)?;
        Ok(interface)
    }

    /// Takes `ip` down from a Piranha device name; returns what changed.
    pub fn remove_vip(&mut self, device: &str, ip: IpAddr) -> Result<Change, LinkError> {
        let (name, _) = split_alias(device);
        let interface = self.interface(name)?;
        self.remove_address(interface.index, ip)
    }

    /// Whether `ip` is on the interface of a Piranha device name.
    pub fn has_vip(&mut self, device: &str, ip: IpAddr) -> Result<bool, LinkError> {
        let (name, _) = split_alias(device);
        let interface = self.interface(name)?;
        Ok(self.find_address(interface.index, ip)?.is_some())
    }

    fn next_seq(&mut self) -> u32 {
        self.seq = self.seq.wrapping_add(1);
        self.seq
    }

    /// Sends a request and waits for its acknowledgement.
    fn request<P: Size + ToBytes + std::fmt::Debug>(
        &mut self,
        op: LinkOp,
        kind: Rtm,
        flags: NlmF,
        payload: P,
    ) -> Result<(), LinkError> {
        let seq = self.next_seq();
        let message = NlmsghdrBuilder::default()
            .nl_type(kind)
            .nl_flags(flags | NlmF::REQUEST | NlmF::ACK)
            .nl_seq(seq)
            .nl_payload(NlPayload::Payload(payload))
            .build()
            .map_err(|e| build_error(op, e))?;
        self.socket.send(&message).map_err(|e| socket_error(op, e))?;
        loop {
            let (replies, _) = self
                .socket
                .recv::<Rtm, Buffer>()
                .map_err(|e| socket_error(op, e))?;
            for reply in replies {
                let reply = reply.map_err(|e| socket_error(op, e))?;
                if *reply.nl_seq() != seq {
                    continue;
                }
                match reply.nl_payload() {
                    NlPayload::Ack(_) => return Ok(()),
                    NlPayload::Err(e) => {
                        return Err(LinkError::Kernel {
                            op,
                            errno: -*e.error(),
                        })
                    }
                    _ => {}
                }
            }
        }
    }

    /// Sends a dump request and collects every reply until the end.
    fn dump<Q, R>(&mut self, op: LinkOp, kind: Rtm, request: Q) -> Result<Vec<R>, LinkError>
    where
        Q: Size + ToBytes + std::fmt::Debug,
        R: Size + FromBytesWithInput<Input = usize> + std::fmt::Debug + Clone,
    {
        let seq = self.next_seq();
        let message = NlmsghdrBuilder::default()
            .nl_type(kind)
            .nl_flags(NlmF::REQUEST | NlmF::DUMP)
            .nl_seq(seq)
            .nl_payload(NlPayload::Payload(request))
            .build()
            .map_err(|e| build_error(op, e))?;
        self.socket.send(&message).map_err(|e| socket_error(op, e))?;
        let mut out = Vec::new();
        loop {
            let (replies, _) = self.socket.recv::<Rtm, R>().map_err(|e| socket_error(op, e))?;
            for reply in replies {
                let reply = reply.map_err(|e| socket_error(op, e))?;
                if *reply.nl_seq() != seq {
                    continue;
                }
                match reply.nl_payload() {
                    // neli lends payloads only; these messages are small.
                    NlPayload::Payload(payload) => out.push(payload.clone()),
                    NlPayload::Err(e) => {
                        return Err(LinkError::Kernel {
                            op,
                            errno: -*e.error(),
                        })
                    }
                    NlPayload::Empty | NlPayload::DumpExtAck(_) | NlPayload::Ack(_) => return Ok(out),
                }
            }
        }
    }
}

fn set_receive_timeout(fd: std::os::unix::io::RawFd, timeout: Duration) -> std::io::Result<()> {
    let tv = libc::timeval {
        tv_sec: timeout.as_secs() as libc::time_t,
        tv_usec: timeout.subsec_micros() as libc::suseconds_t,
    };
    // SAFETY: fd is an open socket owned by the caller; tv outlives the call.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_RCVTIMEO,
            (&tv as *const libc::timeval).cast(),
            std::mem::size_of::<libc::timeval>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

fn family(ip: IpAddr) -> RtAddrFamily {
    if ip.is_ipv4() {
        RtAddrFamily::Inet
    } else {
        RtAddrFamily::Inet6
    }
}

fn octets(ip: IpAddr) -> Vec<u8> {
    match ip {
        IpAddr::V4(v4) => v4.octets().to_vec(),
        IpAddr::V6(v6) => v6.octets().to_vec(),
    }
}

fn rtattr<T: neli::consts::rtnl::RtaType>(
    op: LinkOp,
    kind: T,
    payload: Vec<u8>,
) -> Result<neli::rtnl::Rtattr<T, Buffer>, LinkError> {
    RtattrBuilder::default()
        .rta_type(kind)
        .rta_payload(payload)
        .build()
        .map_err(|e| build_error(op, e))
}

fn build_error(op: LinkOp, error: impl std::fmt::Display) -> LinkError {
    LinkError::Netlink {
        op,
        message: format!("cannot build the request: {error}"),
    }
}

fn socket_error(op: LinkOp, error: neli::err::SocketError) -> LinkError {
    if let neli::err::SocketError::Io(io) = &error {
        if matches!(
            io.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        ) {
            return LinkError::Timeout {
                op,
                after: REPLY_TIMEOUT,
            };
        }
    }
    LinkError::Netlink {
        op,
        message: error.to_string(),
    }
}

fn interface_of(message: &Ifinfomsg) -> Option<Interface> {
    let attrs = message.rtattrs().get_attr_handle();
    let name_bytes = attrs.get_attribute(Ifla::Ifname)?.rta_payload().as_ref();
    let name = String::from_utf8_lossy(name_bytes)
        .trim_end_matches('\0')
        .to_owned();
    let mac = attrs.get_attribute(Ifla::Address).and_then(|a| {
        let bytes: [u8; 6] = a.rta_payload().as_ref().try_into().ok()?;
        Some(MacAddr(bytes))
    });
    let flags = message.ifi_flags();
    Some(Interface {
        index: u32::try_from(*message.ifi_index()).ok()?,
        name,
        mac,
        up: flags.contains(Iff::UP),
        carrier: flags.contains(Iff::LOWERUP),
    })
}

fn address_of(message: &Ifaddrmsg) -> Option<InterfaceAddress> {
    let attrs = message.rtattrs().get_attr_handle();
    // IFA_LOCAL is the address itself; IFA_ADDRESS is the peer on
    // point-to-point links, and the only one IPv6 sends.
    let bytes = attrs
        .get_attribute(Ifa::Local)
        .or_else(|| attrs.get_attribute(Ifa::Address))?
        .rta_payload()
        .as_ref();
    let ip = match *message.ifa_family() {
        RtAddrFamily::Inet => IpAddr::V4(Ipv4Addr::from(<[u8; 4]>::try_from(bytes).ok()?)),
        RtAddrFamily::Inet6 => IpAddr::V6(Ipv6Addr::from(<[u8; 16]>::try_from(bytes).ok()?)),
        _ => return None,
    };
    let label = attrs.get_attribute(Ifa::Label).map(|a| {
        String::from_utf8_lossy(a.rta_payload().as_ref())
            .trim_end_matches('\0')
            .to_owned()
    });
    Some(InterfaceAddress {
        index: *message.ifa_index(),
        ip,
        prefix_len: *message.ifa_prefixlen(),
        label,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alias_devices() {
        assert_eq!(split_alias("eth0:1"), ("eth0", Some("eth0:1")));
        assert_eq!(split_alias("eth0"), ("eth0", None));
        assert_eq!(split_alias(":1"), (":1", None));
    }
}
