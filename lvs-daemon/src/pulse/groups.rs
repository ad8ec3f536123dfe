//! pulse with VIP groups: the IO shell around `lvs_core::election`.
//!
//! Every router runs the lvs daemon from the start (each holds the IPVS
//! table, so a group's VIP can arrive anywhere) and, with `syncdaemon = 1`,
//! both sync daemons, so connections follow a group in either direction.
//! The election decides which groups this router holds; this shell brings
//! their VIPs up or down, announces them, runs the groups' `notify`
//! programs, watches the tracked checks and exchanges group heartbeats
//! with every other router over each of its channels.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use lvs_arp::link::{Change, Rtnl};
use lvs_cf::{Config, TrackTarget};
use lvs_core::election::{
    Action, Election, Event, GroupIndex, GroupState, Reason, RouterId, TrackConfig, TrackEffect,
};
use lvs_core::groups::{GroupSettings, GroupStatus, GroupsStatus, PeerStatus, TrackSettings, TrackStatus};
use lvs_core::heartbeat::{Authenticator, HeartbeatError, PeerLink};
use lvs_core::throttle::Throttle;
use lvs_ipvs::{Daemon, DaemonState, Ipvs};
use tokio::net::UdpSocket;
use tokio::process::Command;
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::{
    bind_heartbeat_sockets, bring_up_and_announce, local_addresses, random_session, report_dropped,
    take_down, Command_, KeyMaterial, PulseError, PulseExit, PulseHandle, PulseOptions, RunningLvs,
    SharedCounters, Waiting, Wake, DROPPED_LINES_PER_MINUTE, LVSD_STOP_GRACE,
};
use crate::config::load_config;
use crate::director::system_resolver;
use crate::log::{Fields, Log, LogEvent, Severity};
use crate::service::{without_manager, Phase};
use crate::status::{LineAnswer, SocketFile};

fn lock(status: &Mutex<GroupsStatus>) -> std::sync::MutexGuard<'_, GroupsStatus> {
    status.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Events kept for a slow `--events` client before it is told it lost some.
const EVENT_BACKLOG: usize = 256;

/// The name of the track pulse adds for the lvs daemon: while it is not
/// running this router holds no group.
const LVS_DAEMON_TRACK: &str = "lvs daemon";

/// lvs.cf read as pulse reads it with VIP groups, with the keys.
fn read_settings(config: &Config, rtnl: &mut Rtnl) -> Result<(GroupSettings, KeyMaterial), PulseError> {
    let local = local_addresses(rtnl)?;
    let mut settings = GroupSettings::from_config(config, &local, &system_resolver)?;
    let key = KeyMaterial::read(&settings.keys)?;
    // The lvs daemon's own track, last: a fault in every group while it is down.
    settings.election = settings
        .election
        .clone()
        .track(TrackConfig::new(LVS_DAEMON_TRACK, TrackEffect::Fault));
    Ok((settings, key))
}

/// The pulse of VIP groups.
pub(super) struct GroupPulse {
    options: PulseOptions,
    settings: GroupSettings,
    key: KeyMaterial,
    machine: Election,
    startup: Vec<Action>,
    rtnl: Rtnl,
    bound: Vec<std::net::UdpSocket>,
    sockets: Vec<UdpSocket>,
    /// By router id: the link to each other router (`None` for this one).
    links: Vec<Option<PeerLink>>,
    dropped_lines: Throttle,
    lvsd: Option<RunningLvs>,
    /// By group: the announcements under way.
    announcing: Vec<Option<JoinHandle<()>>>,
    watchers: Vec<JoinHandle<()>>,
    /// What the watchers see: tracked checks, the connection table.
    observed: UnboundedReceiver<Event>,
    observed_sender: UnboundedSender<Event>,
    sync_running: bool,
    /// What the status says beyond the machine's state: changes,
    /// announcements and transitions, kept as they happen.
    record: GroupsStatus,
    /// The latest status, for the status socket and the metrics.
    published: Arc<Mutex<GroupsStatus>>,
    /// The JSON-lines event stream (`pulse --events`).
    events: tokio::sync::broadcast::Sender<Arc<str>>,
    metrics: Option<std::net::TcpListener>,
    status_socket: Option<(std::os::unix::net::UnixListener, SocketFile)>,
    log: Log,
    commands: UnboundedReceiver<Command_>,
    handle: PulseHandle,
    phase: watch::Sender<Phase>,
}

impl GroupPulse {
    /// Finds this router among the groups' routers and binds its heartbeat
    /// sockets.
    pub(super) fn prepare(
        options: PulseOptions,
        config: &Config,
        log: Log,
    ) -> Result<GroupPulse, PulseError> {
        let metrics = options
            .metrics
            .map(|address| {
                crate::metrics::bind(address).map_err(|source| PulseError::Metrics { address, source })
            })
            .transpose()?;
        let status_socket = options
            .status_socket
            .as_deref()
            .map(|path| {
                crate::status::SocketFile::bind(path).map_err(|source| PulseError::StatusSocket {
                    path: path.to_owned(),
                    source,
                })
            })
            .transpose()?;
        let mut rtnl = Rtnl::connect().map_err(PulseError::Rtnetlink)?;
        let (settings, key) = read_settings(config, &mut rtnl)?;
        let bound = bind_heartbeat_sockets(settings.own())?;
        let session = random_session()?;
        let window = Authenticator::window_for(settings.election.keepalive, settings.election.deadtime);
        let keyring = key.keyring()?;
        let links = (0..settings.routers.len())
            .map(|id| {
                let peer = RouterId(id as u8);
                (peer != settings.me)
                    .then(|| PeerLink::new(keyring.clone(), settings.me, peer, session, window))
            })
            .collect();
        let (machine, startup) = Election::new(settings.election.clone(), Instant::now());
        let (sender, commands) = unbounded_channel();
        let (observed_sender, observed) = unbounded_channel();
        let (phase, phases) = watch::channel(Phase::Starting);
        let mut record = GroupsStatus::default();
        record.router = settings.routers[usize::from(settings.me.0)].name.clone();
        for group in &settings.groups {
            let mut status = GroupStatus::default();
            status.name = group.name.clone();
            status.vips = group.vips.iter().map(|v| v.ip).collect();
            record.groups.push(status);
        }
        Ok(GroupPulse {
            record,
            published: Arc::default(),
            events: tokio::sync::broadcast::channel(EVENT_BACKLOG).0,
            metrics,
            status_socket,
            announcing: settings.groups.iter().map(|_| None).collect(),
            options,
            settings,
            key,
            machine,
            startup,
            rtnl,
            bound,
            sockets: Vec::new(),
            links,
            dropped_lines: Throttle::new(DROPPED_LINES_PER_MINUTE, Duration::from_secs(60)),
            lvsd: None,
            watchers: Vec::new(),
            observed,
            observed_sender,
            sync_running: false,
            log,
            commands,
            handle: PulseHandle {
                commands: sender,
                heartbeats: SharedCounters::default(),
                phases,
            },
            phase,
        })
    }

    pub(super) fn handle(&self) -> PulseHandle {
        self.handle.clone()
    }

    pub(super) async fn run(
        mut self,
        shutdown: impl std::future::Future<Output = ()>,
    ) -> Result<PulseExit, PulseError> {
        self.sockets = std::mem::take(&mut self.bound)
            .into_iter()
            .map(UdpSocket::from_std)
            .collect::<Result<Vec<_>, _>>()
            .map_err(PulseError::Watch)?;
        let mut servers = Vec::new();
        if let Some(listener) = self.metrics.take() {
            let published = Arc::clone(&self.published);
            let render = move || {
                let text = crate::metrics::render_groups(&lock(&published));
                std::future::ready(Some(Arc::new(text)))
            };
            servers.extend(crate::metrics::spawn(listener, render, &self.log));
        }
        // Removed when this ends.
        let mut _socket_file = None;
        if let Some((listener, file)) = self.status_socket.take() {
            _socket_file = Some(file);
            match tokio::net::UnixListener::from_std(listener) {
                Ok(listener) => {
                    let published = Arc::clone(&self.published);
                    let events = self.events.clone();
                    servers.push(tokio::spawn(crate::status::serve_lines(
                        listener,
                        move |request| {
                            let status = || lock(&published).clone();
                            match request {
                                "json" => serde_json::to_string_pretty(&status())
                                    .ok()
                                    .map(|json| LineAnswer::Once(json + "\n")),
                                "text" | "" => Some(LineAnswer::Once(status().text(crate::events::now()))),
                                "events" => Some(LineAnswer::Events(events.subscribe())),
                                _ => None,
                            }
                        },
                    )));
                }
                Err(e) => self.log.error(&format!("cannot answer status requests: {e}")),
            }
        }
        self.serve(shutdown).await;
        for server in servers {
            server.abort();
        }
        for watcher in self.watchers.drain(..) {
            watcher.abort();
        }
        if let Some(lvs) = self.lvsd.take() {
            lvs.stop(&self.log).await;
        }
        if self.sync_running {
            switch_sync_daemons(&self.settings, false, &self.log).await;
        }
        Ok(PulseExit::Stopped)
    }

    fn me(&self) -> &str {
        &self.settings.routers[usize::from(self.settings.me.0)].name
    }

    async fn serve(&mut self, shutdown: impl std::future::Future<Output = ()>) {
        let mut shutdown = std::pin::pin!(shutdown);
        let mut shut = false;
        let start = format!(
            "STARTING PULSE AS ROUTER {} OF {} ({} VIP groups)",
            self.me(),
            self.settings.routers.len(),
            self.settings.groups.len()
        );
        self.log
            .write_with(Severity::Notice, &start, Fields::event(LogEvent::Start));
        self.remove_stale_vips();
        if !self.options.dry_run {
            self.start_lvsd(Instant::now());
            if self.settings.sync_daemon.is_some() {
                switch_sync_daemons(&self.settings, true, &self.log).await;
                self.sync_running = true;
            }
        }
        self.start_watchers();
        let startup = std::mem::take(&mut self.startup);
        self.perform(startup).await;
        let mut buffers = vec![[0u8; 512]; self.sockets.len()];
        self.show_phase();
        loop {
            let wake = Waiting {
                deadline: self.machine.next_timeout(),
                sockets: &self.sockets,
                buffers: &mut buffers,
                lvsd: self.lvsd.as_mut(),
                shutdown: shutdown.as_mut(),
                shut: &mut shut,
                commands: &mut self.commands,
                observed: Some(&mut self.observed),
            }
            .next()
            .await;
            let now = Instant::now();
            let actions = match wake {
                Wake::Timer => self.machine.on_timeout(now),
                Wake::Datagram(index, Ok((len, from))) => {
                    let datagram = buffers[index][..len].to_vec();
                    self.read_heartbeat(&datagram, from, now)
                }
                Wake::Datagram(_, Err(e)) => {
                    self.log.debug(&format!("heartbeat receive failed: {e}"));
                    Vec::new()
                }
                Wake::ChildExited(how) => {
                    self.lvsd = None;
                    self.log
                        .error(&format!("{how}: this router gives its VIP groups away"));
                    self.machine.handle(
                        Event::Track {
                            track: self.lvs_track(),
                            passed: false,
                        },
                        now,
                    )
                }
                Wake::Observed(event) => self.machine.handle(event, now),
                Wake::Terminate(why) => {
                    if !why.is_empty() {
                        self.log
                            .write_with(Severity::Notice, &why, Fields::event(LogEvent::Stop));
                    }
                    self.phase.send_replace(Phase::Stopping);
                    let actions = self.machine.handle(Event::Stop, now);
                    self.perform(actions).await;
                    return;
                }
                Wake::Reload => {
                    self.phase.send_replace(Phase::Reloading);
                    self.reload(now).await;
                    Vec::new()
                }
                Wake::Ignored(line) => {
                    self.log.debug(&line);
                    Vec::new()
                }
            };
            self.perform(actions).await;
            self.show_phase();
            self.publish(Instant::now());
        }
    }

    /// Publishes the status as of `now`.
    fn publish(&mut self, now: Instant) {
        let wall = crate::events::now();
        let ago = |at: Instant| wall - now.saturating_duration_since(at).as_secs_f64();
        for (index, group) in self.record.groups.iter_mut().enumerate() {
            group.state = self
                .machine
                .state(index)
                .map(|s| s.word().to_owned())
                .unwrap_or_default();
            group.priority = self.machine.priority(index);
            group.holder = self
                .machine
                .holder(index, now)
                .map(|id| self.settings.routers[usize::from(id.0)].name.clone());
        }
        self.record.peers = (0..self.settings.routers.len())
            .filter(|&id| id != usize::from(self.settings.me.0))
            .map(|id| {
                let mut peer = PeerStatus::default();
                peer.name = self.settings.routers[id].name.clone();
                peer.addresses = self.settings.routers[id].addresses.clone();
                peer.heard = self.machine.peer_heard(RouterId(id as u8)).map(ago);
                peer.connections = self.machine.peer_connections(RouterId(id as u8));
                peer
            })
            .collect();
        self.record.tracks = (0..self.settings.election.tracks.len())
            .map(|index| {
                let mut track = TrackStatus::default();
                track.name = self.settings.election.tracks[index].name.clone();
                track.passing = self.machine.track_passing(index).unwrap_or(true);
                track
            })
            .collect();
        self.record.heartbeats = self.handle.heartbeats();
        self.record.connections = self.machine.connections();
        self.record.ready = self.machine.is_ready();
        self.record.at = wall;
        *lock(&self.published) = self.record.clone();
    }

    fn lvs_track(&self) -> usize {
        self.settings.election.tracks.len() - 1
    }

    fn start_lvsd(&mut self, now: Instant) {
        match RunningLvs::start(&self.options, &self.log) {
            Ok(lvs) => self.lvsd = Some(lvs),
            Err(e) => {
                self.log.error(&e);
                let track = self.lvs_track();
                let actions = self.machine.handle(Event::Track { track, passed: false }, now);
                self.startup.extend(actions);
            }
        }
    }

    /// One task per tracked check, sending each result to the main loop.
    fn start_watchers(&mut self) {
        for (index, track) in self.settings.tracks.iter().enumerate() {
            let (track, sender) = (track.clone(), self.observed_sender.clone());
            self.watchers.push(tokio::spawn(async move {
                let mut ticker = tokio::time::interval(track.interval);
                ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    ticker.tick().await;
                    let passed = look(&track).await;
                    if sender.send(Event::Track { track: index, passed }).is_err() {
                        return;
                    }
                }
            }));
        }
        if !self.options.dry_run {
            count_connections(
                self.settings.election.keepalive.max(COUNT_AT_MOST_EVERY),
                self.observed_sender.clone(),
                self.log.clone(),
            );
        }
    }

    /// What a serving router tells a service manager.
    fn show_phase(&self) {
        if *self.phase.borrow() == Phase::Stopping {
            return;
        }
        let held: Vec<&str> = (0..self.settings.groups.len())
            .filter(|&g| self.machine.state(g) == Some(GroupState::Master))
            .map(|g| self.settings.groups[g].name.as_str())
            .collect();
        let holding = if held.is_empty() {
            "holding no VIP group".to_owned()
        } else {
            format!("holding {}", held.join(", "))
        };
        let dry = if self.options.dry_run {
            " (test start: nothing is changed)"
        } else {
            ""
        };
        let line = Phase::Running(format!("router {}, {holding}{dry}", self.me()));
        self.phase.send_if_modified(|phase| {
            let changed = *phase != line;
            *phase = line;
            changed
        });
    }

    fn read_heartbeat(&mut self, datagram: &[u8], from: SocketAddr, now: Instant) -> Vec<Action> {
        let peer = self.settings.router_at(from.ip());
        let outcome = match peer.and_then(|peer| self.links[usize::from(peer.0)].as_mut()) {
            Some(link) => link.open(datagram),
            None => Err(HeartbeatError::UnexpectedSource(from.ip())),
        };
        self.handle
            .heartbeats
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .count(&outcome);
        match (outcome, peer) {
            (Ok(heartbeat), Some(from)) => self.machine.handle(
                Event::Heard {
                    from,
                    adverts: heartbeat.adverts,
                    connections: heartbeat.connections,
                },
                now,
            ),
            (Err(e), _) => {
                report_dropped(&self.log, &mut self.dropped_lines, &self.handle, &e, from, now);
                Vec::new()
            }
            (Ok(_), None) => Vec::new(),
        }
    }

    async fn send_heartbeats(&mut self, adverts: &[lvs_core::election::GroupAdvert]) {
        let connections = self.machine.connections();
        for (id, link) in self.links.iter_mut().enumerate() {
            let Some(link) = link else { continue };
            // Sealed once per router: the copy over the other channel is a duplicate.
            let datagram = link.seal(adverts, connections);
            let addresses = &self.settings.routers[id].addresses;
            for (channel, socket) in self.sockets.iter().enumerate() {
                let Some(to) = addresses.get(channel).or(addresses.first()) else {
                    continue;
                };
                if let Err(e) = socket.send_to(&datagram, to).await {
                    self.log.debug(&format!("heartbeat to {to} failed: {e}"));
                }
            }
        }
    }

    async fn perform(&mut self, actions: Vec<Action>) {
        for action in actions {
            match action {
                Action::SendHeartbeat(adverts) => self.send_heartbeats(&adverts).await,
                Action::Transition {
                    group,
                    from,
                    to,
                    reason,
                } => self.transition(group, from, to, reason),
                Action::Announce(group) => {
                    self.log.debug(&format!(
                        "vip_group {}: announcing again",
                        self.settings.groups[group].name
                    ));
                    self.announce(group);
                }
                Action::TrackChanged { track, passing } => {
                    let name = &self.settings.election.tracks[track].name;
                    let line = if passing {
                        format!("track {name} passes again")
                    } else {
                        format!("track {name} fails")
                    };
                    self.log.notice(&line);
                    self.emit(serde_json::json!({ "event": "track", "track": name, "passing": passing }));
                }
                Action::TableReady {
                    connections,
                    holders,
                    waited,
                    bound_passed,
                } => self.table_ready(connections, holders, waited, bound_passed),
                _ => {}
            }
        }
    }

    /// The readiness gate opened: how far behind the table was, in the log
    /// and the event stream.
    fn table_ready(
        &mut self,
        connections: Option<u32>,
        holders: Option<u32>,
        waited: Duration,
        bound_passed: bool,
    ) {
        let waited_s = waited.as_secs_f64();
        let count = |count: Option<u32>, none: &str| {
            count.map_or_else(|| none.to_owned(), |c| format!("{c} connections"))
        };
        let (here, there) = (count(connections, "not counted"), count(holders, "none counted"));
        let line = if bound_passed {
            let behind = match (connections, holders) {
                (Some(mine), Some(theirs)) if theirs > mine => format!(" ({} behind)", theirs - mine),
                _ => String::new(),
            };
            format!(
                "connection table not caught up after {waited_s:.1}s, the catch_up_bound: {here} here, {there} \
                 at the holders{behind}; taking VIP groups back anyway"
            )
        } else {
            format!("connection table caught up after {waited_s:.1}s: {here} here, {there} at the holders")
        };
        if bound_passed {
            self.log.warning(&line);
        } else {
            self.log.notice(&line);
        }
        self.emit(serde_json::json!({
            "event": "table_ready",
            "connections": connections,
            "holders": holders,
            "waited": waited_s,
            "bound_passed": bound_passed,
        }));
    }

    fn transition(&mut self, group: GroupIndex, from: GroupState, to: GroupState, reason: Reason) {
        let name = self.settings.groups[group].name.clone();
        let record = &mut self.record.groups[group];
        record.changed = Some((crate::events::now(), reason.word().to_owned()));
        match record
            .transitions
            .iter_mut()
            .find(|(t, r, _)| t == to.word() && r == reason.word())
        {
            Some((_, _, count)) => *count += 1,
            None => record
                .transitions
                .push((to.word().to_owned(), reason.word().to_owned(), 1)),
        }
        let why = self.reason_text(reason);
        let (event, severity) = match to {
            GroupState::Master => (LogEvent::Activate, Severity::Notice),
            GroupState::Fault => (LogEvent::Deactivate, Severity::Warning),
            _ => (LogEvent::Deactivate, Severity::Notice),
        };
        self.log.write_with(
            severity,
            &format!("vip_group {name}: {from} -> {to} ({why})"),
            Fields::event(event),
        );
        if to == GroupState::Master {
            self.announce(group);
        } else if from == GroupState::Master {
            if let Some(task) = self.announcing[group].take() {
                task.abort();
            }
            if !self.options.dry_run {
                take_down(&mut self.rtnl, &self.settings.groups[group].vips, &self.log);
            }
        }
        self.notify(group, from, to, reason);
        let vips: Vec<String> = self.settings.groups[group]
            .vips
            .iter()
            .map(|v| v.ip.to_string())
            .collect();
        self.emit(serde_json::json!({
            "event": "group",
            "group": name,
            "old": from.word(),
            "new": to.word(),
            "reason": reason.word(),
            "vips": vips,
        }));
    }

    /// Sends an event to `--events` clients, with its time and router.
    fn emit(&self, mut event: serde_json::Value) {
        if let Some(fields) = event.as_object_mut() {
            fields.insert("time".to_owned(), crate::events::now().into());
            fields.insert("router".to_owned(), self.me().into());
        }
        // No client: nobody to tell.
        let _ = self.events.send(Arc::from(format!("{event}\n")));
    }

    fn reason_text(&self, reason: Reason) -> String {
        match reason {
            Reason::NoHolder => "no live router held it".to_owned(),
            Reason::Preempting => "this router outranks its holder".to_owned(),
            Reason::Outranked => "a higher-ranked router holds it".to_owned(),
            Reason::Fault(track) => format!("track {} fails", self.settings.election.tracks[track].name),
            Reason::NoPriority => "this router has no priority in it".to_owned(),
            Reason::FaultCleared => "the fault cleared".to_owned(),
            Reason::Stopping => "pulse is stopping".to_owned(),
            _ => reason.word().to_owned(),
        }
    }

    fn announce(&mut self, group: GroupIndex) {
        if self.options.dry_run {
            return;
        }
        if let Some(task) = self.announcing[group].take() {
            task.abort();
        }
        self.record.groups[group].announced = Some(crate::events::now());
        let burst = lvs_arp::announce::Burst {
            count: self.settings.announcing.count,
            interval: self.settings.announcing.interval,
        };
        self.announcing[group] = bring_up_and_announce(
            &mut self.rtnl,
            &self.settings.groups[group].vips,
            burst,
            &self.log,
        );
    }

    /// Runs the group's `notify` program: `GROUP OLD NEW REASON VIP...`,
    /// the same in `LVS_GROUP`, `LVS_OLD_STATE`, `LVS_NEW_STATE`,
    /// `LVS_REASON` and `LVS_VIPS`, and `LVS_ROUTER`. Not waited for.
    fn notify(&self, group: GroupIndex, from: GroupState, to: GroupState, reason: Reason) {
        let settings = &self.settings.groups[group];
        let Some(program) = &settings.notify else { return };
        if self.options.dry_run {
            return;
        }
        let mut argv = program.split(' ').filter(|w| !w.is_empty());
        let Some(path) = argv.next() else { return };
        let vips: Vec<String> = settings.vips.iter().map(|v| v.ip.to_string()).collect();
        let mut command = Command::new(path);
        without_manager(&mut command)
            .args(argv)
            .args([settings.name.as_str(), from.word(), to.word(), reason.word()])
            .args(&vips)
            .env("LVS_GROUP", &settings.name)
            .env("LVS_OLD_STATE", from.word())
            .env("LVS_NEW_STATE", to.word())
            .env("LVS_REASON", reason.word())
            .env("LVS_VIPS", vips.join(" "))
            .env("LVS_ROUTER", self.me());
        if let Err(e) = command.spawn() {
            self.log.error(&format!("cannot run {program}: {e}"));
        }
    }

    /// A crashed pulse may have left VIPs up: every group starts as a backup.
    fn remove_stale_vips(&mut self) {
        if self.options.dry_run {
            return;
        }
        for vip in self.settings.groups.iter().flat_map(|g| g.vips.clone()) {
            if let Ok(Change::Removed) = self.rtnl.remove_vip(&vip.device, vip.ip) {
                self.log
                    .notice(&format!("removed the stale VIP {} from {}", vip.ip, vip.device));
            }
        }
    }

    /// SIGHUP: new keys, timers and VIPs take effect; a change of routers,
    /// groups or tracks needs a restart; an invalid file changes nothing.
    async fn reload(&mut self, now: Instant) {
        self.log.info("SIGHUP received: re-reading the configuration");
        let loaded = load_config(&self.options.configfile)
            .map_err(PulseError::from)
            .and_then(|config| read_settings(&config, &mut self.rtnl));
        match loaded {
            Err(e) => self.log.write_with(
                Severity::Error,
                &format!("{e}; keeping the running configuration"),
                Fields::event(LogEvent::ReloadRefused),
            ),
            Ok((new, _)) if !same_shape(&new, &self.settings) => self.log.warning(
                "the routers, VIP groups or tracks changed; restart pulse to apply that. \
                 Keeping the running configuration",
            ),
            Ok((new, key)) => {
                if key != self.key {
                    match key.keyring() {
                        Ok(ring) => {
                            for link in self.links.iter_mut().flatten() {
                                link.set_keys(ring.clone());
                            }
                            self.key = key;
                        }
                        Err(e) => self.log.error(&format!("{e}; keeping the running keys")),
                    }
                }
                let (keepalive, deadtime) = (new.election.keepalive, new.election.deadtime);
                self.machine.set_timers(keepalive, deadtime, now);
                for link in self.links.iter_mut().flatten() {
                    link.set_window(Authenticator::window_for(keepalive, deadtime));
                }
                let old = std::mem::replace(&mut self.settings, new);
                for group in 0..self.settings.groups.len() {
                    if self.machine.state(group) != Some(GroupState::Master) || self.options.dry_run {
                        continue;
                    }
                    let vips = &self.settings.groups[group].vips;
                    let gone: Vec<_> = old.groups[group]
                        .vips
                        .iter()
                        .filter(|v| !vips.contains(v))
                        .cloned()
                        .collect();
                    take_down(&mut self.rtnl, &gone, &self.log);
                    if vips.iter().any(|v| !old.groups[group].vips.contains(v)) {
                        self.announce(group);
                    }
                }
                self.log.write_with(
                    Severity::Notice,
                    "configuration re-read",
                    Fields::event(LogEvent::Reload),
                );
            }
        }
        if let Some(lvs) = self.lvsd.as_mut() {
            lvs.reload();
        }
    }
}

/// Whether a reload keeps what the running election was built on.
fn same_shape(new: &GroupSettings, old: &GroupSettings) -> bool {
    let names = |s: &GroupSettings| s.groups.iter().map(|g| g.name.clone()).collect::<Vec<_>>();
    new.me == old.me
        && new.routers == old.routers
        && names(new) == names(old)
        && new.tracks == old.tracks
        && new.election.groups == old.election.groups
        && new.election.tracks == old.election.tracks
}

/// The shortest time between two counts of the connection table: each is a
/// dump of every service's destinations, too much for a fast `keepalive`
/// on a large table, and the gate needs no finer step.
const COUNT_AT_MOST_EVERY: Duration = Duration::from_secs(1);

/// Counts the active connections of this router's IPVS table every `every`, on a
/// thread of its own (netlink is blocking), and sends each count to the
/// main loop, for the heartbeats and the readiness gate. Ends within one
/// `every` of the main loop; while IPVS does not answer it says so once,
/// sends nothing (the heartbeats then say "not counted") and tries again.
fn count_connections(every: Duration, sender: UnboundedSender<Event>, log: Log) {
    let thread_log = log.clone();
    let spawned = std::thread::Builder::new()
        .name("pulse-table".to_owned())
        .spawn(move || {
            let mut ipvs: Option<Ipvs> = None;
            let mut failing = false;
            loop {
                // Connected again after a failure: IPVS may come later (the
                // lvs daemon loads the module; this thread never does).
                let counted = match ipvs.as_mut() {
                    Some(ipvs) => ipvs.active_connections(),
                    None => Ipvs::connect_without_modprobe().and_then(|mut fresh| {
                        let counted = fresh.active_connections();
                        ipvs = Some(fresh);
                        counted
                    }),
                };
                if counted.is_err() {
                    ipvs = None;
                }
                match counted {
                    Ok(count) => {
                        failing = false;
                        let connections = u32::try_from(count).unwrap_or(u32::MAX);
                        if sender.send(Event::Table { connections }).is_err() {
                            return;
                        }
                    }
                    Err(e) if !failing => {
                        failing = true;
                        thread_log.warning(&format!("cannot count the connection table: {e}"));
                    }
                    Err(_) => {}
                }
                std::thread::sleep(every);
                if sender.is_closed() {
                    return;
                }
            }
        });
    if let Err(e) = spawned {
        log.warning(&format!("cannot count the connection table: {e}"));
    }
}

/// Starts (or stops) both sync daemons, master and backup, on a thread of
/// its own: a stop waits for the kernel's threads.
async fn switch_sync_daemons(settings: &GroupSettings, start: bool, log: &Log) {
    let Some(daemon) = settings.sync_daemon.clone() else {
        return;
    };
    let log = log.clone();
    let switched = tokio::task::spawn_blocking(move || {
        let mut ipvs = match Ipvs::connect() {
            Ok(ipvs) => ipvs,
            Err(e) => return log.error(&format!("sync daemon: {e}")),
        };
        for state in [DaemonState::Master, DaemonState::Backup] {
            let _ = ipvs.stop_daemon(state);
            if start {
                match ipvs.start_daemon(&Daemon::new(state, &daemon.interface, daemon.sync_id)) {
                    Ok(()) => log.debug(&format!(
                        "sync daemon: {state:?} on {}, id {}",
                        daemon.interface, daemon.sync_id
                    )),
                    Err(e) => log.error(&format!("sync daemon {state:?}: {e}")),
                }
            }
        }
    });
    let _ = tokio::time::timeout(LVSD_STOP_GRACE, switched).await;
}

/// One look at a tracked check: whether it passes now.
async fn look(track: &TrackSettings) -> bool {
    match &track.target {
        TrackTarget::Program(program) => {
            let mut argv = program.split(' ').filter(|w| !w.is_empty());
            let Some(path) = argv.next() else { return false };
            let mut command = Command::new(path);
            without_manager(&mut command)
                .args(argv)
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::null())
                .kill_on_drop(true);
            // A program that outlasts its interval fails, and is killed.
            match tokio::time::timeout(track.interval, command.status()).await {
                Ok(Ok(status)) => status.success(),
                _ => false,
            }
        }
        TrackTarget::Process(name) => {
            let name = name.clone();
            tokio::task::spawn_blocking(move || process_runs(&name))
                .await
                .unwrap_or(false)
        }
        TrackTarget::Interface(name) => Rtnl::connect()
            .and_then(|mut rtnl| rtnl.interface(name))
            .is_ok_and(|interface| interface.up && interface.carrier),
        TrackTarget::File(path) => std::fs::symlink_metadata(Path::new(path)).is_err(),
        _ => false,
    }
}

/// Whether a process whose command name (`/proc/PID/comm`) is `name` runs.
fn process_runs(name: &str) -> bool {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return false;
    };
    entries.flatten().any(|entry| {
        let pid = entry.file_name();
        pid.to_str()
            .is_some_and(|pid| pid.bytes().all(|b| b.is_ascii_digit()))
            && std::fs::read_to_string(entry.path().join("comm")).is_ok_and(|comm| comm.trim_end() == name)
    })
}
