//! Validation beyond syntax: what parses but would not run, or would not run
//! as intended.

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;

use serde::Serialize;

use crate::model::*;
use crate::parser::{BlockMap, SourceMap};
use crate::writer::{plain_problem, text_problem};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
/// How bad a finding is.
pub enum Severity {
    /// The daemons run, but probably not as meant.
    Warning,
    /// The daemons refuse the file.
    Error,
}

/// One finding, with the line it concerns when the model came from a file.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct Diagnostic {
    /// How bad.
    pub severity: Severity,
    /// The included file the line is in, when it is not the file read
    /// (see [`Parsed::locate`](crate::Parsed::locate)).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<std::path::PathBuf>,
    /// The line it is about, where there is one.
    pub line: Option<usize>,
    /// What is wrong, and what to do.
    pub message: String,
}

impl Diagnostic {
    /// Whether it is an error.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let severity = match self.severity {
            Severity::Warning => "warning",
            Severity::Error => "error",
        };
        if let Some(file) = &self.file {
            write!(f, "{}: ", file.display())?;
        }
        match self.line {
            Some(line) => write!(f, "line {line}: {severity}: {}", self.message),
            None => write!(f, "{severity}: {}", self.message),
        }
    }
}

/// Checks a model. With the [`SourceMap`] of a parsed file, findings carry
/// line numbers. Errors mean the daemons would refuse or misuse the
/// configuration (or it cannot be written back as lvs.cf); warnings point at
/// settings that are legal but probably not what was meant.
pub fn validate(config: &Config, map: Option<&SourceMap>) -> Vec<Diagnostic> {
    let mut v = Validator { out: Vec::new() };
    v.globals(config, map);
    for (kind, services, blocks) in [
        (
            "virtual",
            &config.virtual_services,
            map.map(|m| m.virtual_services.as_slice()),
        ),
        (
            "failover",
            &config.failover_services,
            map.map(|m| m.failover_services.as_slice()),
        ),
    ] {
        let mut names: HashMap<&str, Option<usize>> = HashMap::new();
        for (i, vs) in services.iter().enumerate() {
            let block = blocks.and_then(|b| b.get(i));
            let header = block.map(|b| b.header.line);
            if let Some(first) = names.insert(&vs.name, header) {
                v.error(
                    header,
                    format!("duplicate {kind} service name `{}`{}", vs.name, first_seen(first)),
                );
            }
            v.service(config, kind, vs, block);
        }
    }
    v.conflicts(config, map);
    v.routing(config, map);
    v.out.sort_by_key(|d| d.line.unwrap_or(0));
    // A service's setting that every server inherits is reported once.
    let mut seen = std::collections::HashSet::new();
    v.out.retain(|d| seen.insert(d.clone()));
    v.out
}

/// The first tunnel key `options` sets, for the line of a finding about them.
fn first_tunnel_key(options: &ServerOptions) -> &'static str {
    if options.tunnel_type.is_some() {
        "tunnel_type"
    } else if options.tunnel_port.is_some() {
        "tunnel_port"
    } else {
        "tunnel_checksum"
    }
}

fn first_seen(line: Option<usize>) -> String {
    line.map(|l| format!(" (first defined on line {l})"))
        .unwrap_or_default()
}

struct Validator {
    out: Vec<Diagnostic>,
}

fn key_line(block: Option<&BlockMap>, key: &str) -> Option<usize> {
    block.map(|b| b.line_of(key))
}

impl Validator {
    fn error(&mut self, line: Option<usize>, message: String) {
        self.out.push(Diagnostic {
            severity: Severity::Error,
            file: None,
            line,
            message,
        });
    }

    fn warning(&mut self, line: Option<usize>, message: String) {
        self.out.push(Diagnostic {
            severity: Severity::Warning,
            file: None,
            line,
            message,
        });
    }

    /// `what` is made only for a value with a problem (it runs per server).
    fn plain(&mut self, line: Option<usize>, what: impl FnOnce() -> String, value: &str) {
        if let Some(problem) = plain_problem(value) {
            self.error(
                line,
                format!("{} {problem}, so it cannot be written in lvs.cf", what()),
            );
        }
    }

    fn text(&mut self, line: Option<usize>, what: &str, text: &Option<Text>) {
        if let Some(problem) = text.as_ref().and_then(text_problem) {
            self.error(
                line,
                format!("`{what}` {problem}, so it cannot be written in lvs.cf"),
            );
        }
    }

    fn host(&mut self, line: Option<usize>, what: &str, host: &Option<Host>) {
        if let Some(Host::Name(name)) = host {
            if !crate::values::is_host_name(name) {
                self.error(
                    line,
                    format!("`{what}` is neither an IP address nor a host name: `{name}`"),
                );
            }
        }
    }

    fn seconds(&mut self, line: Option<usize>, what: &str, value: Seconds) {
        if value.0.is_zero() || value.0.as_secs() > i32::MAX as u64 {
            self.error(
                line,
                format!("`{what}` must be greater than 0 and at most {} seconds", i32::MAX),
            );
        }
    }

    fn netmask(&mut self, line: Option<usize>, what: &str, mask: Option<Netmask>, address: Option<IpAddr>) {
        let Some(mask) = mask else { return };
        match (mask, address) {
            (Netmask::Dotted(_), Some(IpAddr::V6(_))) => self.error(
                line,
                format!("`{what}` is a dotted mask but the address is IPv6: Bad subnet mask specified; write a prefix length such as /64"),
            ),
            (Netmask::Prefix(len), Some(IpAddr::V4(_))) | (Netmask::Prefix(len), None) if len > 32 => {
                self.error(line, format!("`{what}` /{len} is longer than an IPv4 address: Bad subnet mask specified"))
            }
            (Netmask::Prefix(len), _) if len > 128 => {
                self.error(line, format!("`{what}` /{len} is longer than 128 bits: Bad subnet mask specified"))
            }
            (Netmask::Dotted(m), _) if mask.prefix_len().is_none() => self.error(
                line,
                format!("`{what}` {m} is not a contiguous netmask: Bad subnet mask specified"),
            ),
            _ => {}
        }
    }

    fn globals(&mut self, c: &Config, map: Option<&SourceMap>) {
        let line = |key: &str| map.and_then(|m| m.global(key)).map(|l| l.line);
        if let (Some(primary), Some(backup)) = (&c.primary, c.backup_address()) {
            if primary == backup {
                self.error(
                    line("backup"),
                    format!("`primary` and `backup` are the same address ({primary})"),
                );
            }
        }
        if c.backup_active && c.backup_address().is_none() {
            self.warning(
                line("backup_active"),
                "`backup_active = 1` without a `backup` address: pulse clears it (\"Undefined backup node marked as active? -- clearing that!\") and runs without a partner".to_owned(),
            );
        }
        if c.backup_active && c.primary_private.is_some() && c.backup_private.is_none() {
            self.warning(
                line("primary_private"),
                "`primary_private` is set but `backup_private` is not, so heartbeats on the private channel go nowhere".to_owned(),
            );
        }
        if c.backup_active && c.primary.is_none() {
            self.warning(
                None,
                "no `primary` address: pulse cannot tell which router is the master".to_owned(),
            );
        }
        self.seconds(line("keepalive"), "keepalive", c.keepalive);
        self.seconds(line("deadtime"), "deadtime", c.deadtime);
        self.seconds(line("arp_interval"), "arp_interval", c.arp_interval);
        if let Some(timeout) = c.drain_timeout {
            self.seconds(line("drain_timeout"), "drain_timeout", timeout);
        }
        if c.backup_active && c.deadtime.0 <= c.keepalive.0 * 2 {
            self.warning(
                line("deadtime"),
                format!(
                    "`deadtime` ({}) is not longer than two `keepalive`s ({}): a single lost heartbeat makes the partner look dead",
                    c.deadtime, c.keepalive
                ),
            );
        }
        for (key, host) in [
            ("primary", &c.primary),
            ("primary_private", &c.primary_private),
            ("backup_private", &c.backup_private),
        ] {
            if host.as_ref().is_some_and(Host::is_unspecified) {
                self.error(
                    line(key),
                    format!("`{key}` must not be an unspecified address: invalid host name or ip address"),
                );
            }
        }
        for (key, host) in [
            ("primary", &c.primary),
            ("primary_private", &c.primary_private),
            ("backup", &c.backup),
            ("backup_private", &c.backup_private),
        ] {
            self.host(line(key), key, host);
        }
        let router_ip = c.nat_router.as_ref().and_then(|r| r.host.ip());
        self.netmask(line("nat_nmask"), "nat_nmask", c.nat_nmask, router_ip);
        if c.nat_router.is_some() && c.network != Network::Nat && !c.uses_nat() {
            self.warning(
                line("nat_router"),
                format!(
                    "`nat_router` is used only with `network = nat`, not `{}`, or for a server reached by NAT",
                    c.network
                ),
            );
        }
        if let Some(router) = &c.nat_router {
            self.host(line("nat_router"), "nat_router", &Some(router.host.clone()));
            self.plain(
                line("nat_router"),
                || "the `nat_router` device".to_owned(),
                &router.device,
            );
        }
        for (key, value) in [
            ("primary_shared", c.primary_shared.as_deref()),
            ("backup_shared", c.backup_shared.as_deref()),
            ("debug_level", Some(c.debug_level.as_str())),
            ("rsh_command", Some(c.rsh_command.as_str())),
            ("ipvsadm", Some(c.ipvsadm.as_str())),
            ("active_cmd", c.active_cmd.as_deref()),
            ("inactive_cmd", c.inactive_cmd.as_deref()),
            ("syncd_iface", Some(c.syncd_iface.as_str())),
            ("heartbeat_key", c.heartbeat_key.as_deref()),
            ("maintenance_dir", c.maintenance_dir.as_deref()),
        ] {
            if let Some(value) = value {
                self.plain(line(key), || format!("`{key}`"), value);
            }
        }
        for (key, value) in [
            ("tcp_timeout", c.tcp_timeout),
            ("tcpfin_timeout", c.tcpfin_timeout),
            ("udp_timeout", c.udp_timeout),
        ] {
            if value > 2_678_400 {
                self.error(
                    line(key),
                    format!("`{key}` must be at most 2678400 seconds (31 days)"),
                );
            }
        }
        if c.active_services().next().is_none() {
            let (what, kind) = match c.service {
                ServiceType::Lvs => ("virtual", "lvs"),
                ServiceType::Fos => ("failover", "fos"),
            };
            self.error(
                None,
                format!("no active {what} services defined (service = {kind}): pulse refuses to start without one"),
            );
        }
    }

    fn service(&mut self, c: &Config, kind: &str, vs: &VirtualService, block: Option<&BlockMap>) {
        let header = block.map(|b| b.header.line);
        let line = |key: &str| key_line(block, key);
        let name = &vs.name;
        self.plain(header, || format!("the {kind} name `{name}`"), name);
        if vs.active && vs.address.is_none() {
            self.error(
                header,
                format!("active {kind} service `{name}` has no `address`: pulse brings the VIP up from it, fwmark services included"),
            );
        }
        let vip = vs.address.as_ref().and_then(|a| a.host.ip());
        if let Some(address) = &vs.address {
            self.host(line("address"), "address", &Some(address.host.clone()));
            self.plain(
                line("address"),
                || "the `address` device".to_owned(),
                &address.device,
            );
        }
        self.netmask(line("vip_nmask"), "vip_nmask", vs.vip_nmask, vip);
        self.netmask(line("pmask"), "pmask", vs.pmask, vip);
        if vs.pmask.is_some() && vs.persistent == 0 {
            self.warning(
                line("pmask"),
                format!("`pmask` in `{name}` has no effect without `persistent`"),
            );
        }
        if vs.persistent > 2_678_400 {
            self.error(
                line("persistent"),
                "`persistent` must be at most 2678400 seconds (31 days)".to_owned(),
            );
        }
        if let (Some(sorry), Some(vip)) = (vs.sorry_server, vip) {
            if sorry.is_ipv4() != vip.is_ipv4() && vs.sorry_network_or(c.network) != Network::Tunnel {
                self.error(
                    line("sorry_server"),
                    format!("`sorry_server` {sorry} and the VIP {vip} are of different address families, which IPVS allows only with `sorry_network = tunnel`"),
                );
            }
        }
        self.seconds(line("timeout"), "timeout", vs.timeout);
        if let Some(interval) = vs.check_interval {
            self.seconds(line("check_interval"), "check_interval", interval);
        }
        if !(1..=1000).contains(&vs.failure_count) {
            self.error(
                line("failure_count"),
                "`failure_count` must be between 1 and 1000".to_owned(),
            );
        }
        if vs.send_program.is_some() && vs.send.is_some() {
            self.warning(
                line("send_program"),
                format!("`send_program` overrides `send` in `{name}`; `send` is ignored"),
            );
        }
        for (key, text) in [
            ("send", &vs.send),
            ("expect", &vs.expect),
            ("send_program", &vs.send_program),
            ("start_cmd", &vs.start_cmd),
            ("stop_cmd", &vs.stop_cmd),
        ] {
            self.text(line(key), key, text);
        }
        match vs.quorum {
            None => {
                for (key, set) in [
                    ("hysteresis", vs.hysteresis.is_some()),
                    ("quorum_action", vs.quorum_action.is_some()),
                ] {
                    if set {
                        self.warning(
                            line(key),
                            format!("`{key}` in `{name}` has no effect without `quorum`"),
                        );
                    }
                }
            }
            Some(quorum) => {
                let hysteresis = vs.hysteresis.unwrap_or(0);
                if hysteresis >= quorum {
                    self.warning(
                        line("hysteresis"),
                        format!("`hysteresis` ({hysteresis}) in `{name}` is not below `quorum` ({quorum}): the quorum is never lost"),
                    );
                }
                let total: u64 = vs
                    .servers
                    .iter()
                    .filter(|s| s.active)
                    .map(|s| u64::from(s.weight))
                    .sum();
                let regained_at = u64::from(quorum) + u64::from(hysteresis);
                if vs.active && regained_at > total {
                    self.warning(
                        line("quorum"),
                        format!(
                            "`quorum` + `hysteresis` ({regained_at}) in `{name}` is more than its active servers' weights ({total}): a lost quorum never comes back"
                        ),
                    );
                }
                if vs.quorum_action == Some(QuorumAction::Sorry) && vs.sorry_server.is_none() {
                    self.error(
                        line("quorum_action"),
                        format!("`quorum_action = sorry` in `{name}` needs a `sorry_server`"),
                    );
                }
            }
        }
        if let Some(program) = &vs.notify {
            self.plain(line("notify"), || "`notify`".to_owned(), program);
        }
        if let Some(monitor) = &vs.load_monitor {
            self.plain(line("load_monitor"), || "`load_monitor`".to_owned(), monitor);
        }
        self.plain(
            line("client_monitor"),
            || "`client_monitor`".to_owned(),
            &vs.client_monitor,
        );
        self.host(line("master"), "master", &vs.master);
        for dir in vs.dirs.iter().flatten() {
            if !crate::writer::is_bare_token(dir) || dir == "[" || dir == "]" {
                self.error(
                    line("dirs"),
                    format!("`dirs` entry `{dir}` cannot be written in a list"),
                );
            }
        }
        self.checks(
            &format!("`{name}`"),
            &vs.checks,
            block.map(|b| b.checks.as_slice()),
        );
        let service_network = vs.server_options.network.unwrap_or(c.network);
        let tunnel_used = service_network == Network::Tunnel
            || vs
                .servers
                .iter()
                .any(|s| vs.network_of(s, c.network) == Network::Tunnel)
            || (vs.sorry_server.is_some() && vs.sorry_network_or(c.network) == Network::Tunnel);
        let service_owner = |_: &[&str]| format!("`{name}`");
        if vs.servers.is_empty() {
            // No server to take them: the service's own settings as one would.
            self.server_options(&service_owner, &vs.server_options, service_network, &line);
        }
        if vs.server_options.has_tunnel_keys() && !tunnel_used {
            self.warning(
                line(first_tunnel_key(&vs.server_options)),
                format!("the tunnel keys of `{name}` have no effect: none of its servers is tunnelled"),
            );
        }
        if vs.sorry_server.is_some() && vs.sorry_network_or(c.network) == Network::Tunnel {
            let sorry = vs.sorry_options(c.network);
            let owner = |_: &[&str]| format!("the sorry server of `{name}`");
            self.server_options(&owner, &sorry, Network::Tunnel, &line);
        }
        for flag in &vs.scheduler_flags {
            if flag.scheduler() != vs.scheduler {
                self.error(
                    line("scheduler_flags"),
                    format!(
                        "`{flag}` in `{name}` is a flag of `scheduler = {}`, and the scheduler is `{}`",
                        flag.scheduler(),
                        vs.scheduler
                    ),
                );
            }
        }
        if vs.one_packet && vs.fwmark == 0 && vs.protocol != Protocol::Udp {
            self.error(
                line("one_packet"),
                format!("`one_packet` in `{name}` is only for UDP and firewall-mark services"),
            );
        }
        if vs.persistence_engine.is_some() && vs.persistent == 0 {
            self.warning(
                line("persistence_engine"),
                format!("`persistence_engine` in `{name}` has no effect without `persistent`"),
            );
        }
        if vs.sorry_server.is_none() {
            for (key, set) in [
                ("sorry_port", vs.sorry_port.is_some()),
                ("sorry_network", vs.sorry_network.is_some()),
                ("sorry_weight", vs.sorry_weight.is_some()),
            ] {
                if set {
                    self.warning(
                        line(key),
                        format!("`{key}` in `{name}` has no effect without `sorry_server`"),
                    );
                }
            }
        }
        let mut names: HashMap<&str, Option<usize>> = HashMap::new();
        for (i, server) in vs.servers.iter().enumerate() {
            let sblock = block.and_then(|b| b.servers.get(i));
            let sheader = sblock.map(|b| b.header.line);
            let sline = |key: &str| key_line(sblock, key);
            if let Some(first) = names.insert(&server.name, sheader) {
                self.error(
                    sheader,
                    format!(
                        "duplicate server name `{}` in `{name}`{}",
                        server.name,
                        first_seen(first)
                    ),
                );
            }
            self.plain(
                sheader,
                || format!("the server name `{}`", server.name),
                &server.name,
            );
            self.host(sline("address"), "address", &server.address);
            if let Some(program) = &server.notify {
                self.plain(sline("notify"), || "`notify`".to_owned(), program);
            }
            if server.weight > 65_535 {
                self.error(
                    sline("weight"),
                    format!("server `{}`: `weight` must be at most 65535", server.name),
                );
            }
            self.checks(
                &format!("server `{}` of `{name}`", server.name),
                &server.checks,
                sblock.map(|b| b.checks.as_slice()),
            );
            {
                // Each server's entry as it will be, its own keys reported on
                // its lines and as its own, those it takes from the service
                // on the service's (once: `validate` drops repeats).
                let entries = server.options.entries();
                let set_here = |key: &str| entries.iter().any(|(k, _)| *k == key);
                let where_set = |key: &str| if set_here(key) { sline(key) } else { line(key) };
                let owner = |keys: &[&str]| {
                    if keys.iter().any(|key| set_here(key)) {
                        format!("server `{}` of `{name}`", server.name)
                    } else {
                        format!("`{name}`")
                    }
                };
                let network = vs.network_of(server, c.network);
                self.server_options(&owner, &vs.options_of(server), network, &where_set);
                if server.options.has_tunnel_keys() && network != Network::Tunnel {
                    self.warning(
                        sline(first_tunnel_key(&server.options)),
                        format!(
                            "the tunnel keys of server `{}` of `{name}` have no effect unless its `network` is `tunnel`",
                            server.name
                        ),
                    );
                }
            }
            let address = server.address.as_ref().filter(|a| !a.is_unspecified());
            if vs.active && server.active && address.is_none() {
                self.error(
                    sheader,
                    format!("active server `{}` in `{name}` has no `address`", server.name),
                );
            }
            if let (Some(rip), Some(vip)) = (address.and_then(Host::ip), vip) {
                let network = vs.network_of(server, c.network);
                if rip.is_ipv4() != vip.is_ipv4() && c.syncdaemon {
                    self.error(
                        sline("address"),
                        format!(
                            "server `{}` and the VIP of `{name}` are of different address families, which the kernel's sync daemon (`syncdaemon = 1`) does not take",
                            server.name
                        ),
                    );
                }
                if rip.is_ipv4() != vip.is_ipv4() && network != Network::Tunnel {
                    self.error(
                        sline("address"),
                        format!(
                            "server `{}` and the VIP of `{name}` are of different address families, which IPVS allows only with `network = tunnel` (the server's `network` is `{network}`)",
                            server.name
                        ),
                    );
                }
            }
        }
    }

    /// The [`ServerOptions`] of `owner` (a service or a server), as they
    /// apply with `network`; `line` finds the line of a key.
    /// An entry's [`ServerOptions`] (a server's over its service's) as they
    /// apply with `network`; `line` finds the line of a key, `owner` names
    /// the block that set the keys a finding is about.
    fn server_options(
        &mut self,
        owner: &dyn Fn(&[&str]) -> String,
        options: &ServerOptions,
        network: Network,
        line: &dyn Fn(&str) -> Option<usize>,
    ) {
        if let Some(lower) = options.lower_threshold {
            let upper = options.upper_threshold.unwrap_or(0);
            if lower > upper {
                self.error(
                    line("lower_threshold"),
                    format!(
                        "`lower_threshold = {lower}` of {} is above its `upper_threshold = {upper}`; the kernel refuses that (0 is no limit)",
                        owner(&["lower_threshold", "upper_threshold"])
                    ),
                );
            }
        }
        if network != Network::Tunnel {
            return;
        }
        let kind = options.tunnel_type.unwrap_or_default();
        match (kind, options.tunnel_port) {
            (TunnelType::Gue, None) => self.error(
                line("tunnel_type"),
                format!(
                    "`tunnel_type = gue` of {} needs `tunnel_port`, the port its servers decapsulate on",
                    owner(&["tunnel_type", "tunnel_port"])
                ),
            ),
            (TunnelType::Ipip | TunnelType::Gre, Some(_)) => self.error(
                line("tunnel_port"),
                format!(
                    "`tunnel_port` of {} is only for `tunnel_type = gue` (the type is `{kind}`)",
                    owner(&["tunnel_type", "tunnel_port"])
                ),
            ),
            _ => {}
        }
        match (kind, options.tunnel_checksum.unwrap_or_default()) {
            (TunnelType::Ipip, TunnelChecksum::Checksum | TunnelChecksum::Remote)
            | (TunnelType::Gre, TunnelChecksum::Remote) => self.error(
                line("tunnel_checksum"),
                format!(
                    "`tunnel_checksum = {}` of {} cannot be used with `tunnel_type = {kind}` (gue takes every checksum, gre `none` and `checksum`)",
                    options.tunnel_checksum.unwrap_or_default(),
                    owner(&["tunnel_type", "tunnel_checksum"])
                ),
            ),
            _ => {}
        }
    }

    /// The check blocks of `owner` (a service or a server).
    fn checks(&mut self, owner: &str, checks: &[CheckBlock], blocks: Option<&[BlockMap]>) {
        let mut names: HashMap<&str, Option<usize>> = HashMap::new();
        for (i, check) in checks.iter().enumerate() {
            let block = blocks.and_then(|b| b.get(i));
            let header = block.map(|b| b.header.line);
            let line = |key: &str| key_line(block, key);
            let what = format!("check `{}` of {owner}", check.name);
            if let Some(first) = names.insert(&check.name, header) {
                self.error(
                    header,
                    format!(
                        "duplicate check name `{}` in {owner}{}",
                        check.name,
                        first_seen(first)
                    ),
                );
            }
            self.plain(header, || format!("the check name `{}`", check.name), &check.name);
            if let Some(block) = block {
                for (key, at) in &block.keys {
                    if !check_reads(check, key) {
                        self.warning(
                            Some(at.line),
                            format!("{what}: `type = {}` does not read `{key}`", check.kind),
                        );
                    }
                }
            }
            let required = match check.kind {
                CheckType::Dns => check.query.is_none().then_some("query"),
                CheckType::Program => check.command.is_none().then_some("command"),
                CheckType::File => check.file.is_none().then_some("file"),
                _ => None,
            };
            if let Some(key) = required {
                self.error(header, format!("{what}: `type = {}` needs `{key}`", check.kind));
            }
            if check.client_cert.is_some() != check.client_key.is_some() {
                self.error(
                    line("client_cert").or(line("client_key")),
                    format!("{what}: `client_cert` and `client_key` go together"),
                );
            }
            if check.use_regex && matches!(check.expect, Some(Payload::Hex(_))) {
                self.error(
                    line("use_regex"),
                    format!("{what}: `use_regex` applies to `expect`, not to `expect_hex`"),
                );
            }
            if let (Some(address), Some(source)) = (check.address, check.source) {
                if address.is_ipv4() != source.is_ipv4() {
                    self.error(
                        line("source"),
                        format!("{what}: `source` {source} and `address` {address} are of different address families"),
                    );
                }
            }
            if let Some(timeout) = check.timeout {
                self.seconds(line("timeout"), "timeout", timeout);
            }
            for (key, value) in [
                ("body", &check.body),
                ("ca_file", &check.ca_file),
                ("client_cert", &check.client_cert),
                ("client_key", &check.client_key),
                ("answer", &check.answer),
                ("command", &check.command),
                ("file", &check.file),
            ] {
                if let Some(value) = value {
                    self.plain(line(key), || format!("{what}: `{key}`"), value);
                }
            }
            for (key, payload) in [("send", &check.send), ("expect", &check.expect)] {
                if let Some(Payload::Text(text)) = payload {
                    let text = Some(text.clone());
                    self.text(line(key), key, &text);
                }
            }
        }
    }

    /// Two active services the kernel could not both hold.
    /// Heartbeat keys by id, and VIP groups with their routers and tracks.
    fn routing(&mut self, c: &Config, map: Option<&SourceMap>) {
        let line = |key: &str| map.and_then(|m| m.global(key)).map(|l| l.line);
        if !c.heartbeat_keys.is_empty() && c.heartbeat_key.is_some() {
            self.error(
                line("heartbeat_keys"),
                "`heartbeat_keys` and `heartbeat_key` are both set: `heartbeat_key` is key id 0, so list it in `heartbeat_keys` as `0:PATH` instead".to_owned(),
            );
        }
        for (_, path) in &c.heartbeat_keys {
            self.plain(
                line("heartbeat_keys"),
                || "a `heartbeat_keys` path".to_owned(),
                path,
            );
        }
        match (c.heartbeat_send_key, c.heartbeat_keys.as_slice()) {
            (Some(id), keys) if !keys.iter().any(|(known, _)| *known == id) => self.error(
                line("heartbeat_send_key"),
                format!("`heartbeat_send_key = {id}` names no key of `heartbeat_keys`"),
            ),
            (None, keys) if keys.len() > 1 => self.error(
                line("heartbeat_keys"),
                "`heartbeat_keys` holds several keys: say which one seals heartbeats with `heartbeat_send_key`".to_owned(),
            ),
            _ => {}
        }
        let block_line = |blocks: Option<&Vec<BlockMap>>, i: usize, key: Option<&str>| {
            blocks.and_then(|b| b.get(i)).map(|b| match key {
                Some(key) => b.line_of(key),
                None => b.header.line,
            })
        };
        let groups = c.vip_groups.as_slice();
        if groups.is_empty() {
            for (kind, first) in [
                (
                    "router",
                    c.routers.first().map(|_| map.and_then(|m| m.routers.first())),
                ),
                (
                    "track",
                    c.tracks.first().map(|_| map.and_then(|m| m.tracks.first())),
                ),
            ] {
                if let Some(block) = first {
                    self.error(
                        block.map(|b| b.header.line),
                        format!("a `{kind}` block works only with VIP groups: add a `vip_group` block, or remove it"),
                    );
                }
            }
            for (i, vs) in c.virtual_services.iter().enumerate() {
                if let Some(group) = &vs.vip_group {
                    let at = map
                        .and_then(|m| m.virtual_services.get(i))
                        .map(|b| b.line_of("vip_group"));
                    self.error(
                        at,
                        format!(
                            "virtual `{}` names vip_group `{group}`, but no vip_group block defines it",
                            vs.name
                        ),
                    );
                }
            }
            return;
        }
        // VIP groups: pulse elects a holder per group over every router.
        if c.heartbeat_key.is_none() && c.heartbeat_keys.is_empty() {
            self.error(
                map.and_then(|m| m.vip_groups.first()).map(|b| b.header.line),
                "VIP groups need authenticated heartbeats: set `heartbeat_key` (or `heartbeat_keys`)"
                    .to_owned(),
            );
        }
        if c.service != ServiceType::Lvs {
            self.error(line("service"), "VIP groups need `service = lvs`".to_owned());
        }
        let mut routers: Vec<&str> = Vec::new();
        if c.primary.is_some() {
            routers.push("primary");
        }
        if c.backup_address().is_some() && c.backup_active {
            routers.push("backup");
        }
        let router_blocks = map.map(|m| &m.routers);
        for (i, router) in c.routers.iter().enumerate() {
            let header = block_line(router_blocks, i, None);
            self.name(header, "router", &router.name);
            if routers.contains(&router.name.as_str())
                || ["primary", "backup"].contains(&router.name.as_str())
            {
                self.error(header, format!("router `{}` is defined twice (`primary` and `backup` are the names of those routers)", router.name));
            }
            routers.push(&router.name);
            match &router.address {
                None => self.error(header, format!("router `{}` has no `address`", router.name)),
                Some(address) => self.host(
                    block_line(router_blocks, i, Some("address")),
                    "address",
                    &Some(address.clone()),
                ),
            }
            self.host(
                block_line(router_blocks, i, Some("private")),
                "private",
                &router.private,
            );
        }
        if routers.len() > 255 {
            self.error(None, "more than 255 routers".to_owned());
        }
        if groups.len() > 64 {
            self.error(
                None,
                "more than 64 VIP groups: heartbeats carry at most 64".to_owned(),
            );
        }
        let group_blocks = map.map(|m| &m.vip_groups);
        let mut names: HashMap<&str, Option<usize>> = HashMap::new();
        for (i, group) in groups.iter().enumerate() {
            let header = block_line(group_blocks, i, None);
            self.name(header, "vip_group", &group.name);
            if let Some(first) = names.insert(&group.name, header) {
                self.error(
                    header,
                    format!("duplicate vip_group name `{}`{}", group.name, first_seen(first)),
                );
            }
            let at = block_line(group_blocks, i, Some("priorities"));
            if group.priorities.is_empty() {
                self.error(
                    at,
                    format!(
                        "vip_group `{}` has no `priorities`: list the routers that may hold it",
                        group.name
                    ),
                );
            }
            for (router, _) in &group.priorities {
                if !routers.contains(&router.as_str()) {
                    self.error(
                        at,
                        format!("vip_group `{}` gives a priority to `{router}`, which is not a router (routers: {})", group.name, routers.join(", ")),
                    );
                }
            }
            if let Some(program) = &group.notify {
                self.plain(
                    block_line(group_blocks, i, Some("notify")),
                    || "`notify`".to_owned(),
                    program,
                );
            }
        }
        for (i, vs) in c.virtual_services.iter().enumerate() {
            let block = map.and_then(|m| m.virtual_services.get(i));
            match &vs.vip_group {
                None if vs.active => self.error(
                    block.map(|b| b.header.line),
                    format!("virtual `{}` names no `vip_group`: with VIP groups, every active virtual service belongs to one", vs.name),
                ),
                Some(group) if !names.contains_key(group.as_str()) => self.error(
                    key_line(block, "vip_group"),
                    format!("virtual `{}` names vip_group `{group}`, but no vip_group block defines it", vs.name),
                ),
                _ => {}
            }
        }
        let track_blocks = map.map(|m| &m.tracks);
        let mut track_names: HashMap<&str, Option<usize>> = HashMap::new();
        for (i, track) in c.tracks.iter().enumerate() {
            let header = block_line(track_blocks, i, None);
            self.plain(header, || "a track's name".to_owned(), &track.name);
            if let Some(first) = track_names.insert(&track.name, header) {
                self.error(
                    header,
                    format!("duplicate track name `{}`{}", track.name, first_seen(first)),
                );
            }
            match &track.target {
                None => self.error(
                    header,
                    format!("track `{}` watches nothing: give it one of `program`, `process`, `interface`, `file`", track.name),
                ),
                Some(target) => {
                    let at = block_line(track_blocks, i, Some(target.key()));
                    let key = target.key();
                    self.plain(at, || format!("`{key}`"), target.value());
                    let several = ["program", "process", "interface", "file"]
                        .iter()
                        .filter(|key| track_blocks.and_then(|b| b.get(i)).is_some_and(|b| b.key(key).is_some()))
                        .count();
                    if several > 1 {
                        self.error(at, format!("track `{}` sets more than one of `program`, `process`, `interface`, `file`", track.name));
                    }
                }
            }
            let at = block_line(track_blocks, i, Some("groups"));
            for group in &track.groups {
                if !names.contains_key(group.as_str()) {
                    self.error(
                        at,
                        format!(
                            "track `{}` applies to vip_group `{group}`, which no vip_group block defines",
                            track.name
                        ),
                    );
                }
            }
        }
    }

    /// A router's or group's name, which lists name in `name:value` words:
    /// no blank, quote or colon.
    fn name(&mut self, line: Option<usize>, kind: &str, name: &str) {
        if name.is_empty() || name.contains([' ', '\t', '\r', '\n', '"', '\'', ':', '[', ']', '#']) {
            self.error(
                line,
                format!("the {kind} name `{name}` must be one word without quotes, colons, brackets or `#`"),
            );
        }
    }

    fn conflicts(&mut self, c: &Config, map: Option<&SourceMap>) {
        let blocks = map.map(|m| match c.service {
            ServiceType::Lvs => m.virtual_services.as_slice(),
            ServiceType::Fos => m.failover_services.as_slice(),
        });
        let mut seen: HashMap<String, (&str, Option<usize>)> = HashMap::new();
        for (i, vs) in c.services_in_use().iter().enumerate() {
            if !vs.active {
                continue;
            }
            let header = blocks.and_then(|b| b.get(i)).map(|b| b.header.line);
            let key = if vs.fwmark != 0 {
                let family = match vs.address.as_ref().and_then(|a| a.host.ip()) {
                    Some(IpAddr::V6(_)) => "IPv6",
                    _ => "IPv4",
                };
                format!("fwmark {} ({family})", vs.fwmark)
            } else {
                match &vs.address {
                    Some(address) => format!("{} {}:{}", vs.protocol, address.host, vs.port),
                    None => continue,
                }
            };
            if let Some((other, other_line)) = seen.get(&key) {
                self.error(
                    header,
                    format!(
                        "active services `{other}`{} and `{}` are the same IPVS service ({key})",
                        first_seen(*other_line),
                        vs.name
                    ),
                );
            } else {
                seen.insert(key, (&vs.name, header));
            }
        }
    }
}

/// Whether a check of `check`'s type reads `key` (the block's own keys,
/// `type`, `address`, `port`, `source` and `timeout`, apply to every type,
/// but a ping has no port).
pub(crate) fn check_reads(check: &CheckBlock, key: &str) -> bool {
    use CheckType::*;
    let kind = check.kind;
    let tls = kind.is_tls() || (kind.is_mail() && check.starttls);
    match key {
        "type" | "timeout" => true,
        "address" | "source" => kind != File,
        // A program gets the port as %p.
        "port" => !matches!(kind, Ping | File),
        "send" | "send_hex" => matches!(kind, Tcp | Udp),
        "expect" | "expect_hex" => matches!(kind, Tcp | Udp | Program) || kind.is_mail(),
        "use_regex" => matches!(kind, Tcp | Udp) || kind.is_mail(),
        "method" | "path" | "host" | "status" | "body" | "digest" | "http_version" | "reuse_connection" => {
            matches!(kind, Http | Https)
        }
        "sni" | "verify" | "ca_file" | "client_cert" | "client_key" | "tls_min" => tls,
        "starttls" => kind.is_mail(),
        "query" | "record" | "transport" | "rcode" | "answer" => kind == Dns,
        "command" | "dynamic" => kind == Program,
        "file" => kind == File,
        _ => false,
    }
}
