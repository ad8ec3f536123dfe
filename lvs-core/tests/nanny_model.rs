//! The nanny state machine against a small reference model of Piranha's
//! `run()` loop, over generated configurations and check results, in
//! simulated time (one step per check interval).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)] // a test: a failure is the report

use std::time::Duration;

use lvs_core::nanny::{Nanny, NannyAction, NannyConfig, NannyEvent};
use proptest::prelude::*;

/// Piranha's loop, in its own terms: `countThresh`, `currCount`, `lastWeight`.
struct Piranha {
    count_thresh: u64,
    curr_count: u64,
    active: bool,
    in_table: bool,
    last_weight: u32,
    weight: u32,
    quiesce: bool,
    interval: u64,
}

#[derive(Debug, PartialEq)]
enum Table {
    Add(u32),
    Edit(u32),
    Delete,
}

impl Piranha {
    fn new(weight: u32, interval: u64, reentry: u64, quiesce: bool) -> Piranha {
        let count_thresh = reentry / interval;
        Piranha {
            count_thresh,
            curr_count: count_thresh,
            active: false,
            in_table: false,
            last_weight: 0,
            weight,
            quiesce,
            interval,
        }
    }

    fn check(&mut self, available: bool) -> Vec<Table> {
        let mut out = Vec::new();
        if available {
            self.curr_count += 1;
            if !self.active && self.curr_count >= self.count_thresh {
                self.active = true;
                self.last_weight = if self.weight == 0 {
                    0
                } else {
                    std::cmp::max(1, self.weight >> 5)
                };
                out.push(if self.in_table {
                    Table::Edit(self.last_weight)
                } else {
                    Table::Add(self.last_weight)
                });
                self.in_table = true;
            } else if self.active
                && (self.interval > 20 || self.curr_count.is_multiple_of(20 / self.interval))
                && self.last_weight < self.weight
            {
                self.last_weight = std::cmp::min(2 * self.last_weight, self.weight);
                out.push(Table::Edit(self.last_weight));
            }
        } else {
            self.curr_count = 0;
            if self.active {
                self.active = false;
                if self.quiesce {
                    out.push(Table::Edit(0));
                } else {
                    out.push(Table::Delete);
                    self.in_table = false;
                }
            }
        }
        out
    }
}

fn table_actions(actions: Vec<NannyAction>) -> Vec<Table> {
    actions
        .into_iter()
        .filter_map(|a| match a {
            NannyAction::Add { weight } => Some(Table::Add(weight)),
            NannyAction::SetWeight { weight } => Some(Table::Edit(weight)),
            NannyAction::Remove => Some(Table::Delete),
            NannyAction::QueryLoad | NannyAction::Log(_) => None,
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2048, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn the_machine_follows_piranhas_rules(
        weight in 0u32..200,
        interval in 1u64..40,
        reentry in 0u64..400,
        quiesce in any::<bool>(),
        checks in prop::collection::vec(prop::bool::weighted(0.7), 0..200),
    ) {
        let config = NannyConfig {
            weight,
            interval: Duration::from_secs(interval),
            reentry: Duration::from_secs(reentry),
            quiesce,
            failures: 1,
            scale: 10,
            load_monitor: false,
        };
        let mut machine = Nanny::new(config, "10.0.0.1:80");
        let mut model = Piranha::new(weight, interval, reentry, quiesce);
        for (step, &up) in checks.iter().enumerate() {
            let got = table_actions(machine.handle(NannyEvent::Checked { up }));
            let want = model.check(up);
            prop_assert_eq!(&got, &want, "check {} ({})", step, if up { "up" } else { "down" });
            prop_assert_eq!(machine.is_active(), model.active);
            prop_assert_eq!(machine.in_table(), model.in_table);
        }
    }

    /// With a failure count of N, a server goes only after N failures in a
    /// row, and a success in between resets the count.
    #[test]
    fn a_failure_count(failures in 1u32..5, checks in prop::collection::vec(any::<bool>(), 0..100)) {
        let config = NannyConfig { weight: 1, interval: Duration::from_secs(5), reentry: Duration::ZERO, quiesce: false, failures, scale: 10, load_monitor: false };
        let mut machine = Nanny::new(config, "r:80");
        let mut run_of_failures = 0;
        for &up in &checks {
            let was_active = machine.is_active();
            let actions = table_actions(machine.handle(NannyEvent::Checked { up }));
            run_of_failures = if up { 0 } else { run_of_failures + 1 };
            if was_active && !up {
                prop_assert_eq!(actions.contains(&Table::Delete), run_of_failures >= failures);
            }
        }
    }
}
