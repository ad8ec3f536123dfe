//! ldirectord.cf, as ldirectord(8) of resource-agents reads it.
//!
//! The file is global `key = value` lines and `virtual=` blocks whose lines
//! are indented; [`Importer`](crate::Importer) with [`Source::Ldirectord`](crate::Source::Ldirectord)
//! reads it with a grammar of its own
//! (`ldirectord.pest`), keeps ldirectord's defaults (scheduler `wrr`,
//! `checktype = negotiate` with the service guessed from the port,
//! `checkinterval` 10, `checktimeout` 5 and `negotiatetimeout` 30, each
//! standing in for the other, `quiescent = no` as its code has it) and maps
//! each directive onto lvs.cf.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::time::Duration;

use lvs_cf::{
    AddressOnDevice, CheckBlock, CheckType, Config, DnsTransport, Host, HttpMethod, Netmask, Network,
    Payload, Protocol, RealServer, Scheduler, SchedulerFlag, Seconds, Text, VirtualService,
};
use pest::Parser as _;

use crate::error::{ImportError, Position};
use crate::report::{Fate, Report};
use crate::Routers;

mod grammar {
    #![allow(missing_docs)] // pest's generated rule enum
    #[derive(pest_derive::Parser)]
    #[grammar = "ldirectord.pest"]
    pub(super) struct Grammar;
}
use grammar::{Grammar, Rule};

/// The most servers one `real=A->B` range may name: a typo in a range must
/// not write millions of servers.
pub const MAX_RANGE: u32 = 4096;

/// One `key = value` line.
#[derive(Clone, Debug)]
struct Setting<'a> {
    key: &'a str,
    value: &'a str,
    at: Position,
    /// Where the value starts.
    value_at: Position,
}

impl Setting<'_> {
    fn written(&self) -> String {
        format!("{}={}", self.key, self.value)
    }

    fn error(&self, message: impl Into<String>) -> ImportError {
        ImportError::Value {
            at: self.value_at.clone(),
            directive: self.key.to_owned(),
            message: message.into(),
        }
    }
}

/// A `virtual=` line and its block.
struct Block<'a> {
    header: Setting<'a>,
    settings: Vec<Setting<'a>>,
}

/// Reads `text` (the file `name`) into lvs.cf's model and a report.
pub(crate) fn import(name: &Path, text: &str, routers: &Routers) -> Result<(Config, Report), ImportError> {
    // A CRLF file reads as its LF form: a blank CRLF line is blank.
    let text = text.replace("\r\n", "\n");
    let (globals, blocks) = read(name, &text)?;
    let mut report = Report::default();
    let defaults = Globals::from(&globals, &mut report)?;
    let mut config = Config::default();
    config.primary = routers.primary.clone();
    config.backup_active = routers.backup.is_some();
    config.backup = routers.backup.clone();
    config.maintenance_dir = defaults.maintenance_dir.clone();
    let mut services = Vec::new();
    for (index, block) in blocks.iter().enumerate() {
        services.push(virtual_service(
            index,
            block,
            &defaults,
            &routers.device,
            &mut report,
        )?);
    }
    // Names are unique: a servicename may repeat, or be one an unnamed block got.
    let mut names = std::collections::HashSet::new();
    for service in &mut services {
        let base = service.name.clone();
        let mut n = 2;
        while !names.insert(service.name.clone()) {
            service.name = format!("{base}_{n}");
            n += 1;
        }
    }
    config.virtual_services = services;
    crate::settle_network(&mut config, Network::Direct);
    // The report in the file's order, the globals' lines among the blocks'.
    report.entries.sort_by(|a, b| a.at.cmp(&b.at));
    Ok((config, report))
}

/// Splits the file into global settings and virtual blocks.
fn read<'a>(name: &Path, text: &'a str) -> Result<(Vec<Setting<'a>>, Vec<Block<'a>>), ImportError> {
    // CRLF files: the CR is dropped where the grammar meets it (`\r` is
    // neither a key's nor a value's), so that a blank CRLF line is blank.
    let position = |line: usize, column: usize| Position {
        file: name.to_owned(),
        line,
        column,
    };
    let pairs = Grammar::parse(Rule::file, text).map_err(|e| {
        let (line, column) = match e.line_col {
            pest::error::LineColLocation::Pos(at) | pest::error::LineColLocation::Span(at, _) => at,
        };
        ImportError::Syntax {
            at: position(line, column),
            message: "not a line of ldirectord.cf".into(),
        }
    })?;
    let mut globals = Vec::new();
    let mut blocks: Vec<Block<'a>> = Vec::new();
    let mut in_block = false;
    for line in pairs.filter(|p| p.as_rule() == Rule::line) {
        let (number, _) = line.line_col();
        let mut indent_width = 0;
        let mut content = None;
        for part in line.into_inner() {
            match part.as_rule() {
                Rule::indent => {
                    // ldirectord turns each tab into four spaces.
                    indent_width = part.as_str().chars().map(|c| if c == '\t' { 4 } else { 1 }).sum();
                }
                _ => content = Some(part),
            }
        }
        let Some(content) = content else {
            // An empty (or blank) line ends a block.
            in_block = false;
            continue;
        };
        let column = content.line_col().1;
        match content.as_rule() {
            Rule::comment => continue,
            Rule::other => {
                let text = content.as_str().trim_end_matches('\r').trim_end();
                if indent_width == 0 && text == "supervised" {
                    in_block = false;
                    globals.push(Setting {
                        key: "supervised",
                        value: "yes",
                        at: position(number, column),
                        value_at: position(number, column),
                    });
                    continue;
                }
                return Err(ImportError::Syntax {
                    at: position(number, column),
                    message: format!("not `key = value`: {text}"),
                });
            }
            _ => {}
        }
        let mut parts = content.into_inner();
        let (Some(key), Some(value)) = (parts.next(), parts.next()) else {
            continue;
        };
        let indented = indent_width >= 4;
        if indent_width > 0 && !indented {
            return Err(ImportError::Syntax {
                at: position(number, column),
                message:
                    "indented by fewer than four spaces: neither a global line nor a line of a virtual block"
                        .into(),
            });
        }
        let raw = value.as_str().trim_end_matches('\r');
        // In a block everything from `#` on is a comment, as ldirectord has
        // it; a global line's value is all of it (ldirectord cuts nothing there).
        let value_text = if indented {
            raw.split('#').next().unwrap_or_default()
        } else {
            raw
        }
        .trim_end();
        let setting = Setting {
            key: key.as_str(),
            value: value_text,
            at: position(number, column),
            value_at: position(number, value.line_col().1),
        };
        if indented {
            if !in_block {
                return Err(ImportError::Syntax {
                    at: setting.at,
                    message: format!(
                        "{} is indented but not in a virtual block (a blank line ends a block)",
                        setting.key
                    ),
                });
            }
            if matches!(setting.key, "virtual" | "virtual6") {
                return Err(ImportError::Syntax {
                    at: setting.at,
                    message: "a virtual block inside a virtual block".into(),
                });
            }
            if let Some(block) = blocks.last_mut() {
                block.settings.push(setting);
            }
        } else if matches!(setting.key, "virtual" | "virtual6") {
            in_block = true;
            blocks.push(Block {
                header: setting,
                settings: Vec::new(),
            });
        } else {
            in_block = false;
            globals.push(setting);
        }
    }
    Ok((globals, blocks))
}

/// The global settings a virtual block falls back on.
#[derive(Default)]
struct Globals<'a> {
    by_key: HashMap<&'static str, Setting<'a>>,
    maintenance_dir: Option<String>,
    /// `fork = yes`: only then does ldirectord read a virtual's own checkinterval.
    fork: bool,
}

/// The keys that are global defaults of the virtual blocks' own.
const INHERITED: &[&str] = &[
    "checktimeout",
    "negotiatetimeout",
    "checkinterval",
    "failurecount",
    "quiescent",
    "fallback",
    "fallback6",
    "fallbackcommand",
    "cleanstop",
];

impl<'a> Globals<'a> {
    fn from(settings: &[Setting<'a>], report: &mut Report) -> Result<Globals<'a>, ImportError> {
        let mut globals = Globals::default();
        for setting in settings {
            let fate = match setting.key {
                "timeout" | "connecttimeout" => {
                    return Err(setting.error(
                        "no longer an ldirectord directive (it refuses the file): use checktimeout and negotiatetimeout",
                    ))
                }
                "checktimeout" | "negotiatetimeout" | "checkinterval" | "failurecount" => {
                    positive(setting)?;
                    Fate::Mapped(format!("the default of each virtual block's {}", lvs_key(setting.key)))
                }
                "checkcount" => Fate::Dropped(
                    "deprecated in ldirectord (each check connects once); failurecount is what counts failures".into(),
                ),
                "quiescent" => {
                    yes_no(setting)?;
                    Fate::Mapped("the default of each virtual block's quiesce_server".into())
                }
                "fallback" | "fallback6" => {
                    fallback(setting)?;
                    Fate::Mapped("each virtual block without a fallback of its own gets this sorry_server".into())
                }
                "fallbackcommand" => Fate::Approximated(
                    "each virtual block without one of its own runs it as its notify program (see the virtual's line)"
                        .into(),
                ),
                "cleanstop" => cleanstop(setting)?,
                "maintenancedir" => {
                    globals.maintenance_dir = Some(setting.value.to_owned());
                    Fate::Approximated(
                        "maintenance_dir: lvs drains a server while a file named ADDRESS or ADDRESS:PORT is there; files named after host names are not looked for".into(),
                    )
                }
                "readdquiescent" => {
                    yes_no(setting)?;
                    Fate::Approximated(
                        "lvs compares its entries with the kernel's table every few seconds and puts back what was removed behind its back, quiesced servers included".into(),
                    )
                }
                "autoreload" => {
                    yes_no(setting)?;
                    Fate::Dropped("lvs re-reads lvs.cf on SIGHUP (systemctl reload lvsd); a systemd path unit can send it on a change".into())
                }
                "callback" => Fate::Dropped("lvs re-reads lvs.cf on SIGHUP; run the callback's work from a notify program on the reload event".into()),
                "logfile" => Fate::Dropped("lvs logs to syslog (daemon facility), or to standard output with -n".into()),
                "execute" => Fate::Dropped("run another lvsd with its own -c, --socket and --pidfile for each further configuration".into()),
                "fork" => {
                    globals.fork = yes_no(setting)?;
                    Fate::Dropped("lvs checks every real server concurrently in one process".into())
                }
                "supervised" => Fate::Dropped("lvsd runs under systemd (lvsd.service) or pulse".into()),
                "emailalert" | "emailalertfreq" | "emailalertstatus" | "emailalertfrom" | "smtp" => Fate::Dropped(
                    "lvs sends no mail: a notify program gets every health event and can".into(),
                ),
                other => {
                    return Err(ImportError::UnknownKeyword {
                        at: setting.at.clone(),
                        keyword: other.to_owned(),
                        context: "the global part".into(),
                    })
                }
            };
            if let Some(key) = INHERITED.iter().find(|k| **k == setting.key) {
                globals.by_key.insert(key, setting.clone());
            }
            report.push(setting.at.clone(), setting.written(), fate);
        }
        Ok(globals)
    }
}

/// The lvs.cf key an inherited ldirectord key becomes.
fn lvs_key(key: &str) -> &'static str {
    match key {
        "checkinterval" => "check_interval",
        "failurecount" => "failure_count",
        _ => "timeout",
    }
}

fn positive(setting: &Setting<'_>) -> Result<u32, ImportError> {
    // ldirectord reads the digits at the start (`5 # seconds` is 5).
    let digits: String = setting.value.chars().take_while(char::is_ascii_digit).collect();
    match digits.parse::<u32>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(setting.error(format!("{:?} is not a positive whole number", setting.value))),
    }
}

fn yes_no(setting: &Setting<'_>) -> Result<bool, ImportError> {
    match setting.value {
        "yes" => Ok(true),
        "no" => Ok(false),
        other => Err(setting.error(format!("{other:?} is neither yes nor no"))),
    }
}

fn cleanstop(setting: &Setting<'_>) -> Result<Fate, ImportError> {
    Ok(if yes_no(setting)? {
        Fate::Mapped("lvsd removes the virtual services it runs when it stops".into())
    } else {
        Fate::Dropped(
            "lvsd removes its services on SIGTERM; pulse's failover or SIGKILL leaves the table as it is"
                .into(),
        )
    })
}

/// A quoted value (`request="/health"`): what is between the first and the last quote.
fn quoted<'a>(setting: &Setting<'a>) -> Result<&'a str, ImportError> {
    let value = setting.value;
    match (value.find('"'), value.rfind('"')) {
        (Some(0), Some(end)) if end > 0 && value[end + 1..].trim().is_empty() => Ok(&value[1..end]),
        _ => Err(setting.error(format!(
            "{value:?} is not in double quotes, as ldirectord wants it"
        ))),
    }
}

/// `HOST[:PORT] [gate|masq|ipip]`, or `[V6]:PORT ...`.
fn fallback(setting: &Setting<'_>) -> Result<(String, Option<u16>, Option<Network>), ImportError> {
    let mut words = setting.value.split_whitespace();
    let target = words.next().ok_or_else(|| setting.error("no address"))?;
    let (host, port) = host_and_port(target).map_err(|m| setting.error(m))?;
    let method = match words.next() {
        None => None,
        Some(word) => {
            Some(method(word).ok_or_else(|| setting.error(format!("{word:?} is not gate, masq or ipip")))?)
        }
    };
    if let Some(extra) = words.next() {
        return Err(setting.error(format!("unexpected {extra:?}")));
    }
    Ok((host, port, method))
}

fn method(word: &str) -> Option<Network> {
    match word {
        "gate" => Some(Network::Direct),
        "masq" => Some(Network::Nat),
        "ipip" => Some(Network::Tunnel),
        _ => None,
    }
}

/// `10.0.0.1:80`, `host:http`, `[2001:db8::1]:80`, or an address without a port.
fn host_and_port(text: &str) -> Result<(String, Option<u16>), String> {
    let (host, port) = if let Some(rest) = text.strip_prefix('[') {
        let (host, after) = rest
            .split_once(']')
            .ok_or_else(|| format!("{text:?}: no closing ]"))?;
        (host, after.strip_prefix(':'))
    } else {
        if text.matches(':').count() > 1 {
            return Err(format!(
                "{text:?}: an IPv6 address is written in brackets, [ADDRESS]:PORT"
            ));
        }
        match text.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (text, None),
        }
    };
    let port = match port {
        None => None,
        Some(port) => {
            Some(service_port(port).ok_or_else(|| format!("{port:?} is not a port or a service name"))?)
        }
    };
    Ok((host.to_owned(), port))
}

/// A port number or a service name of /etc/services (as ldirectord, through getservbyname).
fn service_port(text: &str) -> Option<u16> {
    text.parse::<u16>()
        .ok()
        .or_else(|| lvs_cf::Services::system().port(text))
}

/// The check ldirectord makes when `service` is not given: by the port.
fn service_of_port(port: u16) -> &'static str {
    match port {
        21 => "ftp",
        25 => "smtp",
        53 => "dns",
        80 => "http",
        110 => "pop",
        119 => "nntp",
        143 => "imap",
        389 => "ldap",
        443 => "https",
        587 => "submission",
        636 => "ldaps",
        993 => "imaps",
        995 => "pops",
        1521 => "oracle",
        1812 => "radius",
        3128 => "http_proxy",
        3306 => "mysql",
        5060 => "sip",
        5432 => "pgsql",
        _ => "none",
    }
}

/// What a block says, key by key (the last of a key counts, as in ldirectord).
struct Said<'b, 'a> {
    own: HashMap<&'a str, &'b Setting<'a>>,
    globals: &'b Globals<'a>,
    /// The `virtual=` line.
    header: &'b Setting<'a>,
}

impl<'b, 'a> Said<'b, 'a> {
    /// An unknown checker named by the block's `key` (at its value), or by
    /// default (at the block's `virtual=` line).
    fn unknown_checker(&self, key: &str, name: String) -> ImportError {
        let at = self
            .own
            .get(key)
            .map_or_else(|| self.header.at.clone(), |s| s.value_at.clone());
        ImportError::UnknownChecker { at, name }
    }

    /// The block's setting, else the global one.
    fn get(&self, key: &str) -> Option<&'b Setting<'a>> {
        self.own
            .get(key)
            .copied()
            .or_else(|| self.globals.by_key.get(key))
    }
}

fn virtual_service(
    index: usize,
    block: &Block<'_>,
    globals: &Globals<'_>,
    device: &str,
    report: &mut Report,
) -> Result<VirtualService, ImportError> {
    let header = &block.header;
    let said = Said {
        own: block.settings.iter().map(|s| (s.key, s)).collect(),
        globals,
        header,
    };
    let name = said
        .own
        .get("servicename")
        .map(|s| s.value.trim())
        .filter(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)))
        .map_or_else(|| format!("virtual{}", index + 1), str::to_owned);
    let mut service = VirtualService::new(&name);
    service.active = true;
    // ldirectord's defaults where lvs.cf's differ.
    service.scheduler = Scheduler::Wrr;
    service.reentry = 0;
    // `virtual=10.0.0.1:80`, `virtual=host:http`, `virtual=7`, `virtual6=[v6]:80`.
    let value = header.value.split_whitespace().next().unwrap_or_default();
    let fwmark = (header.key == "virtual" && !value.is_empty() && value.chars().all(|c| c.is_ascii_digit()))
        .then(|| value.parse::<u32>())
        .transpose()
        .map_err(|_| header.error(format!("{value:?} is not a firewall mark")))?;
    let header_fate = if let Some(mark) = fwmark {
        service.fwmark = mark;
        Fate::Approximated(format!(
            "virtual {name} with fwmark = {mark}: lvs.cf needs the VIP the mark stands for as its address (pulse brings it up); add `address`"
        ))
    } else {
        let (vip, port) = host_and_port(value).map_err(|m| header.error(m))?;
        if vip.is_empty() {
            return Err(header.error("no address"));
        }
        if header.key == "virtual" && vip.contains(':') {
            return Err(header.error("an IPv6 address needs virtual6=[ADDRESS]:PORT"));
        }
        let port = port.ok_or_else(|| header.error("no port"))?;
        service.port = port;
        service.address = Some(AddressOnDevice {
            host: Host::from_written(&vip),
            device: format!("{device}:{}", index + 1),
        });
        Fate::Approximated(format!(
            "virtual {name} with address = {vip} {device}:{} and port = {port}: ldirectord leaves the VIP to the cluster manager; pulse brings it up on {device} (lvs import --vip-device)",
            index + 1
        ))
    };
    report.push(header.at.clone(), header.written(), header_fate);
    // The protocol first: it decides the default service and the check.
    service.protocol = match said.own.get("protocol").map(|s| (s, s.value)) {
        Some((_, "tcp")) => Protocol::Tcp,
        Some((_, "udp")) => Protocol::Udp,
        // A firewall mark covers every protocol; lvs.cf's key is then unused.
        Some((_, "fwm")) if fwmark.is_some() => Protocol::Tcp,
        Some((setting, other)) => {
            return Err(setting.error(format!(
                "{other:?}: tcp or udp (fwm for a firewall-mark virtual, and only there)"
            )))
        }
        None if service.port == 53 => Protocol::Udp,
        None => Protocol::Tcp,
    };
    let timeouts = Timeouts::of(&said)?;
    let check = CheckPlan::of(&said, &service, fwmark)?;
    service.failure_count = said.get("failurecount").map(positive).transpose()?.unwrap_or(1);
    // A virtual's own checkinterval counts only with fork = yes, as in ldirectord.
    let own_interval = said.own.get("checkinterval").map(|s| positive(s)).transpose()?;
    let global_interval = globals.by_key.get("checkinterval").map(positive).transpose()?;
    let interval = own_interval
        .filter(|_| globals.fork)
        .or(global_interval)
        .unwrap_or(10);
    service.check_interval = Some(Seconds(Duration::from_secs(interval.into())));
    service.timeout = Seconds(Duration::from_secs(
        if check.negotiates {
            timeouts.negotiate
        } else {
            timeouts.check
        }
        .into(),
    ));
    service.quiesce_server = said.get("quiescent").map(yes_no).transpose()?.unwrap_or(false);
    // `fallback` is an IPv4 virtual's, `fallback6` an IPv6 one's.
    let fallback_key = if header.key == "virtual6" {
        "fallback6"
    } else {
        "fallback"
    };
    if let Some(setting) = said.get(fallback_key) {
        let (address, port, method) = fallback(setting)?;
        let address: IpAddr = address.parse().map_err(|_| {
            setting.error(format!(
                "{address:?}: lvs.cf's sorry_server is an IP address, not a host name"
            ))
        })?;
        service.sorry_server = Some(address);
        service.sorry_port = port.filter(|p| *p != service.port);
        service.sorry_network = Some(method.unwrap_or(Network::Direct));
    }
    if let Some(setting) = said.get("fallbackcommand") {
        // ldirectord runs it when the last server goes and when one is back:
        // a quorum of the least weight does the same in lvs.
        service.notify = Some(setting.value.trim_matches('"').to_owned());
        service.quorum = Some(1);
        service.quorum_action = Some(lvs_cf::QuorumAction::Notify);
    }
    service.checks = check.checks.clone();
    let mut server_number = 0;
    // `real`, `fallback` go with `virtual`; `real6`, `fallback6` with `virtual6`.
    let six = header.key == "virtual6";
    for setting in &block.settings {
        if matches!(setting.key, "real" | "fallback" | "real6" | "fallback6")
            && setting.key.ends_with('6') != six
        {
            return Err(setting.error(format!(
                "{} is for {} virtual blocks; this one is {}",
                setting.key,
                if six { "IPv4" } else { "IPv6" },
                header.key
            )));
        }
        let fate = match setting.key {
            "real" | "real6" => {
                let servers = real_servers(setting, &check, &mut server_number)?;
                let names: Vec<&str> = servers.iter().map(|s| s.name.as_str()).collect();
                let fate = if setting.value.contains('"') && check.per_server == PerServer::None {
                    Fate::Approximated(format!(
                        "server {}; its request and receive strings are not read by lvs's check ({})",
                        names.join(", "),
                        check.fate.how()
                    ))
                } else {
                    Fate::Mapped(format!("server {}", names.join(", ")))
                };
                service.servers.extend(servers);
                fate
            }
            "checktype" | "service" | "request" | "receive" | "httpmethod" | "virtualhost" | "checkport"
            | "checkcommand" => check.fate_of(setting.key),
            "login" | "passwd" | "database" | "secret" => Fate::Dropped(
                "lvs.cf's checks carry no credentials: a check block of type program can run a client that logs in"
                    .into(),
            ),
            "protocol" => Fate::Mapped(format!("protocol = {}", service.protocol)),
            "scheduler" => {
                let word: String = setting.value.chars().take_while(char::is_ascii_lowercase).collect();
                service.scheduler = Scheduler::from_keyword(&word)
                    .ok_or_else(|| setting.error(format!("{word:?} is not an IPVS scheduler")))?;
                Fate::Mapped(format!("scheduler = {}", service.scheduler))
            }
            "persistent" => {
                service.persistent = setting
                    .value
                    .trim()
                    .parse()
                    .map_err(|_| setting.error(format!("{:?} is not a number of seconds", setting.value)))?;
                Fate::Mapped(format!("persistent = {}", service.persistent))
            }
            "netmask" => {
                service.pmask = Some(netmask(setting)?);
                Fate::Mapped("pmask".into())
            }
            "ops" => {
                service.one_packet = yes_no(setting)?;
                Fate::Mapped(format!("one_packet = {}", u8::from(service.one_packet)))
            }
            "schedflags" => {
                for word in setting.value.split([',', ' ']).filter(|w| !w.is_empty()) {
                    let flag = SchedulerFlag::from_keyword(word).ok_or_else(|| {
                        setting.error(format!("{word:?}: sh-fallback, sh-port, mh-fallback or mh-port"))
                    })?;
                    service.scheduler_flags.push(flag);
                }
                Fate::Mapped("scheduler_flags".into())
            }
            "fallback" | "fallback6" => Fate::Mapped(match service.sorry_server {
                Some(address) => format!("sorry_server = {address}"),
                None => "sorry_server".into(),
            }),
            "fallbackcommand" => Fate::Approximated(
                "notify with quorum = 1 and quorum_action = notify: the program runs when the last server goes and when one is back, with lvs's event arguments (quorum-lost, quorum-regained and the others) instead of start|stop VIP:PORT PROTOCOL".into(),
            ),
            "checktimeout" | "negotiatetimeout" => {
                positive(setting)?;
                Fate::Mapped(format!("timeout = {}", service.timeout))
            }
            "checkinterval" if globals.fork => Fate::Mapped(format!("check_interval = {interval}")),
            "checkinterval" => Fate::Dropped(
                "ldirectord reads a virtual's checkinterval only with fork = yes; the global one applies".into(),
            ),
            "failurecount" => Fate::Mapped(format!("failure_count = {}", service.failure_count)),
            "quiescent" => Fate::Mapped(format!("quiesce_server = {}", u8::from(service.quiesce_server))),
            "checkcount" => Fate::Dropped("deprecated in ldirectord; failurecount is what counts failures".into()),
            "cleanstop" => cleanstop(setting)?,
            "monitorfile" => Fate::Dropped(
                "lvsd --events streams every check result's change as JSON lines; lvsd --status shows the last check".into(),
            ),
            "emailalert" | "emailalertfreq" | "emailalertstatus" | "smtp" => {
                Fate::Dropped("lvs sends no mail: a notify program gets every health event and can".into())
            }
            "servicename" if setting.value.trim() == name => Fate::Mapped(format!("the service's name, {name}")),
            "servicename" => Fate::Approximated(format!(
                "not one word of letters, digits, - _ and .: the service is named {name}"
            )),
            "comment" => Fate::Dropped("lvs-cf writes no comments".into()),
            "load" => Fate::Dropped("ldirectord reads it and never uses it".into()),
            other => {
                return Err(ImportError::UnknownKeyword {
                    at: setting.at.clone(),
                    keyword: other.to_owned(),
                    context: format!("the virtual block at line {}", header.at.line),
                })
            }
        };
        report.push(setting.at.clone(), setting.written(), fate);
    }
    if check.off {
        for server in &mut service.servers {
            server.active = false;
        }
    }
    Ok(service)
}

fn netmask(setting: &Setting<'_>) -> Result<Netmask, ImportError> {
    let value = setting.value.trim();
    if let Ok(mask) = value.parse::<Ipv4Addr>() {
        return Ok(Netmask::Dotted(mask));
    }
    match value.parse::<u8>() {
        Ok(prefix) if (1..=128).contains(&prefix) => Ok(Netmask::Prefix(prefix)),
        _ => Err(setting.error(format!(
            "{value:?} is neither a dotted netmask nor a prefix length 1-128"
        ))),
    }
}

/// checktimeout and negotiatetimeout, each standing in for the other.
struct Timeouts {
    check: u32,
    negotiate: u32,
}

impl Timeouts {
    fn of(said: &Said<'_, '_>) -> Result<Timeouts, ImportError> {
        let own = |key| said.own.get(key).map(|s| positive(s)).transpose();
        let global = |key| said.globals.by_key.get(key).map(positive).transpose();
        let (own_check, own_negotiate) = (own("checktimeout")?, own("negotiatetimeout")?);
        let (global_check, global_negotiate) = (global("checktimeout")?, global("negotiatetimeout")?);
        Ok(Timeouts {
            check: own_check
                .or(own_negotiate)
                .or(global_check)
                .or(global_negotiate)
                .unwrap_or(5),
            negotiate: own_negotiate
                .or(own_check)
                .or(global_negotiate)
                .or(global_check)
                .unwrap_or(30),
        })
    }
}

/// The check a block's `checktype` and `service` make, and how it maps.
struct CheckPlan {
    checks: Vec<CheckBlock>,
    /// Whether the check negotiates (its timeout is negotiatetimeout).
    negotiates: bool,
    /// `checktype = off`: the servers are never added.
    off: bool,
    /// The fate of the check's keys.
    fate: Fate,
    /// The fate of the keys the check does not read.
    unread: Fate,
    /// The keys the check reads.
    reads: Vec<&'static str>,
    /// What a server's `"request", "receive"` change.
    per_server: PerServer,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum PerServer {
    /// `path` and `body` of an HTTP check.
    Http,
    /// `send` and `expect` of a TCP or UDP check.
    SendExpect,
    /// `query` and `answer` of a DNS check.
    Dns,
    /// Nothing.
    None,
}

impl CheckPlan {
    fn fate_of(&self, key: &str) -> Fate {
        if key == "checktype" || key == "service" || self.reads.contains(&key) {
            self.fate.clone()
        } else {
            self.unread.clone()
        }
    }

    fn of(
        said: &Said<'_, '_>,
        service: &VirtualService,
        fwmark: Option<u32>,
    ) -> Result<CheckPlan, ImportError> {
        let own = |key: &str| said.own.get(key).copied();
        let checktype = own("checktype").map_or("negotiate", |s| s.value.trim());
        let kind = match own("service") {
            Some(setting) => setting.value.trim(),
            None if fwmark.is_some() => "none",
            None => service_of_port(service.port),
        };
        let request = own("request").map(quoted).transpose()?;
        let receive = own("receive").map(quoted).transpose()?;
        let port = own("checkport")
            .map(|s| match s.value.trim().parse::<u16>() {
                Ok(port) if port > 0 => Ok(port),
                _ => Err(s.error(format!("{:?} is not a port 1-65535", s.value))),
            })
            .transpose()?;
        let unread = Fate::Dropped(format!(
            "checktype = {checktype} with service = {kind}: lvs's check does not read it"
        ));
        let mut plan = CheckPlan {
            checks: Vec::new(),
            negotiates: false,
            off: false,
            fate: Fate::Mapped(String::new()),
            unread,
            reads: Vec::new(),
            per_server: PerServer::None,
        };
        let mut check = CheckBlock::new("check");
        check.port = port;
        let connect = |check: &mut CheckBlock| {
            if service.protocol == Protocol::Udp {
                // ldirectord's connect check of a UDP service pings.
                check.kind = CheckType::Ping;
                check.port = None;
            }
        };
        match checktype {
            "off" => {
                plan.off = true;
                plan.fate = Fate::Mapped("the servers are written with active = 0: never added".into());
                return Ok(plan);
            }
            "on" => {
                check.kind = CheckType::Program;
                check.command = Some("/bin/true".into());
                plan.fate = Fate::Approximated(
                    "a program check that always passes (/bin/true): lvs checks every server; the servers stay in".into(),
                );
            }
            "connect" => {
                connect(&mut check);
                plan.reads = vec!["checkport"];
                plan.fate = Fate::Mapped(format!("a check block of type {}", check.kind));
            }
            "ping" => {
                check.kind = CheckType::Ping;
                check.port = None;
                plan.fate = Fate::Mapped("a check block of type ping".into());
            }
            "external" | "external-perl" => {
                let command = own("checkcommand").map_or("/bin/true", |s| s.value.trim().trim_matches('"'));
                let (vip, vport) = match (fwmark, &service.address) {
                    (Some(mark), _) => (mark.to_string(), service.port.to_string()),
                    (None, Some(address)) => (address.host.to_string(), service.port.to_string()),
                    (None, None) => (String::new(), service.port.to_string()),
                };
                // ldirectord passes the real server's port, whatever checkport says.
                check.kind = CheckType::Program;
                check.port = None;
                check.command = Some(format!("{command} {vip} {vport} %h %p"));
                plan.reads = vec!["checkcommand"];
                plan.fate = Fate::Mapped(format!(
                    "a check block of type program running `{command} {vip} {vport} %h %p`, ldirectord's four arguments"
                ));
                if checktype == "external-perl" {
                    plan.fate = Fate::Approximated(format!(
                        "a check block of type program running `{command} {vip} {vport} %h %p` as a process (ldirectord runs it inside its own Perl)"
                    ));
                }
            }
            "negotiate" => {
                plan.negotiates = true;
                negotiate(&mut plan, &mut check, said, kind, request, receive, service)?;
            }
            number if !number.is_empty() && number.chars().all(|c| c.is_ascii_digit()) => {
                plan.negotiates = true;
                negotiate(&mut plan, &mut check, said, kind, request, receive, service)?;
                let mut connect_check = CheckBlock::new("connect");
                connect_check.port = port;
                connect(&mut connect_check);
                plan.checks.push(connect_check);
                plan.fate = Fate::Approximated(format!(
                    "a connect check and {}: both every interval, where ldirectord connects {number} times, then negotiates once",
                    plan.fate.how()
                ));
            }
            other => {
                return Err(said.unknown_checker("checktype", other.to_owned()));
            }
        }
        plan.checks.push(check);
        Ok(plan)
    }
}

/// The check of `checktype = negotiate` for `service = kind`.
fn negotiate(
    plan: &mut CheckPlan,
    check: &mut CheckBlock,
    said: &Said<'_, '_>,
    kind: &str,
    request: Option<&str>,
    receive: Option<&str>,
    service: &VirtualService,
) -> Result<(), ImportError> {
    let own = |key: &str| said.own.get(key).copied();
    // ldirectord puts a `/` before a request that lacks one.
    let path = request.map(|r| {
        if r.starts_with('/') {
            r.to_owned()
        } else {
            format!("/{r}")
        }
    });
    let mapped = |plan: &mut CheckPlan, how: String| plan.fate = Fate::Mapped(how);
    let approximated = |plan: &mut CheckPlan, how: String| plan.fate = Fate::Approximated(how);
    match kind {
        "http" | "https" => {
            check.kind = if kind == "http" {
                CheckType::Http
            } else {
                CheckType::Https
            };
            check.path = path.or_else(|| Some("/".into()));
            check.body = receive.filter(|r| !r.is_empty()).map(str::to_owned);
            if let Some(setting) = own("httpmethod") {
                check.method = match setting.value.trim().to_ascii_uppercase().as_str() {
                    "GET" => HttpMethod::Get,
                    "HEAD" => HttpMethod::Head,
                    other => return Err(setting.error(format!("{other:?} is neither GET nor HEAD"))),
                };
            }
            check.host = own("virtualhost").map(|s| s.value.trim().trim_matches('"').to_owned());
            plan.reads = vec!["request", "receive", "httpmethod", "virtualhost", "checkport"];
            plan.per_server = PerServer::Http;
            if kind == "https" {
                check.verify = false;
                approximated(
                    plan,
                    "a check block of type https with verify = 0 (status 200-299, body matching receive); set verify = 1 and ca_file to check the certificate too".into(),
                );
            } else {
                mapped(
                    plan,
                    "a check block of type http: path from request, body from receive (status 200-299)"
                        .into(),
                );
            }
        }
        "smtp" | "submission" | "pop" | "imap" => {
            check.kind = match kind {
                "pop" => CheckType::Pop3,
                "imap" => CheckType::Imap,
                _ => CheckType::Smtp,
            };
            plan.reads = vec!["checkport"];
            mapped(
                plan,
                format!("a check block of type {}: the greeting", check.kind),
            );
        }
        "pops" | "imaps" | "ldaps" => {
            check.kind = CheckType::Tls;
            plan.reads = vec!["checkport"];
            approximated(
                plan,
                format!("a check block of type tls: the TLS handshake, without the {kind} dialogue after it"),
            );
        }
        "ftp" | "nntp" => {
            check.kind = CheckType::Tcp;
            check.expect = Some(Payload::Text(Text::quoted(if kind == "ftp" {
                "220"
            } else {
                "20[01]"
            })));
            check.use_regex = kind == "nntp";
            plan.reads = vec!["request", "receive", "checkport"];
            approximated(
                plan,
                format!("a tcp check reading the {kind} greeting; no login, no command after it"),
            );
        }
        "dns" => {
            check.kind = CheckType::Dns;
            let query = request.map(|r| r.trim_start_matches('/').to_owned());
            check.query = Some(query.filter(|q| !q.is_empty()).unwrap_or_else(|| ".".into()));
            check.answer = receive.filter(|r| !r.is_empty()).map(str::to_owned);
            check.transport = if service.protocol == Protocol::Tcp {
                DnsTransport::Tcp
            } else {
                DnsTransport::Udp
            };
            plan.reads = vec!["request", "receive", "checkport"];
            plan.per_server = PerServer::Dns;
            mapped(
                plan,
                "a check block of type dns: query from request, answer from receive".into(),
            );
        }
        "simpletcp" => {
            check.kind = CheckType::Tcp;
            check.send = request.map(|r| Payload::Text(Text::quoted(r)));
            check.expect = receive.map(|r| Payload::Text(Text::quoted(r)));
            check.use_regex = true;
            plan.reads = vec!["request", "receive", "checkport"];
            plan.per_server = PerServer::SendExpect;
            mapped(
                plan,
                format!(
                    "a check block of type {}: send the request, expect the receive regex",
                    check.kind
                ),
            );
        }
        // Protocols lvs.cf has no check of: what stands in, said so.
        "ldap" | "mysql" | "pgsql" | "oracle" | "http_proxy" | "radius" | "sip" => {
            let over_udp = matches!(kind, "radius" | "sip");
            check.kind = if over_udp { CheckType::Ping } else { CheckType::Tcp };
            if over_udp {
                check.port = None;
            }
            plan.reads = vec!["request", "receive", "checkport"];
            let stand_in = if over_udp { "ping" } else { "tcp connect" };
            approximated(
                plan,
                format!("a {stand_in} check: lvs.cf has no {kind} check (a check of type program can run a {kind} client)"),
            );
        }
        "none" => {
            check.kind = CheckType::Program;
            check.command = Some("/bin/true".into());
            approximated(
                plan,
                "a program check that always passes (/bin/true), as ldirectord's service = none".into(),
            );
        }
        other => {
            // ldirectord refuses an unknown service too.
            return Err(said.unknown_checker("service", format!("service = {other}")));
        }
    }
    Ok(())
}

/// `real=HOST[->HOST][:PORT] gate|masq|ipip [WEIGHT] ["REQUEST", "RECEIVE"] [l:N] [u:N]`.
fn real_servers(
    setting: &Setting<'_>,
    check: &CheckPlan,
    number: &mut usize,
) -> Result<Vec<RealServer>, ImportError> {
    let value = setting.value.trim();
    let (target, rest) = value.split_once([' ', '\t']).unwrap_or((value, ""));
    let mut rest = rest.trim_start();
    let (method_word, after) = rest.split_once([' ', '\t']).unwrap_or((rest, ""));
    let network = method(method_word)
        .ok_or_else(|| setting.error(format!("{method_word:?} is not gate, masq or ipip")))?;
    rest = after.trim_start();
    // The weight, then the quoted request and receive, then the thresholds.
    let mut weight = 1;
    let (first, after) = rest.split_once([' ', '\t']).unwrap_or((rest, ""));
    if !first.is_empty() && first.chars().all(|c| c.is_ascii_digit()) {
        weight = first
            .parse::<u32>()
            .ok()
            .filter(|w| *w <= 65535)
            .ok_or_else(|| setting.error(format!("weight {first} is above 65535")))?;
        rest = after.trim_start();
    }
    let mut request_receive = None;
    if rest.starts_with('"') {
        // `"a", "b" tail`: four quotes, a comma or blanks between the strings.
        let mut quotes = rest.match_indices('"').map(|(i, _)| i);
        let (Some(q1), Some(q2), Some(q3), Some(q4)) =
            (quotes.next(), quotes.next(), quotes.next(), quotes.next())
        else {
            return Err(setting
                .error("the request and receive strings are two quoted strings: \"REQUEST\", \"RECEIVE\""));
        };
        if !matches!(rest[q2 + 1..q3].trim(), "," | "") {
            return Err(setting.error(format!(
                "{:?} between the request and receive strings",
                &rest[q2 + 1..q3]
            )));
        }
        request_receive = Some((&rest[q1 + 1..q2], &rest[q3 + 1..q4]));
        rest = rest[q4 + 1..].trim_start();
    }
    let (mut lower, mut upper) = (None, None);
    for word in rest.split_whitespace() {
        let threshold = |text: &str| {
            text.parse::<u32>()
                .ok()
                .filter(|n| *n <= i32::MAX as u32)
                .ok_or_else(|| setting.error(format!("{word:?}: a threshold is a number up to 2147483647")))
        };
        if let Some(n) = word.strip_prefix("l:") {
            lower = Some(threshold(n)?);
        } else if let Some(n) = word.strip_prefix("u:") {
            upper = Some(threshold(n)?);
        } else {
            return Err(setting.error(format!("unexpected {word:?}")));
        }
    }
    let (hosts, port) = addresses(setting, target)?;
    let mut servers = Vec::new();
    for address in hosts {
        *number += 1;
        let mut server = RealServer::new(format!("real{number}"));
        server.address = Some(address);
        server.active = true;
        server.weight = weight;
        server.port = port;
        server.options.network = Some(network);
        server.options.lower_threshold = lower;
        server.options.upper_threshold = upper;
        if let Some((request, receive)) = request_receive {
            server.checks = per_server_checks(&check.checks, check.per_server, request, receive);
        }
        servers.push(server);
    }
    Ok(servers)
}

/// The service's checks with a server's own request and receive.
fn per_server_checks(
    checks: &[CheckBlock],
    per_server: PerServer,
    request: &str,
    receive: &str,
) -> Vec<CheckBlock> {
    checks
        .iter()
        .map(|check| {
            let mut check = check.clone();
            if check.name != "check" {
                return check;
            }
            match per_server {
                PerServer::Http => {
                    check.path = Some(if request.starts_with('/') {
                        request.to_owned()
                    } else {
                        format!("/{request}")
                    });
                    check.body = (!receive.is_empty()).then(|| receive.to_owned());
                }
                PerServer::SendExpect => {
                    check.send = Some(Payload::Text(Text::quoted(request)));
                    check.expect = Some(Payload::Text(Text::quoted(receive)));
                }
                PerServer::Dns => {
                    check.query = Some(request.trim_start_matches('/').to_owned());
                    check.answer = (!receive.is_empty()).then(|| receive.to_owned());
                }
                PerServer::None => {}
            }
            check
        })
        .collect()
}

/// The addresses of `HOST[->HOST][:PORT]` (an IPv4 range names each address).
fn addresses(setting: &Setting<'_>, target: &str) -> Result<(Vec<Host>, Option<u16>), ImportError> {
    let (hosts, port) = match target.split_once("->") {
        Some((first, last)) => {
            let (last, port) = host_and_port(last).map_err(|m| setting.error(m))?;
            let (first, last) = match (first.parse::<Ipv4Addr>(), last.parse::<Ipv4Addr>()) {
                (Ok(first), Ok(last)) => (u32::from(first), u32::from(last)),
                _ => return Err(setting.error(
                    "a range runs between two IPv4 addresses (lvs-cf does not resolve names to expand one)",
                )),
            };
            if last < first || last - first >= MAX_RANGE {
                return Err(setting.error(format!(
                    "the range {target} is empty or names more than {MAX_RANGE} servers"
                )));
            }
            (
                (first..=last)
                    .map(|a| Host::Ip(IpAddr::V4(Ipv4Addr::from(a))))
                    .collect(),
                port,
            )
        }
        None => {
            let (address, port) = host_and_port(target).map_err(|m| setting.error(m))?;
            if address.is_empty() {
                return Err(setting.error("no address"));
            }
            (vec![Host::from_written(&address)], port)
        }
    };
    // ldirectord takes a missing port as 0, which ipvsadm gives the virtual's.
    Ok((hosts, port.filter(|p| *p != 0)))
}
