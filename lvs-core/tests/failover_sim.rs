//! Two routers running the failover state machine, exchanging heartbeats
//! over a simulated network with delay and loss, in simulated time; the
//! properties of the issue checked over generated timings and networks.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)] // a test: a failure is the report

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use lvs_core::failover::{Action, Event, Failover, FailoverConfig, PeerState, Role};
use proptest::prelude::*;

/// A direction of the link: messages in flight, in send order.
#[derive(Default)]
struct Wire {
    in_flight: VecDeque<(Instant, PeerState)>,
    last_was_lost: bool,
}

/// The link's behaviour: delays drawn from `delays`, a loss where `losses`
/// says so (never two in a row in one direction: a working link).
#[derive(Clone, Debug)]
struct Link {
    delays: Vec<Duration>,
    losses: Vec<bool>,
    next: usize,
    cut: bool,
}

impl Link {
    fn carry(&mut self, wire: &mut Wire, now: Instant, state: PeerState) {
        let i = self.next % self.delays.len();
        self.next += 1;
        if self.cut {
            return;
        }
        let lost = self.losses[i] && !wire.last_was_lost;
        wire.last_was_lost = lost;
        if !lost {
            // Delivery never overtakes an earlier message (one path, FIFO).
            let at = (now + self.delays[i]).max(wire.in_flight.back().map_or(now, |&(t, _)| t));
            wire.in_flight.push_back((at, state));
        }
    }
}

struct Router {
    machine: Option<Failover>,
    /// Spans during which the router was active.
    active_spans: Vec<(Instant, Option<Instant>)>,
}

impl Router {
    fn start(config: FailoverConfig, now: Instant) -> (Router, Vec<Action>) {
        let (machine, actions) = Failover::new(config, now);
        let mut router = Router {
            machine: Some(machine),
            active_spans: Vec::new(),
        };
        router.note(now);
        (router, actions)
    }

    fn active(&self) -> bool {
        self.machine.as_ref().is_some_and(Failover::is_active)
    }

    /// Records a change of the active state at `now`.
    fn note(&mut self, now: Instant) {
        let open = self.active_spans.last().is_some_and(|(_, end)| end.is_none());
        match (self.active(), open) {
            (true, false) => self.active_spans.push((now, None)),
            (false, true) => {
                if let Some(span) = self.active_spans.last_mut() {
                    span.1 = Some(now);
                }
            }
            _ => {}
        }
    }

    fn crash(&mut self, now: Instant) {
        self.machine = None;
        self.note(now);
    }
}

struct Sim {
    t0: Instant,
    now: Instant,
    routers: [Router; 2],
    wires: [Wire; 2],
    link: Link,
}

impl Sim {
    fn new(configs: [FailoverConfig; 2], link: Link) -> Sim {
        let t0 = Instant::now();
        let (a, a_actions) = Router::start(configs[0], t0);
        let (b, b_actions) = Router::start(configs[1], t0);
        let mut sim = Sim {
            t0,
            now: t0,
            routers: [a, b],
            wires: [Wire::default(), Wire::default()],
            link,
        };
        sim.perform(0, a_actions);
        sim.perform(1, b_actions);
        sim
    }

    fn at(&self, offset: Duration) -> Instant {
        self.t0 + offset
    }

    fn perform(&mut self, from: usize, actions: Vec<Action>) {
        for action in actions {
            if let Action::SendHeartbeat(state) = action {
                let now = self.now;
                self.link.carry(&mut self.wires[from], now, state);
            }
        }
        let now = self.now;
        self.routers[from].note(now);
    }

    /// Runs events in time order until `until`.
    fn run_until(&mut self, until: Instant) {
        loop {
            let timers = self
                .routers
                .iter()
                .filter_map(|r| r.machine.as_ref().and_then(Failover::next_timeout));
            let deliveries = self
                .wires
                .iter()
                .filter_map(|w| w.in_flight.front().map(|&(t, _)| t));
            let Some(next) = timers.chain(deliveries).min() else {
                break;
            };
            if next > until {
                break;
            }
            self.now = next;
            for i in 0..2 {
                while self.wires[i].in_flight.front().is_some_and(|&(t, _)| t <= next) {
                    let Some((_, state)) = self.wires[i].in_flight.pop_front() else {
                        break;
                    };
                    let receiver = 1 - i;
                    if let Some(machine) = self.routers[receiver].machine.as_mut() {
                        let actions = machine.handle(Event::Heartbeat(state), next);
                        self.perform(receiver, actions);
                    }
                }
            }
            for i in 0..2 {
                if let Some(machine) = self.routers[i].machine.as_mut() {
                    if machine.next_timeout().is_some_and(|t| t <= next) {
                        let actions = machine.on_timeout(next);
                        self.perform(i, actions);
                    }
                }
            }
        }
        self.now = until;
    }

    /// The longest time both routers were active together, from `since` on.
    fn longest_overlap(&self, since: Instant) -> Duration {
        let end = |e: Option<Instant>| e.unwrap_or(self.now);
        let mut longest = Duration::ZERO;
        for &(a_start, a_end) in &self.routers[0].active_spans {
            for &(b_start, b_end) in &self.routers[1].active_spans {
                let start = a_start.max(b_start).max(since);
                let stop = end(a_end).min(end(b_end));
                if stop > start {
                    longest = longest.max(stop - start);
                }
            }
        }
        longest
    }

    /// When `router` last became active, if it is active.
    fn active_since(&self, router: usize) -> Option<Instant> {
        match self.routers[router].active_spans.last() {
            Some(&(start, None)) => Some(start),
            _ => None,
        }
    }
}

/// Timings where Piranha's rules can hold on a link that loses a heartbeat
/// now and then: a deadtime of at least three keepalives (one lost heartbeat
/// leaves a gap of two), delays of at most a quarter keepalive.
fn timings() -> impl Strategy<Value = (Duration, Duration, Duration)> {
    (20u64..2000, 3u64..6).prop_flat_map(|(keepalive_ms, dead_factor)| {
        (
            Just(Duration::from_millis(keepalive_ms)),
            Just(Duration::from_millis(keepalive_ms * dead_factor)),
            (0..=keepalive_ms / 4).prop_map(Duration::from_millis),
        )
    })
}

fn link(max_delay: Duration) -> impl Strategy<Value = Link> {
    let max = max_delay.as_millis() as u64;
    (
        prop::collection::vec(0..=max, 32),
        prop::collection::vec(prop::bool::weighted(0.2), 32),
    )
        .prop_map(|(delays, losses)| Link {
            delays: delays.into_iter().map(Duration::from_millis).collect(),
            losses,
            next: 0,
            cut: false,
        })
}

fn configs(keepalive: Duration, deadtime: Duration) -> [FailoverConfig; 2] {
    let base = FailoverConfig {
        role: Role::Master,
        keepalive,
        deadtime,
        backup_active: true,
        force_active: false,
    };
    [
        base,
        FailoverConfig {
            role: Role::Backup,
            ..base
        },
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    /// With a working link, both routers are never active together for longer
    /// than one deadtime plus one keepalive, one of them ends up active, and
    /// the master wins ties: once active, it never stands down for the backup.
    /// (Which one ends up active depends on which STOPPED is heard first.)
    #[test]
    fn dual_activity_is_short_and_the_master_wins_ties((keepalive, deadtime, max_delay) in timings(), link in link(Duration::from_millis(500))) {
        let mut link = link;
        let scale = max_delay.as_millis() as u64;
        for d in &mut link.delays {
            *d = Duration::from_millis(d.as_millis() as u64 % (scale + 1));
        }
        let mut sim = Sim::new(configs(keepalive, deadtime), link);
        sim.run_until(sim.at(keepalive * 40));
        let overlap = sim.longest_overlap(sim.t0);
        prop_assert!(overlap <= deadtime + keepalive, "both active for {overlap:?} (deadtime {deadtime:?}, keepalive {keepalive:?})");
        prop_assert!(sim.routers[0].active() != sim.routers[1].active(), "exactly one router ends up active");
        let master = &sim.routers[0].active_spans;
        prop_assert!(master.len() <= 1 && master.iter().all(|(_, end)| end.is_none()), "the master stood down: {master:?}");
    }

    /// When the active router fails, the other is active within one deadtime
    /// plus one keepalive. When the failed router returns it does not take
    /// over (no fail-back), unless it is the master and forced active; either
    /// way one router ends up active.
    #[test]
    fn failover_is_bounded_and_there_is_no_fail_back((keepalive, deadtime, max_delay) in timings(), link in link(Duration::from_millis(500)), force in any::<bool>()) {
        let mut link = link;
        let scale = max_delay.as_millis() as u64;
        for d in &mut link.delays {
            *d = Duration::from_millis(d.as_millis() as u64 % (scale + 1));
        }
        let configs = configs(keepalive, deadtime);
        let mut sim = Sim::new(configs, link);
        sim.run_until(sim.at(keepalive * 20));
        let failed = if sim.routers[0].active() { 0 } else { 1 };
        let survivor = 1 - failed;
        prop_assert!(sim.routers[failed].active());

        let crash = sim.now;
        sim.routers[failed].crash(crash);
        sim.wires[failed].in_flight.clear();
        sim.run_until(crash + deadtime + keepalive);
        let took_over = sim.active_since(survivor);
        prop_assert!(took_over.is_some_and(|t| t - crash <= deadtime + keepalive), "the survivor took over {:?} after the crash", took_over.map(|t| t - crash));

        let back = sim.now;
        let config = FailoverConfig { force_active: force, ..configs[failed] };
        let (router, actions) = Router::start(config, back);
        sim.routers[failed] = router;
        sim.perform(failed, actions);
        sim.run_until(back + keepalive * 20);
        let expected_active = if force && failed == 0 { 0 } else { survivor };
        prop_assert!(sim.routers[expected_active].active() && !sim.routers[1 - expected_active].active(),
            "router {expected_active} should be the active one (forced: {force}, failed: {failed})");
        prop_assert!(sim.longest_overlap(back) <= deadtime + keepalive);
        if !force {
            prop_assert!(sim.routers[failed].active_spans.is_empty(), "no fail-back");
        }
    }

    /// A graceful stop hands over without waiting for deadtime: the partner
    /// is active one delay later.
    #[test]
    fn a_graceful_stop_hands_over_at_once((keepalive, deadtime, max_delay) in timings(), link in link(Duration::from_millis(500))) {
        let mut link = link;
        for (d, lost) in link.delays.iter_mut().zip(link.losses.iter_mut()) {
            *d = Duration::from_millis(d.as_millis() as u64 % (max_delay.as_millis() as u64 + 1));
            *lost = false;
        }
        let mut sim = Sim::new(configs(keepalive, deadtime), link);
        sim.run_until(sim.at(keepalive * 20));
        let stopping = if sim.routers[0].active() { 0 } else { 1 };
        let stop = sim.now;
        let actions = sim.routers[stopping].machine.as_mut().map(|m| m.handle(Event::Stop, stop)).unwrap_or_default();
        sim.perform(stopping, actions);
        sim.routers[stopping].crash(stop);
        sim.run_until(stop + max_delay);
        let other = 1 - stopping;
        prop_assert!(sim.active_since(other).is_some_and(|t| t - stop <= max_delay), "the partner took over at {:?}", sim.active_since(other).map(|t| t - stop));
    }
}

#[test]
fn a_cut_link_makes_both_active_and_healing_leaves_the_master() {
    let keepalive = Duration::from_millis(100);
    let deadtime = Duration::from_millis(300);
    let link = Link {
        delays: vec![Duration::from_millis(5)],
        losses: vec![false],
        next: 0,
        cut: false,
    };
    let mut sim = Sim::new(configs(keepalive, deadtime), link);
    sim.run_until(sim.at(Duration::from_secs(2)));
    assert!(sim.routers[0].active() && !sim.routers[1].active());
    sim.link.cut = true;
    let cut = sim.now;
    sim.run_until(cut + Duration::from_secs(1));
    assert!(
        sim.routers[0].active() && sim.routers[1].active(),
        "a partition: both active"
    );
    sim.link.cut = false;
    let healed = sim.now;
    sim.run_until(healed + Duration::from_secs(1));
    assert!(
        sim.routers[0].active() && !sim.routers[1].active(),
        "after healing the master wins"
    );
    assert!(sim.longest_overlap(healed) <= deadtime + keepalive);
}

#[test]
fn a_deadtime_under_two_keepalives_does_not_survive_one_lost_heartbeat() {
    // Why lvs-cf warns when deadtime is not longer than two keepalives.
    let keepalive = Duration::from_millis(100);
    let deadtime = Duration::from_millis(190);
    // Every other heartbeat is lost.
    let link = Link {
        delays: vec![Duration::from_millis(1)],
        losses: vec![true, false],
        next: 0,
        cut: false,
    };
    let mut sim = Sim::new(configs(keepalive, deadtime), link);
    sim.run_until(sim.at(Duration::from_secs(3)));
    let spans = sim.routers[0].active_spans.len() + sim.routers[1].active_spans.len();
    assert!(
        spans > 2,
        "lost heartbeats make the partner look dead again and again: {spans} active spans"
    );
}
