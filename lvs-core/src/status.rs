//! The director's status: one typed record that the daemon serves on its
//! socket, that `lvs --status` prints, that the metrics are rendered from and
//! that the web tool reads. Field names are the JSON protocol's
//! (`lvs --status --format json`); a renamed field is a compile error in
//! every reader, not an empty column.
//!
//! [`Status::build`] is pure: the plan, the servers' health, the kernel's
//! listing, the last checks and the current time go in.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::net::IpAddr;
use std::time::{Duration, Instant, SystemTime};

use lvs_ipvs::{Destination, Service, ServiceKey};
use serde::{Deserialize, Serialize};

use crate::admin::{AdminState, Hold, Holds};
use crate::check::Failure;
use crate::director::{Health, Plan, ServerRef};

/// Everything the director reports.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Status {
    /// The daemon's process id.
    pub pid: u32,
    /// Every active virtual service of the plan, in lvs.cf's order.
    pub services: Vec<ServiceStatus>,
}

/// One virtual service.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ServiceStatus {
    /// The block's name in lvs.cf.
    pub name: String,
    /// The service as ipvsadm writes it (`TCP 192.0.2.1:80`, `FWM 7`).
    pub service: String,
    /// The scheduler's name.
    pub scheduler: String,
    /// Persistence in seconds; 0 when not persistent.
    pub persistent: u32,
    /// Whether the kernel's table holds the service.
    pub in_kernel: bool,
    /// Connections scheduled, from the kernel's counters.
    pub connections: u64,
    /// Packets in.
    pub in_packets: u64,
    /// Packets out.
    pub out_packets: u64,
    /// Bytes in.
    pub in_bytes: u64,
    /// Bytes out.
    pub out_bytes: u64,
    /// The kernel's estimates of its rates.
    #[serde(default)]
    pub rates: Rates,
    /// Its real servers.
    pub servers: Vec<ServerStatus>,
    /// Its sorry server, when lvs.cf sets one.
    pub sorry_server: Option<SorryStatus>,
    /// Whether it lost its quorum (lvs.cf's `quorum`); false without one.
    #[serde(default)]
    pub quorum_lost: bool,
}

/// What the director makes of a real server.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum ServerHealth {
    /// Passing its checks, in the table with a weight above 0.
    Up,
    /// In the table at weight 0: it keeps its connections, gets no new ones.
    Quiesced,
    /// Failing its checks, out of the table.
    Down,
    /// No check has decided yet.
    Unknown,
}

impl ServerHealth {
    /// The word the status and the metrics use.
    pub fn as_str(self) -> &'static str {
        match self {
            ServerHealth::Up => "up",
            ServerHealth::Quiesced => "quiesced",
            ServerHealth::Down => "down",
            ServerHealth::Unknown => "unknown",
        }
    }

    /// The word for what the director knows of a server.
    pub fn of(health: Option<&Health>) -> ServerHealth {
        match health {
            Some(Health::In { weight: 0 }) => ServerHealth::Quiesced,
            Some(Health::In { .. }) => ServerHealth::Up,
            Some(Health::Out) => ServerHealth::Down,
            Some(Health::Unknown) | None => ServerHealth::Unknown,
        }
    }

    /// The word for a server, its latest check considered: one that has
    /// failed every check since the director started is down, not
    /// unknown, although its nanny never saw it up to take it out.
    pub fn judged(health: Option<&Health>, last: Option<&LastCheck>) -> ServerHealth {
        match (ServerHealth::of(health), last) {
            (ServerHealth::Unknown, Some(LastCheck { result: Err(_), .. })) => ServerHealth::Down,
            (word, _) => word,
        }
    }

    /// Every word, in the order the metrics list them.
    pub const ALL: [ServerHealth; 4] = [
        ServerHealth::Up,
        ServerHealth::Quiesced,
        ServerHealth::Down,
        ServerHealth::Unknown,
    ];
}

impl std::fmt::Display for ServerHealth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One real server.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ServerStatus {
    /// The server block's name.
    pub name: String,
    /// Its address.
    pub address: IpAddr,
    /// Its port.
    pub port: u16,
    /// Its health.
    pub health: ServerHealth,
    /// Whether an operator holds it (`lvs --drain`, `--disable`, the
    /// maintenance directory).
    #[serde(default)]
    pub admin: AdminState,
    /// While it drains: seconds until it is removed whatever its connections.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drain_seconds_left: Option<f64>,
    /// The weight lvs.cf gives it.
    pub configured_weight: u32,
    /// Its weight in the kernel's table; `None` when not in it.
    pub weight: Option<u32>,
    /// Active connections, from the kernel.
    pub active_connections: u32,
    /// Inactive connections, from the kernel.
    pub inactive_connections: u32,
    /// Connections scheduled to it.
    pub connections: u64,
    /// Packets in.
    #[serde(default)]
    pub in_packets: u64,
    /// Packets out.
    #[serde(default)]
    pub out_packets: u64,
    /// Bytes in.
    pub in_bytes: u64,
    /// Bytes out.
    pub out_bytes: u64,
    /// The kernel's estimates of its rates.
    #[serde(default)]
    pub rates: Rates,
    /// Its latest check; `None` before the first.
    pub last_check: Option<CheckStatus>,
}

impl ServerStatus {
    /// `address:port`, as the status writes a server (IPv6 unbracketed).
    pub fn endpoint(&self) -> String {
        endpoint(self.address, self.port)
    }

    /// An operator's hold in words (`draining (28 s left)`, `disabled`);
    /// `None` for a server nobody holds.
    pub fn hold_words(&self) -> Option<String> {
        match (self.admin, self.drain_seconds_left) {
            (AdminState::Enabled, _) => None,
            (AdminState::Draining, Some(left)) => Some(format!("draining ({left:.0} s left)")),
            (state, _) => Some(state.to_string()),
        }
    }
}

/// The kernel's rate estimates of a service or a server (IPVS's own,
/// averaged over a few seconds), per second.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Rates {
    /// Connections scheduled.
    pub connections: u64,
    /// Packets in.
    pub in_packets: u64,
    /// Packets out.
    pub out_packets: u64,
    /// Bytes in.
    pub in_bytes: u64,
    /// Bytes out.
    pub out_bytes: u64,
}

impl Rates {
    fn of(stats: &lvs_ipvs::Stats) -> Rates {
        Rates {
            connections: stats.cps,
            in_packets: stats.in_pps,
            out_packets: stats.out_pps,
            in_bytes: stats.in_bps,
            out_bytes: stats.out_bps,
        }
    }
}

/// The outcome of a server's latest check.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CheckStatus {
    /// How long ago it ended.
    pub seconds_ago: f64,
    /// `ok`, or why it failed.
    pub result: String,
    /// The `check` block that failed, when the server has several.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_check: Option<String>,
    /// Whole days until the TLS certificate the check saw expires
    /// (negative: expired that long ago).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_days_left: Option<i64>,
}

/// A service's sorry server.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SorryStatus {
    /// Its address.
    pub address: IpAddr,
    /// Its port.
    pub port: u16,
    /// Whether the table holds it (no real server is up).
    pub in_use: bool,
}

/// A server's latest check, as the health runtime records it.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct LastCheck {
    /// When it started, on the monotonic clock: its age does not move when
    /// the wall clock is set.
    pub at: Instant,
    /// Its outcome.
    pub result: Result<(), Failure>,
    /// When the TLS certificate it saw expires, if it saw one.
    pub certificate_expires: Option<SystemTime>,
    /// What kind of check it was ([`Check::kind`](crate::check::Check::kind)),
    /// and how long it took, when the runtime timed it.
    pub timed: Option<(&'static str, Duration)>,
}

impl LastCheck {
    /// A check that started at `at` with `result`.
    pub fn new(at: Instant, result: Result<(), Failure>) -> LastCheck {
        LastCheck {
            at,
            result,
            certificate_expires: None,
            timed: None,
        }
    }

    /// The same, a check of `kind` that took `took`.
    pub fn timed(mut self, kind: &'static str, took: Duration) -> LastCheck {
        self.timed = Some((kind, took));
        self
    }

    /// The same, having seen a certificate that expires at `expires`.
    pub fn with_certificate(mut self, expires: Option<SystemTime>) -> LastCheck {
        self.certificate_expires = expires;
        self
    }
}

/// Whole days from `now` until `expires`, negative once past.
fn days_until(now: SystemTime, expires: SystemTime) -> i64 {
    const DAY: i64 = 86_400;
    match expires.duration_since(now) {
        Ok(left) => i64::try_from(left.as_secs()).unwrap_or(i64::MAX) / DAY,
        Err(past) => -(i64::try_from(past.duration().as_secs()).unwrap_or(i64::MAX) / DAY),
    }
}

/// The kernel's entries of a service: the service and its destinations by
/// address and port.
pub type KernelService = (Service, HashMap<(IpAddr, u16), Destination>);

/// What [`Status::build`] reads.
#[derive(Clone, Copy, Debug)]
pub struct StatusInputs<'a> {
    /// The running plan.
    pub plan: &'a Plan,
    /// Each server's health.
    pub health: &'a HashMap<ServerRef, Health>,
    /// The operators' holds.
    pub holds: &'a Holds,
    /// The services that lost their quorum.
    pub quorums: &'a crate::quorum::Quorums,
    /// The kernel's listing of the owned services (empty when unknown).
    pub kernel: &'a HashMap<ServiceKey, KernelService>,
    /// Each server's latest check.
    pub checks: &'a HashMap<ServerRef, LastCheck>,
    /// The daemon's process id.
    pub pid: u32,
    /// The time now, for certificates' days left.
    pub now: SystemTime,
    /// The monotonic time now, for the checks' ages.
    pub monotonic_now: Instant,
}

impl Status {
    /// The status of `inputs.plan`'s services.
    pub fn build(inputs: StatusInputs<'_>) -> Status {
        let services = inputs
            .plan
            .services
            .iter()
            .map(|planned| {
                let key = planned.service.key;
                let kernel = inputs.kernel.get(&key);
                let servers = planned
                    .servers
                    .iter()
                    .map(|server| {
                        let at = server.at;
                        let dest = kernel.and_then(|(_, dests)| dests.get(&(at.addr, at.port)));
                        let stats = dest.and_then(|d| d.stats).unwrap_or_default();
                        let held = inputs.holds.get(&at);
                        let last = inputs.checks.get(&at);
                        ServerStatus {
                            name: server.name.clone(),
                            address: at.addr,
                            port: at.port,
                            health: ServerHealth::judged(inputs.health.get(&at), last),
                            admin: AdminState::of(held),
                            drain_seconds_left: held.and_then(|h| match h.hold {
                                Hold::Draining { deadline, .. } => Some(
                                    deadline
                                        .saturating_duration_since(inputs.monotonic_now)
                                        .as_secs_f64(),
                                ),
                                Hold::Disabled => None,
                            }),
                            configured_weight: server.weight,
                            weight: dest.map(|d| d.weight),
                            active_connections: dest.map_or(0, |d| d.active_conns),
                            inactive_connections: dest.map_or(0, |d| d.inactive_conns),
                            connections: stats.conns,
                            in_packets: stats.in_pkts,
                            out_packets: stats.out_pkts,
                            in_bytes: stats.in_bytes,
                            out_bytes: stats.out_bytes,
                            rates: Rates::of(&stats),
                            last_check: last.map(|check| CheckStatus {
                                seconds_ago: inputs
                                    .monotonic_now
                                    .saturating_duration_since(check.at)
                                    .as_secs_f64(),
                                result: match &check.result {
                                    Ok(()) => "ok".to_owned(),
                                    Err(why) => why.to_string(),
                                },
                                failed_check: match &check.result {
                                    Err(Failure::Named { check, .. }) => Some(check.clone()),
                                    _ => None,
                                },
                                certificate_days_left: check
                                    .certificate_expires
                                    .map(|expires| days_until(inputs.now, expires)),
                            }),
                        }
                    })
                    .collect();
                let stats = kernel.and_then(|(service, _)| service.stats).unwrap_or_default();
                ServiceStatus {
                    name: planned.name.clone(),
                    service: key.to_string(),
                    scheduler: planned.service.scheduler.clone(),
                    persistent: planned.service.timeout,
                    in_kernel: kernel.is_some(),
                    connections: stats.conns,
                    in_packets: stats.in_pkts,
                    out_packets: stats.out_pkts,
                    in_bytes: stats.in_bytes,
                    out_bytes: stats.out_bytes,
                    rates: Rates::of(&stats),
                    servers,
                    quorum_lost: inputs.quorums.is_lost(&key),
                    sorry_server: planned.sorry.map(|sorry| SorryStatus {
                        address: sorry.addr,
                        port: sorry.port,
                        in_use: kernel.is_some_and(|(_, dests)| dests.contains_key(&sorry.at())),
                    }),
                }
            })
            .collect();
        Status {
            pid: inputs.pid,
            services,
        }
    }

    /// The status as a table for people (`lvs --status`).
    pub fn render_text(&self) -> String {
        let mut out = String::new();
        for service in &self.services {
            let persistent = match service.persistent {
                0 => String::new(),
                seconds => format!(" persistent {seconds}"),
            };
            let quorum = if service.quorum_lost { "  quorum lost" } else { "" };
            let _ = writeln!(
                out,
                "virtual {} {} {}{persistent} connections {}{quorum}",
                service.name, service.service, service.scheduler, service.connections
            );
            for server in &service.servers {
                let weight = server.weight.map_or_else(|| "-".to_owned(), |w| w.to_string());
                let last = match &server.last_check {
                    Some(check) => match check.certificate_days_left {
                        Some(days) => format!(
                            "{} ({:.1} s ago; certificate: {days} days left)",
                            check.result, check.seconds_ago
                        ),
                        None => format!("{} ({:.1} s ago)", check.result, check.seconds_ago),
                    },
                    None => "not checked yet".to_owned(),
                };
                let held = server
                    .hold_words()
                    .map(|words| format!("  {words}"))
                    .unwrap_or_default();
                let _ = writeln!(
                    out,
                    "  {:<12} {:<24} {:<9} weight {:>4}/{:<4} conns {}/{}  last check: {last}{held}",
                    server.name,
                    server.endpoint(),
                    server.health.as_str(),
                    weight,
                    server.configured_weight,
                    server.active_connections,
                    server.inactive_connections,
                );
            }
            if let Some(sorry) = &service.sorry_server {
                let _ = writeln!(
                    out,
                    "  sorry server {} {}",
                    endpoint(sorry.address, sorry.port),
                    if sorry.in_use { "in use" } else { "standing by" }
                );
            }
        }
        out
    }
}

/// `address:port`, as the status has always written it (IPv6 unbracketed).
fn endpoint(address: IpAddr, port: u16) -> String {
    format!("{address}:{port}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::director::Plan;
    use std::time::Duration;

    fn plan() -> Plan {
        let config = lvs_cf::parse(
            "service = lvs\nprimary = 10.0.0.1\nvirtual web {\n active = 1\n address = 192.0.2.1 eth0:1\n \
             port = 80\n sorry_server = 10.0.0.9\n server a {\n  address = 10.0.0.2\n  active = 1\n  weight = 3\n }\n \
             server b {\n  address = 10.0.0.3\n  active = 1\n }\n}\n",
        )
        .expect("valid")
        .config;
        Plan::new(&config, &crate::director::literal_addresses).expect("plan")
    }

    #[test]
    fn health_words_and_json_round_trip() {
        let plan = plan();
        let a = plan.services[0].servers[0].at;
        let b = plan.services[0].servers[1].at;
        let health = HashMap::from([(a, Health::In { weight: 3 }), (b, Health::Out)]);
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(100);
        let checked = Instant::now();
        let page_failed = Failure::Named {
            check: "page".to_owned(),
            failure: Box::new(Failure::Status(503)),
        };
        let checks = HashMap::from([
            (
                b,
                LastCheck::new(checked, Err(page_failed))
                    .with_certificate(Some(now - Duration::from_secs(86_400 * 3 + 5))),
            ),
            (
                a,
                LastCheck::new(checked + Duration::from_secs(2), Ok(()))
                    .with_certificate(Some(now + Duration::from_secs(86_400 * 30 + 5))),
            ),
        ]);
        let mut holds = Holds::new();
        holds.drain(
            a,
            crate::admin::HoldSource::Command,
            checked,
            Duration::from_secs(30),
        );
        let status = Status::build(StatusInputs {
            plan: &plan,
            health: &health,
            holds: &holds,
            quorums: &crate::quorum::Quorums::new(),
            kernel: &HashMap::new(),
            checks: &checks,
            pid: 42,
            now,
            monotonic_now: checked + Duration::from_secs(2),
        });
        let servers = &status.services[0].servers;
        assert_eq!(servers[0].health, ServerHealth::Up);
        assert_eq!(servers[0].admin, AdminState::Draining);
        assert_eq!(servers[0].drain_seconds_left, Some(28.0));
        assert_eq!(servers[1].admin, AdminState::Enabled);
        assert_eq!(servers[1].health, ServerHealth::Down);
        let last = servers[1].last_check.as_ref().expect("checked");
        assert_eq!(last.seconds_ago, 2.0);
        assert_eq!(last.failed_check.as_deref(), Some("page"));
        assert_eq!(last.certificate_days_left, Some(-3));
        assert_eq!(
            servers[0]
                .last_check
                .as_ref()
                .and_then(|c| c.certificate_days_left),
            Some(30)
        );
        let json = serde_json::to_value(&status).expect("json");
        assert_eq!(json["services"][0]["servers"][1]["health"], "down");
        assert_eq!(json["services"][0]["servers"][0]["admin"], "draining");
        assert_eq!(json["services"][0]["servers"][0]["address"], "10.0.0.2");
        assert_eq!(json["services"][0]["sorry_server"]["in_use"], false);
        let back: Status = serde_json::from_value(json).expect("read back");
        assert_eq!(back, status);
        let text = status.render_text();
        assert!(
            text.contains("virtual web TCP 192.0.2.1:80 wlc connections 0"),
            "{text}"
        );
        assert!(
            text.contains("last check: check page: HTTP status 503 (2.0 s ago; certificate: -3 days left)"),
            "{text}"
        );
        assert!(text.contains("draining (28 s left)"), "{text}");
    }

    /// A server whose nanny has not decided yet is unknown until a check
    /// fails: then it is down, as it is for a server taken out.
    #[test]
    fn a_server_failing_since_the_start_is_down() {
        let failed = LastCheck::new(Instant::now(), Err(Failure::ConnectTimeout));
        let passed = LastCheck::new(Instant::now(), Ok(()));
        assert_eq!(ServerHealth::judged(None, None), ServerHealth::Unknown);
        assert_eq!(
            ServerHealth::judged(Some(&Health::Unknown), Some(&passed)),
            ServerHealth::Unknown
        );
        assert_eq!(
            ServerHealth::judged(Some(&Health::Unknown), Some(&failed)),
            ServerHealth::Down
        );
        assert_eq!(ServerHealth::judged(None, Some(&failed)), ServerHealth::Down);
        assert_eq!(
            ServerHealth::judged(Some(&Health::In { weight: 2 }), Some(&failed)),
            ServerHealth::Up,
            "a server in the table stays up until its nanny takes it out"
        );
    }
}
