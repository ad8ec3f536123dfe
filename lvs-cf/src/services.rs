//! The services database behind `port = http` (`getservbyname(name, "tcp")`).

use std::collections::HashMap;
use std::sync::OnceLock;

/// TCP service names and their ports.
#[derive(Clone, Debug, Default)]
pub struct Services {
    ports: HashMap<String, u16>,
}

/// Used when `/etc/services` is missing: the names LVS configurations use,
/// with the ports IANA assigns them.
const BUILTIN: &[(&str, u16)] = &[
    ("ftp-data", 20),
    ("ftp", 21),
    ("ssh", 22),
    ("telnet", 23),
    ("smtp", 25),
    ("domain", 53),
    ("gopher", 70),
    ("finger", 79),
    ("http", 80),
    ("www", 80),
    ("pop3", 110),
    ("nntp", 119),
    ("ntp", 123),
    ("imap", 143),
    ("imap2", 143),
    ("snmp", 161),
    ("ldap", 389),
    ("https", 443),
    ("submission", 587),
    ("ldaps", 636),
    ("rsync", 873),
    ("imaps", 993),
    ("pop3s", 995),
    ("ms-sql-s", 1433),
    ("openvpn", 1194),
    ("mysql", 3306),
    ("postgresql", 5432),
    ("http-alt", 8080),
];

impl Services {
    /// Parses the `/etc/services` format: `name port/proto [aliases...] [# comment]`.
    /// Only TCP entries count, as Piranha asks for `"tcp"`.
    pub fn from_etc_services(text: &str) -> Self {
        let mut ports = HashMap::new();
        for line in text.lines() {
            let line = line.split('#').next().unwrap_or("");
            let mut fields = line.split_whitespace();
            let (Some(name), Some(port_proto)) = (fields.next(), fields.next()) else {
                continue;
            };
            let Some((port, "tcp")) = port_proto.split_once('/') else {
                continue;
            };
            let Ok(port) = port.parse::<u16>() else { continue };
            for alias in std::iter::once(name).chain(fields) {
                ports.entry(alias.to_owned()).or_insert(port);
            }
        }
        Services { ports }
    }

    /// The built-in table.
    pub fn builtin() -> &'static Services {
        static BUILTIN_DB: OnceLock<Services> = OnceLock::new();
        BUILTIN_DB.get_or_init(|| Services {
            ports: BUILTIN
                .iter()
                .map(|&(name, port)| (name.to_owned(), port))
                .collect(),
        })
    }

    /// `/etc/services`, or the built-in table when it cannot be read. Loaded once.
    pub fn system() -> &'static Services {
        static SYSTEM_DB: OnceLock<Services> = OnceLock::new();
        SYSTEM_DB.get_or_init(|| Services::from_file_or_builtin(std::path::Path::new("/etc/services")))
    }

    /// A services file, or the built-in table when it cannot be read.
    pub fn from_file_or_builtin(path: &std::path::Path) -> Services {
        match std::fs::read_to_string(path) {
            Ok(text) => Services::from_etc_services(&text),
            Err(_) => Services::builtin().clone(),
        }
    }

    /// The TCP port of the service `name`.
    pub fn port(&self, name: &str) -> Option<u16> {
        self.ports.get(name).copied()
    }

    /// Names in the built-in table, for generators of test input.
    pub fn builtin_names() -> impl Iterator<Item = (&'static str, u16)> {
        BUILTIN.iter().copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_tcp_entries_and_aliases() {
        let db = Services::from_etc_services(
            "# comment\nhttp\t\t80/tcp\t\twww\t# WorldWideWeb\nhttp 80/udp\ndomain 53/udp\nbad\nx 99999/tcp\n",
        );
        assert_eq!(db.port("http"), Some(80));
        assert_eq!(db.port("www"), Some(80));
        assert_eq!(db.port("domain"), None);
        assert_eq!(db.port("x"), None);
    }

    #[test]
    fn a_missing_file_falls_back_to_the_builtin_table() {
        let db = Services::from_file_or_builtin(std::path::Path::new("/nonexistent/services"));
        assert_eq!(db.port("http"), Some(80));
        assert_eq!(db.port("mysql"), Some(3306));
    }

    #[test]
    fn builtin_table_has_the_common_names() {
        assert_eq!(Services::builtin().port("http"), Some(80));
        assert_eq!(Services::builtin().port("https"), Some(443));
        assert_eq!(Services::builtin().port("nope"), None);
    }
}
