//! VIP groups over any number of routers, sans-IO: which router holds
//! each group's VIPs. An lvs-rs extension beside Piranha's pair, which
//! keeps its own machine in [`crate::failover`].
//!
//! Every router runs one [`Election`]. Each group has a priority per
//! router; a router's *effective* priority adds the weights of its tracked
//! checks (programs, processes, interfaces, files), and a tracked *fault*
//! takes it out of the groups the check applies to. Every `keepalive` each
//! router tells every other its state and effective priority in every
//! group (the authenticated heartbeat of [`crate::heartbeat::PeerLink`]); a
//! router not heard for `deadtime` is dead.
//!
//! The rules, for each group on its own:
//! - A router *ranks* above another by effective priority, then by its
//!   place in the list of routers (the first listed wins ties), so every
//!   router that hears the same heartbeats ranks the same way.
//! - When no live router holds the group, the highest-ranked live router
//!   that can hold it takes it. A router that has just started first
//!   listens for one `deadtime`, or until it has heard every other router,
//!   so that it does not take a group a live router holds.
//! - A holder that hears a higher-ranked holder gives the group up: after
//!   a partition heals, one holder remains.
//! - With preemption on, a router that outranks the holder takes the group
//!   from it after the group's `preempt_delay`, and only once the readiness
//!   gate (below) is open; the holder gives way when it hears the new
//!   holder.
//!   With preemption off the holder keeps the group while it lives.
//! - A router in FAULT for a group holds nothing of it, and counts for no
//!   one; when the fault clears it is a backup again and the rules apply.
//! - A graceful stop gives every group away and tells the others at once.
//!
//! # The readiness gate
//!
//! With the sync daemons running in both directions, a router that
//! returns (a restart, a reboot) learns the connections the others carried
//! meanwhile only as their packets flow. With a bound set
//! ([`ElectionConfig::catch_up_bound`]), it takes no group from a live
//! holder until its own table ([`Event::Table`]) holds at least as many
//! connections as the fullest holder's says it does (every heartbeat
//! carries its sender's count), or until the bound has passed since the
//! start. [`Action::TableReady`] says which and how far behind it was. A
//! table that could not be counted, here or at a holder, leaves only the
//! bound. The daemon counts established connections only: a closing one
//! is not sent again, so it would keep the tables apart until it expired.
//! Taking a group no one holds never waits. The gate is shut only at the
//! start: a router that was cut off but kept running keeps its table.
//!
//! While it holds a group the machine asks for its VIPs to be announced
//! again after `again_after` and every `refresh` (gratuitous ARP and
//! unsolicited neighbour advertisements; keepalived's
//! `garp_master_delay` and `garp_master_refresh`).
//!
//! # Call contract
//!
//! As every machine of this crate (see the crate's documentation):
//! [`Election::new`] at start, [`Election::handle`] for each event,
//! [`Election::on_timeout`] when [`Election::next_timeout`] is due, with a
//! `now` that never goes backwards; the actions are carried out in order.
//! Heartbeats reach [`Election::handle`] only once authenticated and fresh.

use std::cmp::Reverse;
use std::fmt;
use std::time::{Duration, Instant};

/// A router's place in the list of routers (the same list on every router).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RouterId(pub u8);

/// A group's place in the list of groups.
pub type GroupIndex = usize;

/// Where a router stands in one group.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum GroupState {
    /// Ready to take the group; does not hold it.
    Backup,
    /// Holds the group's VIPs.
    Master,
    /// Cannot hold the group: a tracked fault, or no priority for it.
    Fault,
}

impl GroupState {
    /// Every state.
    pub const ALL: [GroupState; 3] = [GroupState::Backup, GroupState::Master, GroupState::Fault];

    /// The state in one word, as logs, hooks and metrics show it.
    pub fn word(self) -> &'static str {
        match self {
            GroupState::Backup => "backup",
            GroupState::Master => "master",
            GroupState::Fault => "fault",
        }
    }

    pub(crate) fn byte(self) -> u8 {
        match self {
            GroupState::Backup => 1,
            GroupState::Master => 2,
            GroupState::Fault => 3,
        }
    }

    pub(crate) fn from_byte(byte: u8) -> Option<GroupState> {
        match byte {
            1 => Some(GroupState::Backup),
            2 => Some(GroupState::Master),
            3 => Some(GroupState::Fault),
            _ => None,
        }
    }
}

impl fmt::Display for GroupState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.word())
    }
}

/// A group's name as heartbeats carry it: the first four bytes of the
/// SHA-256 of the name, so that routers match groups by name, not by
/// their order in lvs.cf.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct GroupKey(pub u32);

impl GroupKey {
    /// The key of the group called `name`.
    pub fn of(name: &str) -> GroupKey {
        use sha2::{Digest, Sha256};
        let digest = Sha256::digest(name.as_bytes());
        GroupKey(u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]]))
    }
}

/// One group's entry in a heartbeat: the sender's state and effective
/// priority in it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct GroupAdvert {
    /// Which group.
    pub group: GroupKey,
    /// The sender's state in it.
    pub state: GroupState,
    /// The sender's effective priority in it (0: it cannot hold it).
    pub priority: u8,
}

/// One VIP group's settings.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct GroupConfig {
    /// Its name (lvs.cf's `vip_group NAME`).
    pub name: String,
    /// Each router's priority, by [`RouterId`]; 0 or missing: that router
    /// never holds the group.
    pub priorities: Vec<u8>,
    /// Whether a higher-ranked router takes the group from its holder.
    pub preempt: bool,
    /// How long a higher-ranked router waits before it does.
    pub preempt_delay: Duration,
}

impl GroupConfig {
    /// A group with these priorities, preemption on and no delay.
    pub fn new(name: impl Into<String>, priorities: Vec<u8>) -> GroupConfig {
        GroupConfig {
            name: name.into(),
            priorities,
            preempt: true,
            preempt_delay: Duration::ZERO,
        }
    }

    /// Preemption on or off, and its delay.
    pub fn preempt(mut self, preempt: bool, delay: Duration) -> GroupConfig {
        self.preempt = preempt;
        self.preempt_delay = delay;
        self
    }

    fn priority_of(&self, router: RouterId) -> u8 {
        self.priorities.get(usize::from(router.0)).copied().unwrap_or(0)
    }
}

/// What a tracked check does to this router while it fails (or, for a
/// positive weight, while it passes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TrackEffect {
    /// Added to the priority: a negative weight while the check fails, a
    /// positive one while it passes (keepalived's rule).
    Weight(i16),
    /// FAULT in the groups it applies to while the check fails.
    Fault,
}

/// One tracked check of local health (its results come in as
/// [`Event::Track`]).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct TrackConfig {
    /// Its name, for logs and status.
    pub name: String,
    /// What it does.
    pub effect: TrackEffect,
    /// Passes in a row that make a failing check healthy.
    pub rise: u32,
    /// Failures in a row that make a healthy check fail.
    pub fall: u32,
    /// The groups it applies to; `None`: every group.
    pub groups: Option<Vec<GroupIndex>>,
    /// Whether it counts as failing until its first `rise` passes.
    pub initially_failed: bool,
}

impl TrackConfig {
    /// A check with this effect on every group, rise and fall 1.
    pub fn new(name: impl Into<String>, effect: TrackEffect) -> TrackConfig {
        TrackConfig {
            name: name.into(),
            effect,
            rise: 1,
            fall: 1,
            groups: None,
            initially_failed: false,
        }
    }

    /// Rise and fall counts (at least 1 each).
    pub fn counts(mut self, rise: u32, fall: u32) -> TrackConfig {
        self.rise = rise.max(1);
        self.fall = fall.max(1);
        self
    }

    /// Only these groups.
    pub fn groups(mut self, groups: Vec<GroupIndex>) -> TrackConfig {
        self.groups = Some(groups);
        self
    }

    /// Failing until it has passed `rise` times.
    pub fn initially_failed(mut self, failed: bool) -> TrackConfig {
        self.initially_failed = failed;
        self
    }

    fn applies_to(&self, group: GroupIndex) -> bool {
        self.groups.as_ref().is_none_or(|groups| groups.contains(&group))
    }
}

/// The machine's settings.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ElectionConfig {
    /// This router.
    pub me: RouterId,
    /// How many routers there are (ids `0..routers`).
    pub routers: u8,
    /// Time between heartbeats.
    pub keepalive: Duration,
    /// Silence after which a router is dead.
    pub deadtime: Duration,
    /// The groups.
    pub groups: Vec<GroupConfig>,
    /// The tracked checks.
    pub tracks: Vec<TrackConfig>,
    /// A second announcement this long after taking a group.
    pub announce_again_after: Option<Duration>,
    /// Announcements every this long while holding a group.
    pub announce_refresh: Option<Duration>,
    /// The bound of the readiness gate: with `Some`, preemption waits
    /// until this router's table has caught up with the holders' or this
    /// long after the start; `None`: no gate.
    pub catch_up_bound: Option<Duration>,
}

impl ElectionConfig {
    /// `routers` routers of which this is `me`, with these timers, no
    /// groups, no tracks, no repeated announcements and no readiness gate.
    pub fn new(me: RouterId, routers: u8, keepalive: Duration, deadtime: Duration) -> ElectionConfig {
        ElectionConfig {
            me,
            routers,
            keepalive,
            deadtime,
            groups: Vec::new(),
            tracks: Vec::new(),
            announce_again_after: None,
            announce_refresh: None,
            catch_up_bound: None,
        }
    }

    /// Adds a group.
    pub fn group(mut self, group: GroupConfig) -> ElectionConfig {
        self.groups.push(group);
        self
    }

    /// Adds a tracked check.
    pub fn track(mut self, track: TrackConfig) -> ElectionConfig {
        self.tracks.push(track);
        self
    }

    /// Repeated announcements.
    pub fn announcements(
        mut self,
        again_after: Option<Duration>,
        refresh: Option<Duration>,
    ) -> ElectionConfig {
        self.announce_again_after = again_after;
        self.announce_refresh = refresh;
        self
    }

    /// The readiness gate of preemption, with its bound.
    pub fn catch_up_bound(mut self, bound: Option<Duration>) -> ElectionConfig {
        self.catch_up_bound = bound;
        self
    }
}

/// Something that happened.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// An authenticated, fresh heartbeat from another router.
    Heard {
        /// Its sender.
        from: RouterId,
        /// Its groups.
        adverts: Vec<GroupAdvert>,
        /// How many active connections its table holds, if it could
        /// count them.
        connections: Option<u32>,
    },
    /// One result of a tracked check, by its place in the config's list.
    Track {
        /// Which check.
        track: usize,
        /// Whether it passed.
        passed: bool,
    },
    /// How many connections this router's table holds now (read again and
    /// again: once a second or every keepalive serves).
    Table {
        /// The count.
        connections: u32,
    },
    /// A graceful stop.
    Stop,
}

/// Why a group changed state on this router.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Reason {
    /// No live router held the group and this one ranks first.
    NoHolder,
    /// This router outranks the holder and preempts it.
    Preempting,
    /// A higher-ranked router holds the group.
    Outranked,
    /// A tracked check (by index) failed: FAULT.
    Fault(usize),
    /// No priority for the group on this router.
    NoPriority,
    /// The fault cleared.
    FaultCleared,
    /// pulse is stopping.
    Stopping,
}

impl Reason {
    /// The reason in one word, as hooks and metrics show it.
    pub fn word(self) -> &'static str {
        match self {
            Reason::NoHolder => "no_holder",
            Reason::Preempting => "preempting",
            Reason::Outranked => "outranked",
            Reason::Fault(_) => "fault",
            Reason::NoPriority => "no_priority",
            Reason::FaultCleared => "fault_cleared",
            Reason::Stopping => "stopping",
        }
    }
}

/// What the daemon must do.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Action {
    /// Send every other router a heartbeat with these groups.
    SendHeartbeat(Vec<GroupAdvert>),
    /// A group changed state here. Into [`GroupState::Master`]: bring its
    /// VIPs up and announce them; out of it: take them down. Hooks and
    /// events follow every transition.
    Transition {
        /// Which group.
        group: GroupIndex,
        /// Its state before.
        from: GroupState,
        /// Its state now.
        to: GroupState,
        /// Why.
        reason: Reason,
    },
    /// Announce the group's VIPs again: the second burst, a refresh, a
    /// lower-ranked router saying it holds the group too, or a router heard
    /// again after it was taken for dead.
    Announce(GroupIndex),
    /// A tracked check changed between passing and failing (after its
    /// rise or fall count).
    TrackChanged {
        /// Which check.
        track: usize,
        /// Whether it now passes.
        passing: bool,
    },
    /// The readiness gate opened (once per run), with what it compared.
    TableReady {
        /// This router's connections then (`None`: never counted).
        connections: Option<u32>,
        /// The fullest live holder's, if any router held a group.
        holders: Option<u32>,
        /// How long after the start.
        waited: Duration,
        /// Whether the bound opened it rather than a full table.
        bound_passed: bool,
    },
}

#[derive(Clone, Debug)]
struct Tracked {
    passing: bool,
    /// Results in a row against the current verdict.
    against: u32,
}

#[derive(Clone, Debug)]
struct Peer {
    heard_at: Instant,
    /// The size of its table, as it last said (`None`: not counted).
    connections: Option<u32>,
    /// By group index: what it last said (`None`: it did not mention it).
    groups: Vec<Option<(GroupState, u8)>>,
}

#[derive(Clone, Debug)]
struct Group {
    state: GroupState,
    /// Since when this router has been entitled to preempt the holder.
    preempt_since: Option<Instant>,
    next_announce: Option<Instant>,
    /// While holding: whether a lower-ranked router says it holds the
    /// group too (a healed partition, a preemption under way).
    contested: bool,
}

/// The machine.
#[derive(Clone, Debug)]
pub struct Election {
    config: ElectionConfig,
    started: Instant,
    groups: Vec<Group>,
    tracks: Vec<Tracked>,
    peers: Vec<Option<Peer>>,
    /// While set, a router that has just started only listens.
    listen_until: Option<Instant>,
    send_at: Instant,
    caught_up: bool,
    /// This router's table, as last reported.
    connections: Option<u32>,
    stopped: bool,
}

impl Election {
    /// Starts the machine at `now`: every group a backup (or in FAULT), and
    /// a first heartbeat.
    pub fn new(config: ElectionConfig, now: Instant) -> (Election, Vec<Action>) {
        let tracks = config
            .tracks
            .iter()
            .map(|track| Tracked {
                passing: !track.initially_failed,
                against: 0,
            })
            .collect();
        let groups = config
            .groups
            .iter()
            .map(|_| Group {
                state: GroupState::Backup,
                preempt_since: None,
                next_announce: None,
                contested: false,
            })
            .collect();
        let mut machine = Election {
            peers: vec![None; usize::from(config.routers)],
            caught_up: config.catch_up_bound.is_none(),
            connections: None,
            listen_until: (config.routers > 1).then_some(now + config.deadtime),
            started: now,
            send_at: now + config.keepalive,
            groups,
            tracks,
            stopped: false,
            config,
        };
        let mut actions = Vec::new();
        machine.decide(now, &mut actions);
        actions.push(Action::SendHeartbeat(machine.adverts()));
        (machine, actions)
    }

    /// Its settings.
    pub fn config(&self) -> &ElectionConfig {
        &self.config
    }

    /// This router's state in a group.
    pub fn state(&self, group: GroupIndex) -> Option<GroupState> {
        self.groups.get(group).map(|g| g.state)
    }

    /// This router's effective priority in a group (0 when in FAULT).
    pub fn priority(&self, group: GroupIndex) -> u8 {
        if self.fault_of(group).is_some() {
            0
        } else {
            self.effective_priority(group)
        }
    }

    /// Whether a tracked check passes.
    pub fn track_passing(&self, track: usize) -> Option<bool> {
        self.tracks.get(track).map(|t| t.passing)
    }

    /// Whether another router is alive at `now`, and when it was last heard.
    pub fn peer_heard(&self, router: RouterId) -> Option<Instant> {
        self.peers
            .get(usize::from(router.0))?
            .as_ref()
            .map(|p| p.heard_at)
    }

    /// The group a router holds as far as this one knows (itself included).
    pub fn holder(&self, group: GroupIndex, now: Instant) -> Option<RouterId> {
        if self.state(group) == Some(GroupState::Master) {
            return Some(self.config.me);
        }
        self.live_peers(now)
            .filter(|(_, peer)| matches!(peer.groups.get(group), Some(Some((GroupState::Master, _)))))
            .map(|(id, _)| id)
            .next()
    }

    /// The size of this router's table as last reported (`None` before),
    /// which its heartbeats carry.
    pub fn connections(&self) -> Option<u32> {
        self.connections
    }

    /// The size of another live router's table, as it last said.
    pub fn peer_connections(&self, router: RouterId) -> Option<u32> {
        self.peers
            .get(usize::from(router.0))?
            .as_ref()
            .and_then(|p| p.connections)
    }

    /// Whether the readiness gate is open (always, without a bound).
    pub fn is_ready(&self) -> bool {
        self.caught_up
    }

    /// Whether the machine has stopped.
    pub fn is_stopped(&self) -> bool {
        self.stopped
    }

    /// What this router's heartbeats say now.
    pub fn adverts(&self) -> Vec<GroupAdvert> {
        self.config
            .groups
            .iter()
            .enumerate()
            .map(|(index, group)| GroupAdvert {
                group: GroupKey::of(&group.name),
                state: self.groups[index].state,
                priority: if self.stopped { 0 } else { self.priority(index) },
            })
            .collect()
    }

    /// New timers (a reload). Every router gets a fresh `deadtime` from
    /// `now`, so that a shorter one cannot declare them dead at once.
    pub fn set_timers(&mut self, keepalive: Duration, deadtime: Duration, now: Instant) {
        self.config.keepalive = keepalive;
        self.config.deadtime = deadtime;
        self.send_at = self.send_at.min(now + keepalive);
        for peer in self.peers.iter_mut().flatten() {
            peer.heard_at = now;
        }
    }

    /// When [`Election::on_timeout`] must next be called.
    pub fn next_timeout(&self) -> Option<Instant> {
        if self.stopped {
            return None;
        }
        let mut next = self.send_at;
        let mut consider = |at: Instant| next = next.min(at);
        if let Some(until) = self.listen_until {
            consider(until);
        }
        // Dead routers are forgotten as they die, so each of these is ahead.
        for peer in self.peers.iter().flatten() {
            consider(peer.heard_at + self.config.deadtime);
        }
        for (index, group) in self.groups.iter().enumerate() {
            if let (Some(since), true) = (group.preempt_since, self.caught_up) {
                consider(since + self.config.groups[index].preempt_delay);
            }
            if let Some(at) = group.next_announce {
                consider(at);
            }
        }
        if let (false, Some(bound)) = (self.caught_up, self.config.catch_up_bound) {
            consider(self.started + bound);
        }
        Some(next)
    }

    /// Runs what is due at `now`.
    pub fn on_timeout(&mut self, now: Instant) -> Vec<Action> {
        let mut actions = Vec::new();
        if self.stopped {
            return actions;
        }
        self.decide(now, &mut actions);
        for (index, group) in self.groups.iter_mut().enumerate() {
            if let Some(at) = group.next_announce {
                if now >= at && group.state == GroupState::Master {
                    actions.push(Action::Announce(index));
                    group.next_announce = self.config.announce_refresh.map(|every| now + every);
                }
            }
        }
        if now >= self.send_at {
            self.send(now, &mut actions);
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
            Event::Heard {
                from,
                adverts,
                connections,
            } => {
                let Some(slot) = self.peers.get_mut(usize::from(from.0)) else {
                    return actions;
                };
                if from == self.config.me {
                    return actions;
                }
                let groups = self
                    .config
                    .groups
                    .iter()
                    .map(|group| {
                        let key = GroupKey::of(&group.name);
                        adverts
                            .iter()
                            .find(|a| a.group == key)
                            .map(|a| (a.state, a.priority))
                    })
                    .collect();
                let returning = slot.is_none();
                *slot = Some(Peer {
                    heard_at: now,
                    connections,
                    groups,
                });
                // A router heard again (a healed partition, a restart) may
                // have held our groups meanwhile and given them up before we
                // heard it say so: its neighbours may still send to it, so
                // the VIPs we hold are announced again.
                if returning {
                    for (group, state) in self.groups.iter().enumerate() {
                        if state.state == GroupState::Master {
                            actions.push(Action::Announce(group));
                        }
                    }
                }
            }
            Event::Track { track, passed } => {
                let Some(config) = self.config.tracks.get(track) else {
                    return actions;
                };
                let tracked = &mut self.tracks[track];
                if passed == tracked.passing {
                    tracked.against = 0;
                } else {
                    tracked.against += 1;
                    let needed = if passed { config.rise } else { config.fall };
                    if tracked.against >= needed {
                        tracked.passing = passed;
                        tracked.against = 0;
                        actions.push(Action::TrackChanged {
                            track,
                            passing: passed,
                        });
                    }
                }
            }
            Event::Table { connections } => self.connections = Some(connections),
            Event::Stop => {
                for index in 0..self.groups.len() {
                    if self.groups[index].state == GroupState::Master {
                        self.transition(index, GroupState::Backup, Reason::Stopping, &mut actions);
                    }
                }
                self.stopped = true;
                actions.push(Action::SendHeartbeat(self.adverts()));
                return actions;
            }
        }
        self.decide(now, &mut actions);
        // A change of state or priority is told at once rather than at the
        // next keepalive.
        if actions
            .iter()
            .any(|a| matches!(a, Action::Transition { .. } | Action::TrackChanged { .. }))
        {
            self.send(now, &mut actions);
        }
        actions
    }

    fn send(&mut self, now: Instant, actions: &mut Vec<Action>) {
        actions.push(Action::SendHeartbeat(self.adverts()));
        self.send_at = now + self.config.keepalive;
    }

    fn live_peers(&self, now: Instant) -> impl Iterator<Item = (RouterId, &Peer)> {
        let deadtime = self.config.deadtime;
        self.peers.iter().enumerate().filter_map(move |(id, peer)| {
            let peer = peer.as_ref()?;
            (now < peer.heard_at + deadtime).then_some((RouterId(id as u8), peer))
        })
    }

    fn effective_priority(&self, group: GroupIndex) -> u8 {
        let base = i32::from(self.config.groups[group].priority_of(self.config.me));
        if base == 0 {
            return 0;
        }
        let mut priority = base;
        for (config, tracked) in self.config.tracks.iter().zip(&self.tracks) {
            if let TrackEffect::Weight(weight) = config.effect {
                if config.applies_to(group) && (weight > 0) == tracked.passing {
                    priority += i32::from(weight);
                }
            }
        }
        priority.clamp(1, 254) as u8
    }

    fn fault_of(&self, group: GroupIndex) -> Option<Reason> {
        if self.config.groups[group].priority_of(self.config.me) == 0 {
            return Some(Reason::NoPriority);
        }
        self.config
            .tracks
            .iter()
            .zip(&self.tracks)
            .position(|(config, tracked)| {
                config.effect == TrackEffect::Fault && config.applies_to(group) && !tracked.passing
            })
            .map(Reason::Fault)
    }

    fn transition(&mut self, group: GroupIndex, to: GroupState, reason: Reason, actions: &mut Vec<Action>) {
        let from = self.groups[group].state;
        if from == to {
            return;
        }
        self.groups[group].state = to;
        self.groups[group].preempt_since = None;
        self.groups[group].next_announce = None;
        self.groups[group].contested = false;
        actions.push(Action::Transition {
            group,
            from,
            to,
            reason,
        });
    }

    /// Applies the rules to every group.
    fn decide(&mut self, now: Instant, actions: &mut Vec<Action>) {
        let deadtime = self.config.deadtime;
        for peer in &mut self.peers {
            if peer.as_ref().is_some_and(|p| now >= p.heard_at + deadtime) {
                *peer = None;
            }
        }
        self.open_gate(now, actions);
        // A router that has just started listens for one `deadtime`, cut
        // short once it has heard every other router.
        let me = usize::from(self.config.me.0);
        let all_heard = self
            .peers
            .iter()
            .enumerate()
            .all(|(id, peer)| id == me || peer.is_some());
        if all_heard || self.listen_until.is_some_and(|until| now >= until) {
            self.listen_until = None;
        }
        let listening = self.listen_until.is_some();
        for group in 0..self.groups.len() {
            self.decide_group(group, now, listening, actions);
        }
    }

    /// The readiness gate: open once this router's table holds as many
    /// connections as the fullest live holder's, or once the bound passed.
    fn open_gate(&mut self, now: Instant, actions: &mut Vec<Action>) {
        let Some(bound) = self.config.catch_up_bound.filter(|_| !self.caught_up) else {
            return;
        };
        let counts: Vec<Option<u32>> = self
            .live_peers(now)
            .filter(|(_, peer)| {
                peer.groups
                    .iter()
                    .flatten()
                    .any(|(state, _)| *state == GroupState::Master)
            })
            .map(|(_, peer)| peer.connections)
            .collect();
        let holders = counts.iter().flatten().copied().max();
        // A table that was not counted, here or at a holder, compares with
        // nothing: only the bound opens the gate then.
        let every_holder_counted = !counts.is_empty() && counts.iter().all(Option::is_some);
        let full = every_holder_counted
            && matches!((self.connections, holders), (Some(mine), Some(theirs)) if mine >= theirs);
        let bound_passed = now >= self.started + bound;
        if full || bound_passed {
            self.caught_up = true;
            actions.push(Action::TableReady {
                connections: self.connections,
                holders,
                waited: now.saturating_duration_since(self.started),
                bound_passed: !full,
            });
        }
    }

    fn decide_group(&mut self, group: GroupIndex, now: Instant, listening: bool, actions: &mut Vec<Action>) {
        if let Some(reason) = self.fault_of(group) {
            self.transition(group, GroupState::Fault, reason, actions);
            return;
        }
        if self.groups[group].state == GroupState::Fault {
            self.transition(group, GroupState::Backup, Reason::FaultCleared, actions);
        }
        let me = self.config.me;
        let rank = |router: RouterId, priority: u8| (priority, Reverse(router));
        let my_rank = rank(me, self.effective_priority(group));
        // Live routers that could hold the group, and those holding it.
        let mut best_other = None;
        let mut best_holder = None;
        for (id, peer) in self.live_peers(now) {
            if let Some(Some((state, priority))) = peer.groups.get(group).copied() {
                if state == GroupState::Fault || priority == 0 {
                    continue;
                }
                let theirs = rank(id, priority);
                best_other = best_other.max(Some(theirs));
                if state == GroupState::Master {
                    best_holder = best_holder.max(Some(theirs));
                }
            }
        }
        let config = &self.config.groups[group];
        match self.groups[group].state {
            GroupState::Master => match best_holder {
                Some(holder) if holder > my_rank => {
                    self.transition(group, GroupState::Backup, Reason::Outranked, actions);
                }
                // Another holder that will give way: the neighbours may have
                // learnt its hardware address, so the VIPs are announced
                // again once (Piranha's "partner active: resending arps").
                Some(_) => {
                    let first = !std::mem::replace(&mut self.groups[group].contested, true);
                    if first && !actions.contains(&Action::Announce(group)) {
                        actions.push(Action::Announce(group));
                    }
                }
                None => self.groups[group].contested = false,
            },
            _ => match best_holder {
                None => {
                    self.groups[group].preempt_since = None;
                    if !listening && best_other.is_none_or(|other| my_rank > other) {
                        self.take(group, Reason::NoHolder, now, actions);
                    }
                }
                Some(holder) => {
                    let entitled =
                        config.preempt && my_rank > holder && best_other.is_none_or(|other| my_rank > other);
                    if !entitled {
                        self.groups[group].preempt_since = None;
                        return;
                    }
                    let delay = config.preempt_delay;
                    let since = *self.groups[group].preempt_since.get_or_insert(now);
                    if now >= since + delay && self.caught_up {
                        self.take(group, Reason::Preempting, now, actions);
                    }
                }
            },
        }
    }

    fn take(&mut self, group: GroupIndex, reason: Reason, now: Instant, actions: &mut Vec<Action>) {
        self.transition(group, GroupState::Master, reason, actions);
        self.groups[group].next_announce = self
            .config
            .announce_again_after
            .or(self.config.announce_refresh)
            .map(|after| now + after);
    }
}

#[cfg(test)]
mod tests;
