//! The failover state machine of pulse, sans-IO: events and the current
//! time in, actions out. The daemon owns the sockets, timers and processes.
//!
//! The rules are Piranha 0.8.6's (pulse §2.4 of the reference):
//! - every `keepalive` each router sends RUNNING when active, STOPPED when not;
//! - `deadtime` without a valid heartbeat from the partner activates a
//!   router that is not active (and not held back by a link or child failure);
//! - STOPPED from the partner activates a router that is not active;
//! - RUNNING from the partner makes an active backup stand down (after one
//!   last heartbeat, so the master announces its VIPs again) and makes an
//!   active master announce its VIPs again: the master wins ties;
//! - there is no automatic fail-back: a primary that returns while the backup
//!   is active only hears RUNNING, so it stays passive, unless forced active.
//!
//! Timers take any `Duration`, so `keepalive = 0.1` and `deadtime = 0.3` work.

use std::fmt;
use std::time::{Duration, Instant};

/// Which router this is: the one owning `primary`, or the backup.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// The router holding `primary`.
    Master,
    /// The other router.
    Backup,
}

/// What a heartbeat says about its sender.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PeerState {
    /// The sender is active (LVS `RUNNING`).
    Running,
    /// The sender is not active (LVS `STOPPED`).
    Stopped,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
/// The machine's settings, from lvs.cf and pulse's options.
pub struct FailoverConfig {
    /// Which router this is.
    pub role: Role,
    /// Time between heartbeats.
    pub keepalive: Duration,
    /// Silence after which the partner is dead.
    pub deadtime: Duration,
    /// `backup_active = 0`: no heartbeats at all; the master activates after
    /// `deadtime`, and a backup has nothing to do and exits.
    pub backup_active: bool,
    /// `--forceactive`: activate at start.
    pub force_active: bool,
}

/// Something that happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// A valid heartbeat from the partner.
    Heartbeat(PeerState),
    /// The lvs daemon exited (Piranha's CHILDFAIL).
    ChildExited,
    /// A monitored link went down (Piranha's LINKFAIL) or came back.
    LinkDown,
    /// The monitored links are up again.
    LinkUp,
    /// A graceful stop (SIGTERM): stand down and tell the partner at once.
    Stop,
}

/// Why the router activates, with Piranha's log line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ActivateReason {
    /// No heartbeat for `deadtime`.
    PartnerDead,
    /// The partner is a backup that says it is inactive.
    BackupInactive,
    /// The partner is the primary and says it is inactive.
    PrimaryInactive,
    /// `--forceactive`.
    Forced,
}

impl ActivateReason {
    /// Every reason.
    pub const ALL: [ActivateReason; 4] = [
        ActivateReason::PartnerDead,
        ActivateReason::BackupInactive,
        ActivateReason::PrimaryInactive,
        ActivateReason::Forced,
    ];

    /// The reason in one word, as the metrics label it.
    pub fn word(self) -> &'static str {
        match self {
            ActivateReason::PartnerDead => "partner_dead",
            ActivateReason::BackupInactive => "backup_inactive",
            ActivateReason::PrimaryInactive => "primary_inactive",
            ActivateReason::Forced => "forced",
        }
    }
}

impl fmt::Display for ActivateReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ActivateReason::PartnerDead => "partner dead: activating lvs",
            ActivateReason::BackupInactive => "backup inactive: activating lvs",
            ActivateReason::PrimaryInactive => "primary inactive: activating lvs",
            ActivateReason::Forced => "Forced active on startup: activating lvs",
        })
    }
}

/// Why the router stands down, with Piranha's log line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeactivateReason {
    /// The partner is active and wins.
    PartnerActive,
    /// A monitored link failed.
    LinkFailure,
    /// The lvs daemon exited.
    ChildFailure,
    /// pulse is stopping.
    Stopping,
}

impl DeactivateReason {
    /// Every reason.
    pub const ALL: [DeactivateReason; 4] = [
        DeactivateReason::PartnerActive,
        DeactivateReason::LinkFailure,
        DeactivateReason::ChildFailure,
        DeactivateReason::Stopping,
    ];

    /// The reason in one word, as the metrics label it.
    pub fn word(self) -> &'static str {
        match self {
            DeactivateReason::PartnerActive => "partner_active",
            DeactivateReason::LinkFailure => "link_failure",
            DeactivateReason::ChildFailure => "child_failure",
            DeactivateReason::Stopping => "stopping",
        }
    }
}

impl fmt::Display for DeactivateReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DeactivateReason::PartnerActive => "partner active: deactivating LVS",
            DeactivateReason::LinkFailure => "Local NIC link failure: Pulse disabled",
            DeactivateReason::ChildFailure => "lvs daemon exited: deactivating LVS",
            DeactivateReason::Stopping => "shutting down: deactivating LVS",
        })
    }
}

/// What the daemon must do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Send a heartbeat saying this.
    SendHeartbeat(PeerState),
    /// Bring the VIPs up, start the lvs daemon, announce (active_cmd first).
    Activate(ActivateReason),
    /// Stop the lvs daemon, take the VIPs down (inactive_cmd first).
    Deactivate(DeactivateReason),
    /// The master heard RUNNING while active: run active_cmd and announce the
    /// VIPs again (Piranha: "partner active: resending arps").
    ResendAnnouncements,
    /// A link failure was noted or cleared (log only).
    LinkFailed,
    /// Log that the links are back (Piranha's words).
    LinksRestored,
    /// Exit with this status (a backup with `backup_active = 0`, or after a stop).
    Exit(i32),
}

/// The state machine.
#[derive(Clone, Debug)]
pub struct Failover {
    config: FailoverConfig,
    active: bool,
    link_failed: bool,
    child_failed: bool,
    stopped: bool,
    send_at: Instant,
    need_at: Instant,
}

impl Failover {
    /// Starts the machine at `now`, with the actions of pulse's start-up.
    pub fn new(config: FailoverConfig, now: Instant) -> (Failover, Vec<Action>) {
        let mut machine = Failover {
            config,
            active: false,
            link_failed: false,
            child_failed: false,
            stopped: false,
            send_at: now,
            need_at: now + config.deadtime,
        };
        let mut actions = Vec::new();
        if config.role == Role::Backup && !config.backup_active {
            // "We are backup node and backup is marked inactive -- exiting pulse"
            machine.stopped = true;
            actions.push(Action::Exit(255));
            return (machine, actions);
        }
        if config.force_active {
            machine.activate(ActivateReason::Forced, &mut actions);
        }
        // The first heartbeat goes out before anything is heard, so that it
        // tells the partner the state this router starts in. Otherwise a
        // backup that hears the master's STOPPED first activates and its
        // first word is RUNNING: the master never hears a STOPPED and a
        // simultaneous start ends with the backup active.
        if config.backup_active {
            actions.push(Action::SendHeartbeat(machine.own_state()));
            machine.send_at = now + config.keepalive;
        }
        (machine, actions)
    }

    /// Whether this router is active (holds the VIPs).
    pub fn is_active(&self) -> bool {
        self.active
    }

    /// Whether the machine has stopped (after `Stop` or an exit).
    pub fn is_stopped(&self) -> bool {
        self.stopped
    }

    /// Its settings.
    pub fn config(&self) -> &FailoverConfig {
        &self.config
    }

    /// New timer settings (pulse re-reading lvs.cf). The partner gets a
    /// fresh `deadtime` from `now`, so a shorter one cannot declare it dead
    /// at once; the next heartbeat goes out no later than one new keepalive.
    pub fn set_timers(&mut self, keepalive: Duration, deadtime: Duration, now: Instant) {
        self.config.keepalive = keepalive;
        self.config.deadtime = deadtime;
        self.send_at = self.send_at.min(now + keepalive);
        self.need_at = now + deadtime;
    }

    /// When [`Failover::on_timeout`] must next be called.
    pub fn next_timeout(&self) -> Option<Instant> {
        if self.stopped {
            return None;
        }
        Some(if self.config.backup_active {
            self.send_at.min(self.need_at)
        } else {
            self.need_at
        })
    }

    /// Runs the timers that are due at `now`.
    pub fn on_timeout(&mut self, now: Instant) -> Vec<Action> {
        let mut actions = Vec::new();
        if self.stopped {
            return actions;
        }
        if self.config.backup_active && now >= self.send_at {
            actions.push(Action::SendHeartbeat(self.own_state()));
            self.send_at = now + self.config.keepalive;
        }
        if now >= self.need_at {
            if !self.active && !self.link_failed && !self.child_failed {
                self.activate(ActivateReason::PartnerDead, &mut actions);
            }
            self.need_at = now + self.config.deadtime;
        }
        actions
    }

    /// Handles an event at `now`.
    pub fn handle(&mut self, event: Event, now: Instant) -> Vec<Action> {
        let mut actions = Vec::new();
        if self.stopped {
            return actions;
        }
        match event {
            Event::Heartbeat(_) if !self.config.backup_active => {}
            Event::Heartbeat(PeerState::Running) => {
                self.need_at = now + self.config.deadtime;
                self.child_failed = false;
                if self.active {
                    match self.config.role {
                        Role::Backup => {
                            // One last RUNNING makes the master announce its VIPs again.
                            actions.push(Action::SendHeartbeat(PeerState::Running));
                            self.deactivate(DeactivateReason::PartnerActive, &mut actions);
                        }
                        Role::Master => actions.push(Action::ResendAnnouncements),
                    }
                }
            }
            Event::Heartbeat(PeerState::Stopped) => {
                self.need_at = now + self.config.deadtime;
                if !self.active && !self.link_failed && !self.child_failed {
                    let reason = match self.config.role {
                        Role::Master => ActivateReason::BackupInactive,
                        Role::Backup => ActivateReason::PrimaryInactive,
                    };
                    self.activate(reason, &mut actions);
                }
            }
            Event::ChildExited => {
                if self.active {
                    self.deactivate(DeactivateReason::ChildFailure, &mut actions);
                }
                self.child_failed = true;
            }
            Event::LinkDown => {
                if !self.link_failed {
                    self.link_failed = true;
                    actions.push(Action::LinkFailed);
                    if self.active {
                        self.deactivate(DeactivateReason::LinkFailure, &mut actions);
                    }
                }
            }
            Event::LinkUp => {
                if self.link_failed {
                    self.link_failed = false;
                    actions.push(Action::LinksRestored);
                    // Nothing could be heard while the link was down: the
                    // partner gets a fresh deadtime before it counts as dead
                    // (else a router whose link returns activates at once and
                    // takes over from a healthy partner), and a heartbeat goes
                    // out now, which also renews the neighbour entries on
                    // both sides so that the partner's heartbeats get through.
                    self.need_at = now + self.config.deadtime;
                    if self.config.backup_active {
                        actions.push(Action::SendHeartbeat(self.own_state()));
                        self.send_at = now + self.config.keepalive;
                    }
                }
            }
            Event::Stop => {
                if self.active {
                    self.deactivate(DeactivateReason::Stopping, &mut actions);
                }
                // An lvs-rs addition: the partner hears STOPPED now, not after deadtime.
                if self.config.backup_active {
                    actions.push(Action::SendHeartbeat(PeerState::Stopped));
                }
                self.stopped = true;
                actions.push(Action::Exit(0));
            }
        }
        actions
    }

    fn own_state(&self) -> PeerState {
        if self.active {
            PeerState::Running
        } else {
            PeerState::Stopped
        }
    }

    fn activate(&mut self, reason: ActivateReason, actions: &mut Vec<Action>) {
        self.active = true;
        actions.push(Action::Activate(reason));
    }

    fn deactivate(&mut self, reason: DeactivateReason, actions: &mut Vec<Action>) {
        self.active = false;
        actions.push(Action::Deactivate(reason));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(role: Role) -> FailoverConfig {
        FailoverConfig {
            role,
            keepalive: Duration::from_secs(2),
            deadtime: Duration::from_secs(5),
            backup_active: true,
            force_active: false,
        }
    }

    #[test]
    fn a_silent_partner_is_declared_dead_after_deadtime() {
        let t0 = Instant::now();
        let (mut m, actions) = Failover::new(config(Role::Backup), t0);
        assert_eq!(actions, vec![Action::SendHeartbeat(PeerState::Stopped)]);
        assert_eq!(m.next_timeout(), Some(t0 + Duration::from_secs(2)));
        assert_eq!(
            m.on_timeout(t0 + Duration::from_secs(2)),
            vec![Action::SendHeartbeat(PeerState::Stopped)]
        );
        assert_eq!(
            m.on_timeout(t0 + Duration::from_secs(4)),
            vec![Action::SendHeartbeat(PeerState::Stopped)]
        );
        let at_deadtime = m.on_timeout(t0 + Duration::from_secs(5));
        assert_eq!(at_deadtime, vec![Action::Activate(ActivateReason::PartnerDead)]);
        assert!(m.is_active());
        assert_eq!(
            m.on_timeout(t0 + Duration::from_secs(6)),
            vec![Action::SendHeartbeat(PeerState::Running)]
        );
    }

    #[test]
    fn heartbeats_keep_the_partner_alive() {
        let t0 = Instant::now();
        let (mut m, _) = Failover::new(config(Role::Backup), t0);
        for s in 1..20 {
            m.handle(Event::Heartbeat(PeerState::Running), t0 + Duration::from_secs(s));
            m.on_timeout(t0 + Duration::from_secs(s));
        }
        assert!(!m.is_active());
    }

    #[test]
    fn the_master_wins_ties() {
        let t0 = Instant::now();
        let (mut backup, _) = Failover::new(config(Role::Backup), t0);
        let (mut master, _) = Failover::new(config(Role::Master), t0);
        assert_eq!(
            backup.handle(Event::Heartbeat(PeerState::Stopped), t0),
            vec![Action::Activate(ActivateReason::PrimaryInactive)]
        );
        assert_eq!(
            master.handle(Event::Heartbeat(PeerState::Stopped), t0),
            vec![Action::Activate(ActivateReason::BackupInactive)]
        );
        assert_eq!(
            master.handle(Event::Heartbeat(PeerState::Running), t0),
            vec![Action::ResendAnnouncements]
        );
        assert_eq!(
            backup.handle(Event::Heartbeat(PeerState::Running), t0),
            vec![
                Action::SendHeartbeat(PeerState::Running),
                Action::Deactivate(DeactivateReason::PartnerActive)
            ]
        );
        assert!(master.is_active() && !backup.is_active());
    }

    #[test]
    fn no_automatic_fail_back_but_forceactive_takes_over() {
        let t0 = Instant::now();
        let (mut primary, _) = Failover::new(config(Role::Master), t0);
        // The backup is active: the returning primary only hears RUNNING.
        for s in 0..30 {
            let now = t0 + Duration::from_secs(s);
            primary.handle(Event::Heartbeat(PeerState::Running), now);
            primary.on_timeout(now);
        }
        assert!(!primary.is_active());
        let (forced, actions) = Failover::new(
            FailoverConfig {
                force_active: true,
                ..config(Role::Master)
            },
            t0,
        );
        assert!(forced.is_active());
        assert_eq!(
            actions,
            vec![
                Action::Activate(ActivateReason::Forced),
                Action::SendHeartbeat(PeerState::Running)
            ]
        );
    }

    #[test]
    fn child_and_link_failures_hold_activation_back() {
        let t0 = Instant::now();
        let (mut m, _) = Failover::new(config(Role::Master), t0);
        m.handle(Event::Heartbeat(PeerState::Stopped), t0);
        assert!(m.is_active());
        assert_eq!(
            m.handle(Event::ChildExited, t0),
            vec![Action::Deactivate(DeactivateReason::ChildFailure)]
        );
        assert!(
            m.handle(Event::Heartbeat(PeerState::Stopped), t0).is_empty(),
            "CHILDFAIL blocks re-activation"
        );
        assert!(m
            .on_timeout(t0 + Duration::from_secs(60))
            .iter()
            .all(|a| !matches!(a, Action::Activate(_))));
        m.handle(Event::Heartbeat(PeerState::Running), t0 + Duration::from_secs(61));
        assert_eq!(
            m.handle(Event::Heartbeat(PeerState::Stopped), t0 + Duration::from_secs(62)),
            vec![Action::Activate(ActivateReason::BackupInactive)],
            "RUNNING clears CHILDFAIL"
        );
        assert_eq!(
            m.handle(Event::LinkDown, t0),
            vec![
                Action::LinkFailed,
                Action::Deactivate(DeactivateReason::LinkFailure)
            ]
        );
        assert!(m.handle(Event::Heartbeat(PeerState::Stopped), t0).is_empty());
        assert_eq!(
            m.handle(Event::LinkUp, t0),
            vec![Action::LinksRestored, Action::SendHeartbeat(PeerState::Stopped)]
        );
        assert_eq!(
            m.handle(Event::Heartbeat(PeerState::Stopped), t0),
            vec![Action::Activate(ActivateReason::BackupInactive)]
        );
    }

    #[test]
    fn a_restored_link_gives_the_partner_a_fresh_deadtime() {
        let t0 = Instant::now();
        let (mut m, _) = Failover::new(config(Role::Master), t0);
        m.handle(Event::LinkDown, t0);
        // Long silence while the link is down: no activation.
        let later = t0 + Duration::from_secs(30);
        assert!(!m
            .on_timeout(later)
            .iter()
            .any(|a| matches!(a, Action::Activate(_))));
        m.handle(Event::LinkUp, later);
        assert!(
            !m.on_timeout(later + Duration::from_secs(4))
                .iter()
                .any(|a| matches!(a, Action::Activate(_))),
            "within a deadtime of the link's return the partner is not dead"
        );
        assert!(m
            .on_timeout(later + Duration::from_secs(5))
            .contains(&Action::Activate(ActivateReason::PartnerDead)));
    }

    #[test]
    fn without_backup_active() {
        let t0 = Instant::now();
        let lone = FailoverConfig {
            backup_active: false,
            ..config(Role::Master)
        };
        let (mut m, actions) = Failover::new(lone, t0);
        assert!(actions.is_empty());
        assert!(m.on_timeout(t0).is_empty(), "no heartbeats are sent");
        assert_eq!(
            m.on_timeout(t0 + Duration::from_secs(5)),
            vec![Action::Activate(ActivateReason::PartnerDead)]
        );
        let (_, actions) = Failover::new(
            FailoverConfig {
                backup_active: false,
                ..config(Role::Backup)
            },
            t0,
        );
        assert_eq!(actions, vec![Action::Exit(255)]);
    }

    #[test]
    fn a_graceful_stop_tells_the_partner() {
        let t0 = Instant::now();
        let (mut m, _) = Failover::new(config(Role::Master), t0);
        m.handle(Event::Heartbeat(PeerState::Stopped), t0);
        assert_eq!(
            m.handle(Event::Stop, t0),
            vec![
                Action::Deactivate(DeactivateReason::Stopping),
                Action::SendHeartbeat(PeerState::Stopped),
                Action::Exit(0)
            ]
        );
        assert!(m.is_stopped() && m.next_timeout().is_none());
    }

    #[test]
    fn fractional_timers() {
        let t0 = Instant::now();
        let fast = FailoverConfig {
            keepalive: Duration::from_millis(100),
            deadtime: Duration::from_millis(300),
            ..config(Role::Backup)
        };
        let (mut m, _) = Failover::new(fast, t0);
        m.on_timeout(t0);
        assert!(m
            .on_timeout(t0 + Duration::from_millis(299))
            .iter()
            .all(|a| !matches!(a, Action::Activate(_))));
        assert!(m
            .on_timeout(t0 + Duration::from_millis(300))
            .contains(&Action::Activate(ActivateReason::PartnerDead)));
    }
}
