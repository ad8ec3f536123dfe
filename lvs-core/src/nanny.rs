//! The nanny state machine of one real server, sans-IO: check results and
//! load readings in, table changes and log lines out.
//!
//! Piranha's rules (nanny §4.3 and §4.5 of the reference):
//! - `reentry / interval` (integer division) consecutive successes bring a
//!   failed server back; the count starts full, so the first success adds it;
//! - a failure takes an active server out: removed, or with `quiesce_server`
//!   set to weight 0 so its connections go on; and empties the count;
//! - a server is added at `max(1, weight >> 5)` and its weight doubles up to
//!   the configured weight (slow start), one step per adjustment round;
//! - with a load monitor, a round moves the weight by `(W/2)·|load-1|^(1/3)`,
//!   up (capped at `scale·W`) when the load is under 1, down (floored at `W`)
//!   when over, and only when the move is at least `W/4`;
//! - an adjustment round is every `20 / interval` checks (every check when
//!   the interval exceeds 20 seconds).
//!
//! lvs-rs adds a failure count (`failures` consecutive failures before a
//! server is taken out; 1 is Piranha's) and forced states (nanny's
//! SIGUSR1/SIGUSR2, left with SIGHUP).

use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq)]
/// The settings of one server's machine.
pub struct NannyConfig {
    /// The configured weight `W`.
    pub weight: u32,
    /// Seconds between checks (Piranha: also the check timeout).
    pub interval: Duration,
    /// How long a failed server must pass checks before it is re-added.
    pub reentry: Duration,
    /// On failure set weight 0 instead of removing the server.
    pub quiesce: bool,
    /// Consecutive failures that take a server out (Piranha: 1).
    pub failures: u32,
    /// Cap of load-based weights, as a multiple of `W` (nanny `-S`, default 10).
    pub scale: u32,
    /// Whether a load monitor is configured (`load_monitor`).
    pub load_monitor: bool,
}

impl NannyConfig {
    /// Checks every `interval` at `weight`, re-adding after `reentry`, with
    /// Piranha's defaults for the rest: no quiesce, out on the first
    /// failure, load weights up to 10 × `weight`, no load monitor.
    pub fn piranha(weight: u32, interval: Duration, reentry: Duration) -> NannyConfig {
        NannyConfig {
            weight,
            interval,
            reentry,
            quiesce: false,
            failures: 1,
            scale: 10,
            load_monitor: false,
        }
    }

    /// Successes needed to re-add a server: `reentry / interval`, whole checks.
    pub fn reentry_checks(&self) -> u64 {
        let interval = self.interval.as_secs_f64();
        if interval <= 0.0 {
            return 0;
        }
        (self.reentry.as_secs_f64() / interval).floor() as u64
    }

    /// Checks between adjustment rounds.
    fn adjust_every(&self) -> Option<u64> {
        let interval = self.interval.as_secs_f64();
        if interval > 20.0 {
            return None; // every check
        }
        Some(((20.0 / interval).floor() as u64).max(1))
    }
}

/// Something that happened.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum NannyEvent {
    /// A health check finished.
    Checked {
        /// Whether it passed.
        up: bool,
    },
    /// A check passed and set the server's weight (keepalived's
    /// `misc_dynamic`, or a file check's number): from now on the weight
    /// the machine works towards, in place of the configured one.
    Weighed(u32),
    /// The load monitor's 1-minute load average, if it could be read.
    Load(Option<f64>),
    /// Forced down (SIGUSR1), forced up (SIGUSR2), back to checking (SIGHUP).
    ForceDown,
    /// Forced up (SIGUSR2).
    ForceUp,
    /// Back to the checks' verdict (SIGHUP).
    Unforce,
}

/// What the daemon must do.
#[derive(Clone, Debug, PartialEq)]
pub enum NannyAction {
    /// Add the server to the service with this weight.
    Add {
        /// The weight.
        weight: u32,
    },
    /// Change the weight of the server (0 quiesces it).
    SetWeight {
        /// The new weight.
        weight: u32,
    },
    /// Remove the server from the service.
    Remove,
    /// Run the load monitor and report with [`NannyEvent::Load`].
    QueryLoad,
    /// Log this line (Piranha's wording; `[ active ]`/`[inactive]` are what lvsd matches).
    Log(String),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Forced {
    No,
    Up,
    Down,
}

/// The state of one real server.
#[derive(Clone, Debug)]
pub struct Nanny {
    config: NannyConfig,
    target: String,
    active: bool,
    /// The server has an entry in the table (active, or quiesced at weight 0).
    in_table: bool,
    successes: u64,
    failures: u32,
    checks: u64,
    weight: u32,
    forced: Forced,
    /// The weight a check set, when one did ([`NannyEvent::Weighed`]).
    dynamic: Option<u32>,
}

impl Nanny {
    /// A server not (yet) in the table; `target` is `RIP:RPORT` for log lines.
    pub fn new(config: NannyConfig, target: impl Into<String>) -> Nanny {
        Nanny {
            target: target.into(),
            active: false,
            in_table: false,
            successes: config.reentry_checks(),
            failures: 0,
            checks: 0,
            weight: 0,
            forced: Forced::No,
            dynamic: None,
            config,
        }
    }

    /// A server the table already holds at `weight` (a restarted or
    /// reloaded director adopting the kernel's entry): at a weight above 0
    /// it is up, and slow start goes on from there; at 0 it is quiesced and
    /// must pass `reentry` to come back.
    pub fn adopted(config: NannyConfig, target: impl Into<String>, weight: u32) -> Nanny {
        let mut nanny = Nanny::new(config, target);
        nanny.in_table = true;
        nanny.weight = weight;
        nanny.active = weight > 0;
        if weight == 0 {
            nanny.successes = 0;
        }
        nanny
    }

    /// Whether the checks say up (or it is forced up).
    pub fn is_active(&self) -> bool {
        self.active
    }

    /// The weight in the table (0 when quiesced or out).
    pub fn weight(&self) -> u32 {
        self.weight
    }

    /// Whether the server is in the table as far as the machine knows.
    pub fn in_table(&self) -> bool {
        self.in_table
    }

    /// Handles `event`; the table changes and log lines to carry out, in order.
    pub fn handle(&mut self, event: NannyEvent) -> Vec<NannyAction> {
        let mut actions = Vec::new();
        match event {
            NannyEvent::Checked { .. } | NannyEvent::Weighed(_) if self.forced != Forced::No => {}
            NannyEvent::Weighed(weight) => {
                let was_full = self.active && self.weight >= self.wanted();
                self.dynamic = Some(weight);
                if self.active && (was_full || self.weight > weight) && self.weight != weight {
                    // A weight a check sets applies at once; only a server
                    // coming up starts slow.
                    self.weight = weight;
                    actions.push(NannyAction::SetWeight { weight });
                }
                return [actions, self.handle(NannyEvent::Checked { up: true })].concat();
            }
            NannyEvent::Checked { up: true } => {
                self.checks += 1;
                self.failures = 0;
                self.successes += 1;
                if !self.active && self.successes >= self.config.reentry_checks() {
                    self.bring_up(&mut actions);
                } else if self.active {
                    self.adjust(&mut actions);
                }
            }
            NannyEvent::Checked { up: false } => {
                self.checks += 1;
                self.successes = 0;
                self.failures += 1;
                if self.active && self.failures >= self.config.failures.max(1) {
                    actions.push(NannyAction::Log(format!(
                        "[inactive] shutting down {} due to connection failure",
                        self.target
                    )));
                    self.take_down(&mut actions);
                }
            }
            NannyEvent::Load(load) => {
                if self.active && self.weight >= self.config.weight {
                    self.apply_load(load, &mut actions);
                }
            }
            NannyEvent::ForceDown => {
                self.forced = Forced::Down;
                actions.push(NannyAction::Log("opaque glasses on".to_owned()));
                if self.active {
                    self.take_down(&mut actions);
                }
            }
            NannyEvent::ForceUp => {
                self.forced = Forced::Up;
                actions.push(NannyAction::Log("rose-colored glasses on".to_owned()));
                if !self.active {
                    self.bring_up(&mut actions);
                }
            }
            NannyEvent::Unforce => {
                if self.forced != Forced::No {
                    self.forced = Forced::No;
                    actions.push(NannyAction::Log("removing glasses".to_owned()));
                }
            }
        }
        actions
    }

    /// What stopping the nanny must undo: the server's entry.
    pub fn shutdown(&mut self) -> Vec<NannyAction> {
        let mut actions = Vec::new();
        if self.in_table {
            actions.push(NannyAction::Remove);
            self.in_table = false;
            self.active = false;
            self.weight = 0;
        }
        actions
    }

    fn bring_up(&mut self, actions: &mut Vec<NannyAction>) {
        actions.push(NannyAction::Log(format!(
            "[ active ] making {} available",
            self.target
        )));
        self.active = true;
        // Slow start begins at W/32 (at least 1; a weight-0 server stays at 0).
        let wanted = self.wanted();
        self.weight = if wanted == 0 { 0 } else { (wanted >> 5).max(1) };
        // A quiesced server still has its entry: only its weight changes.
        if self.in_table {
            actions.push(NannyAction::SetWeight { weight: self.weight });
        } else {
            actions.push(NannyAction::Add { weight: self.weight });
            self.in_table = true;
        }
    }

    /// The weight the machine works towards: the one a check set, else the configured one.
    fn wanted(&self) -> u32 {
        self.dynamic.unwrap_or(self.config.weight)
    }

    fn take_down(&mut self, actions: &mut Vec<NannyAction>) {
        self.active = false;
        self.successes = 0;
        self.weight = 0;
        if self.config.quiesce {
            actions.push(NannyAction::SetWeight { weight: 0 });
        } else {
            actions.push(NannyAction::Remove);
            self.in_table = false;
        }
    }

    /// An adjustment round, when one is due: slow start first, then load.
    fn adjust(&mut self, actions: &mut Vec<NannyAction>) {
        let due = match self.config.adjust_every() {
            None => true,
            Some(every) => self.successes.is_multiple_of(every),
        };
        if !due {
            return;
        }
        if self.weight < self.wanted() {
            self.weight = (self.weight.saturating_mul(2)).min(self.wanted());
            actions.push(NannyAction::SetWeight { weight: self.weight });
        } else if self.config.load_monitor && self.dynamic.is_none() {
            actions.push(NannyAction::QueryLoad);
        }
    }

    fn apply_load(&mut self, load: Option<f64>, actions: &mut Vec<NannyAction>) {
        if let Some(weight) = load_weight(self.weight, self.config.weight, self.config.scale, load) {
            self.weight = weight;
            actions.push(NannyAction::SetWeight { weight });
        }
    }
}

/// Piranha's load-based weight: the new weight, or `None` for no change.
pub fn load_weight(last: u32, configured: u32, scale: u32, load: Option<f64>) -> Option<u32> {
    let load = load.filter(|l| l.is_finite() && *l >= 0.0)?;
    let (w, last_f) = (f64::from(configured), f64::from(last));
    let new = if load < 1.0 {
        (last_f + (w / 2.0) * (1.0 - load).cbrt()).min(f64::from(scale) * w)
    } else if load > 1.0 {
        (last_f - (w / 2.0) * (load - 1.0).cbrt()).max(w)
    } else {
        return None;
    };
    let new = new as u32;
    (f64::from(new.abs_diff(last)) >= w / 4.0 && new != last).then_some(new)
}

/// The 1-minute load average from `uptime`, `rup` or `ruptime` output, as
/// nanny finds it: after `load`, a `:`, two characters on, up to `,` or a blank.
/// (nanny needs the `:`; ruptime's `load 0.07, ...` has none and also reads here.)
pub fn parse_load(output: &str) -> Option<f64> {
    let after = &output[output.find("load")? + 4..];
    let after = match after.find(':') {
        Some(colon) => after[colon + 1..].trim_start(),
        None => after.trim_start(),
    };
    let number: String = after
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    number.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> NannyConfig {
        NannyConfig::piranha(64, Duration::from_secs(10), Duration::from_secs(180))
    }

    fn up(n: &mut Nanny) -> Vec<NannyAction> {
        n.handle(NannyEvent::Checked { up: true })
    }

    fn down(n: &mut Nanny) -> Vec<NannyAction> {
        n.handle(NannyEvent::Checked { up: false })
    }

    fn weights(actions: &[NannyAction]) -> Vec<u32> {
        actions
            .iter()
            .filter_map(|a| match a {
                NannyAction::Add { weight } | NannyAction::SetWeight { weight } => Some(*weight),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_weight_a_check_sets_applies_at_once_to_a_full_server_and_is_the_slow_starts_goal() {
        let mut full = Nanny::adopted(config(), "10.0.0.1:80", 64);
        assert_eq!(weights(&full.handle(NannyEvent::Weighed(5))), [5]);
        assert_eq!(full.weight(), 5);
        assert!(
            full.handle(NannyEvent::Weighed(5)).is_empty(),
            "unchanged: nothing to do"
        );
        assert_eq!(
            weights(&full.handle(NannyEvent::Weighed(200))),
            [200],
            "above the configured weight too"
        );
        // A check that passes without a weight keeps the last one set.
        assert!(up(&mut full).is_empty());
        assert_eq!(full.weight(), 200);

        // A server coming up starts slow towards the weight set.
        let mut fresh = Nanny::new(config(), "10.0.0.2:80");
        assert_eq!(weights(&fresh.handle(NannyEvent::Weighed(128))), [4]);
        let mut seen = vec![fresh.weight()];
        for _ in 0..20 {
            seen.extend(weights(&up(&mut fresh)));
        }
        assert_eq!(seen, [4, 8, 16, 32, 64, 128]);

        // A lower weight mid slow start applies at once.
        let mut starting = Nanny::new(config(), "10.0.0.3:80");
        for _ in 0..3 {
            up(&mut starting);
        }
        assert!((2..64).contains(&starting.weight()), "{}", starting.weight());
        assert_eq!(weights(&starting.handle(NannyEvent::Weighed(1))), [1]);

        // Forced states ignore it, and a failure still takes the server out.
        let mut forced = Nanny::adopted(config(), "10.0.0.4:80", 64);
        forced.handle(NannyEvent::ForceUp);
        assert!(forced.handle(NannyEvent::Weighed(3)).is_empty());
        forced.handle(NannyEvent::Unforce);
        assert!(down(&mut forced).contains(&NannyAction::Remove));
    }

    #[test]
    fn an_adopted_server_carries_on_from_the_tables_weight() {
        let mut full = Nanny::adopted(config(), "10.0.0.1:80", 64);
        assert!(
            up(&mut full).is_empty(),
            "already up at full weight: nothing to do"
        );
        assert!(down(&mut full).contains(&NannyAction::Remove));

        let starting = Nanny::adopted(config(), "10.0.0.1:80", 8);
        assert!(starting.is_active() && starting.in_table());
        let mut quiesced = Nanny::adopted(config(), "10.0.0.1:80", 0);
        assert!(!quiesced.is_active() && quiesced.in_table());
        for _ in 1..config().reentry_checks() {
            assert!(
                !up(&mut quiesced)
                    .iter()
                    .any(|a| matches!(a, NannyAction::SetWeight { .. } | NannyAction::Add { .. })),
                "a quiesced server passes reentry first"
            );
        }
        assert!(up(&mut quiesced)
            .iter()
            .any(|a| matches!(a, NannyAction::SetWeight { .. } | NannyAction::Add { .. })));
    }

    #[test]
    fn the_first_success_adds_the_server_at_once() {
        let mut n = Nanny::new(config(), "10.0.0.1:80");
        assert_eq!(
            up(&mut n),
            vec![
                NannyAction::Log("[ active ] making 10.0.0.1:80 available".into()),
                NannyAction::Add { weight: 2 }
            ]
        );
        assert!(n.is_active());
    }

    #[test]
    fn a_failure_removes_and_reentry_needs_consecutive_successes() {
        let mut n = Nanny::new(config(), "10.0.0.1:80");
        up(&mut n);
        assert_eq!(
            down(&mut n),
            vec![
                NannyAction::Log("[inactive] shutting down 10.0.0.1:80 due to connection failure".into()),
                NannyAction::Remove
            ]
        );
        // 180 / 10 = 18 successes; a failure on the way starts the count again.
        for _ in 0..10 {
            assert!(up(&mut n).is_empty());
        }
        assert!(down(&mut n).is_empty());
        for _ in 0..17 {
            assert!(up(&mut n).is_empty());
        }
        assert_eq!(up(&mut n).last(), Some(&NannyAction::Add { weight: 2 }));
    }

    #[test]
    fn quiesce_keeps_the_entry_at_weight_zero() {
        let mut n = Nanny::new(
            NannyConfig {
                quiesce: true,
                reentry: Duration::from_secs(20),
                ..config()
            },
            "r:80",
        );
        up(&mut n);
        assert_eq!(down(&mut n).last(), Some(&NannyAction::SetWeight { weight: 0 }));
        assert!(n.in_table());
        up(&mut n);
        assert_eq!(
            up(&mut n).last(),
            Some(&NannyAction::SetWeight { weight: 2 }),
            "re-added by a weight change"
        );
        assert_eq!(n.shutdown(), vec![NannyAction::Remove]);
    }

    #[test]
    fn slow_start_doubles_each_round() {
        // interval 10 s: a round every 2 checks.
        let mut n = Nanny::new(config(), "r:80");
        up(&mut n);
        let mut weights = vec![n.weight()];
        for _ in 0..20 {
            for action in up(&mut n) {
                if let NannyAction::SetWeight { weight } = action {
                    weights.push(weight);
                }
            }
        }
        assert_eq!(weights, vec![2, 4, 8, 16, 32, 64]);
    }

    #[test]
    fn a_failure_count_before_down() {
        let mut n = Nanny::new(
            NannyConfig {
                failures: 3,
                ..config()
            },
            "r:80",
        );
        up(&mut n);
        assert!(down(&mut n).is_empty());
        assert!(down(&mut n).is_empty());
        assert_eq!(down(&mut n).last(), Some(&NannyAction::Remove));
    }

    #[test]
    fn forced_states() {
        let mut n = Nanny::new(config(), "r:80");
        assert_eq!(
            n.handle(NannyEvent::ForceUp).last(),
            Some(&NannyAction::Add { weight: 2 })
        );
        assert!(down(&mut n).is_empty(), "frozen while forced");
        assert_eq!(n.handle(NannyEvent::ForceDown).last(), Some(&NannyAction::Remove));
        assert!(up(&mut n).is_empty());
        assert_eq!(
            n.handle(NannyEvent::Unforce),
            vec![NannyAction::Log("removing glasses".into())]
        );
        // Checking again: like any server taken out, it needs reentry / interval successes.
        for _ in 0..17 {
            assert!(up(&mut n).is_empty());
        }
        assert_eq!(up(&mut n).last(), Some(&NannyAction::Add { weight: 2 }));
    }

    #[test]
    fn load_based_weights() {
        // Under load 1 the weight rises, over it falls, never below W nor above scale·W.
        assert_eq!(load_weight(64, 64, 10, Some(0.0)), Some(96));
        assert_eq!(load_weight(620, 64, 10, Some(0.0)), Some(640));
        assert_eq!(load_weight(100, 64, 10, Some(9.0)), Some(64));
        assert_eq!(load_weight(64, 64, 10, Some(1.0)), None);
        assert_eq!(load_weight(64, 64, 10, None), None);
        assert_eq!(
            load_weight(64, 64, 10, Some(0.99)),
            None,
            "a move under W/4 is not applied"
        );
        let mut n = Nanny::new(
            NannyConfig {
                weight: 4,
                load_monitor: true,
                ..config()
            },
            "r:80",
        );
        up(&mut n);
        for _ in 0..4 {
            up(&mut n);
        }
        assert_eq!(n.weight(), 4);
        let round: Vec<_> = (0..2).flat_map(|_| up(&mut n)).collect();
        assert!(round.contains(&NannyAction::QueryLoad));
        assert_eq!(
            n.handle(NannyEvent::Load(Some(0.0))),
            vec![NannyAction::SetWeight { weight: 6 }]
        );
    }

    #[test]
    fn load_from_uptime_rup_and_ruptime() {
        assert_eq!(
            parse_load(" 10:01:02 up 3 days,  2 users,  load average: 0.42, 0.30, 0.20"),
            Some(0.42)
        );
        assert_eq!(
            parse_load("web1   up  3 days,  load average: 1.50, 1.00, 0.50"),
            Some(1.5)
        );
        assert_eq!(
            parse_load("web1   up  3+02:00,     0 users,  load 0.07, 0.05, 0.01"),
            Some(0.07)
        );
        assert_eq!(parse_load("no numbers here"), None);
    }
}
