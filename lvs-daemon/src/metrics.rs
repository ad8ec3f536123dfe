//! The daemons' Prometheus metrics: encoded with the Prometheus project's
//! Rust client (`prometheus-client`) in the Prometheus text format (0.0.4,
//! what `promtool check metrics` reads), and served over hyper's HTTP/1
//! server, where only `GET /metrics` answers.
//!
//! Two kinds of values go in. What the daemons count as they run (reloads,
//! table operations, checks and their times, failover transitions) lives in
//! `prometheus-client`'s own counters and histograms. What is read at scrape
//! time (the director's typed [`Status`] with the kernel's counters, pulse's
//! state and heartbeat counts) is encoded by a collector from one reading,
//! so that the values of one scrape belong together.
//!
//! Names and labels are documented in `docs/metrics.md`; the alert rules in
//! `docs/monitoring/alerts.yml` are written against them.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use http_body_util::Full;
use lvs_core::admin::AdminState;
use lvs_core::failover::{ActivateReason, DeactivateReason, PeerState};
use lvs_core::heartbeat::HeartbeatCounters;
use lvs_core::status::{LastCheck, Rates, ServerHealth, ServerStatus, ServiceStatus, Status};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

/// The `Content-Type` of every answer.
pub(crate) const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// A label set: names and values, in order.
type Labels = Vec<(&'static str, String)>;

/// The check-time histogram's buckets: 0.5 ms to about 8 s, doubling.
fn check_buckets() -> impl Iterator<Item = f64> {
    exponential_buckets(0.0005, 2.0, 15)
}

/// What the director counts as it runs; cheap to clone (the clones count
/// together).
#[derive(Clone, Debug)]
pub(crate) struct DirectorMetrics {
    reloads: Family<Labels, Counter>,
    operations: Family<Labels, Counter>,
    checks: Family<Labels, Histogram>,
}

impl Default for DirectorMetrics {
    fn default() -> DirectorMetrics {
        let metrics = DirectorMetrics {
            reloads: Family::default(),
            operations: Family::default(),
            checks: Family::new_with_constructor(|| Histogram::new(check_buckets())),
        };
        // Every result from the start, at 0, so that the first failure is
        // an increase a rule sees, not a series that appears.
        for result in ["applied", "refused"] {
            let _ = metrics
                .reloads
                .get_or_create(&vec![("result", result.to_owned())]);
        }
        for result in ["applied", "failed"] {
            let _ = metrics
                .operations
                .get_or_create(&vec![("result", result.to_owned())]);
        }
        metrics
    }
}

impl DirectorMetrics {
    /// A reload that `applied` (or was refused).
    pub(crate) fn reloaded(&self, applied: bool) {
        let result = if applied { "applied" } else { "refused" };
        self.reloads
            .get_or_create(&vec![("result", result.to_owned())])
            .inc();
    }

    /// Table operations sent to the kernel: `applied` of them done, `failed` not.
    pub(crate) fn operations(&self, applied: usize, failed: usize) {
        for (result, count) in [("applied", applied), ("failed", failed)] {
            if count > 0 {
                self.operations
                    .get_or_create(&vec![("result", result.to_owned())])
                    .inc_by(count as u64);
            }
        }
    }

    /// A check, as the health runtime records it.
    pub(crate) fn checked(&self, check: &LastCheck) {
        let Some((kind, took)) = check.timed else {
            return;
        };
        let result = if check.result.is_ok() { "ok" } else { "failed" };
        self.checks
            .get_or_create(&vec![("kind", kind.to_owned()), ("result", result.to_owned())])
            .observe(took.as_secs_f64());
    }

    fn register(&self, registry: &mut Registry) {
        registry.register(
            "lvs_reloads",
            "Configuration reloads, by result (applied, or refused for an invalid file)",
            self.reloads.clone(),
        );
        registry.register(
            "lvs_table_operations",
            "IPVS table operations the director sent, by result (applied or failed)",
            self.operations.clone(),
        );
        registry.register(
            "lvs_check_duration_seconds",
            "Time each health check took, by kind of check and result",
            self.checks.clone(),
        );
    }

    /// The director's metrics: `status` (read for this scrape) and what it counted.
    pub(crate) fn render(&self, status: Status) -> String {
        let mut registry = Registry::default();
        registry.register_collector(Box::new(StatusCollector(status)));
        self.register(&mut registry);
        encode(&registry)
    }
}

fn encode(registry: &Registry) -> String {
    let mut out = String::new();
    // Writing to a String fails only if a metric's own encoding does, and
    // none here does; what was written is still served.
    let _ = prometheus_client::encoding::prometheus_text::encode(&mut out, registry);
    out
}

/// One scrape's status, encoded family by family.
#[derive(Debug)]
struct StatusCollector(Status);

fn server_labels(service: &ServiceStatus, server: &ServerStatus) -> Labels {
    vec![
        ("service", service.name.clone()),
        ("server", server.name.clone()),
        ("address", server.endpoint()),
    ]
}

fn service_labels(service: &ServiceStatus) -> Labels {
    vec![
        ("service", service.name.clone()),
        ("virtual", service.service.clone()),
    ]
}

/// Writes one gauge family.
fn gauges<V>(
    encoder: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    values: impl IntoIterator<Item = (Labels, V)>,
) -> Result<(), std::fmt::Error>
where
    ConstGauge<V>: EncodeMetric,
{
    let mut family = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
    for (labels, value) in values {
        ConstGauge::new(value).encode(family.encode_family(&labels)?)?;
    }
    Ok(())
}

/// Writes one counter family (the encoder adds `_total`).
fn counters(
    encoder: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    values: impl IntoIterator<Item = (Labels, u64)>,
) -> Result<(), std::fmt::Error> {
    let mut family = encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
    for (labels, value) in values {
        ConstCounter::new(value).encode(family.encode_family(&labels)?)?;
    }
    Ok(())
}

/// Writes a state set: one gauge per state, 1 for the one that holds.
fn state_set<S: Copy + PartialEq>(
    encoder: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    states: &[(S, &'static str)],
    values: impl IntoIterator<Item = (Labels, S)>,
) -> Result<(), std::fmt::Error> {
    let mut family = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
    for (labels, state) in values {
        for (candidate, word) in states {
            let mut labels = labels.clone();
            labels.push(("state", (*word).to_owned()));
            ConstGauge::new(i64::from(*candidate == state)).encode(family.encode_family(&labels)?)?;
        }
    }
    Ok(())
}

/// A rate gauge: the family's name after `lvs_real_server_` or
/// `lvs_virtual_service_`, what it counts, and its value.
type RateFamily = (&'static str, &'static str, fn(&Rates) -> u64);

/// The per-second rate gauges of servers and services.
const RATE_FAMILIES: [RateFamily; 5] = [
    (
        "connections_per_second",
        "connections scheduled per second",
        |r| r.connections,
    ),
    ("in_packets_per_second", "packets in per second", |r| r.in_packets),
    ("out_packets_per_second", "packets out per second", |r| {
        r.out_packets
    }),
    ("in_bytes_per_second", "bytes in per second", |r| r.in_bytes),
    ("out_bytes_per_second", "bytes out per second", |r| r.out_bytes),
];

impl Collector for StatusCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let services = &self.0.services;
        let servers = || {
            services
                .iter()
                .flat_map(|service| service.servers.iter().map(move |server| (service, server)))
        };
        // The kernel's counters of a server it holds: one out of the table
        // (or a table that could not be read) has none to report, and a 0
        // would read as a counter reset, a spike of rate() when it returns.
        let in_table = || servers().filter(|(_, server)| server.weight.is_some());
        let each_server = |value: fn(&ServerStatus) -> u64| {
            in_table().map(move |(service, server)| (server_labels(service, server), value(server)))
        };
        let health_states: Vec<(ServerHealth, &'static str)> =
            ServerHealth::ALL.iter().map(|h| (*h, h.as_str())).collect();
        state_set(
            &mut encoder,
            "lvs_real_server_health",
            "The real server's health: up, quiesced (weight 0), down (failing its checks) or unknown (not checked yet); 1 for the state it is in",
            &health_states,
            servers().map(|(service, server)| (server_labels(service, server), server.health)),
        )?;
        let admin_states: Vec<(AdminState, &'static str)> =
            AdminState::ALL.iter().map(|a| (*a, a.as_str())).collect();
        state_set(
            &mut encoder,
            "lvs_real_server_admin",
            "An operator's hold on the real server: enabled (none), draining or disabled; 1 for the state it is in",
            &admin_states,
            servers().map(|(service, server)| (server_labels(service, server), server.admin)),
        )?;
        gauges(
            &mut encoder,
            "lvs_real_server_weight",
            "The real server's weight in the IPVS table (absent: not in it)",
            servers().filter_map(|(service, server)| Some((server_labels(service, server), server.weight?))),
        )?;
        gauges(
            &mut encoder,
            "lvs_real_server_configured_weight",
            "The weight lvs.cf gives the real server",
            servers().map(|(service, server)| (server_labels(service, server), server.configured_weight)),
        )?;
        gauges(
            &mut encoder,
            "lvs_real_server_active_connections",
            "Active connections to the real server (the kernel's count)",
            servers().map(|(service, server)| (server_labels(service, server), server.active_connections)),
        )?;
        gauges(
            &mut encoder,
            "lvs_real_server_inactive_connections",
            "Inactive connections to the real server (the kernel's count)",
            servers().map(|(service, server)| (server_labels(service, server), server.inactive_connections)),
        )?;
        counters(
            &mut encoder,
            "lvs_real_server_connections",
            "Connections scheduled to the real server (the kernel's counter)",
            each_server(|s| s.connections),
        )?;
        counters(
            &mut encoder,
            "lvs_real_server_in_packets",
            "Packets to the real server (the kernel's counter)",
            each_server(|s| s.in_packets),
        )?;
        counters(
            &mut encoder,
            "lvs_real_server_out_packets",
            "Packets from the real server (the kernel's counter)",
            each_server(|s| s.out_packets),
        )?;
        counters(
            &mut encoder,
            "lvs_real_server_in_bytes",
            "Bytes to the real server (the kernel's counter)",
            each_server(|s| s.in_bytes),
        )?;
        counters(
            &mut encoder,
            "lvs_real_server_out_bytes",
            "Bytes from the real server (the kernel's counter)",
            each_server(|s| s.out_bytes),
        )?;
        for (suffix, help, value) in RATE_FAMILIES {
            gauges(
                &mut encoder,
                &format!("lvs_real_server_{suffix}"),
                &format!("The kernel's estimate of the real server's {help}"),
                in_table().map(|(service, server)| (server_labels(service, server), value(&server.rates))),
            )?;
        }
        gauges(
            &mut encoder,
            "lvs_real_server_last_check_age_seconds",
            "Seconds since the real server's latest check (absent: not checked yet)",
            servers().filter_map(|(service, server)| {
                Some((
                    server_labels(service, server),
                    server.last_check.as_ref()?.seconds_ago,
                ))
            }),
        )?;
        gauges(
            &mut encoder,
            "lvs_real_server_certificate_days_left",
            "Whole days until the TLS certificate the latest check saw expires (negative: expired)",
            servers().filter_map(|(service, server)| {
                Some((
                    server_labels(service, server),
                    server.last_check.as_ref()?.certificate_days_left?,
                ))
            }),
        )?;
        let each_service = |value: fn(&ServiceStatus) -> u64| {
            services
                .iter()
                .filter(|service| service.in_kernel)
                .map(move |service| (service_labels(service), value(service)))
        };
        gauges(
            &mut encoder,
            "lvs_virtual_service_in_kernel",
            "1 when the kernel's table holds the virtual service",
            services
                .iter()
                .map(|s| (service_labels(s), i64::from(s.in_kernel))),
        )?;
        gauges(
            &mut encoder,
            "lvs_virtual_service_quorum_lost",
            "1 while the virtual service's healthy weight is below its quorum",
            services
                .iter()
                .map(|s| (service_labels(s), i64::from(s.quorum_lost))),
        )?;
        gauges(
            &mut encoder,
            "lvs_virtual_service_sorry_server_in_use",
            "1 while the virtual service's sorry server is in the table (absent: none configured)",
            services
                .iter()
                .filter_map(|s| Some((service_labels(s), i64::from(s.sorry_server.as_ref()?.in_use)))),
        )?;
        gauges(
            &mut encoder,
            "lvs_virtual_service_servers_up",
            "Real servers of the virtual service that pass their checks",
            services.iter().map(|s| {
                let up = s.servers.iter().filter(|r| r.health == ServerHealth::Up).count();
                (service_labels(s), up as u64)
            }),
        )?;
        counters(
            &mut encoder,
            "lvs_virtual_service_connections",
            "Connections scheduled by the virtual service (the kernel's counter)",
            each_service(|s| s.connections),
        )?;
        counters(
            &mut encoder,
            "lvs_virtual_service_in_packets",
            "Packets to the virtual service (the kernel's counter)",
            each_service(|s| s.in_packets),
        )?;
        counters(
            &mut encoder,
            "lvs_virtual_service_out_packets",
            "Packets from the virtual service (the kernel's counter)",
            each_service(|s| s.out_packets),
        )?;
        counters(
            &mut encoder,
            "lvs_virtual_service_in_bytes",
            "Bytes to the virtual service (the kernel's counter)",
            each_service(|s| s.in_bytes),
        )?;
        counters(
            &mut encoder,
            "lvs_virtual_service_out_bytes",
            "Bytes from the virtual service (the kernel's counter)",
            each_service(|s| s.out_bytes),
        )?;
        for (suffix, help, value) in RATE_FAMILIES {
            gauges(
                &mut encoder,
                &format!("lvs_virtual_service_{suffix}"),
                &format!("The kernel's estimate of the virtual service's {help}"),
                services
                    .iter()
                    .filter(|s| s.in_kernel)
                    .map(|s| (service_labels(s), value(&s.rates))),
            )?;
        }
        Ok(())
    }
}

/// What pulse knows at a moment, for its metrics.
#[derive(Clone, Debug, Default)]
struct PulseReading {
    active: bool,
    /// What the partner's latest accepted heartbeat said.
    partner: Option<PeerState>,
    /// When it came.
    last_heartbeat: Option<Instant>,
    /// When the VIPs were last announced.
    last_announcement: Option<SystemTime>,
}

/// What pulse counts and knows, for its metrics; cheap to clone.
#[derive(Clone, Debug)]
pub(crate) struct PulseMetrics {
    reading: Arc<Mutex<PulseReading>>,
    transitions: Family<Labels, Counter>,
}

impl Default for PulseMetrics {
    fn default() -> PulseMetrics {
        let metrics = PulseMetrics {
            reading: Arc::default(),
            transitions: Family::default(),
        };
        // Every transition from the start, at 0 (see DirectorMetrics).
        let activations = ActivateReason::ALL.map(|r| ("active", r.word()));
        let deactivations = DeactivateReason::ALL.map(|r| ("inactive", r.word()));
        for (to, reason) in activations.into_iter().chain(deactivations) {
            let _ = metrics
                .transitions
                .get_or_create(&vec![("to", to.to_owned()), ("reason", reason.to_owned())]);
        }
        metrics
    }
}

impl PulseMetrics {
    fn update(&self, change: impl FnOnce(&mut PulseReading)) {
        change(&mut self.reading.lock().unwrap_or_else(PoisonError::into_inner));
    }

    /// The router became active (or inactive), for `reason`.
    pub(crate) fn transition(&self, active: bool, reason: &str) {
        self.update(|r| r.active = active);
        let to = if active { "active" } else { "inactive" };
        self.transitions
            .get_or_create(&vec![("to", to.to_owned()), ("reason", reason.to_owned())])
            .inc();
    }

    /// An accepted heartbeat from the partner, saying `state`.
    pub(crate) fn heard(&self, state: PeerState, at: Instant) {
        self.update(|r| {
            r.partner = Some(state);
            r.last_heartbeat = Some(at);
        });
    }

    /// The VIPs were announced.
    pub(crate) fn announced(&self, at: SystemTime) {
        self.update(|r| r.last_announcement = Some(at));
    }

    /// pulse's metrics now, with `heartbeats` (its datagram counts).
    pub(crate) fn render(&self, heartbeats: HeartbeatCounters, now: Instant) -> String {
        let reading = self
            .reading
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let mut registry = Registry::default();
        registry.register_collector(Box::new(PulseCollector {
            reading,
            heartbeats,
            now,
        }));
        registry.register(
            "lvs_pulse_transitions",
            "Times this router became active or inactive, by the state it went to and why",
            self.transitions.clone(),
        );
        encode(&registry)
    }
}

#[derive(Debug)]
struct PulseCollector {
    reading: PulseReading,
    heartbeats: HeartbeatCounters,
    now: Instant,
}

impl Collector for PulseCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let reading = &self.reading;
        state_set(
            &mut encoder,
            "lvs_pulse_role",
            "This router's part: active (holding the VIPs) or inactive; 1 for the one it plays",
            &[(true, "active"), (false, "inactive")],
            [(Labels::new(), reading.active)],
        )?;
        state_set(
            &mut encoder,
            "lvs_pulse_partner_state",
            "What the partner's latest heartbeat said: running (active), stopped, or unheard (none yet); 1 for the one that holds",
            &[
                (Some(PeerState::Running), "running"),
                (Some(PeerState::Stopped), "stopped"),
                (None, "unheard"),
            ],
            [(Labels::new(), reading.partner)],
        )?;
        gauges(
            &mut encoder,
            "lvs_pulse_heartbeat_age_seconds",
            "Seconds since the partner's latest accepted heartbeat (absent: none yet)",
            reading.last_heartbeat.map(|at| {
                (
                    Labels::new(),
                    self.now.saturating_duration_since(at).as_secs_f64(),
                )
            }),
        )?;
        gauges(
            &mut encoder,
            "lvs_pulse_last_announcement_timestamp_seconds",
            "When the VIPs were last announced (gratuitous ARP, unsolicited NA), in seconds since the epoch (absent: not yet)",
            reading.last_announcement.map(|at| {
                let since = at.duration_since(SystemTime::UNIX_EPOCH).unwrap_or(Duration::ZERO);
                (Labels::new(), since.as_secs_f64())
            }),
        )?;
        let h = &self.heartbeats;
        counters(
            &mut encoder,
            "lvs_pulse_heartbeats",
            "Datagrams from the partner's side by outcome: accepted, or dropped as duplicate, stale, replayed, forged, malformed, from an unexpected source, reflected or sealed with an unknown key id",
            heartbeat_outcomes(h),
        )
    }
}

/// pulse's metrics with VIP groups, from its status (the one source of
/// both): each group's state and priority, its transitions, its last
/// announcement, each router's heartbeat age, each track, and the
/// heartbeats by outcome.
pub(crate) fn render_groups(status: &lvs_core::groups::GroupsStatus) -> String {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(GroupsCollector(status.clone())));
    encode(&registry)
}

#[derive(Debug)]
struct GroupsCollector(lvs_core::groups::GroupsStatus);

impl Collector for GroupsCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        use lvs_core::election::GroupState;
        let status = &self.0;
        let group = |name: &str| vec![("group", name.to_owned())];
        let states: Vec<(&str, &'static str)> =
            GroupState::ALL.iter().map(|s| (s.word(), s.word())).collect();
        state_set(
            &mut encoder,
            "lvs_pulse_group_state",
            "This router's state in each VIP group: master (holding its VIPs), backup or fault; 1 for the one that holds",
            &states,
            status.groups.iter().map(|g| (group(&g.name), g.state.as_str())),
        )?;
        gauges(
            &mut encoder,
            "lvs_pulse_group_priority",
            "This router's effective priority in each VIP group (tracked weights included; 0 in fault)",
            status
                .groups
                .iter()
                .map(|g| (group(&g.name), i64::from(g.priority))),
        )?;
        counters(
            &mut encoder,
            "lvs_pulse_group_transitions",
            "Times each VIP group changed state on this router, by the state it went to and why",
            status.groups.iter().flat_map(|g| {
                g.transitions.iter().map(|(to, reason, count)| {
                    let mut labels = group(&g.name);
                    labels.push(("to", to.clone()));
                    labels.push(("reason", reason.clone()));
                    (labels, *count)
                })
            }),
        )?;
        gauges(
            &mut encoder,
            "lvs_pulse_group_last_announcement_timestamp_seconds",
            "When each VIP group's VIPs were last announced from this router, in seconds since the epoch (absent: not yet)",
            status.groups.iter().filter_map(|g| g.announced.map(|at| (group(&g.name), at))),
        )?;
        gauges(
            &mut encoder,
            "lvs_pulse_router_heartbeat_age_seconds",
            "Seconds since each other router's latest accepted heartbeat, while it is alive",
            status.peers.iter().filter_map(|p| {
                p.heard
                    .map(|at| (vec![("router", p.name.clone())], (status.at - at).max(0.0)))
            }),
        )?;
        gauges(
            &mut encoder,
            "lvs_pulse_router_connections",
            "Active connections in each router's IPVS table: this router's as counted, the others' as their heartbeats say",
            status
                .connections
                .map(|c| (vec![("router", status.router.clone())], i64::from(c)))
                .into_iter()
                .chain(
                status.peers.iter().filter_map(|p| {
                    p.connections
                        .map(|c| (vec![("router", p.name.clone())], i64::from(c)))
                }),
            ),
        )?;
        gauges(
            &mut encoder,
            "lvs_pulse_ready",
            "Whether this router's readiness gate is open: 1 once its connection table caught up with the holders' (or the catch_up_bound passed, or there is no gate)",
            std::iter::once((Labels::new(), i64::from(status.ready))),
        )?;
        gauges(
            &mut encoder,
            "lvs_pulse_track_passing",
            "Whether each tracked check passes (1) or fails (0), after its rise and fall counts",
            status
                .tracks
                .iter()
                .map(|t| (vec![("track", t.name.clone())], i64::from(t.passing))),
        )?;
        let h = &status.heartbeats;
        counters(
            &mut encoder,
            "lvs_pulse_heartbeats",
            "Datagrams from the other routers by outcome: accepted, or dropped as duplicate, stale, replayed, forged, malformed, from an unexpected source, reflected or sealed with an unknown key id",
            heartbeat_outcomes(h),
        )
    }
}

/// The heartbeat counters by outcome label.
fn heartbeat_outcomes(h: &HeartbeatCounters) -> [(Labels, u64); 9] {
    [
        ("accepted", h.accepted),
        ("duplicate", h.duplicate),
        ("stale", h.stale),
        ("replayed", h.replayed),
        ("forged", h.forged),
        ("malformed", h.malformed),
        ("unexpected_source", h.unexpected_source),
        ("reflected", h.reflected),
        ("unknown_key", h.unknown_key),
    ]
    .map(|(outcome, count)| (vec![("outcome", outcome.to_owned())], count))
}

/// How long a client may take to send its request's head.
const HEADER_TIME: Duration = Duration::from_secs(5);
/// How long one connection may last, answer included.
const CONNECTION_TIME: Duration = Duration::from_secs(30);

/// The answer to one request: the metrics for `GET` (and `HEAD`) of
/// `/metrics`, 405 for another method there, 404 anywhere else.
async fn answer<F: std::future::Future<Output = Option<Arc<String>>>>(
    method: &hyper::Method,
    path: &str,
    render: impl FnOnce() -> F,
) -> hyper::Response<Full<Bytes>> {
    use hyper::{header, Method, Response, StatusCode};
    let status = |code: StatusCode| {
        let mut response = Response::new(Full::new(Bytes::new()));
        *response.status_mut() = code;
        response
    };
    if path != "/metrics" {
        return status(StatusCode::NOT_FOUND);
    }
    if method != Method::GET && method != Method::HEAD {
        let mut refused = status(StatusCode::METHOD_NOT_ALLOWED);
        refused
            .headers_mut()
            .insert(header::ALLOW, header::HeaderValue::from_static("GET, HEAD"));
        return refused;
    }
    match render().await {
        Some(text) => {
            let mut response = Response::new(Full::new(Bytes::from(text.as_str().to_owned())));
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                header::HeaderValue::from_static(CONTENT_TYPE),
            );
            response
        }
        None => status(StatusCode::SERVICE_UNAVAILABLE),
    }
}

/// Serves `render`'s text at `GET /metrics` on `listener` over hyper's
/// HTTP/1 server (the HTTP layer axum and the checks use; the daemons
/// stay without a web framework, which only the web tool brings): one
/// request per connection, a header-read timeout, and `serve_each`'s cap
/// on connections.
async fn serve<F, R>(listener: tokio::net::TcpListener, render: R)
where
    R: Fn() -> F + Clone + Send + Sync + 'static,
    F: std::future::Future<Output = Option<Arc<String>>> + Send + 'static,
{
    use hyper_util::rt::{TokioIo, TokioTimer};
    crate::status::serve_each(listener, move |stream: tokio::net::TcpStream| {
        let render = render.clone();
        async move {
            let service =
                hyper::service::service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
                    let render = render.clone();
                    async move {
                        let response = answer(request.method(), request.uri().path(), render).await;
                        Ok::<_, std::convert::Infallible>(response)
                    }
                });
            let connection = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIME)
                .keep_alive(false)
                .serve_connection(TokioIo::new(stream), service);
            let _ = tokio::time::timeout(CONNECTION_TIME, connection).await;
        }
    })
    .await;
}

/// Serves `render`'s text on `listener` (bound by [`bind`]) as a task of
/// the runtime it is called in; `None`, logged, when the runtime cannot
/// take the listener.
pub(crate) fn spawn<F, R>(
    listener: std::net::TcpListener,
    render: R,
    log: &crate::log::Log,
) -> Option<tokio::task::JoinHandle<()>>
where
    R: Fn() -> F + Clone + Send + Sync + 'static,
    F: std::future::Future<Output = Option<Arc<String>>> + Send + 'static,
{
    match tokio::net::TcpListener::from_std(listener) {
        Ok(listener) => Some(tokio::spawn(serve(listener, render))),
        Err(e) => {
            log.error(&format!("cannot serve metrics: {e}"));
            None
        }
    }
}

/// Binds the metrics listener at `address` (non-blocking, for the runtime).
pub(crate) fn bind(address: SocketAddr) -> std::io::Result<std::net::TcpListener> {
    std::net::TcpListener::bind(address)
        .and_then(|listener| listener.set_nonblocking(true).map(|()| listener))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use std::collections::HashMap;

    use lvs_core::check::Failure;
    use lvs_core::director::{Health, Plan};
    use lvs_core::status::StatusInputs;

    use super::*;

    fn status() -> Status {
        let config = lvs_cf::parse(
            "service = lvs\nprimary = 10.0.0.1\nvirtual web {\n active = 1\n address = 192.0.2.1 eth0:1\n \
             port = 80\n sorry_server = 10.0.0.9\n server a {\n  address = 10.0.0.2\n  active = 1\n  weight = 3\n }\n \
             server b {\n  address = 10.0.0.3\n  active = 1\n }\n server c {\n  address = 10.0.0.4\n  active = 1\n }\n}\n",
        )
        .expect("valid")
        .config;
        let plan = Plan::new(&config, &lvs_core::director::literal_addresses).expect("plan");
        let servers = &plan.services[0].servers;
        let (a, b) = (servers[0].at, servers[1].at);
        let health = HashMap::from([(a, Health::In { weight: 3 })]);
        let now = Instant::now();
        let checks = HashMap::from([
            (a, LastCheck::new(now, Ok(()))),
            // Failed every check since the start: its nanny never saw it up.
            (b, LastCheck::new(now, Err(Failure::ConnectTimeout))),
        ]);
        let mut holds = lvs_core::admin::Holds::new();
        holds.drain(
            a,
            lvs_core::admin::HoldSource::Command,
            now,
            Duration::from_secs(30),
        );
        Status::build(StatusInputs {
            plan: &plan,
            health: &health,
            holds: &holds,
            quorums: &lvs_core::quorum::Quorums::new(),
            kernel: &HashMap::new(),
            checks: &checks,
            pid: 42,
            now: SystemTime::now(),
            monotonic_now: now,
        })
    }

    /// Every family has its HELP and TYPE, once, before its samples.
    fn assert_described(text: &str) {
        let mut described = std::collections::HashSet::new();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# HELP ") {
                let name = rest.split(' ').next().unwrap();
                assert!(described.insert(name.to_owned()), "{name} described twice");
            } else if !line.starts_with('#') {
                let name = line.split(['{', ' ']).next().unwrap();
                let family = ["_bucket", "_sum", "_count"]
                    .iter()
                    .find_map(|suffix| name.strip_suffix(suffix).filter(|f| described.contains(*f)))
                    .unwrap_or(name);
                assert!(described.contains(family), "{name} has no HELP line:\n{text}");
            }
        }
    }

    #[test]
    fn the_director_reports_health_as_a_state_set_with_its_counts() {
        let counted = DirectorMetrics::default();
        counted.reloaded(true);
        counted.reloaded(true);
        counted.reloaded(false);
        counted.operations(11, 1);
        let timed = LastCheck::new(Instant::now(), Ok(())).timed("http", Duration::from_micros(1500));
        counted.checked(&timed);
        counted.checked(&LastCheck::new(Instant::now(), Ok(())));
        let text = counted.render(status());
        assert_described(&text);
        let a = r#"service="web",server="a",address="10.0.0.2:80""#;
        let b = r#"service="web",server="b",address="10.0.0.3:80""#;
        let c = r#"service="web",server="c",address="10.0.0.4:80""#;
        for line in [
            format!("lvs_real_server_health{{{a},state=\"up\"}} 1"),
            format!("lvs_real_server_health{{{a},state=\"down\"}} 0"),
            format!("lvs_real_server_health{{{b},state=\"down\"}} 1"),
            format!("lvs_real_server_health{{{b},state=\"unknown\"}} 0"),
            format!("lvs_real_server_health{{{c},state=\"unknown\"}} 1"),
            format!("lvs_real_server_admin{{{a},state=\"draining\"}} 1"),
            format!("lvs_real_server_admin{{{b},state=\"enabled\"}} 1"),
            format!("lvs_real_server_configured_weight{{{a}}} 3"),
            "lvs_virtual_service_servers_up{service=\"web\",virtual=\"TCP 192.0.2.1:80\"} 1".to_owned(),
            "lvs_virtual_service_sorry_server_in_use{service=\"web\",virtual=\"TCP 192.0.2.1:80\"} 0"
                .to_owned(),
            "lvs_reloads_total{result=\"applied\"} 2".to_owned(),
            "lvs_reloads_total{result=\"refused\"} 1".to_owned(),
            "lvs_table_operations_total{result=\"applied\"} 11".to_owned(),
            "lvs_table_operations_total{result=\"failed\"} 1".to_owned(),
            "lvs_check_duration_seconds_bucket{kind=\"http\",result=\"ok\",le=\"0.001\"} 0".to_owned(),
            "lvs_check_duration_seconds_bucket{kind=\"http\",result=\"ok\",le=\"0.002\"} 1".to_owned(),
            "lvs_check_duration_seconds_count{kind=\"http\",result=\"ok\"} 1".to_owned(),
        ] {
            assert!(text.lines().any(|l| l == line), "no `{line}` in:\n{text}");
        }
        assert!(
            !text.contains(&format!("lvs_real_server_weight{{{b}}}")),
            "a server out of the table has no weight"
        );
        // Nothing is in this kernel: no counter says 0 (a reset to Prometheus).
        assert!(
            !text
                .lines()
                .any(|l| l.starts_with("lvs_real_server_connections_total")
                    || l.starts_with("lvs_virtual_service_in_bytes_total")),
            "{text}"
        );
        assert_eq!(
            text.matches("lvs_check_duration_seconds_count").count(),
            1,
            "an untimed check is not counted"
        );
    }

    #[test]
    fn pulse_reports_its_role_partner_and_heartbeats() {
        let counted = PulseMetrics::default();
        let start = Instant::now();
        let before = counted.render(HeartbeatCounters::default(), start);
        assert!(
            before.contains("lvs_pulse_role{state=\"inactive\"} 1"),
            "{before}"
        );
        assert!(before.contains("lvs_pulse_partner_state{state=\"unheard\"} 1"));
        assert!(
            !before
                .lines()
                .any(|l| l.starts_with("lvs_pulse_heartbeat_age_seconds")),
            "none heard yet"
        );
        counted.heard(PeerState::Stopped, start);
        counted.transition(true, "backup_inactive");
        counted.announced(SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000));
        let mut heartbeats = HeartbeatCounters::default();
        heartbeats.accepted = 7;
        heartbeats.forged = 2;
        let text = counted.render(heartbeats, start + Duration::from_millis(1500));
        assert_described(&text);
        for line in [
            "lvs_pulse_role{state=\"active\"} 1",
            "lvs_pulse_partner_state{state=\"stopped\"} 1",
            "lvs_pulse_heartbeat_age_seconds 1.5",
            "lvs_pulse_last_announcement_timestamp_seconds 1700000000.0",
            "lvs_pulse_heartbeats_total{outcome=\"accepted\"} 7",
            "lvs_pulse_heartbeats_total{outcome=\"forged\"} 2",
            "lvs_pulse_transitions_total{to=\"active\",reason=\"backup_inactive\"} 1",
        ] {
            assert!(text.lines().any(|l| l == line), "no `{line}` in:\n{text}");
        }
    }

    /// Every family both daemons can serve, by its `# TYPE` lines.
    fn families() -> std::collections::HashSet<String> {
        let counted = DirectorMetrics::default();
        counted.checked(&LastCheck::new(Instant::now(), Ok(())).timed("tcp", Duration::from_millis(1)));
        let director = counted.render(status());
        let pulse = PulseMetrics::default().render(HeartbeatCounters::default(), Instant::now());
        [director, pulse]
            .iter()
            .flat_map(|text| text.lines())
            .filter_map(|line| line.strip_prefix("# TYPE "))
            .filter_map(|rest| rest.split(' ').next())
            .map(str::to_owned)
            .collect()
    }

    /// The `lvs_` metric names in `text`, as families (histograms' series
    /// by their family's name).
    fn names_in(text: &str) -> Vec<String> {
        let mut names = Vec::new();
        let mut rest = text;
        while let Some(at) = rest.find("lvs_") {
            let name: String = rest[at..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            rest = &rest[at + name.len()..];
            let family = ["_bucket", "_count", "_sum"]
                .iter()
                .find_map(|suffix| name.strip_suffix(suffix))
                .unwrap_or(&name);
            names.push(family.to_owned());
        }
        names
    }

    fn monitoring(file: &str) -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../docs/monitoring")
            .join(file)
    }

    /// The alert rules and the Grafana dashboard in docs/monitoring use
    /// only metrics the daemons serve; promtool accepts the rules, their
    /// tests pass (each alert fires on its series and not on the others),
    /// and every query of the dashboard is valid PromQL.
    #[test]
    fn the_documented_alerts_and_dashboard_use_served_metrics() {
        let served = families();
        let alerts = std::fs::read_to_string(monitoring("alerts.yml")).unwrap();
        let dashboard: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(monitoring("grafana-dashboard.json")).unwrap())
                .unwrap();
        let exprs: Vec<String> = dashboard["panels"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|panel| panel["targets"].as_array().unwrap())
            .map(|target| target["expr"].as_str().unwrap().to_owned())
            .collect();
        assert!(exprs.len() >= 10, "{exprs:?}");
        for name in names_in(&alerts)
            .into_iter()
            .chain(exprs.iter().flat_map(|e| names_in(e)))
        {
            assert!(served.contains(&name), "{name} is not served; served: {served:?}");
        }
        let name = "the_documented_alerts_and_dashboard_use_served_metrics";
        let Some(checked) = testkit::promtool(
            name,
            &["check", "rules", monitoring("alerts.yml").to_str().unwrap()],
            "",
        ) else {
            return;
        };
        assert!(
            checked.status.success(),
            "{}",
            String::from_utf8_lossy(&checked.stderr)
        );
        let tested = std::process::Command::new("promtool")
            .args(["test", "rules", "alerts-test.yml"])
            .current_dir(monitoring(""))
            .output()
            .unwrap();
        assert!(
            tested.status.success(),
            "{}{}",
            String::from_utf8_lossy(&tested.stdout),
            String::from_utf8_lossy(&tested.stderr)
        );
        // The dashboard's queries as recording rules, for promtool to parse,
        // with Grafana's variables given values.
        let mut rules = String::from("groups:\n  - name: dashboard\n    rules:\n");
        for (i, expr) in exprs.iter().enumerate() {
            let expr = expr.replace("$__rate_interval", "1m").replace("$instance", ".*");
            rules.push_str(&format!(
                "      - record: dashboard:query_{i}\n        expr: '{}'\n",
                expr.replace('\'', "''")
            ));
        }
        let dir = testkit::TempDir::new("dashboard-rules");
        let file = dir.file("dashboard.yml", &rules);
        let parsed = std::process::Command::new("promtool")
            .args(["check", "rules", file.to_str().unwrap()])
            .output()
            .unwrap();
        assert!(
            parsed.status.success(),
            "{}{}\n{rules}",
            String::from_utf8_lossy(&parsed.stdout),
            String::from_utf8_lossy(&parsed.stderr)
        );
    }

    #[test]
    fn only_get_and_head_of_metrics_answer() {
        use hyper::{Method, StatusCode};
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let text = || async { Some(Arc::new("lvs_x 1\n".to_owned())) };
        let status =
            |method: Method, path: &'static str| runtime.block_on(answer(&method, path, text)).status();
        assert_eq!(status(Method::GET, "/metrics"), StatusCode::OK);
        assert_eq!(status(Method::HEAD, "/metrics"), StatusCode::OK);
        assert_eq!(status(Method::POST, "/metrics"), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(status(Method::GET, "/"), StatusCode::NOT_FOUND);
        assert_eq!(status(Method::GET, "/metrics/x"), StatusCode::NOT_FOUND);
        let ok = runtime.block_on(answer(&Method::GET, "/metrics", text));
        assert_eq!(ok.headers()["content-type"], CONTENT_TYPE);
        let refused = runtime.block_on(answer(&Method::DELETE, "/metrics", text));
        assert_eq!(refused.headers()["allow"], "GET, HEAD");
        let none = runtime.block_on(answer(&Method::GET, "/metrics", || async { None }));
        assert_eq!(none.status(), StatusCode::SERVICE_UNAVAILABLE);
    }

    /// Prometheus's own checker reads both daemons' output without a
    /// complaint (its lint included).
    #[test]
    fn promtool_accepts_both_daemons_metrics() {
        let director = DirectorMetrics::default();
        director.reloaded(true);
        director.checked(
            &LastCheck::new(Instant::now(), Err(Failure::ConnectTimeout))
                .timed("tcp", Duration::from_secs(1)),
        );
        let pulse = PulseMetrics::default();
        pulse.transition(false, "partner_active");
        pulse.heard(PeerState::Running, Instant::now());
        for text in [
            director.render(status()),
            pulse.render(HeartbeatCounters::default(), Instant::now()),
        ] {
            let Some(checked) = testkit::promtool(
                "promtool_accepts_both_daemons_metrics",
                &["check", "metrics"],
                &text,
            ) else {
                return;
            };
            assert!(
                checked.status.success() && checked.stderr.is_empty() && checked.stdout.is_empty(),
                "promtool: {}{}\n{text}",
                String::from_utf8_lossy(&checked.stdout),
                String::from_utf8_lossy(&checked.stderr)
            );
        }
    }
}
