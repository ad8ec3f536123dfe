//! The IPVS table as typed values: services, destinations, statistics,
//! timeouts, sync daemons.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// `AF_INET` or `AF_INET6`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Family {
    /// IPv4.
    Inet,
    /// IPv6.
    Inet6,
}

impl Family {
    /// The family of `ip`.
    pub fn of(ip: IpAddr) -> Family {
        if ip.is_ipv4() {
            Family::Inet
        } else {
            Family::Inet6
        }
    }

    /// Its `AF_*` number.
    pub fn raw(self) -> u16 {
        match self {
            Family::Inet => crate::linux::AF_INET as u16,
            Family::Inet6 => crate::linux::AF_INET6 as u16,
        }
    }

    /// The family of an `AF_*` number.
    pub fn from_raw(raw: u16) -> Option<Family> {
        match i32::from(raw) {
            crate::linux::AF_INET => Some(Family::Inet),
            crate::linux::AF_INET6 => Some(Family::Inet6),
            _ => None,
        }
    }
}

/// The transport protocol of an address-based service.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Protocol {
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
    /// SCTP.
    Sctp,
}

impl Protocol {
    /// Its `IPPROTO_*` number.
    pub fn raw(self) -> u16 {
        match self {
            Protocol::Tcp => crate::linux::IPPROTO_TCP as u16,
            Protocol::Udp => crate::linux::IPPROTO_UDP as u16,
            Protocol::Sctp => crate::linux::IPPROTO_SCTP as u16,
        }
    }

    /// The protocol of an `IPPROTO_*` number.
    pub fn from_raw(raw: u16) -> Option<Protocol> {
        match i32::from(raw) {
            crate::linux::IPPROTO_TCP => Some(Protocol::Tcp),
            crate::linux::IPPROTO_UDP => Some(Protocol::Udp),
            crate::linux::IPPROTO_SCTP => Some(Protocol::Sctp),
            _ => None,
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Protocol::Tcp => "TCP",
            Protocol::Udp => "UDP",
            Protocol::Sctp => "SCTP",
        })
    }
}

/// What identifies a virtual service.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ServiceKey {
    /// `-t|-u|--sctp-service ADDR:PORT`
    Addr {
        /// The transport protocol.
        protocol: Protocol,
        /// The virtual address.
        addr: IpAddr,
        /// The virtual port.
        port: u16,
    },
    /// `-f MARK` (`-6` for IPv6); the kernel treats it as TCP.
    Fwmark {
        /// The address family of its packets.
        family: Family,
        /// The firewall mark.
        mark: u32,
    },
}

impl ServiceKey {
    /// The address family of its packets.
    pub fn family(&self) -> Family {
        match *self {
            ServiceKey::Addr { addr, .. } => Family::of(addr),
            ServiceKey::Fwmark { family, .. } => family,
        }
    }
}

impl fmt::Display for ServiceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            ServiceKey::Addr {
                protocol,
                addr: IpAddr::V6(a),
                port,
            } => write!(f, "{protocol} [{a}]:{port}"),
            ServiceKey::Addr { protocol, addr, port } => write!(f, "{protocol} {addr}:{port}"),
            ServiceKey::Fwmark {
                family: Family::Inet,
                mark,
            } => write!(f, "FWM {mark}"),
            ServiceKey::Fwmark {
                family: Family::Inet6,
                mark,
            } => write!(f, "FWM {mark} IPv6"),
        }
    }
}

bitflags::bitflags! {
    /// Service flags (`IP_VS_SVC_F_*`). Bits this crate does not name are
    /// kept as the kernel sent them.
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
    pub struct ServiceFlags: u32 {
        /// Persistent service (`-p`).
        const PERSISTENT = 0x1;
        /// Set by the kernel on services in its hash table; never sent.
        const HASHED = 0x2;
        /// One-packet scheduling (`-o`).
        const ONE_PACKET = 0x4;
        /// Scheduler flag 1 (`sh-fallback`, `mh-fallback`).
        const SCHED1 = 0x8;
        /// Scheduler flag 2 (`sh-port`, `mh-port`).
        const SCHED2 = 0x10;
        /// Scheduler flag 3.
        const SCHED3 = 0x20;
        const _ = !0;
    }
}

impl ServiceFlags {
    /// The flags a request sets: everything but what only the kernel sets.
    pub fn settable(self) -> ServiceFlags {
        self - ServiceFlags::HASHED
    }
}

/// A virtual service as the kernel holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Service {
    /// What identifies it.
    pub key: ServiceKey,
    /// The scheduler's name (`wlc`, `mh`, ...).
    pub scheduler: String,
    /// Its flags.
    pub flags: ServiceFlags,
    /// Persistence timeout in seconds (0 without persistence).
    pub timeout: u32,
    /// IPv4: the persistence netmask (255.255.255.255 by default);
    /// IPv6: the prefix length (128 by default).
    pub netmask: Netmask,
    /// The persistence engine (`sip`), if any.
    pub persistence_engine: Option<String>,
    /// Counters, in replies only.
    pub stats: Option<Stats>,
}

impl Service {
    /// A service with ipvsadm's defaults: no persistence, a full netmask.
    pub fn new(key: ServiceKey, scheduler: &str) -> Service {
        let netmask = match key.family() {
            Family::Inet => Netmask::V4(Ipv4Addr::BROADCAST),
            Family::Inet6 => Netmask::V6(128),
        };
        Service {
            key,
            scheduler: scheduler.to_owned(),
            flags: ServiceFlags::default(),
            timeout: 0,
            netmask,
            persistence_engine: None,
            stats: None,
        }
    }

    /// Makes the service persistent for `seconds`.
    pub fn persistent(mut self, seconds: u32) -> Service {
        self.flags |= ServiceFlags::PERSISTENT;
        self.timeout = seconds;
        self
    }

    /// Whether two services have the same settings (statistics and the
    /// kernel's own flags aside).
    pub fn same_settings(&self, other: &Service) -> bool {
        self.key == other.key
            && self.scheduler == other.scheduler
            && self.flags.settable() == other.flags.settable()
            && self.timeout == other.timeout
            && self.netmask == other.netmask
            && self.persistence_engine == other.persistence_engine
    }
}

/// The persistence netmask of a service.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Netmask {
    /// An IPv4 netmask.
    V4(Ipv4Addr),
    /// An IPv6 prefix length.
    V6(u8),
}

/// How a destination is reached (`IP_VS_CONN_F_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ForwardMethod {
    /// NAT (`-m`).
    Masquerade,
    /// The director itself.
    Local,
    /// IP-in-IP and friends (`-i`).
    Tunnel,
    /// Direct routing (`-g`).
    DirectRoute,
}

impl ForwardMethod {
    /// Its `IP_VS_CONN_F_*` number.
    pub fn raw(self) -> u32 {
        match self {
            ForwardMethod::Masquerade => 0,
            ForwardMethod::Local => 1,
            ForwardMethod::Tunnel => 2,
            ForwardMethod::DirectRoute => 3,
        }
    }

    /// The method of an `IP_VS_CONN_F_*` number (its low bits).
    pub fn from_raw(raw: u32) -> Option<ForwardMethod> {
        match raw & 0x7 {
            0 => Some(ForwardMethod::Masquerade),
            1 => Some(ForwardMethod::Local),
            2 => Some(ForwardMethod::Tunnel),
            3 => Some(ForwardMethod::DirectRoute),
            _ => None,
        }
    }
}

/// Tunnel encapsulation of a tunnelled destination.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TunnelType {
    /// IP in IP.
    Ipip,
    /// Generic UDP encapsulation.
    Gue,
    /// Generic routing encapsulation.
    Gre,
}

impl TunnelType {
    /// Its `IP_VS_CONN_F_TUNNEL_TYPE_*` number.
    pub fn raw(self) -> u8 {
        match self {
            TunnelType::Ipip => 0,
            TunnelType::Gue => 1,
            TunnelType::Gre => 2,
        }
    }

    /// Its name as ipvsadm writes it (`--tun-type`).
    pub fn name(self) -> &'static str {
        match self {
            TunnelType::Ipip => "ipip",
            TunnelType::Gue => "gue",
            TunnelType::Gre => "gre",
        }
    }

    /// The type of an `IP_VS_CONN_F_TUNNEL_TYPE_*` number.
    pub fn from_raw(raw: u8) -> Option<TunnelType> {
        match raw {
            0 => Some(TunnelType::Ipip),
            1 => Some(TunnelType::Gue),
            2 => Some(TunnelType::Gre),
            _ => None,
        }
    }
}

/// Tunnel settings (GUE needs a port; checksum flags for GUE and GRE).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Tunnel {
    /// The encapsulation.
    pub kind: TunnelType,
    /// The GUE port (0 for the others).
    pub port: u16,
    /// `IP_VS_TUNNEL_ENCAP_FLAG_*`: 0 no checksum, 1 checksum, 2 remote checksum.
    pub flags: u16,
}

/// A real server of a service.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Destination {
    /// Its address.
    pub addr: IpAddr,
    /// Its port.
    pub port: u16,
    /// How it is reached.
    pub forward: ForwardMethod,
    /// Its weight (0: no new connections).
    pub weight: u32,
    /// Connections above which it gets no new ones (0: no limit).
    pub upper_threshold: u32,
    /// Connections below which it gets new ones again.
    pub lower_threshold: u32,
    /// Tunnel settings, for tunnelled destinations on kernels that report them.
    pub tunnel: Option<Tunnel>,
    /// Connection counters, in replies only.
    pub active_conns: u32,
    /// Inactive connections.
    pub inactive_conns: u32,
    /// Persistence templates.
    pub persistent_conns: u32,
    /// Traffic counters, in replies only.
    pub stats: Option<Stats>,
}

impl Destination {
    /// A destination at `address`, reached by `forward`, with weight 1 and
    /// no thresholds; [`Destination::weight`] and the public fields set the
    /// rest. (An address and a method by type: a port and a weight cannot
    /// be swapped silently.)
    pub fn at(address: SocketAddr, forward: ForwardMethod) -> Destination {
        Destination {
            addr: address.ip(),
            port: address.port(),
            forward,
            weight: 1,
            upper_threshold: 0,
            lower_threshold: 0,
            tunnel: None,
            active_conns: 0,
            inactive_conns: 0,
            persistent_conns: 0,
            stats: None,
        }
    }

    /// The destination with weight `weight`.
    pub fn weight(mut self, weight: u32) -> Destination {
        self.weight = weight;
        self
    }

    /// Where it is.
    pub fn address(&self) -> SocketAddr {
        SocketAddr::new(self.addr, self.port)
    }

    /// Whether two destinations have the same settings (counters aside).
    pub fn same_settings(&self, other: &Destination) -> bool {
        self.addr == other.addr
            && self.port == other.port
            && self.forward == other.forward
            && self.weight == other.weight
            && self.upper_threshold == other.upper_threshold
            && self.lower_threshold == other.lower_threshold
            && self.tunnel_settings() == other.tunnel_settings()
    }

    /// Tunnel settings as they matter: only for tunnelled destinations, and
    /// plain IPIP is the same as none given.
    fn tunnel_settings(&self) -> Option<Tunnel> {
        match (self.forward, self.tunnel) {
            (ForwardMethod::Tunnel, Some(t))
                if t != Tunnel {
                    kind: TunnelType::Ipip,
                    port: 0,
                    flags: 0,
                } =>
            {
                Some(t)
            }
            _ => None,
        }
    }
}

/// Traffic counters (64-bit where the kernel has them).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Stats {
    /// Connections scheduled.
    pub conns: u64,
    /// Packets in.
    pub in_pkts: u64,
    /// Packets out.
    pub out_pkts: u64,
    /// Bytes in.
    pub in_bytes: u64,
    /// Bytes out.
    pub out_bytes: u64,
    /// Connections per second.
    pub cps: u64,
    /// Packets in per second.
    pub in_pps: u64,
    /// Packets out per second.
    pub out_pps: u64,
    /// Bytes in per second.
    pub in_bps: u64,
    /// Bytes out per second.
    pub out_bps: u64,
}

/// Connection timeouts in seconds (`ipvsadm --set`); 0 leaves one unchanged.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Timeouts {
    /// Established TCP connections.
    pub tcp: u32,
    /// TCP connections after a FIN.
    pub tcp_fin: u32,
    /// UDP flows.
    pub udp: u32,
}

/// The kernel's IPVS version and connection table size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Info {
    /// The IPVS version, as `0xMMmmpp`.
    pub version: u32,
    /// The connection table's size.
    pub conn_tab_size: u32,
}

impl Info {
    /// `major.minor.patch`, as ipvsadm prints it.
    pub fn version_string(&self) -> String {
        format!(
            "{}.{}.{}",
            self.version >> 16 & 0xff,
            self.version >> 8 & 0xff,
            self.version & 0xff
        )
    }
}

/// A connection-sync daemon's role.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DaemonState {
    /// Sends connection entries.
    Master,
    /// Receives them.
    Backup,
}

impl DaemonState {
    /// Its `IP_VS_STATE_*` number.
    pub fn raw(self) -> u32 {
        match self {
            DaemonState::Master => 1,
            DaemonState::Backup => 2,
        }
    }
}

/// A connection-sync daemon (`ipvsadm --start-daemon`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Daemon {
    /// Master or backup.
    pub state: DaemonState,
    /// The interface it sends or listens on.
    pub mcast_interface: String,
    /// The sync id that pairs master and backup.
    pub sync_id: u32,
    /// Zero or absent: the kernel's default.
    pub sync_maxlen: Option<u16>,
    /// The multicast group (the kernel's default when none).
    pub mcast_group: Option<IpAddr>,
    /// The UDP port (the kernel's default when none).
    pub mcast_port: Option<u16>,
    /// The multicast TTL (the kernel's default when none).
    pub mcast_ttl: Option<u8>,
}

impl Daemon {
    /// A daemon in `state` on `mcast_interface` with `sync_id`, the rest the kernel's defaults.
    pub fn new(state: DaemonState, mcast_interface: &str, sync_id: u32) -> Daemon {
        Daemon {
            state,
            mcast_interface: mcast_interface.to_owned(),
            sync_id,
            sync_maxlen: None,
            mcast_group: None,
            mcast_port: None,
            mcast_ttl: None,
        }
    }
}

#[cfg(feature = "netlink")]
pub(crate) fn ip_from_bytes(family: Family, bytes: &[u8]) -> Option<IpAddr> {
    match family {
        Family::Inet => Some(IpAddr::V4(Ipv4Addr::from(
            <[u8; 4]>::try_from(bytes.get(..4)?).ok()?,
        ))),
        Family::Inet6 => Some(IpAddr::V6(std::net::Ipv6Addr::from(
            <[u8; 16]>::try_from(bytes.get(..16)?).ok()?,
        ))),
    }
}
