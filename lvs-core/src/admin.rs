//! Operators' holds on real servers: a server drained or disabled by hand,
//! beside what its checks say.
//!
//! A hold comes from a command (`lvs --drain`, `--disable`, released by
//! `--enable`) or from a file in lvs.cf's `maintenance_dir` (released when
//! the file goes); a server may be held by both, and is free when both have
//! let go. What a hold does to the table:
//!
//! - **Draining**: the server stays in the table at weight 0 while its checks
//!   pass, so that its connections go on and it gets no new ones; when the
//!   kernel counts no active connection to it, or its deadline passes, it is
//!   removed and the hold becomes *disabled*.
//! - **Disabled**: the server is out of the table, whatever its checks say.
//!   Its checks go on, so that its health is known when it is released.
//!
//! A failing check still takes a draining server out at once: its
//! connections are lost anyway.
//!
//! Servers that a reload drops while lvs.cf sets `drain_timeout` are
//! *leaving*: their entries stay at weight 0 until their connections end or
//! the timeout passes, although the plan no longer has them.
//!
//! Holds are keyed by where the server is ([`ServerRef`]); a reload carries
//! them over by the servers' names in lvs.cf ([`Holds::after_reload`]), and the
//! daemon records the commands' holds by those names so that a restart
//! keeps them ([`Holds::records`]).
//!
//! Like the rest of this crate, it reads no clock: every call that depends
//! on time takes `now`.

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use lvs_ipvs::{Destination, ServiceKey};
use serde::{Deserialize, Serialize};

use crate::director::{Health, Plan, ServerRef};

/// The longest drain: lvs.cf's longest time (a signed 32-bit count of
/// seconds); longer ones, from a command or a record, are cut to it.
pub const MAX_DRAIN: Duration = Duration::from_secs(i32::MAX as u64);

/// What a hold does to its server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hold {
    /// At weight 0 until its active connections end or `deadline` passes.
    Draining {
        /// When it is removed whatever its connections.
        deadline: Instant,
        /// How long the drain was given (recorded for a restart).
        timeout: Duration,
    },
    /// Out of the table.
    Disabled,
}

/// Who holds a server.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum HoldSource {
    /// `lvs --drain` or `--disable`, until `--enable`.
    Command,
    /// A file in the maintenance directory, until it is removed.
    Maintenance,
}

/// One held server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Held {
    /// What the hold does.
    pub hold: Hold,
    /// Whether a command holds it.
    pub by_command: bool,
    /// Whether a maintenance file holds it.
    pub by_maintenance: bool,
}

impl Held {
    fn by(&self, source: HoldSource) -> bool {
        match source {
            HoldSource::Command => self.by_command,
            HoldSource::Maintenance => self.by_maintenance,
        }
    }

    fn set(&mut self, source: HoldSource, on: bool) {
        match source {
            HoldSource::Command => self.by_command = on,
            HoldSource::Maintenance => self.by_maintenance = on,
        }
    }
}

/// How a drain ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "ended")]
#[non_exhaustive]
pub enum DrainEnd {
    /// The kernel counted no active connection to it (or no longer had it).
    Emptied,
    /// Its deadline passed with this many active connections (`None`:
    /// they could not be read).
    Deadline {
        /// The active connections it still had.
        active_connections: Option<u32>,
    },
    /// It was disabled before its drain ended.
    Disabled,
    /// It was enabled before its drain ended.
    Released,
    /// A reload dropped it, or its checks failed and took it out.
    Gone,
}

impl std::fmt::Display for DrainEnd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DrainEnd::Emptied => f.write_str("its connections ended"),
            DrainEnd::Deadline {
                active_connections: Some(active),
            } => write!(
                f,
                "its deadline passed with {active} active connection{}",
                if *active == 1 { "" } else { "s" }
            ),
            DrainEnd::Deadline {
                active_connections: None,
            } => f.write_str("its deadline passed"),
            DrainEnd::Disabled => f.write_str("it was disabled first"),
            DrainEnd::Released => f.write_str("it was enabled first"),
            DrainEnd::Gone => f.write_str("it left the table first"),
        }
    }
}

/// A drain that ended: the server, and how.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Drained {
    /// The server.
    pub at: ServerRef,
    /// How its drain ended.
    pub end: DrainEnd,
}

/// The kernel's active connections to an entry of a service (`None`: it
/// has no such entry), as [`Holds::settle`] reads them.
pub type ActiveConnections<'a> = dyn Fn(&ServiceKey, SocketAddr) -> Option<u32> + 'a;

/// What [`Holds::settle`] ended.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Settled {
    /// The drains that ended, by server.
    pub drained: Vec<Drained>,
    /// The services whose leaving entries went (their table changes).
    pub left: std::collections::BTreeSet<ServiceKey>,
}

impl Settled {
    /// Whether nothing ended.
    pub fn is_empty(&self) -> bool {
        self.drained.is_empty() && self.left.is_empty()
    }
}

/// An entry a reload dropped, kept at weight 0 for its connections.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Leaving {
    /// The entry, at weight 0.
    pub destination: Destination,
    /// When it goes whatever its connections.
    pub deadline: Instant,
}

/// What changed with a command (for its answer and the log).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum HoldChange {
    /// The server was free and now is held as asked.
    Started,
    /// It was held already; the hold is now as asked (a drain made a
    /// disable, a disable left as it is by a drain).
    Changed,
    /// It was held so already: nothing changed.
    Unchanged,
    /// `--enable`: it is free now.
    Released,
    /// `--enable`: the command's hold went, another source still holds it.
    StillHeld,
    /// `--enable` of a server nothing held.
    NotHeld,
}

/// A command's hold as the daemon records it, by the servers' names.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HoldRecord {
    /// The virtual block's name.
    pub service: String,
    /// The server block's name.
    pub server: String,
    /// A drain's timeout in whole seconds; `None` for a disabled server.
    pub drain_seconds: Option<u64>,
}

/// Every held server, and the entries leaving after a reload.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Holds {
    held: HashMap<ServerRef, Held>,
    leaving: BTreeMap<ServiceKey, Vec<Leaving>>,
}

impl Holds {
    /// No holds.
    pub fn new() -> Holds {
        Holds::default()
    }

    /// Whether nothing is held and nothing is leaving.
    pub fn is_empty(&self) -> bool {
        self.held.is_empty() && self.leaving.is_empty()
    }

    /// The hold on `at`, if any.
    pub fn get(&self, at: &ServerRef) -> Option<&Held> {
        self.held.get(at)
    }

    /// Every held server.
    pub fn iter(&self) -> impl Iterator<Item = (&ServerRef, &Held)> {
        self.held.iter()
    }

    /// Whether a drain or a leaving entry waits on connections: the
    /// daemon then reads the kernel's counts now and then and calls
    /// [`Holds::settle`].
    pub fn waits_on_connections(&self) -> bool {
        !self.leaving.is_empty()
            || self
                .held
                .values()
                .any(|h| matches!(h.hold, Hold::Draining { .. }))
    }

    /// The services whose connection counts [`Holds::settle`] needs.
    pub fn services_waiting(&self) -> std::collections::BTreeSet<ServiceKey> {
        let draining = self
            .held
            .iter()
            .filter(|(_, h)| matches!(h.hold, Hold::Draining { .. }))
            .map(|(at, _)| at.service);
        draining.chain(self.leaving.keys().copied()).collect()
    }

    /// Drains `at` for `source`, for at most `timeout` from `now`. A
    /// disabled server stays disabled; a draining one keeps its deadline.
    pub fn drain(
        &mut self,
        at: ServerRef,
        source: HoldSource,
        now: Instant,
        timeout: Duration,
    ) -> HoldChange {
        let timeout = timeout.min(MAX_DRAIN);
        let draining = Hold::Draining {
            deadline: now + timeout,
            timeout,
        };
        match self.held.get_mut(&at) {
            None => {
                let mut held = Held {
                    hold: draining,
                    by_command: false,
                    by_maintenance: false,
                };
                held.set(source, true);
                self.held.insert(at, held);
                HoldChange::Started
            }
            Some(held) => {
                let was = held.by(source);
                held.set(source, true);
                if was {
                    HoldChange::Unchanged
                } else {
                    HoldChange::Changed
                }
            }
        }
    }

    /// Disables `at` for `source`: out of the table at once.
    pub fn disable(&mut self, at: ServerRef, source: HoldSource) -> HoldChange {
        let held = self.held.entry(at).or_insert(Held {
            hold: Hold::Disabled,
            by_command: false,
            by_maintenance: false,
        });
        let change = if !held.by_command && !held.by_maintenance {
            HoldChange::Started
        } else if held.hold == Hold::Disabled && held.by(source) {
            HoldChange::Unchanged
        } else {
            HoldChange::Changed
        };
        held.hold = Hold::Disabled;
        held.set(source, true);
        change
    }

    /// Lets go of `at` for `source`; the server is free once no source
    /// holds it.
    pub fn release(&mut self, at: &ServerRef, source: HoldSource) -> HoldChange {
        let Some(held) = self.held.get_mut(at) else {
            return HoldChange::NotHeld;
        };
        if !held.by(source) {
            return HoldChange::StillHeld;
        }
        held.set(source, false);
        if held.by_command || held.by_maintenance {
            return HoldChange::StillHeld;
        }
        self.held.remove(at);
        HoldChange::Released
    }

    /// The servers the maintenance directory holds now are `named`; those
    /// it no longer names are let go, new ones drained for `timeout`.
    /// Returns the servers whose hold began or ended.
    pub fn maintain(
        &mut self,
        named: &[ServerRef],
        now: Instant,
        timeout: Duration,
    ) -> Vec<(ServerRef, HoldChange)> {
        let mut changes = Vec::new();
        let before: Vec<ServerRef> = self
            .held
            .iter()
            .filter(|(_, h)| h.by_maintenance)
            .map(|(at, _)| *at)
            .collect();
        for at in before.iter().filter(|at| !named.contains(at)) {
            changes.push((*at, self.release(at, HoldSource::Maintenance)));
        }
        for at in named.iter().filter(|at| !before.contains(at)) {
            changes.push((*at, self.drain(*at, HoldSource::Maintenance, now, timeout)));
        }
        changes
    }

    /// Keeps `destination` (an entry a reload dropped) at weight 0 until its
    /// connections end or `deadline`.
    pub fn leave(&mut self, service: ServiceKey, destination: Destination, deadline: Instant) {
        // Only what an entry is set to: the kernel's counters are no part of it.
        let destination = Destination {
            weight: 0,
            active_conns: 0,
            inactive_conns: 0,
            persistent_conns: 0,
            stats: None,
            ..destination
        };
        let entries = self.leaving.entry(service).or_default();
        entries.retain(|l| (l.destination.addr, l.destination.port) != (destination.addr, destination.port));
        entries.push(Leaving {
            destination,
            deadline,
        });
    }

    /// The entries of `service` leaving after a reload.
    pub fn leaving(&self, service: &ServiceKey) -> &[Leaving] {
        self.leaving.get(service).map_or(&[], Vec::as_slice)
    }

    /// Ends the drains and leaving entries whose connections are over or
    /// whose deadline passed. `active` gives the kernel's active
    /// connections to an entry (`None`: the kernel does not have it, which
    /// ends its drain too); without it (the counts could not be read) only
    /// deadlines end anything. `health` is what the checks say (a draining
    /// server they took out is done). Returns the drains that ended and the
    /// services whose leaving entries went.
    pub fn settle(
        &mut self,
        now: Instant,
        health: &HashMap<ServerRef, Health>,
        active: Option<&ActiveConnections<'_>>,
    ) -> Settled {
        // Unknown counts: as if there still were connections.
        let count = |service: &ServiceKey, at: SocketAddr| match active {
            Some(active) => active(service, at).map(Some),
            None => Some(None),
        };
        let mut ended = Vec::new();
        for (at, held) in self.held.iter_mut() {
            let Hold::Draining { deadline, .. } = held.hold else {
                continue;
            };
            let end = if health.get(at) == Some(&Health::Out) {
                Some(DrainEnd::Gone)
            } else {
                match count(&at.service, SocketAddr::new(at.addr, at.port)) {
                    None | Some(Some(0)) => Some(DrainEnd::Emptied),
                    Some(active_connections) if now >= deadline => {
                        Some(DrainEnd::Deadline { active_connections })
                    }
                    Some(_) => None,
                }
            };
            if let Some(end) = end {
                held.hold = Hold::Disabled;
                ended.push(Drained { at: *at, end });
            }
        }
        let mut left = std::collections::BTreeSet::new();
        for (service, entries) in self.leaving.iter_mut() {
            let before = entries.len();
            entries.retain(|l| {
                let at = SocketAddr::new(l.destination.addr, l.destination.port);
                matches!(count(service, at), Some(None) | Some(Some(1..))) && now < l.deadline
            });
            if entries.len() != before {
                left.insert(*service);
            }
        }
        self.leaving.retain(|_, entries| !entries.is_empty());
        ended.sort_by_key(|d| d.at);
        Settled { drained: ended, left }
    }

    /// The earliest deadline of a drain or leaving entry.
    pub fn next_deadline(&self) -> Option<Instant> {
        let drains = self.held.values().filter_map(|h| match h.hold {
            Hold::Draining { deadline, .. } => Some(deadline),
            Hold::Disabled => None,
        });
        let leaving = self.leaving.values().flatten().map(|l| l.deadline);
        drains.chain(leaving).min()
    }

    /// What the table should make of `at`, whose checks say `health`. A
    /// draining server whose health is not known yet stays unknown (an
    /// entry the kernel has is kept, at weight 0: see
    /// [`Holds::is_draining`]); none is added for it.
    pub fn standing(&self, at: &ServerRef, health: Health) -> Health {
        match (self.held.get(at).map(|h| h.hold), health) {
            (None, health) => health,
            (Some(Hold::Disabled), _) | (Some(Hold::Draining { .. }), Health::Out) => Health::Out,
            (Some(Hold::Draining { .. }), Health::In { .. }) => Health::In { weight: 0 },
            (Some(Hold::Draining { .. }), Health::Unknown) => Health::Unknown,
        }
    }

    /// Whether `at` drains: an entry kept for it is at weight 0.
    pub fn is_draining(&self, at: &ServerRef) -> bool {
        matches!(self.held.get(at).map(|h| h.hold), Some(Hold::Draining { .. }))
    }

    /// The holds after a reload from `before` to `after`: the held servers
    /// carried by their names, with (`dropped`, by their names) the holds
    /// whose server the new file no longer has; the leaving entries the new
    /// plan does not have again. With `leaving` (lvs.cf's `drain_timeout`:
    /// the kernel's entries as last known and the deadline), each entry of a
    /// `changed` service that the reload drops while the service stays is
    /// kept leaving instead of removed.
    pub fn after_reload(
        &self,
        before: &Plan,
        after: &Plan,
        changed: &std::collections::BTreeSet<ServiceKey>,
        leaving: Option<(&lvs_ipvs::Table, Instant)>,
    ) -> (Holds, Vec<(String, String)>) {
        let mut carried = Holds::default();
        let mut dropped = Vec::new();
        if !self.held.is_empty() {
            let names = names_of(before);
            let places: HashMap<(&str, &str), ServerRef> = names_of(after)
                .into_iter()
                .map(|(at, names)| (names, at))
                .collect();
            for (at, held) in &self.held {
                let Some(&(service, server)) = names.get(at) else {
                    continue;
                };
                match places.get(&(service, server)) {
                    Some(place) => {
                        carried.held.insert(*place, held.clone());
                    }
                    None => dropped.push((service.to_owned(), server.to_owned())),
                }
            }
            dropped.sort();
        }
        let touched: std::collections::BTreeSet<ServiceKey> = match leaving {
            Some(_) => changed.iter().chain(self.leaving.keys()).copied().collect(),
            None => self.leaving.keys().copied().collect(),
        };
        if touched.is_empty() {
            return (carried, dropped);
        }
        let planned: std::collections::HashSet<ServerRef> = after
            .services
            .iter()
            .filter(|s| touched.contains(&s.service.key))
            .flat_map(|s| s.servers.iter().map(|server| server.at))
            .collect();
        let stays: std::collections::HashSet<ServiceKey> =
            after.services.iter().map(|s| s.service.key).collect();
        let is_planned = |service: ServiceKey, addr: IpAddr, port: u16| {
            planned.contains(&ServerRef { service, addr, port })
        };
        for (service, entries) in &self.leaving {
            let kept: Vec<Leaving> = entries
                .iter()
                .filter(|l| {
                    stays.contains(service) && !is_planned(*service, l.destination.addr, l.destination.port)
                })
                .cloned()
                .collect();
            if !kept.is_empty() {
                carried.leaving.insert(*service, kept);
            }
        }
        if let Some((table, deadline)) = leaving {
            for service in before
                .services
                .iter()
                .filter(|s| changed.contains(&s.service.key))
            {
                let key = service.service.key;
                if !stays.contains(&key) {
                    continue;
                }
                let Some((_, entries)) = table.services.get(&key) else {
                    continue;
                };
                for server in &service.servers {
                    let at = server.at;
                    if is_planned(key, at.addr, at.port) {
                        continue;
                    }
                    if let Some(entry) = entries.get(&(at.addr, at.port)) {
                        carried.leave(key, entry.clone(), deadline);
                    }
                }
            }
        }
        (carried, dropped)
    }

    /// The commands' holds, by the servers' names in `plan`, as a restart
    /// reads them back with [`Holds::restored`].
    pub fn records(&self, plan: &Plan) -> Vec<HoldRecord> {
        if !self.held.values().any(|h| h.by_command) {
            return Vec::new();
        }
        let names = names_of(plan);
        let mut records: Vec<HoldRecord> = self
            .held
            .iter()
            .filter(|(_, h)| h.by_command)
            .filter_map(|(at, held)| {
                let (service, server) = names.get(at)?;
                Some(HoldRecord {
                    service: (*service).to_owned(),
                    server: (*server).to_owned(),
                    drain_seconds: match held.hold {
                        Hold::Draining { timeout, .. } => Some(timeout.as_secs()),
                        Hold::Disabled => None,
                    },
                })
            })
            .collect();
        records.sort_by(|a, b| (&a.service, &a.server).cmp(&(&b.service, &b.server)));
        records
    }

    /// The holds `records` name, in `plan`, from `now`: a drain starts its
    /// timeout again (a deadline is not carried across a restart, whose
    /// clock may differ). Returns them with the records that name no server
    /// of the plan.
    pub fn restored(records: &[HoldRecord], plan: &Plan, now: Instant) -> (Holds, Vec<HoldRecord>) {
        let mut holds = Holds::default();
        let mut unknown = Vec::new();
        for record in records {
            match find(plan, &record.service, &record.server) {
                Some(at) => {
                    match record.drain_seconds {
                        Some(seconds) => {
                            holds.drain(at, HoldSource::Command, now, Duration::from_secs(seconds))
                        }
                        None => holds.disable(at, HoldSource::Command),
                    };
                }
                None => unknown.push(record.clone()),
            }
        }
        (holds, unknown)
    }
}

/// The server of `plan` that lvs.cf calls `service`/`server`.
pub fn find(plan: &Plan, service: &str, server: &str) -> Option<ServerRef> {
    plan.services
        .iter()
        .filter(|s| s.name == service)
        .flat_map(|s| s.servers.iter())
        .find(|s| s.name == server)
        .map(|s| s.at)
}

/// Each server of `plan` by where it is, with its and its service's names.
fn names_of(plan: &Plan) -> HashMap<ServerRef, (&str, &str)> {
    plan.services
        .iter()
        .flat_map(|s| {
            s.servers
                .iter()
                .map(move |server| (server.at, (s.name.as_str(), server.name.as_str())))
        })
        .collect()
}

/// The servers of `plan` that a maintenance directory's file `name` stands
/// for: ldirectord's names, the server's address (every port and service)
/// or `ADDRESS:PORT` (an IPv6 address in brackets).
pub fn maintenance_matches(plan: &Plan, name: &str) -> Vec<ServerRef> {
    let wanted: Option<(IpAddr, Option<u16>)> =
        name.parse::<IpAddr>().map(|ip| (ip, None)).ok().or_else(|| {
            name.parse::<SocketAddr>()
                .ok()
                .map(|at| (at.ip(), Some(at.port())))
        });
    let Some((addr, port)) = wanted else {
        return Vec::new();
    };
    plan.servers()
        .filter(|s| s.at.addr == addr && port.is_none_or(|p| p == s.at.port))
        .map(|s| s.at)
        .collect()
}

/// How the status reports a server's hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum AdminState {
    /// No hold: its checks alone decide.
    #[default]
    Enabled,
    /// At weight 0 until its connections end.
    Draining,
    /// Out of the table by hand.
    Disabled,
}

impl AdminState {
    /// Every state, in the order the metrics list them.
    pub const ALL: [AdminState; 3] = [AdminState::Enabled, AdminState::Draining, AdminState::Disabled];

    /// The word the status and the metrics use.
    pub fn as_str(self) -> &'static str {
        match self {
            AdminState::Enabled => "enabled",
            AdminState::Draining => "draining",
            AdminState::Disabled => "disabled",
        }
    }

    /// The state of a server held so (or free: `None`).
    pub fn of(held: Option<&Held>) -> AdminState {
        match held.map(|h| h.hold) {
            None => AdminState::Enabled,
            Some(Hold::Draining { .. }) => AdminState::Draining,
            Some(Hold::Disabled) => AdminState::Disabled,
        }
    }
}

impl std::fmt::Display for AdminState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What an operator asks of a server over the status socket.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum AdminAction {
    /// Weight 0, then removal when its connections end.
    Drain,
    /// Removal now.
    Disable,
    /// Back under its checks.
    Enable,
}

impl AdminAction {
    /// The request's word (and the option's name without its dashes).
    pub fn as_str(self) -> &'static str {
        match self {
            AdminAction::Drain => "drain",
            AdminAction::Disable => "disable",
            AdminAction::Enable => "enable",
        }
    }

    /// The action a word names.
    pub fn from_word(word: &str) -> Option<AdminAction> {
        [AdminAction::Drain, AdminAction::Disable, AdminAction::Enable]
            .into_iter()
            .find(|a| a.as_str() == word)
    }
}

/// An operator's request over the status socket (`lvs --drain` and the
/// others), as JSON after the word `admin`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct AdminRequest {
    /// What to do.
    pub action: AdminAction,
    /// The virtual block's name in lvs.cf.
    pub service: String,
    /// The server block's name.
    pub server: String,
    /// A drain's longest time in seconds; `None`: lvs.cf's `drain_timeout`
    /// (or its default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<u64>,
    /// Answer when the drain has ended, not when it has begun.
    #[serde(default)]
    pub wait: bool,
}

impl AdminRequest {
    /// `action` on `SERVICE/SERVER`.
    pub fn new(action: AdminAction, service: impl Into<String>, server: impl Into<String>) -> AdminRequest {
        AdminRequest {
            action,
            service: service.into(),
            server: server.into(),
            timeout_seconds: None,
            wait: false,
        }
    }

    /// A drain of at most `seconds`.
    pub fn timeout_seconds(mut self, seconds: Option<u64>) -> AdminRequest {
        self.timeout_seconds = seconds;
        self
    }

    /// Answered when the drain ends.
    pub fn wait(mut self, wait: bool) -> AdminRequest {
        self.wait = wait;
        self
    }

    /// `SERVICE/SERVER`, as the command line and the log write it.
    pub fn target(&self) -> String {
        format!("{}/{}", self.service, self.server)
    }
}

/// The daemon's answer to an admin request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct AdminAnswer {
    /// Whether it was done.
    pub ok: bool,
    /// What happened, or why not, in a line.
    pub message: String,
    /// The server's state afterwards (none when it is not known).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<AdminState>,
    /// With `--wait`: how the drain ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drain: Option<DrainEnd>,
}

impl AdminAnswer {
    /// Done, with `message`.
    pub fn done(message: impl Into<String>, state: AdminState) -> AdminAnswer {
        AdminAnswer {
            ok: true,
            message: message.into(),
            state: Some(state),
            drain: None,
        }
    }

    /// Refused, with why.
    pub fn refused(why: impl Into<String>) -> AdminAnswer {
        AdminAnswer {
            ok: false,
            message: why.into(),
            state: None,
            drain: None,
        }
    }

    /// The same, once its drain ended as `end`.
    pub fn drained(mut self, end: DrainEnd, message: impl Into<String>) -> AdminAnswer {
        self.drain = Some(end);
        self.message = message.into();
        self.state = Some(match end {
            DrainEnd::Released => AdminState::Enabled,
            _ => AdminState::Disabled,
        });
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::director::{literal_addresses, reconcile, Plan};
    use lvs_ipvs::{Operation, Table};

    const CF: &str = "network = direct\n\
        virtual web {\n active = 1\n address = 192.0.2.1 eth0:1\n port = 80\n\
        server a {\n  address = 10.0.0.1\n  active = 1\n  weight = 3\n }\n\
        server b {\n  address = 10.0.0.2\n  active = 1\n }\n}\n";

    fn plan(text: &str) -> Plan {
        Plan::new(&lvs_cf::parse(text).expect("valid").config, &literal_addresses).expect("plan")
    }

    fn table(
        plan: &Plan,
        health: &HashMap<ServerRef, Health>,
        holds: &Holds,
        kernel: &Table,
    ) -> Vec<Operation> {
        reconcile(
            plan,
            None,
            &crate::director::WithHolds {
                health,
                holds,
                quorums: &crate::quorum::Quorums::new(),
            },
            kernel,
        )
    }

    fn apply(kernel: &mut Table, operations: &[Operation]) {
        for operation in operations {
            kernel.apply(operation);
        }
    }

    #[test]
    fn a_drain_quiesces_then_removes_when_its_connections_end_or_its_deadline_passes() {
        let plan = plan(CF);
        let a = plan.services[0].servers[0].at;
        let b = plan.services[0].servers[1].at;
        let health = HashMap::from([(a, Health::In { weight: 3 }), (b, Health::In { weight: 1 })]);
        let mut holds = Holds::new();
        let mut kernel = Table::default();
        let first = table(&plan, &health, &holds, &kernel);
        apply(&mut kernel, &first);
        let t0 = Instant::now();
        assert_eq!(
            holds.drain(a, HoldSource::Command, t0, Duration::from_secs(60)),
            HoldChange::Started
        );
        let ops = table(&plan, &health, &holds, &kernel);
        assert!(
            matches!(ops.as_slice(), [Operation::EditDest(_, d)] if d.addr == a.addr && d.weight == 0),
            "{ops:?}"
        );
        apply(&mut kernel, &ops);
        assert!(holds.waits_on_connections());
        // Connections go on: nothing ends.
        let busy = |_: &ServiceKey, _: SocketAddr| Some(2);
        assert!(holds
            .settle(t0 + Duration::from_secs(1), &health, Some(&busy))
            .is_empty());
        assert_eq!(holds.next_deadline(), Some(t0 + Duration::from_secs(60)));
        // They end: the server goes, and stays out until enabled.
        let idle = |_: &ServiceKey, _: SocketAddr| Some(0);
        let ended = holds
            .settle(t0 + Duration::from_secs(2), &health, Some(&idle))
            .drained;
        assert_eq!(
            ended,
            vec![Drained {
                at: a,
                end: DrainEnd::Emptied
            }]
        );
        assert_eq!(AdminState::of(holds.get(&a)), AdminState::Disabled);
        let ops = table(&plan, &health, &holds, &kernel);
        assert!(matches!(ops.as_slice(), [Operation::DeleteDest(_, addr, _)] if *addr == a.addr));
        apply(&mut kernel, &ops);
        assert_eq!(holds.release(&a, HoldSource::Command), HoldChange::Released);
        let ops = table(&plan, &health, &holds, &kernel);
        assert!(matches!(ops.as_slice(), [Operation::AddDest(_, d)] if d.addr == a.addr && d.weight == 3));
        // A deadline ends a drain whatever its connections.
        holds.drain(b, HoldSource::Command, t0, Duration::from_secs(5));
        let ended = holds
            .settle(t0 + Duration::from_secs(5), &health, Some(&busy))
            .drained;
        assert_eq!(
            ended,
            vec![Drained {
                at: b,
                end: DrainEnd::Deadline {
                    active_connections: Some(2)
                }
            }]
        );
    }

    #[test]
    fn a_server_held_by_a_command_and_a_file_is_free_when_both_let_go() {
        let plan = plan(CF);
        let a = plan.services[0].servers[0].at;
        let now = Instant::now();
        let mut holds = Holds::new();
        assert_eq!(holds.disable(a, HoldSource::Command), HoldChange::Started);
        assert_eq!(holds.disable(a, HoldSource::Command), HoldChange::Unchanged);
        let changes = holds.maintain(
            &maintenance_matches(&plan, "10.0.0.1"),
            now,
            Duration::from_secs(9),
        );
        assert_eq!(changes, vec![(a, HoldChange::Changed)]);
        assert_eq!(
            AdminState::of(holds.get(&a)),
            AdminState::Disabled,
            "a file drains, but a disabled server stays disabled"
        );
        assert_eq!(holds.release(&a, HoldSource::Command), HoldChange::StillHeld);
        assert_eq!(
            holds.maintain(&[], now, Duration::from_secs(9)),
            vec![(a, HoldChange::Released)]
        );
        assert!(holds.is_empty());
        assert_eq!(holds.release(&a, HoldSource::Command), HoldChange::NotHeld);
        assert_eq!(
            maintenance_matches(&plan, "10.0.0.2:80"),
            vec![plan.services[0].servers[1].at]
        );
        assert!(maintenance_matches(&plan, "10.0.0.2:81").is_empty());
        assert!(maintenance_matches(&plan, "README").is_empty());
    }

    #[test]
    fn holds_follow_the_names_across_a_reload_and_a_restart() {
        let before = plan(CF);
        let a = before.services[0].servers[0].at;
        let b = before.services[0].servers[1].at;
        let now = Instant::now();
        let mut holds = Holds::new();
        holds.drain(a, HoldSource::Command, now, Duration::from_secs(30));
        holds.disable(b, HoldSource::Command);
        // Server a moved to another address; b left the file.
        let after = plan(
            &CF.replace("10.0.0.1", "10.0.0.7")
                .replace("server b {\n  address = 10.0.0.2\n  active = 1\n }\n", ""),
        );
        let (carried, dropped) = holds.after_reload(&before, &after, &after.changed_since(&before), None);
        let moved = after.services[0].servers[0].at;
        assert_eq!(AdminState::of(carried.get(&moved)), AdminState::Draining);
        assert_eq!(dropped, vec![("web".to_owned(), "b".to_owned())]);
        let records = holds.records(&before);
        assert_eq!(
            records,
            vec![
                HoldRecord {
                    service: "web".into(),
                    server: "a".into(),
                    drain_seconds: Some(30)
                },
                HoldRecord {
                    service: "web".into(),
                    server: "b".into(),
                    drain_seconds: None
                },
            ]
        );
        let (restored, unknown) = Holds::restored(&records, &after, now);
        assert_eq!(AdminState::of(restored.get(&moved)), AdminState::Draining);
        assert_eq!(unknown, vec![records[1].clone()]);
    }

    #[test]
    fn with_a_drain_timeout_a_reload_keeps_the_entries_it_drops_leaving() {
        let before = plan(CF);
        let b = before.services[0].servers[1].at;
        let health: HashMap<ServerRef, Health> = before
            .servers()
            .map(|s| (s.at, Health::In { weight: s.weight }))
            .collect();
        let mut kernel = Table::default();
        let first = table(&before, &health, &Holds::new(), &kernel);
        apply(&mut kernel, &first);
        let after = plan(&CF.replace("server b {\n  address = 10.0.0.2\n  active = 1\n }\n", ""));
        let changed = after.changed_since(&before);
        let now = Instant::now();
        let (holds, _) = Holds::new().after_reload(
            &before,
            &after,
            &changed,
            Some((&kernel, now + Duration::from_secs(9))),
        );
        assert_eq!(holds.leaving(&b.service).len(), 1);
        let ops = table(&after, &health, &holds, &kernel);
        assert!(
            matches!(ops.as_slice(), [Operation::EditDest(_, d)] if d.addr == b.addr && d.weight == 0),
            "{ops:?}"
        );
        let (immediate, _) = Holds::new().after_reload(&before, &after, &changed, None);
        assert!(matches!(
            table(&after, &health, &immediate, &kernel).as_slice(),
            [Operation::DeleteDest(_, addr, _)] if *addr == b.addr
        ));
    }

    #[test]
    fn an_entry_a_reload_drops_stays_at_weight_zero_while_it_has_connections() {
        let plan = plan(CF);
        let a = plan.services[0].servers[0].at;
        let key = a.service;
        let gone = lvs_ipvs::Destination::at(
            "10.0.0.9:80".parse().expect("literal"),
            lvs_ipvs::ForwardMethod::DirectRoute,
        )
        .weight(5);
        let health = HashMap::from([(a, Health::In { weight: 3 })]);
        let mut kernel = Table::default();
        let first = table(&plan, &health, &Holds::new(), &kernel);
        apply(&mut kernel, &first);
        kernel.apply(&Operation::AddDest(key, gone.clone()));
        let now = Instant::now();
        let mut holds = Holds::new();
        holds.leave(key, gone.clone(), now + Duration::from_secs(10));
        let ops = table(&plan, &health, &holds, &kernel);
        assert!(
            matches!(ops.as_slice(), [Operation::EditDest(_, d)] if d.addr == gone.addr && d.weight == 0),
            "{ops:?}"
        );
        apply(&mut kernel, &ops);
        // A reload that has the server again takes it back; one without it keeps it leaving.
        let again = super::tests::plan(&CF.replace("10.0.0.2", "10.0.0.9"));
        let changed = again.changed_since(&plan);
        assert!(holds.after_reload(&plan, &again, &changed, None).0.is_empty());
        assert!(!holds.after_reload(&plan, &plan, &changed, None).0.is_empty());
        assert!(holds
            .settle(now, &health, Some(&|_: &ServiceKey, _: SocketAddr| Some(1)))
            .is_empty());
        assert!(holds.waits_on_connections());
        let settled = holds.settle(now, &health, Some(&|_: &ServiceKey, _: SocketAddr| Some(0)));
        assert_eq!(settled.left, std::collections::BTreeSet::from([key]));
        assert!(!holds.waits_on_connections());
        let ops = table(&plan, &health, &holds, &kernel);
        assert!(matches!(ops.as_slice(), [Operation::DeleteDest(_, addr, _)] if *addr == gone.addr));
    }
}
