//! The keys each block accepts, how each is read, and hints for keys that
//! are not among them.

use crate::error::ParseError;
use crate::model::*;
use crate::parser::{Parser, ANY_HOST, MAX_PERSISTENT, MAX_SECONDS, MAX_WEIGHT, NONZERO_HOST};

/// Where a directive stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// The top level.
    Global,
    /// Inside `virtual NAME { }` or `failover NAME { }`.
    Virtual,
    /// Inside `server NAME { }`.
    Server,
    /// Inside `check NAME { }` (an lvs-rs extension).
    Check,
    /// Inside `router NAME { }` (an lvs-rs extension).
    Router,
    /// Inside `vip_group NAME { }` (an lvs-rs extension).
    Group,
    /// Inside `track NAME { }` (an lvs-rs extension).
    Track,
}

impl Scope {
    /// Every scope, in the order of its discriminant.
    pub const ALL: [Scope; 7] = [
        Scope::Global,
        Scope::Virtual,
        Scope::Server,
        Scope::Check,
        Scope::Router,
        Scope::Group,
        Scope::Track,
    ];

    fn describe(self) -> &'static str {
        match self {
            Scope::Global => "at the top level",
            Scope::Virtual => "inside a virtual or failover block",
            Scope::Server => "inside a server block",
            Scope::Check => "inside a check block",
            Scope::Router => "inside a router block",
            Scope::Group => "inside a vip_group block",
            Scope::Track => "inside a track block",
        }
    }
}

/// What a key's value is, as the parser reads it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Kind {
    /// `0` or `1`.
    Flag,
    /// A whole number within the key's range.
    Number,
    /// Seconds, fractions allowed where lvs-rs extends Piranha.
    Seconds,
    /// An IP address or a host name.
    Host,
    /// An IP address.
    Address,
    /// An address and the device it goes on (`10.0.0.1 eth0:1`).
    AddressOnDevice,
    /// A netmask, dotted or as a prefix length.
    Netmask,
    /// A port number or a service name.
    Port,
    /// A word as written.
    Word,
    /// Quoted text, its quoting kept.
    Text,
    /// One of the key's keywords.
    Choice,
    /// `[ a b ]`.
    List,
    /// A block: `virtual NAME {`, `failover NAME {`, `server NAME {`.
    Block,
}

impl Kind {
    /// Whether the line is `key = value` with exactly one value (the others
    /// read their own shape).
    fn one_value(self) -> bool {
        !matches!(self, Kind::AddressOnDevice | Kind::List | Kind::Block)
    }
}

/// How the parser reads a key into the model.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Read {
    Global(fn(&Parser<'_, '_, '_>, &mut Config) -> Result<(), ParseError>),
    Virtual(fn(&Parser<'_, '_, '_>, &mut VirtualService) -> Result<(), ParseError>),
    Server(fn(&Parser<'_, '_, '_>, &mut RealServer) -> Result<(), ParseError>),
    Check(fn(&Parser<'_, '_, '_>, &mut CheckBlock) -> Result<(), ParseError>),
    Router(fn(&Parser<'_, '_, '_>, &mut RouterBlock) -> Result<(), ParseError>),
    Group(fn(&Parser<'_, '_, '_>, &mut VipGroup) -> Result<(), ParseError>),
    Track(fn(&Parser<'_, '_, '_>, &mut TrackBlock) -> Result<(), ParseError>),
    /// A key of [`ServerOptions`], in a virtual or a server block.
    Options(fn(&Parser<'_, '_, '_>, &mut ServerOptions) -> Result<(), ParseError>),
    /// The parser reads the block itself.
    Block,
}

/// A key of lvs.cf: the one table that the parser reads by, that unknown
/// keys are matched against and that tools (the web tool's fields) list.
#[derive(Clone, Copy, Debug)]
pub struct Key {
    /// The key as written.
    pub name: &'static str,
    /// Whether lvs-rs added it (extensions are unknown under `--strict`).
    pub extension: bool,
    /// Its value.
    pub kind: Kind,
    pub(crate) read: Read,
}

impl Key {
    /// Whether the parser checks for `= value` before reading it.
    pub(crate) fn one_value(&self) -> bool {
        self.kind.one_value()
    }
}

const fn piranha(name: &'static str, kind: Kind, read: Read) -> Key {
    Key {
        name,
        extension: false,
        kind,
        read,
    }
}

const fn extension(name: &'static str, kind: Kind, read: Read) -> Key {
    Key {
        name,
        extension: true,
        kind,
        read,
    }
}

/// The top level's keys.
pub const GLOBAL_KEYS: &[Key] = &[
    piranha(
        "serial_no",
        Kind::Number,
        Read::Global(|p, c| {
            c.serial_no = p.int(2, i32::MIN.into(), i32::MAX.into())? as i32;
            Ok(())
        }),
    ),
    piranha(
        "service",
        Kind::Choice,
        Read::Global(|p, c| {
            c.service = p.keyword(2, ServiceType::ALL, ServiceType::from_keyword)?;
            Ok(())
        }),
    ),
    piranha(
        "primary",
        Kind::Host,
        Read::Global(|p, c| {
            c.primary = Some(p.host(2, NONZERO_HOST)?);
            Ok(())
        }),
    ),
    piranha(
        "primary_private",
        Kind::Host,
        Read::Global(|p, c| {
            c.primary_private = Some(p.host(2, NONZERO_HOST)?);
            Ok(())
        }),
    ),
    piranha(
        "primary_shared",
        Kind::Word,
        Read::Global(|p, c| {
            c.primary_shared = Some(p.string(2));
            Ok(())
        }),
    ),
    piranha(
        "backup",
        Kind::Host,
        Read::Global(|p, c| {
            c.backup = Some(p.host(2, ANY_HOST)?);
            Ok(())
        }),
    ),
    piranha(
        "backup_private",
        Kind::Host,
        Read::Global(|p, c| {
            c.backup_private = Some(p.host(2, NONZERO_HOST)?);
            Ok(())
        }),
    ),
    piranha(
        "backup_shared",
        Kind::Word,
        Read::Global(|p, c| {
            c.backup_shared = Some(p.string(2));
            Ok(())
        }),
    ),
    piranha(
        "backup_active",
        Kind::Flag,
        Read::Global(|p, c| {
            c.backup_active = p.boolean(2)?;
            Ok(())
        }),
    ),
    piranha(
        "heartbeat",
        Kind::Flag,
        Read::Global(|p, c| {
            c.heartbeat = p.boolean(2)?;
            Ok(())
        }),
    ),
    piranha(
        "heartbeat_port",
        Kind::Port,
        Read::Global(|p, c| {
            c.heartbeat_port = p.port(2, true)?;
            Ok(())
        }),
    ),
    piranha(
        "keepalive",
        Kind::Seconds,
        Read::Global(|p, c| {
            c.keepalive = p.seconds(2)?;
            Ok(())
        }),
    ),
    piranha(
        "deadtime",
        Kind::Seconds,
        Read::Global(|p, c| {
            c.deadtime = p.seconds(2)?;
            Ok(())
        }),
    ),
    piranha(
        "network",
        Kind::Choice,
        Read::Global(|p, c| {
            c.network = p.keyword(2, Network::ALL, Network::from_keyword)?;
            Ok(())
        }),
    ),
    piranha(
        "nat_router",
        Kind::AddressOnDevice,
        Read::Global(|p, c| {
            c.nat_router = Some(p.address_on_device()?);
            Ok(())
        }),
    ),
    piranha(
        "nat_nmask",
        Kind::Netmask,
        Read::Global(|p, c| {
            c.nat_nmask = Some(p.netmask(2)?);
            Ok(())
        }),
    ),
    piranha(
        "reservation_conflict_action",
        Kind::Choice,
        Read::Global(|p, c| {
            c.reservation_conflict_action =
                Some(p.keyword(2, ConflictAction::ALL, ConflictAction::from_keyword)?);
            Ok(())
        }),
    ),
    piranha(
        "debug_level",
        Kind::Word,
        Read::Global(|p, c| {
            c.debug_level = p.string(2);
            Ok(())
        }),
    ),
    piranha(
        "rsh_command",
        Kind::Word,
        Read::Global(|p, c| {
            c.rsh_command = p.string(2);
            Ok(())
        }),
    ),
    piranha(
        "ipvsadm",
        Kind::Word,
        Read::Global(|p, c| {
            c.ipvsadm = p.string(2);
            Ok(())
        }),
    ),
    piranha(
        "sync",
        Kind::Flag,
        Read::Global(|p, c| {
            c.sync = p.boolean(2)?;
            Ok(())
        }),
    ),
    piranha(
        "active_cmd",
        Kind::Word,
        Read::Global(|p, c| {
            c.active_cmd = Some(p.string(2));
            Ok(())
        }),
    ),
    piranha(
        "inactive_cmd",
        Kind::Word,
        Read::Global(|p, c| {
            c.inactive_cmd = Some(p.string(2));
            Ok(())
        }),
    ),
    // Read with getNum(), not as a boolean: any non-zero turns it on.
    piranha(
        "monitor_links",
        Kind::Flag,
        Read::Global(|p, c| {
            c.monitor_links = p.int(2, i32::MIN.into(), i32::MAX.into())? != 0;
            Ok(())
        }),
    ),
    piranha(
        "hard_shutdown",
        Kind::Flag,
        Read::Global(|p, c| {
            c.hard_shutdown = p.boolean(2)?;
            Ok(())
        }),
    ),
    piranha(
        "syncdaemon",
        Kind::Flag,
        Read::Global(|p, c| {
            c.syncdaemon = p.boolean(2)?;
            Ok(())
        }),
    ),
    piranha(
        "syncd_iface",
        Kind::Word,
        Read::Global(|p, c| {
            c.syncd_iface = p.string(2);
            Ok(())
        }),
    ),
    piranha(
        "syncd_id",
        Kind::Number,
        Read::Global(|p, c| {
            c.syncd_id = p.int(2, 0, 255)? as u8;
            Ok(())
        }),
    ),
    piranha(
        "tcp_timeout",
        Kind::Number,
        Read::Global(|p, c| {
            c.tcp_timeout = p.int(2, 0, MAX_PERSISTENT)? as u32;
            Ok(())
        }),
    ),
    piranha(
        "tcpfin_timeout",
        Kind::Number,
        Read::Global(|p, c| {
            c.tcpfin_timeout = p.int(2, 0, MAX_PERSISTENT)? as u32;
            Ok(())
        }),
    ),
    piranha(
        "udp_timeout",
        Kind::Number,
        Read::Global(|p, c| {
            c.udp_timeout = p.int(2, 0, MAX_PERSISTENT)? as u32;
            Ok(())
        }),
    ),
    piranha("virtual", Kind::Block, Read::Block),
    piranha("failover", Kind::Block, Read::Block),
    // Files expand their `include` lines before the parser reads them (see
    // `include.rs`); one that reaches the parser came in text, not a file.
    extension(
        "include",
        Kind::Word,
        Read::Global(|p, _| Err(p.include_without_a_file())),
    ),
    extension(
        "heartbeat_key",
        Kind::Word,
        Read::Global(|p, c| {
            c.heartbeat_key = Some(p.string(2));
            Ok(())
        }),
    ),
    extension(
        "arp_count",
        Kind::Number,
        Read::Global(|p, c| {
            c.arp_count = p.int(2, 0, 100)? as u32;
            Ok(())
        }),
    ),
    extension(
        "arp_interval",
        Kind::Seconds,
        Read::Global(|p, c| {
            c.arp_interval = p.seconds(2)?;
            Ok(())
        }),
    ),
    extension(
        "expire_nodest_conn",
        Kind::Flag,
        Read::Global(|p, c| {
            c.ipvs_sysctls.expire_nodest_conn = Some(p.boolean(2)?);
            Ok(())
        }),
    ),
    extension(
        "expire_quiescent_template",
        Kind::Flag,
        Read::Global(|p, c| {
            c.ipvs_sysctls.expire_quiescent_template = Some(p.boolean(2)?);
            Ok(())
        }),
    ),
    extension(
        "conn_reuse_mode",
        Kind::Number,
        Read::Global(|p, c| {
            c.ipvs_sysctls.conn_reuse_mode =
                Some(p.int(2, 0, IpvsSysctls::MAX_CONN_REUSE_MODE.into())? as u8);
            Ok(())
        }),
    ),
    extension(
        "sloppy_tcp",
        Kind::Flag,
        Read::Global(|p, c| {
            c.ipvs_sysctls.sloppy_tcp = Some(p.boolean(2)?);
            Ok(())
        }),
    ),
    extension(
        "maintenance_dir",
        Kind::Word,
        Read::Global(|p, c| {
            c.maintenance_dir = Some(p.string(2));
            Ok(())
        }),
    ),
    extension(
        "drain_timeout",
        Kind::Seconds,
        Read::Global(|p, c| {
            c.drain_timeout = Some(p.seconds(2)?);
            Ok(())
        }),
    ),
    extension(
        "heartbeat_keys",
        Kind::List,
        Read::Global(|p, c| {
            p.check_equal()?;
            c.heartbeat_keys = p.key_files()?;
            Ok(())
        }),
    ),
    extension(
        "heartbeat_send_key",
        Kind::Number,
        Read::Global(|p, c| {
            c.heartbeat_send_key = Some(p.int(2, 0, 255)? as u8);
            Ok(())
        }),
    ),
    extension(
        "announce_again",
        Kind::Seconds,
        Read::Global(|p, c| {
            c.announce_again = Some(p.seconds(2)?);
            Ok(())
        }),
    ),
    extension(
        "announce_refresh",
        Kind::Seconds,
        Read::Global(|p, c| {
            c.announce_refresh = Some(p.seconds(2)?);
            Ok(())
        }),
    ),
    extension(
        "catch_up_bound",
        Kind::Seconds,
        Read::Global(|p, c| {
            c.catch_up_bound = Some(p.seconds(2)?);
            Ok(())
        }),
    ),
    extension("router", Kind::Block, Read::Block),
    extension("vip_group", Kind::Block, Read::Block),
    extension("track", Kind::Block, Read::Block),
];

/// The keys of `router` blocks (lvs-rs extensions).
pub const ROUTER_KEYS: &[Key] = &[
    extension(
        "address",
        Kind::Host,
        Read::Router(|p, r| {
            r.address = Some(p.host(2, NONZERO_HOST)?);
            Ok(())
        }),
    ),
    extension(
        "private",
        Kind::Host,
        Read::Router(|p, r| {
            r.private = Some(p.host(2, NONZERO_HOST)?);
            Ok(())
        }),
    ),
];

/// The keys of `vip_group` blocks (lvs-rs extensions).
pub const GROUP_KEYS: &[Key] = &[
    extension(
        "priorities",
        Kind::List,
        Read::Group(|p, g| {
            p.check_equal()?;
            g.priorities = p.priorities()?;
            Ok(())
        }),
    ),
    extension(
        "preempt",
        Kind::Flag,
        Read::Group(|p, g| {
            g.preempt = p.boolean(2)?;
            Ok(())
        }),
    ),
    extension(
        "preempt_delay",
        Kind::Seconds,
        Read::Group(|p, g| {
            g.preempt_delay = Some(p.seconds(2)?);
            Ok(())
        }),
    ),
    extension(
        "notify",
        Kind::Word,
        Read::Group(|p, g| {
            g.notify = Some(p.string(2));
            Ok(())
        }),
    ),
];

/// The keys of `track` blocks (lvs-rs extensions).
pub const TRACK_KEYS: &[Key] = &[
    extension(
        "program",
        Kind::Word,
        Read::Track(|p, t| {
            t.target = Some(TrackTarget::Program(p.string(2)));
            Ok(())
        }),
    ),
    extension(
        "process",
        Kind::Word,
        Read::Track(|p, t| {
            t.target = Some(TrackTarget::Process(p.string(2)));
            Ok(())
        }),
    ),
    extension(
        "interface",
        Kind::Word,
        Read::Track(|p, t| {
            t.target = Some(TrackTarget::Interface(p.string(2)));
            Ok(())
        }),
    ),
    extension(
        "file",
        Kind::Word,
        Read::Track(|p, t| {
            t.target = Some(TrackTarget::File(p.string(2)));
            Ok(())
        }),
    ),
    extension(
        "interval",
        Kind::Seconds,
        Read::Track(|p, t| {
            t.interval = Some(p.seconds(2)?);
            Ok(())
        }),
    ),
    extension(
        "rise",
        Kind::Number,
        Read::Track(|p, t| {
            t.rise = p.int(2, 1, 1000)? as u32;
            Ok(())
        }),
    ),
    extension(
        "fall",
        Kind::Number,
        Read::Track(|p, t| {
            t.fall = p.int(2, 1, 1000)? as u32;
            Ok(())
        }),
    ),
    extension(
        "weight",
        Kind::Number,
        Read::Track(|p, t| {
            t.weight = p.int(2, -253, 253)? as i16;
            Ok(())
        }),
    ),
    extension(
        "groups",
        Kind::List,
        Read::Track(|p, t| {
            p.check_equal()?;
            t.groups = p.words()?;
            Ok(())
        }),
    ),
];

/// The largest quorum or hysteresis: a total of weights (each at most 65535).
const MAX_QUORUM: i64 = u32::MAX as i64;

/// The largest connection threshold (the kernel's is a signed int).
const MAX_THRESHOLD: i64 = i32::MAX as i64;

/// The keys of [`ServerOptions`]: the same in virtual and server blocks.
pub const OPTION_KEYS: [Key; 6] = [
    extension(
        "network",
        Kind::Choice,
        Read::Options(|p, o| {
            o.network = Some(p.keyword(2, Network::ALL, Network::from_keyword)?);
            Ok(())
        }),
    ),
    extension(
        "tunnel_type",
        Kind::Choice,
        Read::Options(|p, o| {
            o.tunnel_type = Some(p.keyword(2, TunnelType::ALL, TunnelType::from_keyword)?);
            Ok(())
        }),
    ),
    extension(
        "tunnel_port",
        Kind::Port,
        Read::Options(|p, o| {
            o.tunnel_port = Some(p.int(2, 1, 65535)? as u16);
            Ok(())
        }),
    ),
    extension(
        "tunnel_checksum",
        Kind::Choice,
        Read::Options(|p, o| {
            o.tunnel_checksum = Some(p.keyword(2, TunnelChecksum::ALL, TunnelChecksum::from_keyword)?);
            Ok(())
        }),
    ),
    extension(
        "upper_threshold",
        Kind::Number,
        Read::Options(|p, o| {
            o.upper_threshold = Some(p.int(2, 0, MAX_THRESHOLD)? as u32);
            Ok(())
        }),
    ),
    extension(
        "lower_threshold",
        Kind::Number,
        Read::Options(|p, o| {
            o.lower_threshold = Some(p.int(2, 0, MAX_THRESHOLD)? as u32);
            Ok(())
        }),
    ),
];

/// The keys of `virtual` and `failover` blocks.
pub const VIRTUAL_KEYS: &[Key] = &[
    piranha(
        "active",
        Kind::Flag,
        Read::Virtual(|p, vs| {
            vs.active = p.boolean(2)?;
            Ok(())
        }),
    ),
    piranha(
        "address",
        Kind::AddressOnDevice,
        Read::Virtual(|p, vs| {
            vs.address = Some(p.address_on_device()?);
            Ok(())
        }),
    ),
    piranha(
        "sorry_server",
        Kind::Address,
        Read::Virtual(|p, vs| {
            vs.sorry_server = Some(p.address_literal(2)?);
            Ok(())
        }),
    ),
    piranha(
        "vip_nmask",
        Kind::Netmask,
        Read::Virtual(|p, vs| {
            vs.vip_nmask = Some(p.netmask(2)?);
            Ok(())
        }),
    ),
    piranha(
        "fwmark",
        Kind::Number,
        Read::Virtual(|p, vs| {
            vs.fwmark = p.int(2, 0, u32::MAX.into())? as u32;
            Ok(())
        }),
    ),
    piranha(
        "protocol",
        Kind::Choice,
        Read::Virtual(|p, vs| {
            vs.protocol = p.keyword(2, Protocol::ALL, Protocol::from_keyword)?;
            Ok(())
        }),
    ),
    piranha(
        "port",
        Kind::Port,
        Read::Virtual(|p, vs| {
            vs.port = p.port(2, true)?;
            Ok(())
        }),
    ),
    piranha(
        "scheduler",
        Kind::Choice,
        Read::Virtual(|p, vs| {
            vs.scheduler = p.keyword(2, Scheduler::ALL, Scheduler::from_keyword)?;
            Ok(())
        }),
    ),
    piranha(
        "persistent",
        Kind::Number,
        Read::Virtual(|p, vs| {
            vs.persistent = p.int(2, 0, MAX_PERSISTENT)? as u32;
            Ok(())
        }),
    ),
    piranha(
        "pmask",
        Kind::Netmask,
        Read::Virtual(|p, vs| {
            vs.pmask = Some(p.netmask(2)?);
            Ok(())
        }),
    ),
    piranha(
        "client_monitor",
        Kind::Word,
        Read::Virtual(|p, vs| {
            vs.client_monitor = p.string(2);
            Ok(())
        }),
    ),
    piranha(
        "send_program",
        Kind::Text,
        Read::Virtual(|p, vs| {
            vs.send_program = Some(p.text(2));
            Ok(())
        }),
    ),
    piranha(
        "send",
        Kind::Text,
        Read::Virtual(|p, vs| {
            vs.send = Some(p.text(2));
            Ok(())
        }),
    ),
    piranha(
        "expect",
        Kind::Text,
        Read::Virtual(|p, vs| {
            vs.expect = Some(p.text(2));
            Ok(())
        }),
    ),
    piranha(
        "use_regex",
        Kind::Flag,
        Read::Virtual(|p, vs| {
            vs.use_regex = p.boolean(2)?;
            Ok(())
        }),
    ),
    piranha(
        "timeout",
        Kind::Seconds,
        Read::Virtual(|p, vs| {
            vs.timeout = p.seconds(2)?;
            Ok(())
        }),
    ),
    piranha(
        "reentry",
        Kind::Number,
        Read::Virtual(|p, vs| {
            vs.reentry = p.int(2, 0, MAX_SECONDS)? as u32;
            Ok(())
        }),
    ),
    piranha(
        "load_monitor",
        Kind::Word,
        Read::Virtual(|p, vs| {
            vs.load_monitor = Some(p.string(2));
            Ok(())
        }),
    ),
    piranha(
        "quiesce_server",
        Kind::Flag,
        Read::Virtual(|p, vs| {
            vs.quiesce_server = p.boolean(2)?;
            Ok(())
        }),
    ),
    piranha(
        "start_cmd",
        Kind::Text,
        Read::Virtual(|p, vs| {
            vs.start_cmd = Some(p.text(2));
            Ok(())
        }),
    ),
    piranha(
        "stop_cmd",
        Kind::Text,
        Read::Virtual(|p, vs| {
            vs.stop_cmd = Some(p.text(2));
            Ok(())
        }),
    ),
    piranha(
        "master",
        Kind::Host,
        Read::Virtual(|p, vs| {
            vs.master = Some(p.host(2, ANY_HOST)?);
            Ok(())
        }),
    ),
    piranha(
        "dirs",
        Kind::List,
        Read::Virtual(|p, vs| {
            p.check_equal()?;
            vs.dirs = Some(p.list()?);
            Ok(())
        }),
    ),
    piranha("server", Kind::Block, Read::Block),
    extension("check", Kind::Block, Read::Block),
    extension(
        "failure_count",
        Kind::Number,
        Read::Virtual(|p, vs| {
            vs.failure_count = p.int(2, 1, 1000)? as u32;
            Ok(())
        }),
    ),
    extension(
        "check_interval",
        Kind::Seconds,
        Read::Virtual(|p, vs| {
            vs.check_interval = Some(p.seconds(2)?);
            Ok(())
        }),
    ),
    OPTION_KEYS[0],
    OPTION_KEYS[1],
    OPTION_KEYS[2],
    OPTION_KEYS[3],
    OPTION_KEYS[4],
    OPTION_KEYS[5],
    extension(
        "scheduler_flags",
        Kind::List,
        Read::Virtual(|p, vs| {
            p.check_equal()?;
            vs.scheduler_flags = p.keyword_list(SchedulerFlag::ALL, SchedulerFlag::from_keyword)?;
            Ok(())
        }),
    ),
    extension(
        "one_packet",
        Kind::Flag,
        Read::Virtual(|p, vs| {
            vs.one_packet = p.boolean(2)?;
            Ok(())
        }),
    ),
    extension(
        "persistence_engine",
        Kind::Choice,
        Read::Virtual(|p, vs| {
            vs.persistence_engine =
                Some(p.keyword(2, PersistenceEngine::ALL, PersistenceEngine::from_keyword)?);
            Ok(())
        }),
    ),
    extension(
        "sorry_port",
        Kind::Port,
        Read::Virtual(|p, vs| {
            vs.sorry_port = Some(p.port(2, false)?);
            Ok(())
        }),
    ),
    extension(
        "sorry_network",
        Kind::Choice,
        Read::Virtual(|p, vs| {
            vs.sorry_network = Some(p.keyword(2, Network::ALL, Network::from_keyword)?);
            Ok(())
        }),
    ),
    extension(
        "sorry_weight",
        Kind::Number,
        Read::Virtual(|p, vs| {
            vs.sorry_weight = Some(p.int(2, 1, MAX_WEIGHT)? as u32);
            Ok(())
        }),
    ),
    extension(
        "notify",
        Kind::Word,
        Read::Virtual(|p, vs| {
            vs.notify = Some(p.string(2));
            Ok(())
        }),
    ),
    extension(
        "vip_group",
        Kind::Word,
        Read::Virtual(|p, vs| {
            vs.vip_group = Some(p.string(2));
            Ok(())
        }),
    ),
    extension(
        "quorum",
        Kind::Number,
        Read::Virtual(|p, vs| {
            vs.quorum = Some(p.int(2, 1, MAX_QUORUM)? as u32);
            Ok(())
        }),
    ),
    extension(
        "hysteresis",
        Kind::Number,
        Read::Virtual(|p, vs| {
            vs.hysteresis = Some(p.int(2, 0, MAX_QUORUM)? as u32);
            Ok(())
        }),
    ),
    extension(
        "quorum_action",
        Kind::Choice,
        Read::Virtual(|p, vs| {
            vs.quorum_action = Some(p.keyword(2, QuorumAction::ALL, QuorumAction::from_keyword)?);
            Ok(())
        }),
    ),
];

/// The keys of `server` blocks.
pub const SERVER_KEYS: &[Key] = &[
    piranha(
        "address",
        Kind::Host,
        Read::Server(|p, server| {
            server.address = Some(p.host(2, ANY_HOST)?);
            Ok(())
        }),
    ),
    piranha(
        "active",
        Kind::Flag,
        Read::Server(|p, server| {
            server.active = p.boolean(2)?;
            Ok(())
        }),
    ),
    piranha(
        "weight",
        Kind::Number,
        Read::Server(|p, server| {
            server.weight = p.int(2, 0, MAX_WEIGHT)? as u32;
            Ok(())
        }),
    ),
    piranha(
        "port",
        Kind::Port,
        Read::Server(|p, server| {
            server.port = Some(p.port(2, false)?);
            Ok(())
        }),
    ),
    extension("check", Kind::Block, Read::Block),
    OPTION_KEYS[0],
    OPTION_KEYS[1],
    OPTION_KEYS[2],
    OPTION_KEYS[3],
    OPTION_KEYS[4],
    OPTION_KEYS[5],
    extension(
        "notify",
        Kind::Word,
        Read::Server(|p, server| {
            server.notify = Some(p.string(2));
            Ok(())
        }),
    ),
];

/// The keys of `check` blocks, all lvs-rs extensions. Which keys a check
/// type reads is documented in docs/lvs.cf.md; `validate` reports keys that
/// its type does not read.
pub const CHECK_KEYS: &[Key] = &[
    extension(
        "type",
        Kind::Choice,
        Read::Check(|p, c| {
            c.kind = p.keyword(2, CheckType::ALL, CheckType::from_keyword)?;
            Ok(())
        }),
    ),
    extension(
        "address",
        Kind::Address,
        Read::Check(|p, c| {
            c.address = Some(p.address_literal(2)?);
            Ok(())
        }),
    ),
    extension(
        "port",
        Kind::Port,
        Read::Check(|p, c| {
            c.port = Some(p.port(2, true)?);
            Ok(())
        }),
    ),
    extension(
        "source",
        Kind::Address,
        Read::Check(|p, c| {
            c.source = Some(p.address_literal(2)?);
            Ok(())
        }),
    ),
    extension(
        "timeout",
        Kind::Seconds,
        Read::Check(|p, c| {
            c.timeout = Some(p.seconds(2)?);
            Ok(())
        }),
    ),
    extension(
        "send",
        Kind::Text,
        Read::Check(|p, c| {
            c.send = Some(Payload::Text(p.text(2)));
            Ok(())
        }),
    ),
    extension(
        "send_hex",
        Kind::Word,
        Read::Check(|p, c| {
            c.send = Some(Payload::Hex(p.hex(2)?));
            Ok(())
        }),
    ),
    extension(
        "expect",
        Kind::Text,
        Read::Check(|p, c| {
            c.expect = Some(Payload::Text(p.text(2)));
            Ok(())
        }),
    ),
    extension(
        "expect_hex",
        Kind::Word,
        Read::Check(|p, c| {
            c.expect = Some(Payload::Hex(p.hex(2)?));
            Ok(())
        }),
    ),
    extension(
        "use_regex",
        Kind::Flag,
        Read::Check(|p, c| {
            c.use_regex = p.boolean(2)?;
            Ok(())
        }),
    ),
    extension(
        "method",
        Kind::Choice,
        Read::Check(|p, c| {
            c.method = p.keyword(2, HttpMethod::ALL, HttpMethod::from_keyword)?;
            Ok(())
        }),
    ),
    extension(
        "path",
        Kind::Word,
        Read::Check(|p, c| {
            c.path = Some(p.request_path(2)?);
            Ok(())
        }),
    ),
    extension(
        "host",
        Kind::Word,
        Read::Check(|p, c| {
            c.host = Some(p.header_value(2)?);
            Ok(())
        }),
    ),
    extension(
        "status",
        Kind::List,
        Read::Check(|p, c| {
            p.check_equal()?;
            c.status = p.status_ranges()?;
            Ok(())
        }),
    ),
    extension(
        "body",
        Kind::Word,
        Read::Check(|p, c| {
            c.body = Some(p.string(2));
            Ok(())
        }),
    ),
    extension(
        "digest",
        Kind::Word,
        Read::Check(|p, c| {
            c.digest = Some(p.md5(2)?);
            Ok(())
        }),
    ),
    extension(
        "http_version",
        Kind::Choice,
        Read::Check(|p, c| {
            c.http_version = p.keyword(2, HttpVersion::ALL, HttpVersion::from_keyword)?;
            Ok(())
        }),
    ),
    extension(
        "reuse_connection",
        Kind::Flag,
        Read::Check(|p, c| {
            c.reuse_connection = p.boolean(2)?;
            Ok(())
        }),
    ),
    extension(
        "sni",
        Kind::Word,
        Read::Check(|p, c| {
            c.sni = Some(p.header_value(2)?);
            Ok(())
        }),
    ),
    extension(
        "verify",
        Kind::Flag,
        Read::Check(|p, c| {
            c.verify = p.boolean(2)?;
            Ok(())
        }),
    ),
    extension(
        "ca_file",
        Kind::Word,
        Read::Check(|p, c| {
            c.ca_file = Some(p.string(2));
            Ok(())
        }),
    ),
    extension(
        "client_cert",
        Kind::Word,
        Read::Check(|p, c| {
            c.client_cert = Some(p.string(2));
            Ok(())
        }),
    ),
    extension(
        "client_key",
        Kind::Word,
        Read::Check(|p, c| {
            c.client_key = Some(p.string(2));
            Ok(())
        }),
    ),
    extension(
        "tls_min",
        Kind::Choice,
        Read::Check(|p, c| {
            c.tls_min = p.keyword(2, TlsVersion::ALL, TlsVersion::from_keyword)?;
            Ok(())
        }),
    ),
    extension(
        "starttls",
        Kind::Flag,
        Read::Check(|p, c| {
            c.starttls = p.boolean(2)?;
            Ok(())
        }),
    ),
    extension(
        "query",
        Kind::Word,
        Read::Check(|p, c| {
            c.query = Some(p.dns_name(2)?);
            Ok(())
        }),
    ),
    extension(
        "record",
        Kind::Choice,
        Read::Check(|p, c| {
            c.record = p.keyword(2, RecordType::ALL, RecordType::from_keyword)?;
            Ok(())
        }),
    ),
    extension(
        "transport",
        Kind::Choice,
        Read::Check(|p, c| {
            c.transport = p.keyword(2, DnsTransport::ALL, DnsTransport::from_keyword)?;
            Ok(())
        }),
    ),
    extension(
        "rcode",
        Kind::Choice,
        Read::Check(|p, c| {
            c.rcode = p.keyword(2, Rcode::ALL, Rcode::from_keyword)?;
            Ok(())
        }),
    ),
    extension(
        "answer",
        Kind::Word,
        Read::Check(|p, c| {
            c.answer = Some(p.string(2));
            Ok(())
        }),
    ),
    extension(
        "command",
        Kind::Text,
        Read::Check(|p, c| {
            c.command = Some(p.string(2));
            Ok(())
        }),
    ),
    extension(
        "dynamic",
        Kind::Flag,
        Read::Check(|p, c| {
            c.dynamic = p.boolean(2)?;
            Ok(())
        }),
    ),
    extension(
        "file",
        Kind::Word,
        Read::Check(|p, c| {
            c.file = Some(p.string(2));
            Ok(())
        }),
    ),
];

/// The key `name` of `scope`, unless it is an extension and `strict`.
pub(crate) fn find(scope: Scope, name: &str, strict: bool) -> Option<&'static Key> {
    // Every line of a file is looked up: an index, not a scan of the table.
    type Index = std::collections::HashMap<&'static str, &'static Key>;
    static INDEXES: std::sync::OnceLock<[Index; Scope::ALL.len()]> = std::sync::OnceLock::new();
    let indexes =
        INDEXES.get_or_init(|| Scope::ALL.map(|scope| keys(scope).iter().map(|k| (k.name, k)).collect()));
    let index = &indexes[scope as usize];
    index.get(name).copied().filter(|key| !(key.extension && strict))
}

/// Every key of `scope`.
pub fn keys(scope: Scope) -> &'static [Key] {
    match scope {
        Scope::Global => GLOBAL_KEYS,
        Scope::Virtual => VIRTUAL_KEYS,
        Scope::Server => SERVER_KEYS,
        Scope::Check => CHECK_KEYS,
        Scope::Router => ROUTER_KEYS,
        Scope::Group => GROUP_KEYS,
        Scope::Track => TRACK_KEYS,
    }
}

/// Keys people write that Piranha never read, with what to do instead.
const KNOWN_MISTAKES: &[(&str, &str)] = &[
    (
        "debug",
        "lvs.cf(5) documents `debug`, but the key is `debug_level`",
    ),
    (
        "nmask",
        "the old configuration tool wrote `nmask`, but no daemon reads it; remove the line",
    ),
    (
        "expect_program",
        "no daemon reads `expect_program`; `send_program` with `expect` checks a program's output",
    ),
    (
        "mode",
        "Piranha 0.8.6 has no `mode`; `service = lvs` or `service = fos` selects the mode",
    ),
    (
        "heartbeat_dev",
        "Piranha 0.8.6 has no `heartbeat_dev`; heartbeats go to the `primary`/`backup` addresses",
    ),
];

/// The note for an unknown key: where it belongs if it is known elsewhere,
/// else the nearest known key of this scope.
pub fn unknown_key_note(key: &str, scope: Scope, strict: bool) -> String {
    if let Some((_, note)) = KNOWN_MISTAKES.iter().find(|(name, _)| *name == key) {
        return (*note).to_owned();
    }
    if let Some(found) = keys(scope).iter().find(|k| k.name == key) {
        if found.extension && strict {
            return format!("`{key}` is an lvs-rs extension, not accepted with --strict");
        }
    }
    for other in Scope::ALL {
        if other != scope && keys(other).iter().any(|k| k.name == key) {
            return format!(
                "`{key}` is not allowed {}; it belongs {}",
                scope.describe(),
                other.describe()
            );
        }
    }
    match nearest(key, scope) {
        Some(near) => format!("unknown key `{}`; did you mean `{near}`?", shown(key)),
        None => format!("unknown key `{}`", shown(key)),
    }
}

/// The known key of `scope` with the smallest edit distance to `word`,
/// among those whose length is within four characters of the word's: a
/// word much longer or shorter than every key gets no suggestion, and costs
/// no more than reading its length.
pub fn nearest(word: &str, scope: Scope) -> Option<&'static str> {
    let length = word.chars().take(MAX_KEY_CHARS + SUGGESTION_REACH + 1).count();
    keys(scope)
        .iter()
        .filter(|k| k.name.len().abs_diff(length) <= SUGGESTION_REACH)
        .map(|k| (edit_distance(word, k.name), k.name))
        .min_by_key(|&(d, _)| d)
        .map(|(_, name)| name)
}

/// How many characters longer or shorter than a key a word may be and still
/// get it suggested.
const SUGGESTION_REACH: usize = 4;
/// Longer than any key's name.
const MAX_KEY_CHARS: usize = 40;

/// `word` for a message: at most 64 characters of it.
fn shown(word: &str) -> std::borrow::Cow<'_, str> {
    match word.char_indices().nth(64) {
        Some((end, _)) => format!("{}...", &word[..end]).into(),
        None => word.into(),
    }
}

/// Levenshtein distance over characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = Vec::with_capacity(b.len() + 1);
        current.push(i + 1);
        for (j, &cb) in b.iter().enumerate() {
            let substitute = previous[j] + usize::from(ca != cb);
            current.push(substitute.min(previous[j + 1] + 1).min(current[j] + 1));
        }
        previous = current;
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_is_shorter_than_the_suggestion_bound() {
        for scope in Scope::ALL {
            for key in keys(scope) {
                assert!(key.name.chars().count() <= MAX_KEY_CHARS, "{}", key.name);
            }
        }
    }

    #[test]
    fn a_long_unknown_word_gets_no_suggestion_and_a_short_message() {
        let word = "k".repeat(60_000);
        assert_eq!(nearest(&word, Scope::Global), None);
        let note = unknown_key_note(&word, Scope::Global, false);
        assert!(note.len() < 100, "{} bytes", note.len());
        assert_eq!(nearest("deadtmie", Scope::Global), Some("deadtime"));
    }

    #[test]
    fn the_option_keys_stand_in_virtual_and_server_blocks() {
        for key in &OPTION_KEYS {
            for scope in [Scope::Virtual, Scope::Server] {
                assert!(
                    keys(scope).iter().any(|k| k.name == key.name),
                    "{} {scope:?}",
                    key.name
                );
            }
        }
    }

    #[test]
    fn distance() {
        assert_eq!(edit_distance("prot", "port"), 2);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("deadtime", "deadtime"), 0);
    }

    #[test]
    fn notes() {
        assert_eq!(
            unknown_key_note("prot", Scope::Virtual, false),
            "unknown key `prot`; did you mean `port`?"
        );
        assert_eq!(
            unknown_key_note("keepalvie", Scope::Global, false),
            "unknown key `keepalvie`; did you mean `keepalive`?"
        );
        assert!(unknown_key_note("deadtime", Scope::Virtual, false).contains("belongs at the top level"));
        assert!(unknown_key_note("weight", Scope::Virtual, false).contains("inside a server block"));
        assert!(unknown_key_note("debug", Scope::Global, false).contains("debug_level"));
    }
}
