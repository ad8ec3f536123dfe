//! What the director remembers of the last hour, for the web tool's
//! charts and timelines: each real server's connections and bytes per
//! second at a few seconds' resolution, and each server's health and hold
//! changes with their reasons.
//!
//! [`History`] is pure: the caller hands it a [`Status`] every
//! [`HistoryOptions::step`] (the kernel's counters are in it) with the time
//! on both clocks, and the director's [`Event`]s as they happen, and asks
//! for views. Rates come from the differences of the kernel's counters
//! between two samples over the monotonic time between them, so a server's
//! first sample, one the kernel's table does not hold (taken out, or the
//! table could not be read: its counters say 0 then), the one after it, and
//! one after its counters went back, have none: a server's return is never
//! a spike of its whole lifetime. Points are counted in samples: a wall
//! clock that is set back or forward moves no point, it only changes the
//! time printed on the newest.
//!
//! A point is two `bfloat16`s (about three significant digits, any
//! magnitude), four bytes; an hour at 5 s for 10,000 servers is 27.5 MiB.
//! Services' series are their servers' sums, made when asked for.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::time::{Duration, SystemTime};

use half::bf16;
use serde::{Deserialize, Serialize};

use crate::events::Event;
use crate::status::Status;

/// How much a [`History`] keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct HistoryOptions {
    /// Time between samples.
    pub step: Duration,
    /// How far back the series go.
    pub span: Duration,
    /// The most changes kept per server (the newest), within `span`.
    pub changes_per_server: usize,
}

impl Default for HistoryOptions {
    /// 5 s samples over an hour; 64 changes per server.
    fn default() -> HistoryOptions {
        HistoryOptions {
            step: Duration::from_secs(5),
            span: Duration::from_secs(3600),
            changes_per_server: 64,
        }
    }
}

impl HistoryOptions {
    /// Samples every `step`.
    pub fn step(mut self, step: Duration) -> HistoryOptions {
        self.step = step.max(Duration::from_millis(100));
        self
    }

    /// Keeps `span` of history.
    pub fn span(mut self, span: Duration) -> HistoryOptions {
        self.span = span;
        self
    }

    /// Keeps at most `count` changes per server.
    pub fn changes_per_server(mut self, count: usize) -> HistoryOptions {
        self.changes_per_server = count;
        self
    }

    fn points(&self) -> usize {
        let points = self.span.as_secs_f64() / self.step.as_secs_f64();
        (points.ceil() as usize).clamp(1, 1 << 20)
    }
}

/// A point as a view reads it: connections and bytes per second, `None`
/// where there is no rate.
type Point = (Option<f32>, Option<f32>);

/// A server, as the status names it: its service (`TCP 192.0.2.1:80`), address and port.
type SeriesKey = (String, IpAddr, u16);

/// One server's points and the counters of its last sample.
#[derive(Debug)]
struct Series {
    /// Connections and bytes per second, by sample number modulo the length.
    points: Box<[(bf16, bf16)]>,
    /// Its counters at the last sample (connections, bytes in and out),
    /// and when that sample was taken.
    last: Option<(u64, u64, std::time::Instant)>,
}

/// A health or hold change of a server.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Change {
    /// When, in seconds since the epoch.
    pub time: f64,
    /// `server-health` or `server-hold`.
    pub event: String,
    /// The state before (`up`, `down`, `draining`...).
    pub old_state: Option<String>,
    /// The state after.
    pub new_state: Option<String>,
    /// Why, when known (the failed check, the operator's command).
    pub reason: Option<String>,
}

/// The last hour of a director; see the module's documentation.
#[derive(Debug)]
pub struct History {
    options: HistoryOptions,
    length: usize,
    /// Samples taken so far.
    samples: u64,
    /// The wall-clock time of the newest sample.
    newest: Option<SystemTime>,
    series: HashMap<SeriesKey, Series>,
    /// Changes by service name and server name.
    changes: HashMap<(String, String), VecDeque<Change>>,
}

/// A missing point: before a server's first rate, or in a gap.
fn missing() -> (bf16, bf16) {
    (bf16::NAN, bf16::NAN)
}

impl History {
    /// An empty history.
    pub fn new(options: HistoryOptions) -> History {
        History {
            length: options.points(),
            options,
            samples: 0,
            newest: None,
            series: HashMap::new(),
            changes: HashMap::new(),
        }
    }

    /// The options it was made with.
    pub fn options(&self) -> HistoryOptions {
        self.options
    }

    /// Takes a sample of `status`, made at `at` (the wall clock, shown) and
    /// `now` (the monotonic clock, for the rates), one step after the one
    /// before. Servers the status no longer has are forgotten.
    pub fn sample(&mut self, status: &Status, at: SystemTime, now: std::time::Instant) {
        let slot = (self.samples % self.length as u64) as usize;
        let mut seen = std::collections::HashSet::with_capacity(self.series.len());
        for service in &status.services {
            for server in &service.servers {
                let key = (service.service.clone(), server.address, server.port);
                let length = self.length;
                let series = self.series.entry(key.clone()).or_insert_with(|| Series {
                    points: vec![missing(); length].into_boxed_slice(),
                    last: None,
                });
                // Out of the kernel's table, its counters say nothing.
                let reading = server.weight.map(|_| {
                    (
                        server.connections,
                        server.in_bytes.saturating_add(server.out_bytes),
                        now,
                    )
                });
                series.points[slot] = match (series.last, reading) {
                    (Some((connections, bytes, then)), Some((c, b, _)))
                        if c >= connections && b >= bytes && now > then =>
                    {
                        let seconds = now.duration_since(then).as_secs_f32();
                        (
                            bf16::from_f32((c - connections) as f32 / seconds),
                            bf16::from_f32((b - bytes) as f32 / seconds),
                        )
                    }
                    _ => missing(),
                };
                series.last = reading;
                seen.insert(key);
            }
        }
        self.series.retain(|key, _| seen.contains(key));
        self.samples += 1;
        self.newest = Some(at);
        let oldest = at.checked_sub(self.options.span);
        for changes in self.changes.values_mut() {
            while changes
                .front()
                .is_some_and(|c| oldest.is_some_and(|oldest| seconds_of(oldest) > c.time))
            {
                changes.pop_front();
            }
        }
        self.changes.retain(|_, changes| !changes.is_empty());
    }

    /// Notes a director's event: a server's health or hold change goes on
    /// its timeline; other events are not kept.
    pub fn note(&mut self, event: &Event) {
        if event.event != "server-health" && event.event != "server-hold" {
            return;
        }
        let (Some(service), Some(server)) = (&event.service, &event.server) else {
            return;
        };
        let changes = self.changes.entry((service.clone(), server.clone())).or_default();
        changes.push_back(Change {
            time: event.time,
            event: event.event.clone(),
            old_state: event.old_state.clone(),
            new_state: event.new_state.clone(),
            reason: event.reason.clone(),
        });
        while changes.len() > self.options.changes_per_server {
            changes.pop_front();
        }
    }

    /// A server's points, oldest first (`None` where there is no rate).
    fn points_of(&self, key: &SeriesKey) -> Vec<Point> {
        let Some(series) = self.series.get(key) else {
            return Vec::new();
        };
        let kept = self.samples.min(self.length as u64) as usize;
        (0..kept)
            .map(|age| {
                let sample = self.samples - kept as u64 + age as u64;
                let (connections, bytes) = series.points[(sample % self.length as u64) as usize];
                let value = |v: bf16| (!v.is_nan()).then(|| v.to_f32());
                (value(connections), value(bytes))
            })
            .collect()
    }

    /// What it holds of the services of `status` (the director's current
    /// one) that `scope` names, with their servers' series and changes
    /// where it says so.
    pub fn view(&self, status: &Status, scope: Scope<'_>) -> HistoryView {
        let services = status
            .services
            .iter()
            .enumerate()
            .filter_map(|(index, service)| match scope {
                Scope::Every { with_servers } => Some((service, index < with_servers)),
                Scope::Service(name) => (name == service.name).then_some((service, true)),
            })
            .map(|(service, with_servers)| {
                let server_points: Vec<Vec<Point>> = service
                    .servers
                    .iter()
                    .map(|server| self.points_of(&(service.service.clone(), server.address, server.port)))
                    .collect();
                let length = server_points.iter().map(Vec::len).max().unwrap_or(0);
                let sum = |pick: fn(&Point) -> Option<f32>| -> Vec<Option<f32>> {
                    (0..length)
                        .map(|i| {
                            server_points
                                .iter()
                                .filter_map(|points| points.get(i).and_then(pick))
                                .fold(None, |total: Option<f32>, v| Some(total.unwrap_or(0.0) + v))
                        })
                        .collect()
                };
                let servers = service
                    .servers
                    .iter()
                    .zip(&server_points)
                    .filter(|_| with_servers)
                    .map(|(server, points)| ServerHistory {
                        name: server.name.clone(),
                        address: server.endpoint(),
                        health: server.health.as_str().to_owned(),
                        connections_per_second: points.iter().map(|p| p.0).collect(),
                        bytes_per_second: points.iter().map(|p| p.1).collect(),
                        changes: self
                            .changes
                            .get(&(service.name.clone(), server.name.clone()))
                            .map(|c| c.iter().cloned().collect())
                            .unwrap_or_default(),
                    })
                    .collect();
                ServiceHistory {
                    name: service.name.clone(),
                    service: service.service.clone(),
                    connections_per_second: sum(|p| p.0),
                    bytes_per_second: sum(|p| p.1),
                    servers,
                }
            })
            .collect();
        HistoryView {
            step_seconds: self.options.step.as_secs_f64(),
            span_seconds: self.options.span.as_secs_f64(),
            newest: self.newest.map(seconds_of),
            services,
        }
    }
}

fn seconds_of(at: SystemTime) -> f64 {
    at.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// Which services a view holds, and of which of them their servers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Scope<'a> {
    /// Every service, the first `with_servers` of them with their servers.
    Every {
        /// How many services, from the first, come with their servers.
        with_servers: usize,
    },
    /// The service of this name, with its servers.
    Service(&'a str),
}

/// What the web tool draws: a service's series and its servers' (the
/// status socket's `history` answer, as JSON).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct HistoryView {
    /// Seconds between two points.
    pub step_seconds: f64,
    /// Seconds the series and changes go back.
    #[serde(default)]
    pub span_seconds: f64,
    /// When the newest point was sampled, in seconds since the epoch.
    pub newest: Option<f64>,
    /// The services, in lvs.cf's order.
    pub services: Vec<ServiceHistory>,
}

/// A service's last hour: its servers' sums, oldest point first.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ServiceHistory {
    /// The block's name.
    pub name: String,
    /// The service as ipvsadm writes it.
    pub service: String,
    /// Connections scheduled per second (`None`: no server had a rate).
    pub connections_per_second: Vec<Option<f32>>,
    /// Bytes in and out per second.
    pub bytes_per_second: Vec<Option<f32>>,
    /// Its servers, when the view is of this service alone.
    pub servers: Vec<ServerHistory>,
}

/// A server's last hour.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ServerHistory {
    /// The block's name.
    pub name: String,
    /// `address:port`.
    pub address: String,
    /// Its health now.
    pub health: String,
    /// Connections scheduled per second, oldest first.
    pub connections_per_second: Vec<Option<f32>>,
    /// Bytes in and out per second.
    pub bytes_per_second: Vec<Option<f32>>,
    /// Its health and hold changes, oldest first.
    pub changes: Vec<Change>,
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::time::Instant;

    use lvs_ipvs::{Destination, ForwardMethod, Service, Stats};

    use super::*;
    use crate::director::Plan;
    use crate::status::StatusInputs;

    /// `web` with servers a and b, whose kernel counters are `counts`
    /// (connections and bytes in, per server).
    fn status(counts: [(u64, u64); 2]) -> Status {
        let config = lvs_cf::parse(
            "service = lvs\nprimary = 10.0.0.1\nvirtual web {\n active = 1\n address = 192.0.2.1 eth0:1\n port = 80\n \
             server a {\n  address = 10.0.0.2\n  active = 1\n }\n server b {\n  address = 10.0.0.3\n  active = 1\n }\n}\n",
        )
        .expect("valid")
        .config;
        let plan = Plan::new(&config, &crate::director::literal_addresses).expect("plan");
        let planned = &plan.services[0];
        let dests = planned
            .servers
            .iter()
            .zip(counts)
            .map(|(server, (conns, in_bytes))| {
                let mut dest =
                    Destination::at((server.at.addr, server.at.port).into(), ForwardMethod::Masquerade);
                dest.stats = Some(Stats {
                    conns,
                    in_bytes,
                    ..Stats::default()
                });
                ((server.at.addr, server.at.port), dest)
            })
            .collect();
        let kernel = HashMap::from([(
            planned.service.key,
            (Service::new(planned.service.key, "wlc"), dests),
        )]);
        Status::build(StatusInputs {
            plan: &plan,
            health: &HashMap::new(),
            holds: &crate::admin::Holds::new(),
            quorums: &crate::quorum::Quorums::new(),
            kernel: &kernel,
            checks: &HashMap::new(),
            pid: 1,
            now: SystemTime::now(),
            monotonic_now: Instant::now(),
        })
    }

    #[test]
    fn rates_come_from_counter_differences_and_services_sum_their_servers() {
        let options = HistoryOptions::default()
            .step(Duration::from_secs(5))
            .span(Duration::from_secs(20));
        let mut history = History::new(options);
        let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let base = Instant::now();
        let at = |i: u64| start + Duration::from_secs(5 * i);
        let mono = |i: u64| base + Duration::from_secs(5 * i);
        history.sample(&status([(0, 0), (0, 0)]), at(0), mono(0));
        history.sample(&status([(50, 5_000), (10, 0)]), at(1), mono(1));
        // b's counters went back (its service was re-made): no rate.
        history.sample(&status([(100, 10_000), (5, 0)]), at(2), mono(2));
        let totals = history.view(&status([(100, 10_000), (5, 0)]), Scope::Every { with_servers: 0 });
        assert!(
            totals.services[0].servers.is_empty(),
            "every service's totals alone"
        );
        assert_eq!(
            totals.services[0].connections_per_second,
            [None, Some(12.0), Some(10.0)]
        );
        let view = history.view(&status([(100, 10_000), (5, 0)]), Scope::Service("web"));
        assert_eq!(view.step_seconds, 5.0);
        assert_eq!(view.span_seconds, 20.0);
        assert_eq!(view.newest, Some(1_000_010.0));
        let web = &view.services[0];
        let (a, b) = (&web.servers[0], &web.servers[1]);
        assert_eq!(a.connections_per_second, [None, Some(10.0), Some(10.0)]);
        assert_eq!(a.bytes_per_second, [None, Some(1000.0), Some(1000.0)]);
        assert_eq!(b.connections_per_second, [None, Some(2.0), None]);
        assert_eq!(
            web.connections_per_second,
            [None, Some(12.0), Some(10.0)],
            "the servers' sum"
        );
        // An hour of 20 s keeps 4 points: the oldest go.
        for i in 3..10 {
            history.sample(&status([(100 + 25 * (i - 2), 10_000), (5, 0)]), at(i), mono(i));
        }
        let a = &history
            .view(&status([(0, 0), (0, 0)]), Scope::Service("web"))
            .services[0]
            .servers[0];
        assert_eq!(a.connections_per_second, [Some(5.0); 4]);
        assert!(history
            .view(&status([(0, 0), (0, 0)]), Scope::Service("other"))
            .services
            .is_empty());
    }

    #[test]
    fn health_changes_are_kept_within_the_span_and_the_cap() {
        let options = HistoryOptions::default()
            .step(Duration::from_secs(5))
            .span(Duration::from_secs(60))
            .changes_per_server(3);
        let mut history = History::new(options);
        let change = |time: f64, new: &str| {
            Event::new("server-health", time, "changed")
                .server("web", "a", "10.0.0.2:80".parse().expect("address"))
                .states("up", new)
                .reason("connect timed out")
        };
        for (i, state) in ["down", "up", "down", "up"].iter().enumerate() {
            history.note(&change(1000.0 + i as f64, state));
        }
        history.note(&Event::new("reload", 1005.0, "reloaded"));
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1010);
        let mono = Instant::now();
        history.sample(&status([(0, 0), (0, 0)]), now, mono);
        let view = history.view(&status([(0, 0), (0, 0)]), Scope::Service("web"));
        let changes = &view.services[0].servers[0].changes;
        assert_eq!(changes.len(), 3, "the newest three");
        assert_eq!(changes[0].new_state.as_deref(), Some("up"));
        assert_eq!(changes[2].reason.as_deref(), Some("connect timed out"));
        assert!(view.services[0].servers[1].changes.is_empty());
        // A minute later they are past the span.
        history.sample(
            &status([(0, 0), (0, 0)]),
            now + Duration::from_secs(61),
            mono + Duration::from_secs(61),
        );
        assert!(history
            .view(&status([(0, 0), (0, 0)]), Scope::Service("web"))
            .services[0]
            .servers[0]
            .changes
            .is_empty());
    }

    /// A server the table does not hold (a failed read, or taken out) has
    /// no rate, nor does the sample after it: its return is not a spike.
    #[test]
    fn a_server_out_of_the_table_has_no_rate_and_its_return_no_spike() {
        let mut history = History::new(HistoryOptions::default());
        let (start, base) = (SystemTime::UNIX_EPOCH, Instant::now());
        let at = |i: u64| {
            (
                start + Duration::from_secs(5 * i),
                base + Duration::from_secs(5 * i),
            )
        };
        let mut out = status([(0, 0), (0, 0)]);
        out.services[0].servers[0].weight = None;
        for (i, sampled) in [
            status([(1000, 0), (0, 0)]),
            out,
            status([(1000, 0), (0, 0)]),
            status([(1050, 0), (0, 0)]),
        ]
        .iter()
        .enumerate()
        {
            let (wall, mono) = at(i as u64);
            history.sample(sampled, wall, mono);
        }
        let a = &history
            .view(&status([(0, 0), (0, 0)]), Scope::Service("web"))
            .services[0]
            .servers[0];
        assert_eq!(a.connections_per_second, [None, None, None, Some(10.0)]);
    }

    /// A point is four bytes: an hour at 5 s for 10,000 servers stays
    /// near 29 MB (the benchmark measures a director holding it).
    #[test]
    fn a_point_is_four_bytes() {
        assert_eq!(std::mem::size_of::<(bf16, bf16)>(), 4);
        assert_eq!(HistoryOptions::default().points(), 720);
    }
}
