//! ipvsadm's commands: what each option sets, the command/option legality
//! table, and the checks ipvsadm makes before it asks the kernel, each with
//! its wording and exit status.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use lvs_ipvs::{
    Daemon, DaemonState, Destination, Family, ForwardMethod, Netmask, Protocol, Service, ServiceFlags,
    ServiceKey, Timeouts, Tunnel, TunnelType,
};

use super::names;
use super::scan::{ScanError, Scanner, Tag};

/// The commands, in ipvsadm's order (it names them in messages).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cmd {
    Add,
    Edit,
    Delete,
    Flush,
    List,
    AddDest,
    DeleteDest,
    EditDest,
    SetTimeouts,
    StartDaemon,
    StopDaemon,
    Restore,
    Save,
    Zero,
}

impl Cmd {
    fn index(self) -> usize {
        self as usize
    }

    pub fn name(self) -> &'static str {
        [
            "add-service",
            "edit-service",
            "delete-service",
            "flush",
            "list",
            "add-server",
            "delete-server",
            "edit-server",
            "set",
            "start-daemon",
            "stop-daemon",
            "restore",
            "save",
            "zero",
        ][self.index()]
    }
}

/// ipvsadm's option bits (`OPTC_*`), in the order its checks visit them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Opt {
    Numeric,
    Connection,
    Service,
    Scheduler,
    Persistent,
    Netmask,
    Server,
    Forward,
    Weight,
    UThreshold,
    LThreshold,
    Mcast,
    Timeout,
    Daemon,
    Stats,
    Rate,
    Thresholds,
    PersistentConn,
    NoSort,
    SyncId,
    Exact,
    OnePacket,
    PersistenceEngine,
    SchedFlags,
    McastGroup,
    McastPort,
    McastTtl,
    SyncMaxlen,
    TunInfo,
    TunType,
    TunPort,
    TunNoCsum,
    TunCsum,
    TunRemCsum,
}

const OPTION_COUNT: usize = 34;

const OPTION_NAMES: [&str; OPTION_COUNT] = [
    "numeric",
    "connection",
    "service-address",
    "scheduler",
    "persistent",
    "netmask",
    "real-server",
    "forwarding-method",
    "weight",
    "u-threshold",
    "l-threshold",
    "mcast-interface",
    "timeout",
    "daemon",
    "stats",
    "rate",
    "thresholds",
    "persistent-conn",
    "nosort",
    "syncid",
    "exact",
    "ops",
    "pe",
    "sched-flags",
    "mcast-group",
    "mcast-port",
    "mcast-ttl",
    "sync-maxlen",
    "tun-info",
    "tun-type",
    "tun-port",
    "tun-nocsum",
    "tun-csum",
    "tun-remcsum",
];

/// Which options each command takes: `+` needed, `x` illegal, `1` at most
/// one of the `1`s, blank optional (ipvsadm's `commands_v_options`).
const LEGALITY: [&[u8; OPTION_COUNT]; 14] = [
    b"xx+   xxxxxxxxxxxxxxx   xxxxxxxxxx", // add-service
    b"xx+   xxxxxxxxxxxxxxx   xxxxxxxxxx", // edit-service
    b"xx+xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", // delete-service
    b"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", // flush
    b" 11xxxxxxxxx11       xxxxxxx xxxxx", // list
    b"xx+xxx+    xxxxxxxxxxxxxxxxxx     ", // add-server
    b"xx+xxx+xxxxxxxxxxxxxxxxxxxxxxxxxxx", // delete-server
    b"xx+xxx+    xxxxxxxxxxxxxxxxxx     ", // edit-server
    b"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", // set
    b"xxxxxxxxxxx xxxxxxx xxxx    xxxxxx", // start-daemon
    b"xxxxxxxxxxxxxxxxxxx xxxxxxxxxxxxxx", // stop-daemon
    b"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", // restore
    b" xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", // save
    b"xx xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", // zero
];

/// Which tunnel options each tunnel type takes (ipvsadm's
/// `tunnel_types_v_options`), over `--tun-port`, `--tun-nocsum`,
/// `--tun-csum` and `--tun-remcsum`.
const TUNNEL_LEGALITY: [&[u8; 4]; 3] = [b"xxxx", b"+111", b"x11x"];
const TUNNEL_OPTIONS: [Opt; 4] = [Opt::TunPort, Opt::TunNoCsum, Opt::TunCsum, Opt::TunRemCsum];

/// The longest persistence timeout, 31 days.
const MAX_TIMEOUT: i64 = 86400 * 31;
/// `IPVS_SVC_PERSISTENT_TIMEOUT`: `-p` without a value.
const DEFAULT_PERSISTENCE: u32 = 360;
const SCHEDULER_NAME_MAX: usize = 15;
const INTERFACE_NAME_MAX: usize = 15;

/// Why ipvsadm stops before (or instead of) talking to the kernel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Stop {
    /// `fail()`: the message on standard error, then exit with the status.
    Fail(i32, String),
    /// No command, or a bad first option: ``Try `PROG -h' ...``, exit 255.
    TryHelp,
    /// `-h` first: the usage on standard output, exit 0.
    Usage,
    /// `-v` first: the version on standard output, exit 0.
    Version,
    /// popt could not read an option after the command: `WORD: MESSAGE` on
    /// standard error, and the command fails (status 255) without exiting a
    /// restore.
    Scan(String, ScanError),
}

fn fail(message: impl Into<String>) -> Stop {
    Stop::Fail(2, message.into())
}

/// A persistence netmask as typed: an IPv4 mask, or an IPv6 prefix length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mask {
    V4(Ipv4Addr),
    V6(u32),
}

/// A service as the options describe it (ipvsadm's `ipvs_service_t`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceSpec {
    family: Option<Family>,
    protocol: u16,
    addr: Option<IpAddr>,
    port: u16,
    fwmark: u32,
    scheduler: String,
    flags: u32,
    timeout: u32,
    netmask: Mask,
    persistence_engine: String,
}

impl Default for ServiceSpec {
    fn default() -> Self {
        ServiceSpec {
            family: None,
            protocol: 0,
            addr: None,
            port: 0,
            fwmark: 0,
            scheduler: String::new(),
            flags: 0,
            timeout: 0,
            netmask: Mask::V4(Ipv4Addr::BROADCAST),
            persistence_engine: String::new(),
        }
    }
}

impl ServiceSpec {
    /// The kernel's key of the service; `None` when no service was named.
    pub fn key(&self) -> Option<ServiceKey> {
        if self.fwmark != 0 {
            return Some(ServiceKey::Fwmark {
                family: self.family.unwrap_or(Family::Inet),
                mark: self.fwmark,
            });
        }
        let protocol = Protocol::from_raw(self.protocol)?;
        Some(ServiceKey::Addr {
            protocol,
            addr: self.addr?,
            port: self.port,
        })
    }

    /// The service to add or edit.
    pub fn service(&self) -> Option<Service> {
        let key = self.key()?;
        let mut service = Service::new(key, &self.scheduler);
        service.flags = ServiceFlags::from_bits_retain(self.flags);
        service.timeout = self.timeout;
        service.netmask = match (key.family(), self.netmask) {
            (Family::Inet, Mask::V4(mask)) => Netmask::V4(mask),
            (Family::Inet6, Mask::V6(prefix)) => Netmask::V6(prefix.min(255) as u8),
            // Not reachable from ipvsadm's options: the address sets the mask's kind.
            (Family::Inet, Mask::V6(_)) => Netmask::V4(Ipv4Addr::BROADCAST),
            (Family::Inet6, Mask::V4(_)) => Netmask::V6(128),
        };
        service.persistence_engine =
            (!self.persistence_engine.is_empty()).then(|| self.persistence_engine.clone());
        Some(service)
    }
}

/// A real server as the options describe it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DestSpec {
    family: Option<Family>,
    addr: Option<IpAddr>,
    port: u16,
    forward: ForwardMethod,
    weight: u32,
    upper_threshold: u32,
    lower_threshold: u32,
    tunnel_type: TunnelType,
    tunnel_port: u16,
    tunnel_flags: u16,
}

impl DestSpec {
    pub fn addr(&self) -> Option<IpAddr> {
        self.addr
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn destination(&self) -> Option<Destination> {
        let mut dest = Destination::at(std::net::SocketAddr::new(self.addr?, self.port), self.forward)
            .weight(self.weight);
        dest.upper_threshold = self.upper_threshold;
        dest.lower_threshold = self.lower_threshold;
        if self.forward == ForwardMethod::Tunnel {
            dest.tunnel = Some(Tunnel {
                kind: self.tunnel_type,
                port: self.tunnel_port,
                flags: self.tunnel_flags,
            });
        }
        Some(dest)
    }
}

/// How a listing looks (ipvsadm's `FMT_*`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Format {
    pub numeric: bool,
    pub stats: bool,
    pub rate: bool,
    pub thresholds: bool,
    pub persistent_conn: bool,
    pub nosort: bool,
    pub exact: bool,
    pub tun_info: bool,
    pub json: bool,
}

/// One command line, read and checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub cmd: Cmd,
    pub svc: ServiceSpec,
    pub dest: DestSpec,
    pub timeouts: Timeouts,
    /// The sync daemon of `--start-daemon` and `--stop-daemon` (its role set
    /// by the command; unused by the other commands).
    pub daemon: Daemon,
    options: u64,
    pub format: Format,
}

impl Entry {
    pub fn has(&self, option: Opt) -> bool {
        self.options & (1 << option as u64) != 0
    }
}

/// ipvsadm's `string_to_number`: a base-10 `strtol` of the whole word, in range.
pub fn string_to_number(text: &str, min: i64, max: i64) -> Option<i64> {
    let number = names::strtol(text, 10)?;
    (min..=max).contains(&number).then_some(number)
}

fn parse_timeout(text: Option<&str>, min: i64, max: i64) -> Result<u32, Stop> {
    let Some(text) = text else {
        return Ok(DEFAULT_PERSISTENCE);
    };
    string_to_number(text, min, max)
        .map(|n| n as u32)
        .ok_or_else(|| fail(format!("invalid timeout value `{text}' specified")))
}

fn parse_fwmark(text: &str) -> Result<u32, Stop> {
    match names::strtol(text, 10) {
        Some(mark) if mark > 0 && mark <= i64::from(u32::MAX) => Ok(mark as u32),
        _ => Err(fail(format!("invalid fwmark value `{text}' specified"))),
    }
}

/// What `parse_service` found: an address, and whether a port was given.
struct Parsed {
    port_given: bool,
}

/// ipvsadm's `parse_service`: `host[:port]` or `[v6]:port`, the port a
/// number or a service name of `protocol`. `None` where ipvsadm says
/// `SERVICE_NONE`.
fn parse_service(
    text: &str,
    protocol: u16,
    family: &mut Option<Family>,
    addr: &mut Option<IpAddr>,
    port: &mut u16,
    netmask: Option<&mut Mask>,
) -> Option<Parsed> {
    if text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut host = text;
    let mut port_text = None;
    if let Some(rest) = text.strip_prefix('[') {
        let (inside, after) = rest.split_once(']')?;
        port_text = Some(after.strip_prefix(':')?);
        host = inside;
    }
    if let Ok(v6) = host.parse::<Ipv6Addr>() {
        *addr = Some(IpAddr::V6(v6));
        *family = Some(Family::Inet6);
        if let Some(mask) = netmask {
            *mask = Mask::V6(128);
        }
    } else {
        if let Some((before, after)) = host.rsplit_once(':') {
            host = before;
            port_text = Some(after);
        }
        let v4 = names::inet_aton(host).or_else(|| names::host_to_addr(host))?;
        *addr = Some(IpAddr::V4(v4));
        *family = Some(Family::Inet);
    }
    if let Some(port_text) = port_text {
        *port = match string_to_number(port_text, 0, 65535) {
            Some(number) => number as u16,
            None => names::service_to_port(port_text, protocol)?,
        };
    }
    Some(Parsed {
        port_given: port_text.is_some(),
    })
}

fn parse_sched_flags(scheduler: &str, text: &str) -> Result<u32, Stop> {
    let scheduler = if scheduler.is_empty() { "wlc" } else { scheduler };
    let mut flags = 0;
    for flag in text.split(',').filter(|f| !f.is_empty()) {
        let (bit, needs) = match flag {
            "flag-1" => (ServiceFlags::SCHED1.bits(), None),
            "flag-2" => (ServiceFlags::SCHED2.bits(), None),
            "flag-3" => (ServiceFlags::SCHED3.bits(), None),
            "sh-fallback" => (ServiceFlags::SCHED1.bits(), Some("sh")),
            "sh-port" => (ServiceFlags::SCHED2.bits(), Some("sh")),
            "mh-fallback" => (ServiceFlags::SCHED1.bits(), Some("mh")),
            "mh-port" => (ServiceFlags::SCHED2.bits(), Some("mh")),
            _ => return Err(fail(format!("invalid scheduler flag `{flag}'"))),
        };
        flags |= bit;
        if needs.is_some_and(|needed| needed != scheduler) {
            return Err(fail(format!("incompatible scheduler flag `{flag}'")));
        }
    }
    Ok(flags)
}

/// `text` cut to at most `max` bytes, as ipvsadm's fixed buffers cut it.
fn truncated(text: &str, max: usize) -> String {
    let mut text = text.to_owned();
    names::truncate_bytes(&mut text, max);
    text
}

/// Reads one command line (the words after the program name), as ipvsadm's
/// `parse_options` and the checks of `process_options` do.
pub fn parse(words: &[&str]) -> Result<Entry, Stop> {
    let mut scanner = Scanner::new(words);
    let first = match scanner.next_option() {
        Ok(Some(found)) => found,
        Ok(None) | Err(_) => return Err(Stop::TryHelp),
    };
    let mut daemon = Daemon::new(DaemonState::Master, "", 0);
    let cmd = match first.tag {
        Tag::AddService => Cmd::Add,
        Tag::EditService => Cmd::Edit,
        Tag::DeleteService => Cmd::Delete,
        Tag::AddServer => Cmd::AddDest,
        Tag::EditServer => Cmd::EditDest,
        Tag::DeleteServer => Cmd::DeleteDest,
        Tag::Clear => Cmd::Flush,
        Tag::List => Cmd::List,
        Tag::Zero => Cmd::Zero,
        Tag::Set => Cmd::SetTimeouts,
        Tag::Restore => Cmd::Restore,
        Tag::Save => Cmd::Save,
        Tag::StartDaemon | Tag::StopDaemon => {
            daemon.state = match first.value {
                Some("master") => DaemonState::Master,
                Some("backup") => DaemonState::Backup,
                _ if first.tag == Tag::StartDaemon => {
                    return Err(fail("illegal start-daemon parameter specified"))
                }
                _ => return Err(fail("illegal start_daemon specified")),
            };
            if first.tag == Tag::StartDaemon {
                Cmd::StartDaemon
            } else {
                Cmd::StopDaemon
            }
        }
        Tag::Help => return Err(Stop::Usage),
        Tag::Version => return Err(Stop::Version),
        _ => return Err(Stop::TryHelp),
    };
    let mut entry = Entry {
        cmd,
        svc: ServiceSpec::default(),
        dest: DestSpec {
            family: None,
            addr: None,
            port: 0,
            forward: ForwardMethod::DirectRoute,
            weight: 1,
            upper_threshold: 0,
            lower_threshold: 0,
            tunnel_type: TunnelType::Ipip,
            tunnel_port: 0,
            tunnel_flags: 0,
        },
        timeouts: Timeouts::default(),
        daemon,
        options: 0,
        format: Format::default(),
    };
    let mut sched_flags: Option<String> = None;
    loop {
        let found = match scanner.next_option() {
            Ok(Some(found)) => found,
            Ok(None) => break,
            Err(error) => return Err(Stop::Scan(scanner.bad_option().to_owned(), error)),
        };
        let value = found.value.unwrap_or("");
        let set = |entry: &mut Entry, option: Opt| -> Result<(), Stop> {
            let bit = 1u64 << option as u64;
            if entry.options & bit != 0 {
                return Err(fail(format!(
                    "multiple '{}' options specified",
                    OPTION_NAMES[option as usize]
                )));
            }
            entry.options |= bit;
            Ok(())
        };
        match found.tag {
            Tag::TcpService | Tag::UdpService | Tag::SctpService => {
                set(&mut entry, Opt::Service)?;
                entry.svc.protocol = match found.tag {
                    Tag::TcpService => Protocol::Tcp.raw(),
                    Tag::UdpService => Protocol::Udp.raw(),
                    _ => Protocol::Sctp.raw(),
                };
                let svc = &mut entry.svc;
                if parse_service(
                    value,
                    svc.protocol,
                    &mut svc.family,
                    &mut svc.addr,
                    &mut svc.port,
                    Some(&mut svc.netmask),
                )
                .is_none()
                {
                    return Err(fail("illegal virtual server address[:port] specified"));
                }
            }
            Tag::FwmarkService => {
                set(&mut entry, Opt::Service)?;
                entry.svc.family = Some(Family::Inet);
                entry.svc.protocol = Protocol::Tcp.raw();
                entry.svc.fwmark = parse_fwmark(value)?;
            }
            Tag::Scheduler => {
                set(&mut entry, Opt::Scheduler)?;
                entry.svc.scheduler = truncated(value, SCHEDULER_NAME_MAX);
            }
            Tag::Persistent => {
                set(&mut entry, Opt::Persistent)?;
                entry.svc.flags |= ServiceFlags::PERSISTENT.bits();
                entry.svc.timeout = parse_timeout(found.value, 1, MAX_TIMEOUT)?;
            }
            Tag::Netmask => {
                set(&mut entry, Opt::Netmask)?;
                if entry.svc.family != Some(Family::Inet6) {
                    let mask = names::inet_aton(value)
                        .or_else(|| names::host_to_addr(value))
                        .ok_or_else(|| fail("illegal virtual server persistent mask specified"))?;
                    entry.svc.netmask = Mask::V4(mask);
                } else {
                    let prefix = names::atoi(value);
                    if !(1..=128).contains(&prefix) {
                        return Err(fail("illegal ipv6 netmask specified"));
                    }
                    entry.svc.netmask = Mask::V6(prefix as u32);
                }
            }
            Tag::RealServer => {
                set(&mut entry, Opt::Server)?;
                let mut family = entry.svc.family;
                let mut addr = entry.svc.addr;
                let mut port = entry.svc.port;
                let parsed =
                    parse_service(value, entry.svc.protocol, &mut family, &mut addr, &mut port, None);
                entry.dest.family = family;
                entry.dest.addr = addr;
                entry.dest.port = port;
                match parsed {
                    None => return Err(fail("illegal real server address[:port] specified")),
                    Some(Parsed { port_given: false }) => entry.dest.port = entry.svc.port,
                    Some(_) => {}
                }
            }
            Tag::Ipip | Tag::Gatewaying | Tag::Masquerading => {
                set(&mut entry, Opt::Forward)?;
                entry.dest.forward = match found.tag {
                    Tag::Ipip => ForwardMethod::Tunnel,
                    Tag::Gatewaying => ForwardMethod::DirectRoute,
                    _ => ForwardMethod::Masquerade,
                };
            }
            Tag::Weight => {
                set(&mut entry, Opt::Weight)?;
                // Debian's ipvsadm 1.31 takes weights up to INT_MAX (upstream: 65535).
                entry.dest.weight = string_to_number(value, 0, i64::from(i32::MAX))
                    .ok_or_else(|| fail("illegal weight specified"))?
                    as u32;
            }
            Tag::UThreshold => {
                set(&mut entry, Opt::UThreshold)?;
                entry.dest.upper_threshold = string_to_number(value, 0, i64::from(i32::MAX))
                    .ok_or_else(|| fail("illegal u_threshold specified"))?
                    as u32;
            }
            Tag::LThreshold => {
                set(&mut entry, Opt::LThreshold)?;
                entry.dest.lower_threshold = string_to_number(value, 0, i64::from(i32::MAX))
                    .ok_or_else(|| fail("illegal l_threshold specified"))?
                    as u32;
            }
            Tag::Connection => set(&mut entry, Opt::Connection)?,
            Tag::Numeric => {
                set(&mut entry, Opt::Numeric)?;
                entry.format.numeric = true;
            }
            Tag::McastInterface => {
                set(&mut entry, Opt::Mcast)?;
                entry.daemon.mcast_interface = truncated(value, INTERFACE_NAME_MAX);
            }
            Tag::SyncId => {
                set(&mut entry, Opt::SyncId)?;
                entry.daemon.sync_id =
                    string_to_number(value, 0, 255).ok_or_else(|| fail("illegal syncid specified"))? as u32;
            }
            Tag::Timeout => set(&mut entry, Opt::Timeout)?,
            Tag::Daemon => set(&mut entry, Opt::Daemon)?,
            Tag::Stats => {
                set(&mut entry, Opt::Stats)?;
                entry.format.stats = true;
            }
            Tag::Rate => {
                set(&mut entry, Opt::Rate)?;
                entry.format.rate = true;
            }
            Tag::Thresholds => {
                set(&mut entry, Opt::Thresholds)?;
                entry.format.thresholds = true;
            }
            Tag::PersistentConn => {
                set(&mut entry, Opt::PersistentConn)?;
                entry.format.persistent_conn = true;
            }
            Tag::NoSort => {
                set(&mut entry, Opt::NoSort)?;
                entry.format.nosort = true;
            }
            Tag::Sort => {}
            Tag::Exact => {
                set(&mut entry, Opt::Exact)?;
                entry.format.exact = true;
            }
            Tag::Ipv6 => {
                if entry.svc.fwmark == 0 {
                    return Err(fail("-6 used before -f\n"));
                }
                entry.svc.family = Some(Family::Inet6);
                entry.svc.netmask = Mask::V6(128);
            }
            Tag::OnePacket => {
                set(&mut entry, Opt::OnePacket)?;
                entry.svc.flags |= ServiceFlags::ONE_PACKET.bits();
            }
            Tag::PersistenceEngine => {
                set(&mut entry, Opt::PersistenceEngine)?;
                entry.svc.persistence_engine = truncated(value, 32);
            }
            Tag::SchedFlags => {
                set(&mut entry, Opt::SchedFlags)?;
                sched_flags = Some(truncated(value, 127));
            }
            Tag::McastGroup => {
                set(&mut entry, Opt::McastGroup)?;
                entry.daemon.mcast_group = Some(if value.contains(':') {
                    match value.parse::<Ipv6Addr>() {
                        Ok(group) if group.is_multicast() => IpAddr::V6(group),
                        _ => return Err(fail(format!("invalid IPv6 mcast-group `{value}'"))),
                    }
                } else {
                    match names::inet_pton4(value) {
                        Some(group) if group.is_multicast() => IpAddr::V4(group),
                        _ => return Err(fail(format!("invalid IPv4 mcast-group `{value}'"))),
                    }
                });
            }
            Tag::McastPort => {
                set(&mut entry, Opt::McastPort)?;
                entry.daemon.mcast_port = Some(
                    string_to_number(value, 1, 65535).ok_or_else(|| fail("illegal mcast-port specified"))?
                        as u16,
                );
            }
            Tag::McastTtl => {
                set(&mut entry, Opt::McastTtl)?;
                entry.daemon.mcast_ttl = Some(
                    string_to_number(value, 1, 255).ok_or_else(|| fail("illegal mcast-ttl specified"))? as u8,
                );
            }
            Tag::SyncMaxlen => {
                set(&mut entry, Opt::SyncMaxlen)?;
                entry.daemon.sync_maxlen = Some(
                    string_to_number(value, 1, 65535 - 20 - 8)
                        .ok_or_else(|| fail("illegal sync-maxlen specified"))? as u16,
                );
            }
            Tag::TunInfo => {
                set(&mut entry, Opt::TunInfo)?;
                entry.format.tun_info = true;
            }
            Tag::TunType => {
                set(&mut entry, Opt::TunType)?;
                entry.dest.tunnel_type = match value {
                    "ipip" => TunnelType::Ipip,
                    "gue" => TunnelType::Gue,
                    "gre" => TunnelType::Gre,
                    _ => return Err(fail("illegal tunnel type specified")),
                };
            }
            Tag::TunPort => {
                set(&mut entry, Opt::TunPort)?;
                entry.dest.tunnel_port = string_to_number(value, 1, 65535)
                    .ok_or_else(|| fail("illegal tunnel port specified"))?
                    as u16;
            }
            Tag::TunNoCsum => set(&mut entry, Opt::TunNoCsum)?,
            Tag::TunCsum => {
                set(&mut entry, Opt::TunCsum)?;
                entry.dest.tunnel_flags |= 1;
            }
            Tag::TunRemCsum => {
                set(&mut entry, Opt::TunRemCsum)?;
                entry.dest.tunnel_flags |= 2;
            }
            Tag::Json => {
                if entry.cmd != Cmd::List {
                    return Err(fail(format!(
                        "Illegal 'json' option with the '{}' command",
                        entry.cmd.name()
                    )));
                }
                entry.format.json = true;
            }
            // A second command, or -h and -v after the command.
            _ => return Err(fail(format!("invalid option `{}'", scanner.bad_option()))),
        }
    }

    let mut arguments = scanner.take_arguments();
    if entry.cmd == Cmd::SetTimeouts {
        match (arguments.next(), arguments.next(), arguments.next()) {
            (Some(tcp), Some(tcp_fin), Some(udp)) => {
                entry.timeouts = Timeouts {
                    tcp: parse_timeout(Some(tcp), 0, MAX_TIMEOUT)?,
                    tcp_fin: parse_timeout(Some(tcp_fin), 0, MAX_TIMEOUT)?,
                    udp: parse_timeout(Some(udp), 0, MAX_TIMEOUT)?,
                };
            }
            _ => return Err(fail("--set option requires 3 timeout values")),
        }
    }
    if let Some(extra) = arguments.next() {
        return Err(fail(format!("unexpected argument {extra}")));
    }
    if let Some(text) = sched_flags.filter(|t| !t.is_empty()) {
        entry.svc.flags &=
            !(ServiceFlags::SCHED1.bits() | ServiceFlags::SCHED2.bits() | ServiceFlags::SCHED3.bits());
        entry.svc.flags |= parse_sched_flags(&entry.svc.scheduler, &text)?;
    }
    check(&mut entry)?;
    Ok(entry)
}

/// One row of a legality table (`+` needed, `x` illegal, `1` at most one
/// of them) against the options given, in the row's order, with ipvsadm's
/// wording: `what` is "command" or "tunnel type", `owner` its name.
fn check_row(
    row: &[u8],
    options: &[Opt],
    given: impl Fn(Opt) -> bool,
    what: &str,
    owner: &str,
) -> Result<(), Stop> {
    let mut exclusive: Option<Opt> = None;
    for (&rule, &option) in row.iter().zip(options) {
        let name = OPTION_NAMES[option as usize];
        match (given(option), rule) {
            (false, b'+') => {
                return Err(fail(format!(
                    "You need to supply the '{name}' option for the '{owner}' {what}"
                )))
            }
            (true, b'x') => return Err(fail(format!("Illegal '{name}' option with the '{owner}' {what}"))),
            (true, b'1') => match exclusive {
                None => exclusive = Some(option),
                Some(first) => {
                    return Err(fail(format!(
                        "The option '{name}' conflicts with the '{}' option in the '{owner}' {what}",
                        OPTION_NAMES[first as usize]
                    )))
                }
            },
            _ => {}
        }
    }
    Ok(())
}

/// Every option, in the order of ipvsadm's bits.
const ALL_OPTIONS: [Opt; OPTION_COUNT] = [
    Opt::Numeric,
    Opt::Connection,
    Opt::Service,
    Opt::Scheduler,
    Opt::Persistent,
    Opt::Netmask,
    Opt::Server,
    Opt::Forward,
    Opt::Weight,
    Opt::UThreshold,
    Opt::LThreshold,
    Opt::Mcast,
    Opt::Timeout,
    Opt::Daemon,
    Opt::Stats,
    Opt::Rate,
    Opt::Thresholds,
    Opt::PersistentConn,
    Opt::NoSort,
    Opt::SyncId,
    Opt::Exact,
    Opt::OnePacket,
    Opt::PersistenceEngine,
    Opt::SchedFlags,
    Opt::McastGroup,
    Opt::McastPort,
    Opt::McastTtl,
    Opt::SyncMaxlen,
    Opt::TunInfo,
    Opt::TunType,
    Opt::TunPort,
    Opt::TunNoCsum,
    Opt::TunCsum,
    Opt::TunRemCsum,
];

/// `generic_opt_check` and the checks of `process_options`.
fn check(entry: &mut Entry) -> Result<(), Stop> {
    check_row(
        LEGALITY[entry.cmd.index()],
        &ALL_OPTIONS,
        |o| entry.has(o),
        "command",
        entry.cmd.name(),
    )?;

    if matches!(entry.cmd, Cmd::Add | Cmd::Edit) {
        let svc = &mut entry.svc;
        if svc.fwmark == 0 && svc.port == 0 && svc.flags & ServiceFlags::PERSISTENT.bits() == 0 {
            return Err(fail("Zero port specified for non-persistent service"));
        }
        if svc.flags & ServiceFlags::ONE_PACKET.bits() != 0
            && svc.fwmark == 0
            && svc.protocol != Protocol::Udp.raw()
        {
            return Err(fail("One-Packet Scheduling is only for UDP virtual services"));
        }
        if svc.scheduler.is_empty() {
            svc.scheduler = "wlc".to_owned();
        }
    }
    if entry.cmd == Cmd::StartDaemon && entry.daemon.mcast_interface.is_empty() {
        entry.daemon.mcast_interface = "eth0".to_owned();
    }
    if matches!(entry.cmd, Cmd::AddDest | Cmd::EditDest) {
        let forward = entry.dest.forward;
        if entry.svc.fwmark == 0 && matches!(forward, ForwardMethod::Tunnel | ForwardMethod::DirectRoute) {
            entry.dest.port = entry.svc.port;
        }
        if entry.dest.family != entry.svc.family && forward != ForwardMethod::Tunnel {
            return Err(fail(
                "Different address family is allowed only for tunneling servers",
            ));
        }
        let tunnel_options = [
            Opt::TunType,
            Opt::TunPort,
            Opt::TunNoCsum,
            Opt::TunCsum,
            Opt::TunRemCsum,
        ];
        if tunnel_options.iter().any(|&o| entry.has(o)) && forward != ForwardMethod::Tunnel {
            return Err(fail("Tunnel options conflict with forward method"));
        }
        let kind = entry.dest.tunnel_type.raw() as usize;
        check_row(
            TUNNEL_LEGALITY[kind],
            &TUNNEL_OPTIONS,
            |o| entry.has(o),
            "tunnel type",
            entry.dest.tunnel_type.name(),
        )?;
    }
    if entry.cmd == Cmd::List {
        let has = |o| entry.has(o);
        if ((has(Opt::Connection) || has(Opt::Timeout) || has(Opt::Daemon))
            && (has(Opt::Stats) || has(Opt::Rate) || has(Opt::Thresholds)))
            || ((has(Opt::Timeout) || has(Opt::Daemon)) && has(Opt::PersistentConn))
        {
            return Err(fail("options conflicts in the list command"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_option_table_follows_ipvsadms_bits() {
        for (bit, option) in ALL_OPTIONS.iter().enumerate() {
            assert_eq!(*option as usize, bit, "{option:?}");
        }
        assert!(LEGALITY.iter().all(|row| row.len() == OPTION_COUNT));
    }

    #[test]
    fn checks_in_ipvsadms_order_and_words() {
        let parse_words = |line: &str| parse(&line.split_whitespace().collect::<Vec<_>>());
        assert_eq!(
            parse_words("-A -t 192.0.2.1:80 -r 10.0.0.1 -w 2"),
            Err(Stop::Fail(
                2,
                "Illegal 'real-server' option with the 'add-service' command".into()
            ))
        );
        assert_eq!(
            parse_words("-L -c -t 192.0.2.1:80"),
            Err(Stop::Fail(
                2,
                "The option 'service-address' conflicts with the 'connection' option in the 'list' command"
                    .into()
            ))
        );
        assert_eq!(
            parse_words("-a -t 192.0.2.1:80 -r 10.0.0.1 -i --tun-type gue"),
            Err(Stop::Fail(
                2,
                "You need to supply the 'tun-port' option for the 'gue' tunnel type".into()
            ))
        );
        assert_eq!(
            parse_words("-A -t 192.0.2.1"),
            Err(Stop::Fail(
                2,
                "Zero port specified for non-persistent service".into()
            ))
        );
        assert_eq!(
            parse_words("-Z -q"),
            Err(Stop::Scan("-q".into(), ScanError::UnknownOption))
        );
        assert_eq!(parse_words("x"), Err(Stop::TryHelp));
    }
}
