//! The keys each block accepts, and hints for keys that are not among them.

/// Where a directive stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    Global,
    /// Inside `virtual NAME { }` or `failover NAME { }`.
    Virtual,
    /// Inside `server NAME { }`.
    Server,
}

impl Scope {
    fn describe(self) -> &'static str {
        match self {
            Scope::Global => "at the top level",
            Scope::Virtual => "inside a virtual or failover block",
            Scope::Server => "inside a server block",
        }
    }
}

/// A key and whether lvs-rs added it (extensions are unknown under `--strict`).
#[derive(Clone, Copy, Debug)]
pub struct Key {
    pub name: &'static str,
    pub extension: bool,
}

const fn piranha(name: &'static str) -> Key {
    Key {
        name,
        extension: false,
    }
}

const fn extension(name: &'static str) -> Key {
    Key {
        name,
        extension: true,
    }
}

pub const GLOBAL_KEYS: &[Key] = &[
    piranha("serial_no"),
    piranha("service"),
    piranha("primary"),
    piranha("primary_private"),
    piranha("primary_shared"),
    piranha("backup"),
    piranha("backup_private"),
    piranha("backup_shared"),
    piranha("backup_active"),
    piranha("heartbeat"),
    piranha("heartbeat_port"),
    piranha("keepalive"),
    piranha("deadtime"),
    piranha("network"),
    piranha("nat_router"),
    piranha("nat_nmask"),
    piranha("reservation_conflict_action"),
    piranha("debug_level"),
    piranha("rsh_command"),
    piranha("ipvsadm"),
    piranha("sync"),
    piranha("active_cmd"),
    piranha("inactive_cmd"),
    piranha("monitor_links"),
    piranha("hard_shutdown"),
    piranha("syncdaemon"),
    piranha("syncd_iface"),
    piranha("syncd_id"),
    piranha("tcp_timeout"),
    piranha("tcpfin_timeout"),
    piranha("udp_timeout"),
    piranha("virtual"),
    piranha("failover"),
    extension("heartbeat_key"),
    extension("arp_count"),
    extension("arp_interval"),
];

pub const VIRTUAL_KEYS: &[Key] = &[
    piranha("active"),
    piranha("address"),
    piranha("sorry_server"),
    piranha("vip_nmask"),
    piranha("fwmark"),
    piranha("protocol"),
    piranha("port"),
    piranha("scheduler"),
    piranha("persistent"),
    piranha("pmask"),
    piranha("client_monitor"),
    piranha("send_program"),
    piranha("send"),
    piranha("expect"),
    piranha("use_regex"),
    piranha("timeout"),
    piranha("reentry"),
    piranha("load_monitor"),
    piranha("quiesce_server"),
    piranha("start_cmd"),
    piranha("stop_cmd"),
    piranha("master"),
    piranha("dirs"),
    piranha("server"),
    extension("failure_count"),
    extension("check_interval"),
];

pub const SERVER_KEYS: &[Key] = &[
    piranha("address"),
    piranha("active"),
    piranha("weight"),
    piranha("port"),
];

pub fn keys(scope: Scope) -> &'static [Key] {
    match scope {
        Scope::Global => GLOBAL_KEYS,
        Scope::Virtual => VIRTUAL_KEYS,
        Scope::Server => SERVER_KEYS,
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
    for other in [Scope::Global, Scope::Virtual, Scope::Server] {
        if other != scope && keys(other).iter().any(|k| k.name == key) {
            return format!(
                "`{key}` is not allowed {}; it belongs {}",
                scope.describe(),
                other.describe()
            );
        }
    }
    match nearest(key, scope) {
        Some(near) => format!("unknown key `{key}`; did you mean `{near}`?"),
        None => format!("unknown key `{key}`"),
    }
}

/// The known key of `scope` with the smallest edit distance to `word`.
pub fn nearest(word: &str, scope: Scope) -> Option<&'static str> {
    keys(scope)
        .iter()
        .map(|k| (edit_distance(word, k.name), k.name))
        .min_by_key(|&(d, _)| d)
        .map(|(_, name)| name)
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
