use super::*;
use proptest::prelude::*;

const KEEPALIVE: Duration = Duration::from_secs(1);
const DEADTIME: Duration = Duration::from_secs(3);
const STEP: Duration = Duration::from_millis(100);

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// A heartbeat on its way: when it arrives, from, to, its groups and its
/// sender's connection count.
type InFlight = (Instant, usize, usize, Vec<GroupAdvert>, Option<u32>);

/// Routers on a simulated network: heartbeats take one step, links can be
/// cut one way or both, datagrams can be lost, routers can crash and
/// start again.
struct Sim {
    configs: Vec<ElectionConfig>,
    routers: Vec<Option<Election>>,
    /// `links[from][to]`: whether datagrams get through.
    links: Vec<Vec<bool>>,
    in_flight: Vec<InFlight>,
    now: Instant,
    /// Every transition, as (time, router, group, to).
    transitions: Vec<(Instant, usize, GroupIndex, GroupState)>,
    loss: u32,
    rng: u64,
    /// Every opening of a readiness gate, as (time, router, by the bound).
    gates: Vec<(Instant, usize, bool)>,
}

impl Sim {
    fn new(configs: Vec<ElectionConfig>, seed: u64) -> Sim {
        let n = configs.len();
        let now = Instant::now();
        let mut sim = Sim {
            routers: (0..n).map(|_| None).collect(),
            configs,
            links: vec![vec![true; n]; n],
            in_flight: Vec::new(),
            now,
            transitions: Vec::new(),
            loss: 0,
            rng: seed | 1,
            gates: Vec::new(),
        };
        for router in 0..n {
            sim.start(router);
        }
        sim
    }

    fn random(&mut self) -> u32 {
        // xorshift64: the loss pattern follows the case's seed.
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        (self.rng % 100) as u32
    }

    fn start(&mut self, router: usize) {
        let (machine, actions) = Election::new(self.configs[router].clone(), self.now);
        self.routers[router] = Some(machine);
        self.perform(router, actions);
    }

    fn crash(&mut self, router: usize) {
        if let Some(machine) = self.routers[router].take() {
            for group in 0..machine.groups.len() {
                if machine.state(group) == Some(GroupState::Master) {
                    self.transitions
                        .push((self.now, router, group, GroupState::Backup));
                }
            }
        }
    }

    fn perform(&mut self, router: usize, actions: Vec<Action>) {
        for action in actions {
            match action {
                Action::SendHeartbeat(adverts) => {
                    let connections = self.routers[router].as_ref().and_then(Election::connections);
                    for to in 0..self.routers.len() {
                        if to != router && self.links[router][to] && self.random() >= self.loss {
                            self.in_flight
                                .push((self.now + STEP, router, to, adverts.clone(), connections));
                        }
                    }
                }
                Action::Transition { group, to, .. } => self.transitions.push((self.now, router, group, to)),
                Action::TableReady { bound_passed, .. } => self.gates.push((self.now, router, bound_passed)),
                Action::Announce(_) | Action::TrackChanged { .. } => {}
            }
        }
    }

    fn handle(&mut self, router: usize, event: Event) {
        let now = self.now;
        if let Some(machine) = self.routers[router].as_mut() {
            let actions = machine.handle(event, now);
            self.perform(router, actions);
        }
    }

    fn step(&mut self) {
        self.now += STEP;
        let now = self.now;
        let (due, later): (Vec<_>, Vec<_>) = self.in_flight.drain(..).partition(|(at, ..)| *at <= now);
        self.in_flight = later;
        for (_, from, to, adverts, connections) in due {
            self.handle(
                to,
                Event::Heard {
                    from: RouterId(from as u8),
                    adverts,
                    connections,
                },
            );
        }
        for router in 0..self.routers.len() {
            let Some(machine) = self.routers[router].as_mut() else {
                continue;
            };
            if machine.next_timeout().is_some_and(|at| at <= now) {
                let actions = machine.on_timeout(now);
                self.perform(router, actions);
            }
        }
    }

    fn run(&mut self, time: Duration) {
        let steps = time.as_millis() / STEP.as_millis();
        for _ in 0..steps {
            self.step();
        }
    }

    fn masters(&self, group: GroupIndex) -> Vec<usize> {
        (0..self.routers.len())
            .filter(|&r| {
                self.routers[r]
                    .as_ref()
                    .is_some_and(|m| m.state(group) == Some(GroupState::Master))
            })
            .collect()
    }

    /// Routers that can hold a group now (alive, a priority, no fault).
    fn eligible(&self, group: GroupIndex) -> Vec<usize> {
        (0..self.routers.len())
            .filter(|&r| self.routers[r].as_ref().is_some_and(|m| m.priority(group) > 0))
            .collect()
    }

    fn heal(&mut self) {
        for row in &mut self.links {
            row.fill(true);
        }
        self.loss = 0;
    }
}

fn pair(group_priorities: &[[u8; 2]]) -> Vec<ElectionConfig> {
    (0..2)
        .map(|me| {
            group_priorities.iter().enumerate().fold(
                ElectionConfig::new(RouterId(me), 2, KEEPALIVE, DEADTIME),
                |config, (g, p)| config.group(GroupConfig::new(format!("g{g}"), p.to_vec())),
            )
        })
        .collect()
}

#[test]
fn each_router_of_a_pair_holds_the_group_it_prefers() {
    let mut sim = Sim::new(pair(&[[200, 100], [100, 200]]), 7);
    sim.run(secs(10));
    assert_eq!(sim.masters(0), vec![0]);
    assert_eq!(sim.masters(1), vec![1]);
    // Both heard each other at once: nobody waited for a deadtime, and
    // nothing changed hands twice.
    assert_eq!(sim.transitions.len(), 2, "{:?}", sim.transitions);
}

#[test]
fn a_dead_router_s_groups_move_after_deadtime_and_come_back_with_preemption() {
    let mut sim = Sim::new(pair(&[[200, 100], [100, 200]]), 7);
    sim.run(secs(5));
    let died = sim.now;
    sim.crash(0);
    sim.run(secs(5));
    assert_eq!(sim.masters(0), vec![1]);
    let moved = sim
        .transitions
        .iter()
        .find(|(_, r, g, to)| (*r, *g, *to) == (1, 0, GroupState::Master));
    let moved_at = moved.expect("the backup takes group 0").0;
    // A deadtime after the last heartbeat heard, sent at most a keepalive before the crash.
    assert!(moved_at - died + KEEPALIVE + STEP >= DEADTIME && moved_at - died <= DEADTIME + STEP);
    sim.start(0);
    sim.run(secs(5));
    assert_eq!(sim.masters(0), vec![0], "preemption gives the group back");
    assert_eq!(sim.masters(1), vec![1]);
}

#[test]
fn without_preemption_the_holder_keeps_the_group_when_a_higher_router_returns() {
    let mut configs = pair(&[[200, 100]]);
    for config in &mut configs {
        config.groups[0].preempt = false;
    }
    let mut sim = Sim::new(configs, 3);
    sim.run(secs(5));
    assert_eq!(sim.masters(0), vec![0]);
    sim.crash(0);
    sim.run(secs(5));
    assert_eq!(sim.masters(0), vec![1]);
    sim.start(0);
    sim.run(secs(20));
    assert_eq!(sim.masters(0), vec![1]);
}

#[test]
fn preemption_waits_for_its_delay_and_for_the_table_to_catch_up() {
    let mut configs = pair(&[[200, 100]]);
    for config in &mut configs {
        config.groups[0].preempt_delay = secs(4);
        config.catch_up_bound = Some(secs(30));
    }
    let mut sim = Sim::new(configs, 3);
    // The gate is shut at the start, but with no holder the group is taken at once.
    sim.run(secs(5));
    assert_eq!(sim.masters(0), vec![0]);
    sim.crash(0);
    sim.run(secs(5));
    assert_eq!(sim.masters(0), vec![1]);
    // The holder's table holds 500 connections; the returning router's
    // fills as the sync daemon brings them.
    sim.handle(1, Event::Table { connections: 500 });
    sim.start(0);
    sim.run(secs(10));
    assert_eq!(
        sim.masters(0),
        vec![1],
        "the returning router has not counted its table"
    );
    sim.handle(0, Event::Table { connections: 0 });
    sim.run(secs(2));
    sim.handle(0, Event::Table { connections: 499 });
    sim.run(secs(2));
    assert_eq!(sim.masters(0), vec![1], "one connection behind");
    assert!(!sim.gates.iter().any(|g| g.1 == 0));
    sim.handle(0, Event::Table { connections: 500 });
    sim.run(secs(1));
    assert_eq!(sim.masters(0), vec![0], "the delay had passed, the gate opened");
    let gates = |sim: &Sim| {
        sim.gates
            .iter()
            .filter(|g| g.1 == 0)
            .map(|g| g.2)
            .collect::<Vec<_>>()
    };
    assert_eq!(gates(&sim), vec![false], "a full table opened it");
    // A table that never fills: the bound opens the gate.
    sim.crash(0);
    sim.run(secs(5));
    let back = sim.now;
    sim.start(0);
    sim.handle(0, Event::Table { connections: 10 });
    sim.run(secs(29));
    assert_eq!(sim.masters(0), vec![1]);
    sim.run(secs(2));
    assert_eq!(sim.masters(0), vec![0]);
    assert!(sim.now - back >= secs(30));
    assert_eq!(gates(&sim), vec![false, true], "the bound opened it");
}

#[test]
fn the_gate_reports_how_far_behind_the_table_was() {
    let config = |me| {
        ElectionConfig::new(RouterId(me), 2, KEEPALIVE, DEADTIME)
            .group(GroupConfig::new("g0", vec![200, 100]).preempt(true, Duration::ZERO))
            .catch_up_bound(Some(secs(30)))
    };
    let t0 = Instant::now();
    let (mut machine, _) = Election::new(config(0), t0);
    assert!(!machine.is_ready());
    let holder = |connections: Option<u32>| Event::Heard {
        from: RouterId(1),
        adverts: vec![GroupAdvert {
            group: GroupKey::of("g0"),
            state: GroupState::Master,
            priority: 100,
        }],
        connections,
    };
    let _ = machine.handle(Event::Table { connections: 3 }, t0);
    // A holder that has not counted its table compares with nothing.
    let actions = machine.handle(holder(None), t0 + STEP);
    assert!(
        !actions.iter().any(|a| matches!(a, Action::TableReady { .. })),
        "{actions:?}"
    );
    let actions = machine.handle(holder(Some(40)), t0 + STEP * 2);
    assert!(
        !actions.iter().any(|a| matches!(a, Action::TableReady { .. })),
        "{actions:?}"
    );
    assert_eq!(machine.peer_connections(RouterId(1)), Some(40));
    let _ = machine.handle(holder(Some(40)), t0 + secs(1));
    let _ = machine.handle(holder(Some(40)), t0 + secs(28));
    let actions = machine.on_timeout(t0 + secs(30));
    assert!(
        actions.contains(&Action::TableReady {
            connections: Some(3),
            holders: Some(40),
            waited: secs(30),
            bound_passed: true,
        }),
        "{actions:?}"
    );
    assert!(machine.is_ready());
    assert_eq!(machine.state(0), Some(GroupState::Master));
}

#[test]
fn a_tracked_fault_gives_its_groups_away_and_a_weight_lowers_the_priority() {
    let configs: Vec<_> = pair(&[[200, 100], [200, 100]])
        .into_iter()
        .map(|config| {
            config
                .track(
                    TrackConfig::new("haproxy", TrackEffect::Fault)
                        .counts(2, 3)
                        .groups(vec![0]),
                )
                .track(TrackConfig::new("gateway", TrackEffect::Weight(-150)).groups(vec![1]))
        })
        .collect();
    let mut sim = Sim::new(configs, 5);
    sim.run(secs(5));
    assert_eq!((sim.masters(0), sim.masters(1)), (vec![0], vec![0]));
    // Two failures are not the three of `fall`.
    sim.handle(
        0,
        Event::Track {
            track: 0,
            passed: false,
        },
    );
    sim.handle(
        0,
        Event::Track {
            track: 0,
            passed: false,
        },
    );
    sim.run(secs(1));
    assert_eq!(sim.masters(0), vec![0]);
    sim.handle(
        0,
        Event::Track {
            track: 0,
            passed: false,
        },
    );
    sim.run(secs(1));
    assert_eq!(
        (sim.masters(0), sim.masters(1)),
        (vec![1], vec![0]),
        "only group 0 moves"
    );
    assert_eq!(
        sim.routers[0].as_ref().and_then(|m| m.state(0)),
        Some(GroupState::Fault)
    );
    sim.handle(
        0,
        Event::Track {
            track: 0,
            passed: true,
        },
    );
    sim.handle(
        0,
        Event::Track {
            track: 0,
            passed: true,
        },
    );
    sim.run(secs(1));
    assert_eq!(sim.masters(0), vec![0]);
    // 200 - 150 = 50 ranks below 100.
    sim.handle(
        0,
        Event::Track {
            track: 1,
            passed: false,
        },
    );
    sim.run(secs(1));
    assert_eq!((sim.masters(0), sim.masters(1)), (vec![0], vec![1]));
}

#[test]
fn three_routers_elect_the_highest_alive() {
    let configs: Vec<_> = (0..3)
        .map(|me| {
            ElectionConfig::new(RouterId(me), 3, KEEPALIVE, DEADTIME)
                .group(GroupConfig::new("web", vec![50, 150, 100]))
        })
        .collect();
    let mut sim = Sim::new(configs, 11);
    sim.run(secs(5));
    assert_eq!(sim.masters(0), vec![1]);
    sim.crash(1);
    sim.run(secs(5));
    assert_eq!(sim.masters(0), vec![2]);
    sim.crash(2);
    sim.run(secs(5));
    assert_eq!(sim.masters(0), vec![0]);
}

#[test]
fn a_graceful_stop_hands_over_at_once() {
    let mut sim = Sim::new(pair(&[[200, 100]]), 5);
    sim.run(secs(5));
    let stopped = sim.now;
    sim.handle(0, Event::Stop);
    sim.run(secs(1));
    assert_eq!(sim.masters(0), vec![1]);
    let (at, ..) = sim
        .transitions
        .iter()
        .rfind(|(_, r, ..)| *r == 1)
        .copied()
        .expect("taken");
    assert!(at - stopped <= STEP * 2);
}

#[test]
fn after_a_partition_the_remaining_holder_announces_once_more() {
    let mut sim = Sim::new(pair(&[[200, 100]]), 9);
    sim.run(secs(5));
    sim.links[0][1] = false;
    sim.links[1][0] = false;
    sim.run(secs(5));
    assert_eq!(sim.masters(0), vec![0, 1]);
    sim.heal();
    // The holder's machine, fed the other's claim, asks for one announcement.
    let claim = Event::Heard {
        from: RouterId(1),
        adverts: sim.routers[1].as_ref().expect("running").adverts(),
        connections: None,
    };
    let now = sim.now;
    let machine = sim.routers[0].as_mut().expect("running");
    let first = machine.handle(claim.clone(), now);
    let announced = first.iter().filter(|a| **a == Action::Announce(0)).count();
    assert_eq!(announced, 1, "{first:?}");
    let again = machine.handle(claim, now);
    assert!(!again.contains(&Action::Announce(0)), "once: {again:?}");
    sim.run(secs(2));
    assert_eq!(sim.masters(0), vec![0]);
}

#[test]
fn a_router_heard_again_after_it_yielded_unseen_makes_the_holder_announce() {
    let mut sim = Sim::new(pair(&[[200, 100]]), 9);
    sim.run(secs(5));
    let now = sim.now;
    let machine = sim.routers[0].as_mut().expect("running");
    // The backup, silent past a deadtime, is heard again as a backup: it
    // may have held the group while unheard.
    let back = Event::Heard {
        from: RouterId(1),
        adverts: vec![GroupAdvert {
            group: GroupKey::of("g0"),
            state: GroupState::Backup,
            priority: 100,
        }],
        connections: None,
    };
    let later = now + DEADTIME * 2;
    let _ = machine.on_timeout(later);
    assert_eq!(machine.peer_heard(RouterId(1)), None, "taken for dead");
    assert!(machine.handle(back.clone(), later).contains(&Action::Announce(0)));
    assert!(
        !machine.handle(back, later + STEP).contains(&Action::Announce(0)),
        "once"
    );
}

#[test]
fn a_holder_announces_again_and_then_periodically() {
    let config = ElectionConfig::new(RouterId(0), 1, KEEPALIVE, DEADTIME)
        .group(GroupConfig::new("web", vec![100]))
        .announcements(Some(secs(5)), Some(secs(60)));
    let t0 = Instant::now();
    let (mut machine, actions) = Election::new(config, t0);
    assert!(actions.iter().any(|a| matches!(
        a,
        Action::Transition {
            to: GroupState::Master,
            ..
        }
    )));
    let mut announced = Vec::new();
    let mut now = t0;
    while now < t0 + secs(200) {
        now = machine.next_timeout().expect("running");
        for action in machine.on_timeout(now) {
            if action == Action::Announce(0) {
                announced.push(now - t0);
            }
        }
    }
    assert_eq!(announced[..4], [secs(5), secs(65), secs(125), secs(185)]);
}

#[derive(Clone, Debug)]
enum Chaos {
    Cut {
        from: usize,
        to: usize,
    },
    Mend {
        from: usize,
        to: usize,
    },
    Loss(u32),
    Crash(usize),
    Start(usize),
    Track {
        router: usize,
        track: usize,
        passed: bool,
    },
    Wait(u64),
}

fn chaos(routers: usize) -> impl Strategy<Value = Chaos> {
    prop_oneof![
        (0..routers, 0..routers).prop_map(|(from, to)| Chaos::Cut { from, to }),
        (0..routers, 0..routers).prop_map(|(from, to)| Chaos::Mend { from, to }),
        (0u32..60).prop_map(Chaos::Loss),
        (0..routers).prop_map(Chaos::Crash),
        (0..routers).prop_map(Chaos::Start),
        (0..routers, 0usize..2, any::<bool>()).prop_map(|(router, track, passed)| Chaos::Track {
            router,
            track,
            passed
        }),
        (1u64..80).prop_map(Chaos::Wait),
    ]
}

#[derive(Clone, Debug)]
struct Setup {
    routers: usize,
    /// `priorities[group][router]`.
    priorities: Vec<Vec<u8>>,
    preempt: Vec<bool>,
    preempt_delay: Vec<u64>,
}

fn setup() -> impl Strategy<Value = Setup> {
    (2usize..=4, 1usize..=3).prop_flat_map(|(routers, groups)| {
        (
            proptest::collection::vec(
                proptest::collection::vec(prop_oneof![1 => Just(0u8), 4 => 1u8..=200], routers),
                groups,
            ),
            proptest::collection::vec(any::<bool>(), groups),
            proptest::collection::vec(0u64..5, groups),
        )
            .prop_map(move |(priorities, preempt, preempt_delay)| Setup {
                routers,
                priorities,
                preempt,
                preempt_delay,
            })
    })
}

fn configs(setup: &Setup) -> Vec<ElectionConfig> {
    (0..setup.routers)
        .map(|me| {
            let mut config =
                ElectionConfig::new(RouterId(me as u8), setup.routers as u8, KEEPALIVE, DEADTIME);
            for (g, priorities) in setup.priorities.iter().enumerate() {
                config = config.group(
                    GroupConfig::new(format!("group {g}"), priorities.clone())
                        .preempt(setup.preempt[g], secs(setup.preempt_delay[g])),
                );
            }
            // A fault on group 0 and a weight on every group.
            config
                .track(TrackConfig::new("fault", TrackEffect::Fault).groups(vec![0]))
                .track(TrackConfig::new("weight", TrackEffect::Weight(-120)))
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Whatever the partitions, losses, crashes and tracked results did,
    /// once the network heals and every router runs, each group has one
    /// holder when any router can hold it, none when none can, and it
    /// stays put.
    #[test]
    fn never_two_holders_of_a_group_once_the_network_heals(
        setup in setup(),
        events in proptest::collection::vec(chaos(4), 0..40),
        seed in any::<u64>(),
    ) {
        let mut sim = Sim::new(configs(&setup), seed);
        let n = setup.routers;
        for event in events {
            match event {
                Chaos::Cut { from, to } => sim.links[from % n][to % n] = false,
                Chaos::Mend { from, to } => sim.links[from % n][to % n] = true,
                Chaos::Loss(percent) => sim.loss = percent,
                Chaos::Crash(router) => sim.crash(router % n),
                Chaos::Start(router) => {
                    if sim.routers[router % n].is_none() {
                        sim.start(router % n);
                    }
                }
                Chaos::Track { router, track, passed } => sim.handle(router % n, Event::Track { track, passed }),
                Chaos::Wait(steps) => {
                    for _ in 0..steps {
                        sim.step();
                    }
                }
            }
        }
        sim.heal();
        for router in 0..n {
            if sim.routers[router].is_none() {
                sim.start(router);
            }
        }
        // Every router hears every other within a keepalive, a dead
        // holder is forgotten within a deadtime, and a preemption waits
        // its delay (at most 4 s here).
        sim.run(DEADTIME + KEEPALIVE * 2 + secs(5));
        let settled = sim.transitions.len();
        for group in 0..setup.priorities.len() {
            let masters = sim.masters(group);
            prop_assert!(masters.len() <= 1, "group {group} has holders {masters:?}");
            if !sim.eligible(group).is_empty() {
                prop_assert_eq!(masters.len(), 1, "group {} has no holder", group);
            }
        }
        sim.run(secs(20));
        prop_assert_eq!(sim.transitions.len(), settled, "{:?}", &sim.transitions[settled..]);
    }

    /// A tracked fault on one router moves exactly the groups it applies
    /// to and that router held; every other group keeps its holder.
    #[test]
    fn a_tracked_fault_moves_exactly_that_router_s_groups(setup in setup(), faulty in 0usize..4, seed in any::<u64>()) {
        let mut sim = Sim::new(configs(&setup), seed);
        let faulty = faulty % setup.routers;
        sim.run(secs(10));
        let groups = setup.priorities.len();
        let before: Vec<_> = (0..groups).map(|g| sim.masters(g)).collect();
        let settled = sim.transitions.len();
        sim.handle(faulty, Event::Track { track: 0, passed: false });
        sim.run(secs(10));
        for (g, held) in before.iter().enumerate() {
            let now = sim.masters(g);
            if g == 0 && held == &vec![faulty] {
                prop_assert!(!now.contains(&faulty));
                prop_assert_eq!(now.len(), usize::from(!sim.eligible(0).is_empty()));
            } else {
                prop_assert_eq!(&now, held, "group {} moved", g);
            }
        }
        // Nothing else changed hands: only the faulty router's group 0, and
        // its taker.
        for &(_, router, group, to) in &sim.transitions[settled..] {
            prop_assert!(group == 0, "group {group} changed on router {router} to {to}");
        }
    }
}
