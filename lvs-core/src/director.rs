//! The director reconciler: from lvs.cf and the health of every real server,
//! the IPVS table the kernel should hold, and the operations that take the
//! kernel's table there. Pure functions; the lvs daemon reads the kernel's
//! table, calls these, and applies the operations with `lvs-ipvs`.
//!
//! Rules:
//! - Only services lvs.cf names are touched ("owned"); everything else in
//!   the kernel is left alone. Reloads own the services of the old file too,
//!   so that those removed from it are deleted.
//! - A server whose health is not known yet (the daemon just started, or a
//!   reload added its check) keeps whatever the kernel has for it: a restart
//!   adopts the running table instead of flushing it, and traffic goes on.
//! - A server that is in gets its weight (0: quiesced, kept for its
//!   connections); one that is out is removed.
//! - `sorry_server` is added (weight 1) while no real server of its service
//!   is in with a weight above 0.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Duration;

use lvs_cf::{Config, Host, Network, ServerOptions, TunnelChecksum, VirtualService};
use lvs_ipvs::{
    Destination, Family, ForwardMethod, Operation, Service, ServiceFlags, ServiceKey, Table, Tunnel,
    TunnelType,
};

use crate::check::{self, Check, DnsCheck, Expect, HttpCheck, MailCheck, MailProtocol, Probe, TlsCheck};
use crate::nanny::NannyConfig;
use lvs_cf::{CheckBlock, CheckType, Payload};

/// Why lvs.cf cannot be turned into a table.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PlanError {
    #[error("virtual server {service}: no address")]
    /// An active service with neither an address nor a firewall mark.
    NoAddress {
        /// The block's name.
        service: String,
    },
    #[error("virtual server {service}: cannot resolve {host}")]
    /// A host name did not resolve.
    Resolve {
        /// The block's name.
        service: String,
        /// The name.
        host: String,
    },
    #[error("virtual server {service}, real server {server}: no address")]
    /// An active real server without an address.
    NoServerAddress {
        /// The virtual block's name.
        service: String,
        /// The server block's name.
        server: String,
    },
    #[error("virtual server {service}, check {check}: {why}")]
    /// A `check` block that cannot work (a regular expression that does
    /// not compile).
    BadCheck {
        /// The virtual block's name.
        service: String,
        /// The check block's name.
        check: String,
        /// What is wrong.
        why: String,
    },
    #[error("virtual server {service}: bad expect string: {why}")]
    /// `expect` is not a valid regular expression with `use_regex = 1`.
    BadExpect {
        /// The block's name.
        service: String,
        /// The regular expression's error.
        why: String,
    },
}

/// One real server of one virtual service.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ServerRef {
    /// Its virtual service.
    pub service: ServiceKey,
    /// Its address.
    pub addr: IpAddr,
    /// Its port.
    pub port: u16,
}

/// What the director knows of a real server's health.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Health {
    /// No check has decided yet: the kernel's entry, if any, is kept.
    Unknown,
    /// In the table with this weight (0: quiesced).
    In {
        /// Its weight.
        weight: u32,
    },
    /// Out of the table.
    Out,
}

/// How a real server is entered in IPVS beyond its address and weight: the
/// forwarding method, tunnel and thresholds lvs.cf gives it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct EntrySettings {
    /// How it is reached.
    pub forward: ForwardMethod,
    /// The encapsulation, for tunnelled servers (`None`: IPIP).
    pub tunnel: Option<Tunnel>,
    /// Connections at which it gets no new ones (0: no limit).
    pub upper_threshold: u32,
    /// Connections below which an overloaded server gets new ones again.
    pub lower_threshold: u32,
}

impl EntrySettings {
    /// Reached by `forward`, with no tunnel options and no thresholds.
    pub fn forwarding(forward: ForwardMethod) -> EntrySettings {
        EntrySettings {
            forward,
            tunnel: None,
            upper_threshold: 0,
            lower_threshold: 0,
        }
    }

    /// The settings `options` ask for (a server's, over its service's),
    /// `global` standing behind an unset `network`. Tunnel options count
    /// only for tunnelled servers.
    pub fn of(options: &ServerOptions, global: Network) -> EntrySettings {
        let forward = forward_method(options.network.unwrap_or(global));
        let tunnel = (forward == ForwardMethod::Tunnel && options.has_tunnel_keys()).then(|| Tunnel {
            kind: match options.tunnel_type.unwrap_or_default() {
                lvs_cf::TunnelType::Ipip => TunnelType::Ipip,
                lvs_cf::TunnelType::Gue => TunnelType::Gue,
                lvs_cf::TunnelType::Gre => TunnelType::Gre,
            },
            port: options.tunnel_port.unwrap_or(0),
            // `IP_VS_TUNNEL_ENCAP_FLAG_*`.
            flags: match options.tunnel_checksum.unwrap_or_default() {
                TunnelChecksum::None => 0,
                TunnelChecksum::Checksum => 1,
                TunnelChecksum::Remote => 2,
            },
        });
        EntrySettings {
            forward,
            tunnel,
            upper_threshold: options.upper_threshold.unwrap_or(0),
            lower_threshold: options.lower_threshold.unwrap_or(0),
        }
    }

    /// The IPVS entry of a server at `at` with `weight`.
    pub fn destination(&self, at: std::net::SocketAddr, weight: u32) -> Destination {
        let mut destination = Destination::at(at, self.forward).weight(weight);
        destination.tunnel = self.tunnel;
        destination.upper_threshold = self.upper_threshold;
        destination.lower_threshold = self.lower_threshold;
        destination
    }
}

/// A service's sorry server as the director enters it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SorryServer {
    /// Its address.
    pub addr: IpAddr,
    /// Its port (`sorry_port`, else the service's).
    pub port: u16,
    /// Its weight (`sorry_weight`, else Piranha's 1).
    pub weight: u32,
    /// How it is reached (`sorry_network`, else as the service's servers).
    pub entry: EntrySettings,
}

impl SorryServer {
    /// Its address and port, as the kernel's table keys destinations.
    pub fn at(&self) -> (IpAddr, u16) {
        (self.addr, self.port)
    }
}

/// A real server as the director runs it: where it is, and how it is checked.
#[derive(Clone, Debug, PartialEq)]
pub struct PlannedServer {
    /// The server block's name.
    pub name: String,
    /// Where it is.
    pub at: ServerRef,
    /// Its configured weight.
    pub weight: u32,
    /// How it is entered.
    pub entry: EntrySettings,
    /// How it is checked (shared by the servers of a service).
    pub check: Arc<Check>,
    /// Bounds each check (lvs.cf `timeout`).
    pub timeout: Duration,
    /// Its nanny machine's settings.
    pub nanny: NannyConfig,
    /// `load_monitor` as nanny's `-U` takes it (`uptime` becomes `rsh_command`).
    pub load_command: Option<String>,
    /// The program run on its events: its block's `notify`, or its service's.
    pub notify: Option<String>,
}

/// What the table is to make of each real server: its health, as checks
/// found it, with whatever an operator's hold makes of it.
pub trait Standing {
    /// The server at `at` as the table should have it.
    fn standing(&self, at: &ServerRef) -> Health;

    /// Entries of `service` that the plan no longer has but that are kept,
    /// at weight 0, for their connections (see [`crate::admin`]).
    fn leaving(&self, service: &ServiceKey) -> &[crate::admin::Leaving] {
        let _ = service;
        &[]
    }

    /// Whether an entry kept for `at` (one whose health is unknown) is to
    /// be at weight 0: a drained server's.
    fn quiesced(&self, at: &ServerRef) -> bool {
        let _ = at;
        false
    }

    /// Whether `service` has lost its quorum (see [`crate::quorum`]).
    fn quorum_lost(&self, service: &ServiceKey) -> bool {
        let _ = service;
        false
    }
}

/// Each server as its checks found it; a server it does not name is
/// [`Health::Unknown`].
impl Standing for HashMap<ServerRef, Health> {
    fn standing(&self, at: &ServerRef) -> Health {
        self.get(at).copied().unwrap_or(Health::Unknown)
    }
}

/// The servers' health under the operators' holds and the services'
/// quorums: what the daemon reconciles with.
#[derive(Clone, Copy, Debug)]
pub struct WithHolds<'a> {
    /// What the checks found.
    pub health: &'a HashMap<ServerRef, Health>,
    /// What operators asked.
    pub holds: &'a crate::admin::Holds,
    /// The services that lost their quorum.
    pub quorums: &'a crate::quorum::Quorums,
}

impl Standing for WithHolds<'_> {
    fn standing(&self, at: &ServerRef) -> Health {
        self.holds.standing(at, self.health.standing(at))
    }

    fn leaving(&self, service: &ServiceKey) -> &[crate::admin::Leaving] {
        self.holds.leaving(service)
    }

    fn quiesced(&self, at: &ServerRef) -> bool {
        self.holds.is_draining(at)
    }

    fn quorum_lost(&self, service: &ServiceKey) -> bool {
        self.quorums.is_lost(service)
    }
}

/// A virtual service as the director runs it.
#[derive(Clone, Debug, PartialEq)]
pub struct PlannedService {
    /// The block's name.
    pub name: String,
    /// The IPVS service.
    pub service: Service,
    /// Active real servers only.
    pub servers: Vec<PlannedServer>,
    /// The sorry server.
    pub sorry: Option<SorryServer>,
    /// The program run on the service's events (`notify`).
    pub notify: Option<String>,
    /// Its quorum, when lvs.cf sets one.
    pub quorum: Option<crate::quorum::QuorumRule>,
}

/// lvs.cf's active virtual services, as IPVS entries and checks.
#[derive(Clone, Debug, Default)]
pub struct Plan {
    /// The active services, in lvs.cf's order.
    pub services: Vec<PlannedService>,
    /// Every service key the file names, active or not: the services the
    /// director owns.
    pub named: BTreeSet<ServiceKey>,
}

/// How host names in lvs.cf become addresses. The daemons pass
/// [`Host::resolve`] (the system's resolver, which may block); tests and
/// callers that must not wait pass [`literal_addresses`].
pub type Resolve<'a> = dyn Fn(&Host) -> std::io::Result<IpAddr> + 'a;

/// A resolver that takes IP literals only: a name is an error.
pub fn literal_addresses(host: &Host) -> std::io::Result<IpAddr> {
    host.ip()
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, "not an IP literal"))
}

fn resolve(resolver: &Resolve<'_>, service: &str, host: &Host) -> Result<IpAddr, PlanError> {
    resolver(host).map_err(|_| PlanError::Resolve {
        service: service.to_owned(),
        host: host.to_string(),
    })
}

/// The forwarding method of lvs.cf's `network`.
pub fn forward_method(network: Network) -> ForwardMethod {
    match network {
        Network::Nat => ForwardMethod::Masquerade,
        Network::Direct => ForwardMethod::DirectRoute,
        Network::Tunnel => ForwardMethod::Tunnel,
    }
}

fn service_key(vs: &VirtualService, resolver: &Resolve<'_>) -> Result<ServiceKey, PlanError> {
    let vip = match &vs.address {
        Some(address) => Some(resolve(resolver, &vs.name, &address.host)?),
        None => None,
    };
    if vs.fwmark != 0 {
        return Ok(ServiceKey::Fwmark {
            family: vip.map_or(Family::Inet, Family::of),
            mark: vs.fwmark,
        });
    }
    let addr = vip.ok_or_else(|| PlanError::NoAddress {
        service: vs.name.clone(),
    })?;
    let protocol = match vs.protocol {
        lvs_cf::Protocol::Tcp => lvs_ipvs::Protocol::Tcp,
        lvs_cf::Protocol::Udp => lvs_ipvs::Protocol::Udp,
        lvs_cf::Protocol::Sctp => lvs_ipvs::Protocol::Sctp,
    };
    Ok(ServiceKey::Addr {
        protocol,
        addr,
        port: vs.port,
    })
}

fn ipvs_service(vs: &VirtualService, key: ServiceKey) -> Service {
    let mut service = Service::new(key, &vs.scheduler.to_string());
    for flag in &vs.scheduler_flags {
        service.flags |= if flag.is_fallback() {
            ServiceFlags::SCHED1
        } else {
            ServiceFlags::SCHED2
        };
    }
    if vs.one_packet {
        service.flags |= ServiceFlags::ONE_PACKET;
    }
    service.persistence_engine = vs.persistence_engine.map(|engine| engine.to_string());
    if vs.persistent > 0 {
        service.flags |= ServiceFlags::PERSISTENT;
        service.timeout = vs.persistent;
        match (vs.effective_pmask(), key.family()) {
            (Some(lvs_cf::Netmask::Dotted(mask)), Family::Inet) => {
                service.netmask = lvs_ipvs::Netmask::V4(mask);
            }
            (Some(mask), Family::Inet) => {
                let len = u32::from(mask.prefix_len().unwrap_or(32).min(32));
                service.netmask =
                    lvs_ipvs::Netmask::V4(Ipv4Addr::from(u32::MAX.checked_shl(32 - len).unwrap_or(0)));
            }
            (Some(mask), Family::Inet6) => {
                service.netmask = lvs_ipvs::Netmask::V6(mask.prefix_len().unwrap_or(128));
            }
            (None, _) => {}
        }
    }
    service
}

/// The check lvsd gives nanny for `vs`: a program, or send/expect over TCP
/// or UDP, or on port 80 with neither nanny's `GET /` expecting `HTTP`.
fn service_check(vs: &VirtualService) -> Result<Check, PlanError> {
    if let Some(program) = &vs.send_program {
        return Ok(Check::Program {
            command: program.value.clone(),
            expect: vs.expect.as_ref().map(|e| e.value.clone()),
            dynamic: false,
        });
    }
    let udp = vs.protocol == lvs_cf::Protocol::Udp;
    let default = check::web_default(vs.port, udp).filter(|_| vs.send.is_none() && vs.expect.is_none());
    let (send, expect) = match (default, &vs.send, &vs.expect) {
        (Some((send, expect)), _, _) => (Some(send), Some(expect)),
        (None, send, expect) => (
            send.as_ref().map(|s| check::translate_escapes(&s.value)),
            expect
                .as_ref()
                .map(|e| Expect::from_nanny(&e.value, vs.use_regex, false))
                .transpose()
                .map_err(|e| PlanError::BadExpect {
                    service: vs.name.clone(),
                    why: e.to_string(),
                })?,
        ),
    };
    Ok(if udp {
        Check::Udp { send, expect }
    } else {
        Check::Tcp { send, expect }
    })
}

/// The check a server with `blocks` gets: every block, all of which must pass.
fn blocks_check(vs: &VirtualService, blocks: &[CheckBlock]) -> Result<Check, PlanError> {
    let probes = blocks
        .iter()
        .map(|block| {
            block_probe(block).map_err(|why| PlanError::BadCheck {
                service: vs.name.clone(),
                check: block.name.clone(),
                why,
            })
        })
        .collect::<Result<Vec<_>, PlanError>>()?;
    Ok(Check::All(probes))
}

/// One `check` block as a server runs it: its check, named, with its own
/// address, port, source and timeout.
pub fn block_probe(block: &CheckBlock) -> Result<Probe, String> {
    let mut probe = Probe::new(block.name.clone(), block_check(block)?);
    probe.address = block.address;
    probe.port = block.port;
    probe.source = block.source;
    probe.timeout = block.timeout.map(|t| t.as_duration());
    Ok(probe)
}

/// The check one `check` block describes, as the planner gives it to a
/// server; `Err` says why the block cannot work (a regular expression
/// that does not compile).
pub fn block_check(block: &CheckBlock) -> Result<Check, String> {
    let payload = |payload: &Option<Payload>| match payload {
        Some(Payload::Text(text)) => Some(check::translate_escapes(&text.value)),
        Some(Payload::Hex(bytes)) => Some(bytes.clone()),
        None => None,
    };
    let expect = match &block.expect {
        Some(Payload::Text(text)) => Some(
            Expect::from_nanny(&text.value, block.use_regex, false)
                .map_err(|e| format!("bad expect string: {e}"))?,
        ),
        Some(Payload::Hex(bytes)) if bytes.is_empty() => Some(Expect::AnyByte),
        Some(Payload::Hex(bytes)) => Some(Expect::Prefix(bytes.clone())),
        None => None,
    };
    let tls = || TlsCheck {
        sni: block.sni.clone(),
        verify: block.verify,
        ca_file: block.ca_file.as_ref().map(Into::into),
        client: block
            .client_cert
            .as_ref()
            .zip(block.client_key.as_ref())
            .map(|(cert, key)| (cert.into(), key.into())),
        min_version: block.tls_min,
    };
    Ok(match block.kind {
        CheckType::Tcp => Check::Tcp {
            send: payload(&block.send),
            expect,
        },
        CheckType::Udp => Check::Udp {
            send: payload(&block.send),
            expect,
        },
        CheckType::Http | CheckType::Https => {
            let mut http = HttpCheck::get(block.path.clone().unwrap_or_else(|| "/".to_owned()));
            http.method = block.method;
            http.host = block.host.clone();
            http.status = block.status.iter().map(|r| r.low..=r.high).collect();
            http.body = block
                .body
                .as_deref()
                .map(regex::bytes::Regex::new)
                .transpose()
                .map_err(|e| format!("bad body regular expression: {e}"))?;
            http.digest = block.digest;
            http.version = block.http_version;
            http.reuse_connection = block.reuse_connection;
            // The `Host` header may carry a port; the name sent as SNI does not.
            let host_name = block.host.as_deref().map(|host| match host.rsplit_once(':') {
                Some((name, port)) if !name.contains(':') && port.bytes().all(|b| b.is_ascii_digit()) => name,
                _ => host,
            });
            http.tls = (block.kind == CheckType::Https).then(|| TlsCheck {
                sni: block.sni.clone().or_else(|| host_name.map(str::to_owned)),
                ..tls()
            });
            Check::Http(Box::new(http))
        }
        CheckType::Tls => Check::Tls(tls()),
        CheckType::Dns => {
            let name = block.query.clone().ok_or("`type = dns` needs `query`")?;
            let mut dns = DnsCheck::new(name, block.record);
            dns.tcp = block.transport == lvs_cf::DnsTransport::Tcp;
            dns.rcode = block.rcode;
            dns.answer = block.answer.clone();
            Check::Dns(dns)
        }
        CheckType::Smtp | CheckType::Imap | CheckType::Pop3 => {
            let protocol = match block.kind {
                CheckType::Smtp => MailProtocol::Smtp,
                CheckType::Imap => MailProtocol::Imap,
                _ => MailProtocol::Pop3,
            };
            let mut mail = MailCheck::greeting(protocol);
            mail.expect = expect;
            mail.starttls = block.starttls.then(tls);
            Check::Mail(mail)
        }
        CheckType::Ping => Check::Ping,
        CheckType::Program => Check::Program {
            command: block.command.clone().ok_or("`type = program` needs `command`")?,
            expect: match &block.expect {
                Some(Payload::Text(text)) => Some(text.value.clone()),
                Some(Payload::Hex(bytes)) => Some(String::from_utf8_lossy(bytes).into_owned()),
                None => None,
            },
            dynamic: block.dynamic,
        },
        CheckType::File => Check::File {
            path: block.file.clone().ok_or("`type = file` needs `file`")?.into(),
        },
    })
}

impl Plan {
    /// The plan of `config`'s LVS services, host names resolved by `resolver`.
    /// A plan that names `keys` and asks for nothing: what a run that was
    /// killed owned, handed to [`reconcile`] as the previous plan so that
    /// the services the file no longer names go.
    pub fn owning(keys: BTreeSet<ServiceKey>) -> Plan {
        Plan {
            named: keys,
            ..Plan::default()
        }
    }

    /// Plans `config`, resolving host names with `resolver`.
    pub fn new(config: &Config, resolver: &Resolve<'_>) -> Result<Plan, PlanError> {
        let mut plan = Plan::default();
        for vs in &config.virtual_services {
            let key = match service_key(vs, resolver) {
                Ok(key) => key,
                // An inactive block may be incomplete; it names nothing.
                Err(_) if !vs.active => continue,
                Err(e) => return Err(e),
            };
            plan.named.insert(key);
            if !vs.active {
                continue;
            }
            // One check shared by the servers that take the service's.
            let check = Arc::new(if vs.checks.is_empty() {
                service_check(vs)?
            } else {
                blocks_check(vs, &vs.checks)?
            });
            let load_command = vs.load_monitor.as_ref().map(|monitor| {
                if monitor == "uptime" {
                    config.rsh_command.clone()
                } else {
                    monitor.clone()
                }
            });
            let mut servers = Vec::new();
            for server in vs.servers.iter().filter(|s| s.active) {
                let host = server
                    .address
                    .as_ref()
                    .ok_or_else(|| PlanError::NoServerAddress {
                        service: vs.name.clone(),
                        server: server.name.clone(),
                    })?;
                let addr = resolve(resolver, &vs.name, host)?;
                servers.push(PlannedServer {
                    name: server.name.clone(),
                    at: ServerRef {
                        service: key,
                        addr,
                        port: vs.server_port(server),
                    },
                    weight: server.weight,
                    entry: EntrySettings::of(&vs.options_of(server), config.network),
                    check: if server.checks.is_empty() {
                        Arc::clone(&check)
                    } else {
                        Arc::new(blocks_check(vs, &server.checks)?)
                    },
                    timeout: vs.timeout.as_duration(),
                    nanny: NannyConfig {
                        weight: server.weight,
                        interval: vs.effective_check_interval().as_duration(),
                        reentry: Duration::from_secs(u64::from(vs.reentry)),
                        quiesce: vs.quiesce_server,
                        failures: vs.failure_count,
                        scale: 10,
                        load_monitor: load_command.is_some(),
                    },
                    load_command: load_command.clone(),
                    notify: server.notify.clone().or_else(|| vs.notify.clone()),
                });
            }
            plan.services.push(PlannedService {
                name: vs.name.clone(),
                service: ipvs_service(vs, key),
                servers,
                sorry: vs.sorry_server.map(|addr| SorryServer {
                    addr,
                    port: vs.sorry_server_port(),
                    weight: vs.sorry_weight.unwrap_or(1),
                    entry: EntrySettings::of(&vs.sorry_options(config.network), config.network),
                }),
                notify: vs.notify.clone(),
                quorum: match vs.quorum {
                    None => None,
                    Some(minimum) => {
                        let action = vs.quorum_action_or_default();
                        let vip = match (&vs.address, action) {
                            (Some(address), lvs_cf::QuorumAction::Withdraw) => Some(crate::router::Vip::new(
                                &address.device,
                                resolve(resolver, &vs.name, &address.host)?,
                                vs.vip_nmask,
                            )),
                            _ => None,
                        };
                        Some(crate::quorum::QuorumRule {
                            minimum,
                            hysteresis: vs.hysteresis.unwrap_or(0),
                            action,
                            vip,
                        })
                    }
                },
            });
        }
        Ok(plan)
    }

    /// Every real server of the plan.
    pub fn servers(&self) -> impl Iterator<Item = &PlannedServer> {
        self.services.iter().flat_map(|s| s.servers.iter())
    }

    /// The services whose entries or checks may differ between `previous`
    /// and this plan: those added, removed, changed in any setting or
    /// server, and those that became (or stopped being) named. A reload
    /// needs to touch only these.
    pub fn changed_since(&self, previous: &Plan) -> BTreeSet<ServiceKey> {
        let before: HashMap<ServiceKey, &PlannedService> =
            previous.services.iter().map(|s| (s.service.key, s)).collect();
        let mut changed: BTreeSet<ServiceKey> = self
            .services
            .iter()
            .filter(|s| before.get(&s.service.key) != Some(s))
            .map(|s| s.service.key)
            .collect();
        let now: HashSet<ServiceKey> = self.services.iter().map(|s| s.service.key).collect();
        changed.extend(before.keys().filter(|key| !now.contains(key)));
        changed.extend(self.named.symmetric_difference(&previous.named));
        changed
    }
}

/// The table `plan` asks for, given each server's health and `current`, the
/// kernel's entries of the owned services.
pub fn desired(plan: &Plan, health: &impl Standing, current: &Table) -> Table {
    desired_where(plan, health, current, |_| true)
}

/// [`desired`], for the services `wanted` picks.
fn desired_where(
    plan: &Plan,
    health: &impl Standing,
    current: &Table,
    wanted: impl Fn(&ServiceKey) -> bool,
) -> Table {
    let mut table = Table::default();
    for planned in plan.services.iter().filter(|s| wanted(&s.service.key)) {
        let key = planned.service.key;
        let existing = current.services.get(&key).map(|(_, dests)| dests);
        let mut destinations = Vec::new();
        let mut serving = false;
        // A lost quorum with `quorum_action = sorry`: every real server at
        // weight 0 (its connections go on), so the sorry server takes the new ones.
        let starved = health.quorum_lost(&key)
            && planned
                .quorum
                .as_ref()
                .is_some_and(|q| q.action == lvs_cf::QuorumAction::Sorry);
        for server in &planned.servers {
            let weight = match health.standing(&server.at) {
                Health::In { weight } => Some(weight),
                Health::Out => None,
                Health::Unknown => existing
                    .and_then(|dests| dests.get(&(server.at.addr, server.at.port)))
                    .map(|dest| {
                        if health.quiesced(&server.at) {
                            0
                        } else {
                            dest.weight
                        }
                    }),
            };
            if let Some(weight) = weight.map(|w| if starved { 0 } else { w }) {
                serving |= weight > 0;
                destinations.push(
                    server
                        .entry
                        .destination(std::net::SocketAddr::new(server.at.addr, server.at.port), weight),
                );
            }
        }
        if let Some(sorry) = planned.sorry_destination(serving) {
            if !destinations
                .iter()
                .any(|d| d.addr == sorry.addr && d.port == sorry.port)
            {
                destinations.push(sorry);
            }
        }
        for leaving in health.leaving(&key) {
            let at = (leaving.destination.addr, leaving.destination.port);
            if !destinations.iter().any(|d| (d.addr, d.port) == at) {
                destinations.push(leaving.destination.clone());
            }
        }
        table.insert(planned.service.clone(), destinations);
    }
    table
}

/// The operations that take the kernel's table (`kernel`, all of it) to what
/// `plan` asks for, touching only services `plan` (or `previous`, the plan
/// of the file before a reload) names.
pub fn reconcile(
    plan: &Plan,
    previous: Option<&Plan>,
    health: &impl Standing,
    kernel: &Table,
) -> Vec<Operation> {
    let mut owned = plan.named.clone();
    owned.extend(previous.iter().flat_map(|p| p.named.iter().copied()));
    reconcile_services(plan, health, kernel, &owned)
}

/// [`reconcile`] for the services in `keys` only, at a cost that grows with
/// them rather than with the table: after a reload, the services that
/// [`Plan::changed_since`] names; after health changes, those of the
/// servers concerned. `table` holds the owned services' entries (the
/// director's model of the kernel); services it does not name are left alone.
pub fn reconcile_services(
    plan: &Plan,
    health: &impl Standing,
    table: &Table,
    keys: &BTreeSet<ServiceKey>,
) -> Vec<Operation> {
    let current = Table {
        services: keys
            .iter()
            .filter_map(|key| table.services.get(key).map(|entry| (*key, entry.clone())))
            .collect(),
    };
    let wanted = |key: &ServiceKey| keys.contains(key);
    lvs_ipvs::diff(&current, &desired_where(plan, health, &current, wanted))
}

impl PlannedService {
    /// The sorry server's entry while none of the service's real servers is
    /// `serving` (in the table with a weight above 0): Piranha's rule, in
    /// both the in-process mode and the nanny-per-server one.
    pub fn sorry_destination(&self, serving: bool) -> Option<Destination> {
        match (self.sorry, serving) {
            (Some(sorry), false) => Some(
                sorry
                    .entry
                    .destination(std::net::SocketAddr::new(sorry.addr, sorry.port), sorry.weight),
            ),
            _ => None,
        }
    }

    /// Whether any of its servers is in with a weight above 0 by `health`.
    pub fn serving(&self, health: &impl Standing) -> bool {
        self.servers
            .iter()
            .any(|s| matches!(health.standing(&s.at), Health::In { weight } if weight > 0))
    }
}

/// The operations of `lvs --nanny-processes`, where a nanny per server adds
/// and removes its own server: the services themselves (added, edited, and
/// after a reload from `previous`, deleted) and the sorry server, by the
/// health the nannies report. Servers' entries are left to the nannies.
pub fn reconcile_nanny_mode(
    plan: &Plan,
    previous: Option<&Plan>,
    health: &impl Standing,
    table: &Table,
) -> Vec<Operation> {
    let mut operations = Vec::new();
    if let Some(previous) = previous {
        for key in previous.named.difference(&plan.named) {
            if table.services.contains_key(key) {
                operations.push(Operation::DeleteService(*key));
            }
        }
    }
    for planned in &plan.services {
        let key = planned.service.key;
        let existing = table.services.get(&key);
        match existing {
            None => operations.push(Operation::AddService(planned.service.clone())),
            Some((service, _)) if !service.same_settings(&planned.service) => {
                operations.push(Operation::EditService(planned.service.clone()))
            }
            Some(_) => {}
        }
        let entered = |at: &(IpAddr, u16)| existing.and_then(|(_, dests)| dests.get(at));
        // The sorry server of the file before a reload, where it moved or went.
        let before = previous
            .and_then(|p| p.services.iter().find(|s| s.service.key == key))
            .and_then(|s| s.sorry);
        if let Some(old) = before.map(|s| s.at()) {
            if planned.sorry.map(|s| s.at()) != Some(old) && entered(&old).is_some() {
                operations.push(Operation::DeleteDest(key, old.0, old.1));
            }
        }
        let Some(at) = planned.sorry.as_ref().map(SorryServer::at) else {
            continue;
        };
        match (planned.sorry_destination(planned.serving(health)), entered(&at)) {
            (Some(sorry), None) => operations.push(Operation::AddDest(key, sorry)),
            (Some(sorry), Some(have)) if !have.same_settings(&sorry) => {
                operations.push(Operation::EditDest(key, sorry))
            }
            (None, Some(_)) => operations.push(Operation::DeleteDest(key, at.0, at.1)),
            _ => {}
        }
    }
    operations
}

/// What a reload knows of the servers from before it.
#[derive(Clone, Copy, Debug)]
pub struct Before<'a> {
    /// The plan before the reload.
    pub plan: &'a Plan,
    /// The servers' health before it.
    pub health: &'a HashMap<ServerRef, Health>,
}

/// The health of a plan's servers before any check of theirs has run.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CarriedHealth<'a> {
    /// Each server to check, with the weight its check starts adopted at
    /// (see `Nanny::adopted`); `None` starts it out.
    pub servers: Vec<(&'a PlannedServer, Option<u32>)>,
    /// What is known of the servers already.
    pub health: HashMap<ServerRef, Health>,
}

/// The health that `plan`'s servers (of the services `wanted` picks) start
/// with. On a reload (`before`), a server's health carries over, and one that
/// was in at its configured weight takes its new configured weight (a weight
/// set by the load monitor stays); otherwise an entry the kernel's `table`
/// holds is adopted at its weight, so that a restart does not drop traffic.
pub fn carry_over<'a>(
    plan: &'a Plan,
    table: &Table,
    before: Option<Before<'_>>,
    wanted: impl Fn(&ServiceKey) -> bool,
) -> CarriedHealth<'a> {
    let configured_before: HashMap<ServerRef, u32> = before
        .map(|b| {
            b.plan
                .services
                .iter()
                .filter(|s| wanted(&s.service.key))
                .flat_map(|s| s.servers.iter())
                .map(|s| (s.at, s.weight))
                .collect()
        })
        .unwrap_or_default();
    let mut carried = CarriedHealth::default();
    let planned = plan
        .services
        .iter()
        .filter(|s| wanted(&s.service.key))
        .flat_map(|s| s.servers.iter());
    for server in planned {
        let at = server.at;
        let known = before.and_then(|b| b.health.get(&at)).copied();
        let state = match known {
            Some(Health::In { weight }) if configured_before.get(&at) == Some(&weight) => Some(Health::In {
                weight: server.weight,
            }),
            Some(Health::In { weight }) => Some(Health::In { weight }),
            Some(Health::Out) => Some(Health::Out),
            Some(Health::Unknown) | None => table
                .services
                .get(&at.service)
                .and_then(|(_, dests)| dests.get(&(at.addr, at.port)))
                .map(|d| Health::In { weight: d.weight }),
        };
        let adopt = match state {
            Some(Health::In { weight }) => Some(weight),
            _ => None,
        };
        if let Some(state) = state {
            carried.health.insert(at, state);
        }
        carried.servers.push((server, adopt));
    }
    carried
}

#[cfg(test)]
mod tests {
    use super::*;

    const CF: &str = "network = direct\n\
        virtual web {\n active = 1\n address = 10.0.0.100 eth0:1\n port = 80\n scheduler = rr\n\
        sorry_server = 10.0.0.99\n persistent = 60\n pmask = 255.255.255.0\n\
        server a {\n address = 10.0.1.1\n active = 1\n weight = 3\n }\n\
        server b {\n address = 10.0.1.2\n active = 1\n weight = 1\n }\n\
        server c {\n address = 10.0.1.3\n active = 0\n }\n}\n\
        virtual dns {\n active = 1\n address = 10.0.0.100 eth0:1\n port = 53\n protocol = udp\n\
        send = \"x\"\n expect = \"*\"\n server a {\n address = 10.0.1.1\n active = 1\n }\n}\n\
        virtual old {\n active = 0\n address = 10.0.0.101 eth0:1\n port = 80\n}\n";

    fn plan(text: &str) -> Plan {
        Plan::new(&lvs_cf::parse(text).expect("valid").config, &literal_addresses).expect("plan")
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("literal")
    }

    #[test]
    fn check_blocks_become_the_servers_checks() {
        let text = "virtual web {\n active = 1\n address = 10.0.0.100 eth0:1\n port = 443\n\
            check page {\n  type = https\n  host = www.example.org:8443\n  path = /up\n }\n\
            server a {\n address = 10.0.1.1\n active = 1\n }\n\
            server b {\n address = 10.0.1.2\n active = 1\n check own {\n  type = ping\n }\n }\n}\n";
        let plan = plan(text);
        let servers = &plan.services[0].servers;
        let Check::All(probes) = &*servers[0].check else {
            panic!("check blocks give a list of probes: {:?}", servers[0].check);
        };
        assert_eq!(probes[0].name, "page");
        let Check::Http(http) = &probes[0].check else {
            panic!("an HTTP check: {:?}", probes[0].check);
        };
        assert_eq!(
            http.host.as_deref(),
            Some("www.example.org:8443"),
            "the Host header keeps its port"
        );
        assert_eq!(
            http.tls.as_ref().and_then(|tls| tls.sni.as_deref()),
            Some("www.example.org"),
            "the name sent as SNI does not"
        );
        assert!(
            http.reuse_connection,
            "check blocks reuse connections unless told not to"
        );
        assert!(
            matches!(&*servers[1].check, Check::All(own) if own.len() == 1 && own[0].check == Check::Ping)
        );
    }

    #[test]
    fn each_server_is_entered_as_its_block_or_its_service_says() {
        let plan = plan(
            "primary = 192.0.2.1\nnetwork = nat\n\
             virtual mixed {\n active = 1\n address = 192.0.2.100 eth0\n port = 80\n scheduler = mh\n\
             scheduler_flags = [ mh-port ]\n upper_threshold = 50\n lower_threshold = 40\n\
             sorry_server = 10.0.0.99\n sorry_port = 8080\n sorry_network = direct\n sorry_weight = 3\n\
             server dr {\n  address = 10.0.0.1\n  active = 1\n  network = direct\n }\n\
             server nat {\n  address = 10.0.0.2\n  active = 1\n }\n\
             server gue {\n  address = 10.0.0.3\n  active = 1\n  network = tunnel\n  tunnel_type = gue\n\
               tunnel_port = 6080\n  tunnel_checksum = checksum\n  upper_threshold = 0\n  lower_threshold = 0\n }\n}\n\
             virtual sip {\n active = 1\n address = 192.0.2.101 eth0\n port = 5060\n protocol = udp\n\
             persistent = 30\n persistence_engine = sip\n one_packet = 1\n\
             server a {\n  address = 10.0.0.4\n  active = 1\n }\n}\n",
        );
        let mixed = &plan.services[0];
        assert_eq!(mixed.service.flags, ServiceFlags::SCHED2);
        let entries: Vec<EntrySettings> = mixed.servers.iter().map(|s| s.entry).collect();
        let limited = |forward| EntrySettings {
            upper_threshold: 50,
            lower_threshold: 40,
            ..EntrySettings::forwarding(forward)
        };
        assert_eq!(
            entries,
            [
                limited(ForwardMethod::DirectRoute),
                limited(ForwardMethod::Masquerade),
                EntrySettings {
                    tunnel: Some(Tunnel {
                        kind: TunnelType::Gue,
                        port: 6080,
                        flags: 1,
                    }),
                    ..EntrySettings::forwarding(ForwardMethod::Tunnel)
                },
            ]
        );
        let sorry = mixed.sorry.expect("a sorry server");
        assert_eq!(
            (sorry.at(), sorry.weight, sorry.entry),
            (
                (ip("10.0.0.99"), 8080),
                3,
                EntrySettings::forwarding(ForwardMethod::DirectRoute)
            )
        );
        // The table holds what the plan says, for servers in and for the sorry server.
        let health: HashMap<ServerRef, Health> = mixed
            .servers
            .iter()
            .map(|s| (s.at, Health::In { weight: 2 }))
            .collect();
        let table = desired(&plan, &health, &Table::default());
        let (_, dests) = &table.services[&mixed.service.key];
        let gue = &dests[&(ip("10.0.0.3"), 80)];
        assert_eq!(
            (gue.forward, gue.tunnel, gue.weight),
            (ForwardMethod::Tunnel, entries[2].tunnel, 2)
        );
        assert_eq!(dests[&(ip("10.0.0.1"), 80)].upper_threshold, 50);
        let sorry_entry = mixed.sorry_destination(false).expect("entered while none serves");
        assert_eq!(
            (sorry_entry.port, sorry_entry.weight, sorry_entry.forward),
            (8080, 3, ForwardMethod::DirectRoute)
        );

        let sip = &plan.services[1].service;
        assert_eq!(sip.flags, ServiceFlags::PERSISTENT | ServiceFlags::ONE_PACKET);
        assert_eq!(sip.persistence_engine.as_deref(), Some("sip"));
    }

    #[test]
    fn the_plan_follows_the_file() {
        let plan = plan(CF);
        assert_eq!(plan.services.len(), 2);
        assert_eq!(plan.named.len(), 3, "inactive services are named too");
        let web = &plan.services[0];
        assert_eq!(web.service.scheduler, "rr");
        assert_eq!(web.service.timeout, 60);
        assert_eq!(
            web.service.netmask,
            lvs_ipvs::Netmask::V4(Ipv4Addr::new(255, 255, 255, 0))
        );
        assert_eq!(web.servers.len(), 2, "inactive servers are left out");
        assert!(web
            .servers
            .iter()
            .all(|s| s.entry == EntrySettings::forwarding(ForwardMethod::DirectRoute)));
        assert_eq!(
            web.sorry,
            Some(SorryServer {
                addr: ip("10.0.0.99"),
                port: 80,
                weight: 1,
                entry: EntrySettings::forwarding(ForwardMethod::DirectRoute),
            })
        );
        assert!(
            matches!(&*web.servers[0].check, Check::Tcp { send: Some(_), expect: Some(Expect::Prefix(p)) } if p == b"HTTP")
        );
        let dns = &plan.services[1];
        assert!(matches!(
            dns.service.key,
            ServiceKey::Addr {
                protocol: lvs_ipvs::Protocol::Udp,
                port: 53,
                ..
            }
        ));
        assert!(matches!(
            &*dns.servers[0].check,
            Check::Udp {
                expect: Some(Expect::AnyByte),
                ..
            }
        ));
    }

    #[test]
    fn health_weights_sorry_server_and_adoption() {
        let plan = plan(CF);
        let web = &plan.services[0];
        let (a, b) = (web.servers[0].at, web.servers[1].at);
        let mut kernel = Table::default();
        // A foreign service and a leftover entry of ours.
        let foreign = Service::new(
            ServiceKey::Addr {
                protocol: lvs_ipvs::Protocol::Tcp,
                addr: ip("192.0.2.1"),
                port: 22,
            },
            "wlc",
        );
        kernel.insert(foreign.clone(), vec![]);
        kernel.insert(
            web.service.clone(),
            vec![
                Destination::at(std::net::SocketAddr::new(a.addr, 80), ForwardMethod::DirectRoute).weight(3),
            ],
        );

        // Nothing known yet: the kernel's entry for a stays, b is not added, no sorry server
        // (a serves), the UDP service is created, the foreign one untouched.
        let health = HashMap::new();
        let ops = reconcile(&plan, None, &health, &kernel);
        assert!(ops
            .iter()
            .all(|op| !matches!(op, Operation::DeleteService(k) if *k == foreign.key)));
        assert!(!ops
            .iter()
            .any(|op| matches!(op, Operation::AddDest(_, d) if d.addr == b.addr)));
        assert!(!ops.iter().any(|op| matches!(op, Operation::DeleteDest(..))));
        assert!(ops
            .iter()
            .any(|op| matches!(op, Operation::AddService(s) if s.key == plan.services[1].service.key)));
        for op in &ops {
            kernel.apply(op);
        }
        assert!(
            reconcile(&plan, None, &health, &kernel).is_empty(),
            "a second pass has nothing to do"
        );

        // a fails, b is quiesced: nothing serves, so the sorry server comes in.
        let mut health = HashMap::new();
        health.insert(a, Health::Out);
        health.insert(b, Health::In { weight: 0 });
        let ops = reconcile(&plan, None, &health, &kernel);
        assert!(ops.contains(&Operation::DeleteDest(web.service.key, a.addr, 80)));
        assert!(ops
            .iter()
            .any(|op| matches!(op, Operation::AddDest(_, d) if d.addr == b.addr && d.weight == 0)));
        assert!(ops
            .iter()
            .any(|op| matches!(op, Operation::AddDest(_, d) if d.addr == ip("10.0.0.99") && d.weight == 1)));
        for op in &ops {
            kernel.apply(op);
        }
        // b returns at full weight: the sorry server goes.
        health.insert(b, Health::In { weight: 1 });
        let ops = reconcile(&plan, None, &health, &kernel);
        assert!(ops.contains(&Operation::DeleteDest(web.service.key, ip("10.0.0.99"), 80)));
        assert!(ops
            .iter()
            .any(|op| matches!(op, Operation::EditDest(_, d) if d.addr == b.addr && d.weight == 1)));
    }

    #[test]
    fn a_reload_deletes_what_the_old_file_named_and_the_new_does_not() {
        let old = plan(CF);
        let new = plan(&CF.replace("virtual dns {\n active = 1", "virtual dns {\n active = 0"));
        let mut kernel = Table::default();
        for op in reconcile(&old, None, &HashMap::new(), &kernel) {
            kernel.apply(&op);
        }
        let dns = old.services[1].service.key;
        let ops = reconcile(&new, Some(&old), &HashMap::new(), &kernel);
        assert_eq!(ops, vec![Operation::DeleteService(dns)]);
        let gone = plan(&CF[..CF.find("virtual dns").expect("block")]);
        let ops = reconcile(&gone, Some(&old), &HashMap::new(), &kernel);
        assert_eq!(
            ops,
            vec![Operation::DeleteService(dns)],
            "a block removed from the file"
        );
    }

    #[test]
    fn a_reload_changes_only_the_services_that_differ() {
        let before = plan(CF);
        // web: b's weight changes; dns: unchanged; old: becomes active; new: added.
        let edited = CF
            .replace(
                "address = 10.0.1.2\n active = 1\n weight = 1",
                "address = 10.0.1.2\n active = 1\n weight = 5",
            )
            .replace("virtual old {\n active = 0", "virtual old {\n active = 1")
            + "virtual new {\n active = 1\n address = 10.0.0.102 eth0:1\n port = 80\n}\n";
        let after = plan(&edited);
        let key = |plan: &Plan, i: usize| plan.services[i].service.key;
        let changed = after.changed_since(&before);
        let (web, dns) = (key(&before, 0), key(&before, 1));
        let (old, new) = (key(&after, 2), key(&after, 3));
        assert_eq!(changed, BTreeSet::from([web, old, new]), "dns is unchanged");
        assert!(after.changed_since(&after).is_empty());
        // A removed service is a change, as is one that is no longer named at all.
        let removed = plan(&CF.replace(
            "virtual old {\n active = 0\n address = 10.0.0.101 eth0:1\n port = 80\n}\n",
            "",
        ));
        assert_eq!(removed.changed_since(&before), BTreeSet::from([old]));
        assert_eq!(before.changed_since(&removed), BTreeSet::from([old]));
        let without_dns = plan(&CF.replace("virtual dns {\n active = 1", "virtual dns {\n active = 0"));
        assert_eq!(without_dns.changed_since(&before), BTreeSet::from([dns]));
    }

    #[test]
    fn reconciling_some_services_is_the_full_reconcile_restricted_to_them() {
        let before = plan(CF);
        let edited = CF
            .replace("scheduler = rr", "scheduler = wlc")
            .replace("virtual old {\n active = 0", "virtual old {\n active = 1");
        let after = plan(&edited);
        // The table as the director left it for `before`, every server up.
        let health: HashMap<ServerRef, Health> = after
            .servers()
            .map(|s| (s.at, Health::In { weight: s.weight }))
            .collect();
        let mut table = Table::default();
        for op in reconcile(&before, None, &health, &Table::default()) {
            table.apply(&op);
        }
        let full = reconcile(&after, Some(&before), &health, &table);
        let changed = after.changed_since(&before);
        let some = reconcile_services(&after, &health, &table, &changed);
        assert_eq!(some, full, "the unchanged dns service needs nothing either way");
        assert!(!some.is_empty());
        // Keys outside the change give nothing more, and no key gives nothing.
        assert!(reconcile_services(&after, &health, &table, &BTreeSet::new()).is_empty());
        let dns = after.services[1].service.key;
        assert!(reconcile_services(&after, &health, &table, &BTreeSet::from([dns])).is_empty());
    }

    #[test]
    fn a_service_that_goes_is_deleted_while_the_table_model_holds_it() {
        // The director keeps a removed service in its table model while the
        // delete has not succeeded; naming its key deletes it again.
        let before = plan(CF);
        let after = plan(&CF.replace(
            "virtual old {\n active = 0\n address = 10.0.0.101 eth0:1\n port = 80\n}\n",
            "",
        ));
        let health = HashMap::new();
        let mut table = Table::default();
        for op in reconcile(&before, None, &health, &Table::default()) {
            table.apply(&op);
        }
        let dns = before.services[1].service.clone();
        let gone = plan(&CF.replace("virtual dns {\n active = 1", "virtual dns {\n active = 0"));
        let keys = gone.changed_since(&before);
        assert_eq!(
            reconcile_services(&gone, &health, &table, &keys),
            vec![Operation::DeleteService(dns.key)]
        );
        // The old service was never in the table: nothing to do for it.
        assert!(reconcile_services(&after, &health, &table, &after.changed_since(&before)).is_empty());
    }

    #[test]
    fn the_sorry_server_rule_is_the_same_with_nanny_processes() {
        let full = plan(CF);
        let web = &full.services[0];
        let (a, b) = (web.servers[0].at, web.servers[1].at);
        let sorry = ip("10.0.0.99");
        let mut table = Table::default();
        // The services are made; the nannies own the servers' entries.
        let ops = reconcile_nanny_mode(&full, None, &HashMap::new(), &table);
        assert!(ops
            .iter()
            .all(|op| !matches!(op, Operation::AddDest(_, d) if d.addr == a.addr || d.addr == b.addr)));
        assert!(ops.contains(&Operation::AddService(web.service.clone())));
        // Nothing known to serve: the sorry server is in, in both modes.
        assert!(ops.iter().any(|op| matches!(op, Operation::AddDest(k, d) if *k == web.service.key && d.addr == sorry && d.weight == 1)));
        for op in &ops {
            table.apply(op);
        }
        assert!(reconcile_nanny_mode(&full, None, &HashMap::new(), &table).is_empty());
        // A quiesced server does not serve; one at weight 1 does, and the sorry server goes.
        let mut health = HashMap::from([(a, Health::In { weight: 0 })]);
        assert!(reconcile_nanny_mode(&full, None, &health, &table).is_empty());
        health.insert(b, Health::In { weight: 1 });
        assert_eq!(
            reconcile_nanny_mode(&full, None, &health, &table),
            [Operation::DeleteDest(web.service.key, sorry, 80)]
        );
        assert_eq!(web.sorry_destination(true), None);
        assert_eq!(
            web.sorry_destination(false).map(|d| (d.addr, d.weight)),
            Some((sorry, 1))
        );
        // A reload that drops a service deletes it.
        let smaller = plan(
            &CF.replace("virtual dns", "virtual old2")
                .replace("port = 53", "port = 54"),
        );
        let ops = reconcile_nanny_mode(&smaller, Some(&full), &health, &table);
        assert!(ops.contains(&Operation::DeleteService(full.services[1].service.key)));

        // A reload that moves the sorry server to another port with another
        // weight: the old entry goes, the new one comes, then is kept in step.
        let moved = plan(&CF.replace(
            "sorry_server = 10.0.0.99\n",
            "sorry_server = 10.0.0.99\n sorry_port = 8080\n sorry_weight = 3\n",
        ));
        let nothing = HashMap::new();
        let ops = reconcile_nanny_mode(&moved, Some(&full), &nothing, &table);
        let key = web.service.key;
        assert!(ops.contains(&Operation::DeleteDest(key, sorry, 80)), "{ops:?}");
        assert!(
            ops.iter().any(
                |op| matches!(op, Operation::AddDest(k, d) if *k == key && d.port == 8080 && d.weight == 3)
            ),
            "{ops:?}"
        );
        for op in &ops {
            table.apply(op);
        }
        assert!(reconcile_nanny_mode(&moved, Some(&full), &nothing, &table).is_empty());
        let heavier = plan(&CF.replace(
            "sorry_server = 10.0.0.99\n",
            "sorry_server = 10.0.0.99\n sorry_port = 8080\n sorry_weight = 5\n",
        ));
        assert!(matches!(
            reconcile_nanny_mode(&heavier, Some(&moved), &nothing, &table).as_slice(),
            [Operation::EditDest(k, d)] if *k == key && d.weight == 5
        ));
    }

    #[test]
    fn health_carries_over_a_reload_and_adopts_the_running_table() {
        let before = plan(CF);
        let web = &before.services[0];
        let (a, b) = (web.servers[0].at, web.servers[1].at);
        let mut table = Table::default();
        table.insert(
            web.service.clone(),
            vec![
                Destination::at(std::net::SocketAddr::new(a.addr, 80), ForwardMethod::DirectRoute).weight(7),
            ],
        );
        // At start: what the kernel holds is adopted at its weight; the rest starts out.
        let start = carry_over(&before, &table, None, |_| true);
        assert_eq!(start.health.get(&a), Some(&Health::In { weight: 7 }));
        assert_eq!(start.health.get(&b), None);
        let adopted: Vec<(ServerRef, Option<u32>)> = start.servers.iter().map(|(s, w)| (s.at, *w)).collect();
        assert!(adopted.contains(&(a, Some(7))) && adopted.contains(&(b, None)));

        // A reload that changes the weights: a server that was in at its configured
        // weight takes the new one; one whose weight the load monitor set keeps it;
        // one that was out stays out.
        let after = plan(
            &CF.replace("weight = 3", "weight = 5")
                .replace("weight = 1\n }\n server c", "weight = 2\n }\n server c"),
        );
        let health = HashMap::from([(a, Health::In { weight: 3 }), (b, Health::Out)]);
        let carried = carry_over(
            &after,
            &table,
            Some(Before {
                plan: &before,
                health: &health,
            }),
            |_| true,
        );
        assert_eq!(carried.health.get(&a), Some(&Health::In { weight: 5 }));
        assert_eq!(carried.health.get(&b), Some(&Health::Out));
        let loaded = HashMap::from([(a, Health::In { weight: 9 })]);
        let carried = carry_over(
            &after,
            &table,
            Some(Before {
                plan: &before,
                health: &loaded,
            }),
            |_| true,
        );
        assert_eq!(carried.health.get(&a), Some(&Health::In { weight: 9 }));
        // Only the services asked for are looked at.
        let none = carry_over(&after, &table, None, |key| *key != web.service.key);
        assert!(none.servers.iter().all(|(s, _)| s.at.service != web.service.key));
    }
}
