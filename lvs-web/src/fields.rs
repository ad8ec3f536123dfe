//! The fields of each panel: which lvs.cf key each edits, and how a form's
//! text becomes the key's value (and back). Every directive of lvs.cf has a
//! field on some panel; `serial_no` is counted by the tool itself.

use lvs_cf::edit::{set, value_of, Entry};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// One value, quoted when it needs to be.
    Word,
    /// A quoted string as lvs.cf holds it (`send`, `expect`, commands): the
    /// quote character is part of its meaning, so it is shown and kept.
    Text,
    /// An address and a device (`address = IP DEV`), in two inputs.
    AddressAndDevice,
    /// One of a list; empty is the default.
    Choice(&'static [&'static str]),
    /// A checkbox, and whether it is set when the file does not say.
    Flag(bool),
    /// A checkbox whose key is left out of the file while it is at its
    /// default (a check block's flags: a type that does not read a key
    /// warns about it, so none is written that is not needed).
    Switch(bool),
    /// Several tokens as written (`dirs = [ a b ]`).
    Tokens,
}

#[derive(Clone, Copy, Debug)]
pub struct Field {
    pub key: &'static str,
    pub label: &'static str,
    pub kind: Kind,
    pub help: &'static str,
}

const fn field(key: &'static str, label: &'static str, kind: Kind, help: &'static str) -> Field {
    Field {
        key,
        label,
        kind,
        help,
    }
}

pub const GLOBAL: &[Field] = &[
    field(
        "service",
        "Service",
        Kind::Choice(lvs_cf::ServiceType::KEYWORDS),
        "lvs: load balancing; fos: failover services",
    ),
    field("primary", "Primary server public IP", Kind::Word, ""),
    field(
        "primary_private",
        "Primary server private IP",
        Kind::Word,
        "heartbeats on a private network too",
    ),
    field(
        "primary_shared",
        "Primary shared device",
        Kind::Word,
        "FOS shared SCSI",
    ),
    field(
        "network",
        "Network type",
        Kind::Choice(lvs_cf::Network::KEYWORDS),
        "",
    ),
    field(
        "nat_router",
        "NAT router IP and device",
        Kind::AddressAndDevice,
        "the real servers' gateway, moved on failover",
    ),
    field(
        "nat_nmask",
        "NAT router netmask",
        Kind::Word,
        "e.g. 255.255.255.0 or /24",
    ),
    field(
        "tcp_timeout",
        "TCP timeout (s)",
        Kind::Word,
        "IPVS connection timeouts; empty or 0 leaves the kernel's",
    ),
    field("tcpfin_timeout", "TCP FIN timeout (s)", Kind::Word, ""),
    field("udp_timeout", "UDP timeout (s)", Kind::Word, ""),
    field(
        "hard_shutdown",
        "Stop lvs when a nanny dies",
        Kind::Flag(true),
        "hard_shutdown",
    ),
    field(
        "rsh_command",
        "Remote shell",
        Kind::Word,
        "for uptime load monitoring",
    ),
    field("ipvsadm", "ipvsadm path", Kind::Word, ""),
    field("debug_level", "Debug level", Kind::Word, ""),
    field(
        "reservation_conflict_action",
        "Reservation conflict",
        Kind::Choice(lvs_cf::ConflictAction::KEYWORDS),
        "FOS shared SCSI",
    ),
    field("active_cmd", "Command on becoming active", Kind::Word, ""),
    field("inactive_cmd", "Command on becoming inactive", Kind::Word, ""),
];

pub const REDUNDANCY: &[Field] = &[
    field(
        "backup_active",
        "Redundancy enabled",
        Kind::Flag(false),
        "backup_active",
    ),
    field("backup", "Redundant server public IP", Kind::Word, ""),
    field("backup_private", "Redundant server private IP", Kind::Word, ""),
    field(
        "backup_shared",
        "Redundant shared device",
        Kind::Word,
        "FOS shared SCSI",
    ),
    field("heartbeat", "Heartbeats", Kind::Flag(true), ""),
    field(
        "heartbeat_port",
        "Heartbeat runs on port",
        Kind::Word,
        "empty: 539",
    ),
    field(
        "keepalive",
        "Heartbeat interval (s)",
        Kind::Word,
        "fractions allowed, e.g. 0.2",
    ),
    field("deadtime", "Assume dead after (s)", Kind::Word, ""),
    field(
        "heartbeat_key",
        "Heartbeat key file",
        Kind::Word,
        "HMAC-authenticated heartbeats (lvs-rs)",
    ),
    field(
        "heartbeat_keys",
        "Heartbeat key files by id",
        Kind::Word,
        "lvs-rs, for a key rotation: [ 1:/etc/sysconfig/ha/old.key 2:/etc/sysconfig/ha/new.key ]",
    ),
    field(
        "heartbeat_send_key",
        "Heartbeats sealed with key id",
        Kind::Word,
        "lvs-rs; needed with several heartbeat_keys",
    ),
    field(
        "announce_again",
        "Announce VIPs again after (s)",
        Kind::Word,
        "lvs-rs; a second burst of gratuitous ARPs",
    ),
    field(
        "announce_refresh",
        "Announce VIPs every (s)",
        Kind::Word,
        "lvs-rs; while the router holds them",
    ),
    field(
        "catch_up_bound",
        "Wait for the connection table at most (s)",
        Kind::Word,
        "lvs-rs; before taking VIP groups back (0: no wait)",
    ),
    field(
        "monitor_links",
        "Monitor NIC links for failures",
        Kind::Flag(false),
        "",
    ),
    field("syncdaemon", "Use sync daemon", Kind::Flag(false), ""),
    field("syncd_iface", "Sync daemon interface", Kind::Word, ""),
    field("syncd_id", "Sync daemon id", Kind::Word, ""),
    field("sync", "Sync lvs.cf to the backup", Kind::Flag(false), ""),
    field("arp_count", "Gratuitous ARPs per VIP", Kind::Word, "lvs-rs"),
    field(
        "arp_interval",
        "Between gratuitous ARPs (s)",
        Kind::Word,
        "lvs-rs",
    ),
    field(
        "expire_nodest_conn",
        "Drop a removed server's connections",
        Kind::Choice(&["0", "1"]),
        "lvs-rs; IPVS sysctl; empty: the kernel's",
    ),
    field(
        "expire_quiescent_template",
        "Expire persistence to quiesced servers",
        Kind::Choice(&["0", "1"]),
        "lvs-rs; IPVS sysctl; empty: the kernel's",
    ),
    field(
        "conn_reuse_mode",
        "Connection reuse mode",
        Kind::Choice(&["0", "1", "2", "3"]),
        "lvs-rs; IPVS sysctl; empty: the kernel's",
    ),
    field(
        "sloppy_tcp",
        "Sloppy TCP",
        Kind::Choice(&["0", "1"]),
        "lvs-rs; IPVS sysctl; empty: the kernel's",
    ),
    field(
        "maintenance_dir",
        "Maintenance directory",
        Kind::Word,
        "lvs-rs; a file named after a server's address drains it",
    ),
    field(
        "drain_timeout",
        "Drain timeout (s)",
        Kind::Word,
        "lvs-rs; also drains servers a reload removes",
    ),
];

/// The IPVS settings of a server (lvs.cf's `ServerOptions`): on the virtual
/// panel for every server of the service, on a server's for that server.
const OPTION_FIELDS: [Field; 6] = [
    field(
        "network",
        "Forwarding method",
        Kind::Choice(lvs_cf::Network::KEYWORDS),
        "lvs-rs; empty: the enclosing one's",
    ),
    field(
        "tunnel_type",
        "Tunnel type",
        Kind::Choice(lvs_cf::TunnelType::KEYWORDS),
        "lvs-rs; tunnel only; empty: ipip",
    ),
    field("tunnel_port", "GUE port", Kind::Word, "lvs-rs; gue only"),
    field(
        "tunnel_checksum",
        "Tunnel checksum",
        Kind::Choice(lvs_cf::TunnelChecksum::KEYWORDS),
        "lvs-rs; empty: none",
    ),
    field(
        "upper_threshold",
        "Upper connection threshold",
        Kind::Word,
        "lvs-rs; empty or 0: no limit",
    ),
    field(
        "lower_threshold",
        "Lower connection threshold",
        Kind::Word,
        "lvs-rs; not above the upper one",
    ),
];

pub const VIRTUAL: &[Field] = &[
    field("active", "Active", Kind::Flag(false), ""),
    field(
        "address",
        "Virtual IP address and device",
        Kind::AddressAndDevice,
        "e.g. 192.0.2.100 and eth0:1",
    ),
    field("vip_nmask", "Virtual IP network mask", Kind::Word, ""),
    field(
        "port",
        "Application port",
        Kind::Word,
        "a number or a service name",
    ),
    field(
        "protocol",
        "Protocol",
        Kind::Choice(lvs_cf::Protocol::KEYWORDS),
        "",
    ),
    field("fwmark", "Firewall mark", Kind::Word, ""),
    field(
        "scheduler",
        "Scheduling",
        Kind::Choice(lvs_cf::Scheduler::KEYWORDS),
        "",
    ),
    field("persistent", "Persistence (s)", Kind::Word, ""),
    field("pmask", "Persistence network mask", Kind::Word, ""),
    field(
        "sorry_server",
        "Sorry server",
        Kind::Word,
        "used while no real server is up",
    ),
    field("reentry", "Re-entry time (s)", Kind::Word, ""),
    field("timeout", "Service timeout (s)", Kind::Word, ""),
    field(
        "check_interval",
        "Check interval (s)",
        Kind::Word,
        "lvs-rs; empty: as Piranha",
    ),
    field("failure_count", "Failures before down", Kind::Word, "lvs-rs"),
    field(
        "quiesce_server",
        "Quiesce server",
        Kind::Flag(false),
        "weight 0 instead of removal",
    ),
    field(
        "load_monitor",
        "Load monitoring tool",
        Kind::Choice(&["none", "uptime", "rup", "ruptime"]),
        "",
    ),
    field("client_monitor", "Client monitor", Kind::Word, ""),
    field("start_cmd", "Start command (FOS)", Kind::Text, ""),
    field("stop_cmd", "Stop command (FOS)", Kind::Text, ""),
    field("master", "Master (FOS)", Kind::Word, ""),
    field(
        "dirs",
        "Directories (FOS)",
        Kind::Tokens,
        "e.g. [ /srv/a /srv/b ]",
    ),
    OPTION_FIELDS[0],
    OPTION_FIELDS[1],
    OPTION_FIELDS[2],
    OPTION_FIELDS[3],
    OPTION_FIELDS[4],
    OPTION_FIELDS[5],
    field(
        "scheduler_flags",
        "Scheduler flags",
        Kind::Tokens,
        "lvs-rs; e.g. [ mh-fallback mh-port ]",
    ),
    field(
        "one_packet",
        "One-packet scheduling",
        Kind::Switch(false),
        "lvs-rs; UDP and firewall marks",
    ),
    field(
        "persistence_engine",
        "Persistence engine",
        Kind::Choice(lvs_cf::PersistenceEngine::KEYWORDS),
        "lvs-rs; with persistence",
    ),
    field(
        "sorry_port",
        "Sorry server port",
        Kind::Word,
        "lvs-rs; empty: the service's",
    ),
    field(
        "sorry_network",
        "Sorry server forwarding",
        Kind::Choice(lvs_cf::Network::KEYWORDS),
        "lvs-rs; empty: the service's",
    ),
    field(
        "sorry_weight",
        "Sorry server weight",
        Kind::Word,
        "lvs-rs; empty: 1",
    ),
    NOTIFY_FIELD,
    field(
        "quorum",
        "Quorum (total weight)",
        Kind::Word,
        "lvs-rs; the least total weight of healthy servers",
    ),
    field(
        "hysteresis",
        "Quorum hysteresis",
        Kind::Word,
        "lvs-rs; lost below quorum - hysteresis, back at quorum + hysteresis",
    ),
    field(
        "quorum_action",
        "Below the quorum",
        Kind::Choice(lvs_cf::QuorumAction::KEYWORDS),
        "lvs-rs; empty: sorry with a sorry server, else notify",
    ),
    field(
        "vip_group",
        "VIP group",
        Kind::Word,
        "lvs-rs; the vip_group block whose router holds this VIP",
    ),
];

/// `notify`, in virtual and server blocks alike.
const NOTIFY_FIELD: Field = field(
    "notify",
    "Event program",
    Kind::Word,
    "lvs-rs; run with EVENT SERVICE SERVER OLD NEW REASON; a server's own overrides its service's",
);

pub const SCRIPTS: &[Field] = &[
    field(
        "send_program",
        "Sending program",
        Kind::Text,
        "%h is the server's address",
    ),
    field("send", "Send", Kind::Text, "e.g. \"GET / HTTP/1.0\\r\\n\\r\\n\""),
    field("expect", "Expect", Kind::Text, ""),
    field(
        "use_regex",
        "Expect is a regular expression",
        Kind::Flag(false),
        "",
    ),
];

pub const SERVER: &[Field] = &[
    field("active", "Active", Kind::Flag(false), ""),
    field("address", "Address", Kind::Word, ""),
    field("port", "Port", Kind::Word, "empty: the virtual server's"),
    field("weight", "Weight", Kind::Word, ""),
    OPTION_FIELDS[0],
    OPTION_FIELDS[1],
    OPTION_FIELDS[2],
    OPTION_FIELDS[3],
    OPTION_FIELDS[4],
    OPTION_FIELDS[5],
    NOTIFY_FIELD,
];

/// A `check` block's keys (see docs/lvs.cf.md for which type reads which).
pub const CHECK: &[Field] = &[
    field(
        "type",
        "Type",
        Kind::Choice(lvs_cf::CheckType::KEYWORDS),
        "default: tcp",
    ),
    field("address", "Check address", Kind::Word, "empty: the server's"),
    field("port", "Check port", Kind::Word, "empty: the server's"),
    field(
        "source",
        "Source address",
        Kind::Word,
        "empty: the kernel's choice",
    ),
    field(
        "timeout",
        "Timeout",
        Kind::Word,
        "seconds; empty: the virtual server's",
    ),
    field("send", "Send", Kind::Text, "tcp, udp"),
    field(
        "send_hex",
        "Send (hex)",
        Kind::Word,
        "tcp, udp: bytes as hex digits",
    ),
    field(
        "expect",
        "Expect",
        Kind::Text,
        "tcp, udp, mail greetings, program output",
    ),
    field("expect_hex", "Expect (hex)", Kind::Word, "tcp, udp"),
    field(
        "use_regex",
        "Expect is a regular expression",
        Kind::Switch(false),
        "",
    ),
    field(
        "method",
        "HTTP method",
        Kind::Choice(lvs_cf::HttpMethod::KEYWORDS),
        "http, https",
    ),
    field("path", "Path", Kind::Word, "http, https; e.g. /healthz"),
    field("host", "Host header", Kind::Word, "http, https"),
    field(
        "status",
        "Accepted status codes",
        Kind::Tokens,
        "e.g. [ 200 301-302 ]; empty: 200-299",
    ),
    field("body", "Body matches", Kind::Word, "a regular expression"),
    field(
        "digest",
        "Body MD5",
        Kind::Word,
        "32 hex digits, as genhash prints",
    ),
    field(
        "http_version",
        "HTTP version",
        Kind::Choice(lvs_cf::HttpVersion::KEYWORDS),
        "",
    ),
    field(
        "reuse_connection",
        "Reuse the connection",
        Kind::Switch(true),
        "http, https: one kept connection, renewed now and then",
    ),
    field(
        "sni",
        "TLS server name",
        Kind::Word,
        "empty: the host header, else the address",
    ),
    field("verify", "Verify the certificate", Kind::Switch(true), ""),
    field("ca_file", "CA file", Kind::Word, "PEM; empty: the system's roots"),
    field("client_cert", "Client certificate", Kind::Word, "PEM"),
    field("client_key", "Client key", Kind::Word, "PEM"),
    field(
        "tls_min",
        "Oldest TLS version",
        Kind::Choice(lvs_cf::TlsVersion::KEYWORDS),
        "",
    ),
    field("starttls", "STARTTLS", Kind::Switch(false), "smtp, imap, pop3"),
    field("query", "DNS query", Kind::Word, "dns: the name asked for"),
    field(
        "record",
        "Record type",
        Kind::Choice(lvs_cf::RecordType::KEYWORDS),
        "dns",
    ),
    field(
        "transport",
        "DNS transport",
        Kind::Choice(lvs_cf::DnsTransport::KEYWORDS),
        "",
    ),
    field(
        "rcode",
        "Response code",
        Kind::Choice(lvs_cf::Rcode::KEYWORDS),
        "dns",
    ),
    field(
        "answer",
        "Answer",
        Kind::Word,
        "dns: a value one record must have",
    ),
    field(
        "command",
        "Command",
        Kind::Word,
        "program: %h and %p are the server's address and port",
    ),
    field(
        "dynamic",
        "Exit status sets the weight",
        Kind::Switch(false),
        "program: 2-255 is weight status - 2",
    ),
    field(
        "file",
        "State file",
        Kind::Word,
        "file: says up, down or a weight",
    ),
];

/// The suffix of the second input of an address-and-device field.
pub const DEVICE_SUFFIX: &str = "__device";

/// What the form's inputs show for `field`: one or two texts.
pub fn shown(field: &Field, entries: &[Entry]) -> (String, String) {
    let value = value_of(entries, field.key);
    match field.kind {
        Kind::Word => (
            value.map(lvs_cf::unquote).unwrap_or_default().to_owned(),
            String::new(),
        ),
        Kind::Text | Kind::Tokens | Kind::Choice(_) => (value.unwrap_or_default().to_owned(), String::new()),
        Kind::AddressAndDevice => {
            let value = value.unwrap_or_default();
            let (ip, device) = value.split_once(' ').unwrap_or((value, ""));
            (ip.to_owned(), lvs_cf::unquote(device.trim()).to_owned())
        }
        Kind::Flag(default) | Kind::Switch(default) => {
            let on = value.map_or(default, |v| v.trim() != "0");
            (if on { "1" } else { "0" }.to_owned(), String::new())
        }
    }
}

/// The value a form gives `field` (`None`: the key is left out, so its
/// default holds). Text is never cut short.
pub fn submitted(field: &Field, form: &std::collections::HashMap<String, String>) -> Option<String> {
    let input = |name: &str| form.get(name).map(|v| v.trim()).unwrap_or("");
    let text = input(field.key);
    match field.kind {
        Kind::Flag(_) => Some(if text.is_empty() || text == "0" { "0" } else { "1" }.to_owned()),
        Kind::Switch(default) => {
            let on = !(text.is_empty() || text == "0");
            (on != default).then(|| if on { "1" } else { "0" }.to_owned())
        }
        _ if matches!(field.kind, Kind::AddressAndDevice) => {
            let device = input(&format!("{}{DEVICE_SUFFIX}", field.key));
            match (text.is_empty(), device.is_empty()) {
                (true, true) => None,
                (_, true) => Some(text.to_owned()),
                _ => Some(format!("{text} {}", lvs_cf::quote(device))),
            }
        }
        _ if text.is_empty() => None,
        Kind::Word => Some(lvs_cf::quote(text).into_owned()),
        Kind::Text if text.starts_with(['"', '\'']) || !text.contains([' ', '\t']) => Some(text.to_owned()),
        Kind::Text => Some(lvs_cf::quote(text).into_owned()),
        Kind::Tokens | Kind::Choice(_) | Kind::AddressAndDevice => Some(text.to_owned()),
    }
}

/// Why `text` cannot stand in lvs.cf, if it cannot: a line break would
/// start another directive (names and values alike).
pub fn control_characters(text: &str) -> Option<String> {
    text.chars()
        .any(char::is_control)
        .then(|| "line breaks and control characters are not allowed".to_owned())
}

/// Why a form's text cannot be a value, if it cannot: see
/// [`control_characters`]; and a choice must be one of its options.
pub fn refused(field: &Field, form: &std::collections::HashMap<String, String>) -> Option<String> {
    let inputs = [field.key.to_owned(), format!("{}{DEVICE_SUFFIX}", field.key)];
    if let Some(why) = inputs
        .iter()
        .find_map(|input| control_characters(form.get(input)?))
    {
        return Some(why);
    }
    match (field.kind, form.get(field.key).map(|v| v.trim())) {
        (Kind::Choice(options), Some(value)) if !value.is_empty() && !options.contains(&value) => {
            Some(format!("choose one of {}", options.join(", ")))
        }
        _ => None,
    }
}

/// Applies a form's values for `fields` to `entries`; the fields whose text
/// cannot be a value are left as they were and returned with the reason.
pub fn apply(
    fields: &[Field],
    form: &std::collections::HashMap<String, String>,
    entries: &mut Vec<Entry>,
) -> Vec<(&'static str, String)> {
    let mut problems = Vec::new();
    for field in fields {
        match refused(field, form) {
            Some(why) => problems.push((field.key, why)),
            None => set(entries, field.key, submitted(field, form)),
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn form(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn form_values_become_lvs_cf_values() {
        let address = &VIRTUAL[1];
        let f = form(&[("address", "192.0.2.1"), ("address__device", "eth0:1")]);
        assert_eq!(submitted(address, &f).as_deref(), Some("192.0.2.1 eth0:1"));
        assert_eq!(submitted(address, &form(&[])), None);
        let send = &SCRIPTS[1];
        assert_eq!(
            submitted(send, &form(&[("send", "GET / HTTP/1.0\\r\\n\\r\\n")])).as_deref(),
            Some("\"GET / HTTP/1.0\\r\\n\\r\\n\"")
        );
        assert_eq!(
            submitted(send, &form(&[("send", "'a b'")])).as_deref(),
            Some("'a b'")
        );
        let flag = &SERVER[0];
        assert_eq!(submitted(flag, &form(&[("active", "1")])).as_deref(), Some("1"));
        assert_eq!(submitted(flag, &form(&[])).as_deref(), Some("0"));
        let command = &GLOBAL[15];
        assert_eq!(
            submitted(command, &form(&[("active_cmd", "/usr/local/bin/up now")])).as_deref(),
            Some("\"/usr/local/bin/up now\"")
        );
        // A long value stays whole (Piranha's tool cut lines at 80 characters).
        let long = "x".repeat(300);
        assert_eq!(submitted(&GLOBAL[1], &form(&[("primary", &long)])), Some(long));
    }

    #[test]
    fn line_breaks_and_unknown_choices_are_refused() {
        let mut entries = vec![Entry::new("port", "80")];
        let f = form(&[
            ("port", "80\nscheduler = rr"),
            ("protocol", "tcp\r server x {"),
            ("scheduler", "fastest"),
        ]);
        let problems = apply(VIRTUAL, &f, &mut entries);
        let keys: Vec<&str> = problems.iter().map(|(k, _)| *k).collect();
        assert_eq!(keys, vec!["port", "protocol", "scheduler"]);
        assert_eq!(
            value_of(&entries, "port"),
            Some("80"),
            "a refused value changes nothing"
        );
        let device = form(&[("address", "10.0.0.1"), ("address__device", "eth0\nport = 1")]);
        assert!(refused(&VIRTUAL[1], &device).is_some());
    }

    #[test]
    fn every_directive_has_a_field() {
        let all: Vec<&str> = [GLOBAL, REDUNDANCY, VIRTUAL, SCRIPTS, SERVER]
            .iter()
            .flat_map(|fields| fields.iter().map(|f| f.key))
            .collect();
        for key in lvs_cf::keys::GLOBAL_KEYS
            .iter()
            .chain(lvs_cf::keys::VIRTUAL_KEYS)
            .chain(lvs_cf::keys::SERVER_KEYS)
        {
            // Blocks are panels of their own (router, vip_group and track
            // blocks are kept as written, with no panel yet); the tool
            // counts serial_no; it edits no file with `include` (it reads
            // lvs.cf as text, where an include is refused).
            if [
                "virtual",
                "failover",
                "server",
                "check",
                "router",
                "vip_group",
                "track",
                "serial_no",
                "include",
            ]
            .contains(&key.name)
            {
                continue;
            }
            assert!(all.contains(&key.name), "no field for {}", key.name);
        }
        // A server block's keys are on the server panel (the virtual block's
        // are shared by the virtual and scripts panels).
        for key in lvs_cf::keys::SERVER_KEYS {
            if key.name != "check" {
                assert!(
                    SERVER.iter().any(|f| f.key == key.name),
                    "no server field for {}",
                    key.name
                );
            }
        }
        // A check block's panel has a field for each of its keys.
        for key in lvs_cf::keys::CHECK_KEYS {
            assert!(
                CHECK.iter().any(|f| f.key == key.name),
                "no check field for {}",
                key.name
            );
        }
    }
}
