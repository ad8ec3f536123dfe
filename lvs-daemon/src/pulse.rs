//! pulse: the failover daemon of LVS routers, the IO shell around
//! `lvs-core`'s failover machines.
//!
//! [`Pulse::prepare`] reads lvs.cf and binds the heartbeat sockets;
//! [`Pulse::run`] owns the sockets, the timers and the lvs daemon (a child
//! process, or a [`Director`] in this process), feeds events to the machine
//! and carries out its actions through `lvs-arp` (VIPs and announcements)
//! and `lvs-ipvs` (the sync daemon). Nothing here decides when to fail over.
//!
//! A file of Piranha's kind runs the pair ([`RouterSettings`]: role,
//! heartbeat channels, timers, VIPs, commands; `lvs_core::failover`): the
//! active router holds every VIP and runs the lvs daemon. A file with
//! `vip_group` blocks runs one election per group over every router
//! (`lvs_core::groups::GroupSettings`, `lvs_core::election`): the lvs
//! daemon runs on every router, and each group's VIPs are brought up where
//! the group is held.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use lvs_arp::announce::{send_burst, Burst};
use lvs_arp::frame::Announcement;
use lvs_arp::link::{Change, Rtnl};
use lvs_arp::packet::PacketSocket;
use lvs_core::failover::{Action, DeactivateReason, Event, Failover, PeerState, Role};
use lvs_core::groups::KeyFiles;
use lvs_core::heartbeat::{self, Authenticator, HeartbeatCounters, HeartbeatError, Keyring};
use lvs_core::router::{RouterSettings, SettingsError, Vip};
use lvs_core::throttle::{Throttle, Verdict};
use lvs_ipvs::{Daemon, DaemonState, Ipvs};
use tokio::net::UdpSocket;
use tokio::process::{Child, Command};
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::config::load_config;
use crate::director::{system_resolver, Director, DirectorHandle, DirectorOptions};
use crate::log::{Fields, Log, LogEvent, Severity};
use crate::service::{without_manager, Phase, Supervised};

/// How long the lvs daemon has to exit after SIGTERM before it is killed.
const LVSD_STOP_GRACE: Duration = Duration::from_secs(10);
/// A shared key shorter than this is refused: it would be guessable.
const MIN_KEY_LEN: usize = 16;
/// Logged when heartbeats go without `heartbeat_key` (Piranha's format).
const UNAUTHENTICATED_WARNING: &str =
    "WARNING: heartbeats are not authenticated (no heartbeat_key in lvs.cf): \
     anyone who can send from the partner's address can make this router take over or stand down; \
     see docs/pulse.md";
/// The heartbeat counters, shared by a pulse and its handles.
type SharedCounters = std::sync::Arc<std::sync::Mutex<HeartbeatCounters>>;

/// Lines about dropped heartbeats: at most this many a minute, then a count.
const DROPPED_LINES_PER_MINUTE: u32 = 5;

/// Why pulse cannot start (or cannot take a new lvs.cf on reload).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PulseError {
    /// lvs.cf cannot be read or is invalid.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// lvs.cf gives this host no router settings.
    #[error(transparent)]
    Settings(#[from] SettingsError),
    /// The heartbeat key file cannot be read.
    #[error("cannot read the heartbeat key {path}: {source}")]
    Key {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The status socket cannot be bound.
    #[error("cannot answer status requests at {}: {source}", path.display())]
    StatusSocket {
        /// The socket's path.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The heartbeat keys do not make a keyring (lvs.cf's validation
    /// catches this first).
    #[error("heartbeat keys: {0}")]
    Keyring(#[source] heartbeat::KeyringError),
    /// The heartbeat key is too short.
    #[error("the heartbeat key {path} is too short ({len} bytes; at least {MIN_KEY_LEN})")]
    ShortKey {
        /// The file.
        path: String,
        /// Its length.
        len: usize,
    },
    /// rtnetlink cannot be opened.
    #[error("cannot open rtnetlink: {0}")]
    Rtnetlink(#[source] lvs_arp::LinkError),
    /// The host's addresses cannot be listed.
    #[error("cannot list this host's addresses: {0}")]
    Addresses(#[source] lvs_arp::LinkError),
    /// No random session number for authenticated heartbeats.
    #[error("cannot read random bytes for the heartbeat session: {0}")]
    Random(#[source] std::io::Error),
    /// A heartbeat socket cannot be bound. Refused permission gets
    /// Piranha's words; any other reason (the port taken) is named.
    #[error("{}", socket_failure(*address, source))]
    Socket {
        /// The address it was to be bound to.
        address: SocketAddr,
        /// Why not.
        #[source]
        source: std::io::Error,
    },
    /// The heartbeat sockets cannot be handed to the runtime.
    #[error("cannot watch the heartbeat sockets: {0}")]
    Watch(#[source] std::io::Error),
    /// The metrics address cannot be bound.
    #[error("cannot serve metrics on {address}: {source}")]
    Metrics {
        /// The address asked for.
        address: SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// The lvs daemon pulse runs while active.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum LvsDaemon {
    /// A program, run as `PATH --nofork -c FILE` (`--nodaemon` in the
    /// foreground, `-v` when verbose) and stopped with SIGTERM.
    Program(PathBuf),
    /// A [`Director`] in this process, with these options (the config file
    /// is pulse's own).
    InProcess(DirectorOptions),
}

/// What a pulse runs, and how.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct PulseOptions {
    /// The lvs.cf to read.
    pub configfile: PathBuf,
    /// Exchange heartbeats and log, but change nothing.
    pub dry_run: bool,
    /// Log debugging lines; passes `-v` to the lvs daemon.
    pub verbose: bool,
    /// Start active, taking over from an active partner.
    pub force_active: bool,
    /// The lvs daemon runs in the foreground (`--nodaemon`).
    pub foreground: bool,
    /// The lvs daemon to run when active.
    pub lvs: LvsDaemon,
    /// Where Prometheus metrics are served over HTTP, if anywhere.
    pub metrics: Option<SocketAddr>,
    /// With VIP groups: where `pulse --status` asks (a Unix socket of mode
    /// 0600), if anywhere.
    pub status_socket: Option<PathBuf>,
}

impl PulseOptions {
    /// A pulse of `configfile` that runs Piranha's `/usr/sbin/lvsd`.
    pub fn new(configfile: impl Into<PathBuf>) -> PulseOptions {
        PulseOptions {
            configfile: configfile.into(),
            dry_run: false,
            verbose: false,
            force_active: false,
            foreground: false,
            lvs: LvsDaemon::Program(PathBuf::from("/usr/sbin/lvsd")),
            metrics: None,
            status_socket: None,
        }
    }

    /// Exchanges heartbeats and logs, but changes nothing.
    pub fn dry_run(mut self, dry_run: bool) -> PulseOptions {
        self.dry_run = dry_run;
        self
    }

    /// Logs debugging lines.
    pub fn verbose(mut self, verbose: bool) -> PulseOptions {
        self.verbose = verbose;
        self
    }

    /// Starts active.
    pub fn force_active(mut self, force: bool) -> PulseOptions {
        self.force_active = force;
        self
    }

    /// Runs the lvs daemon in the foreground.
    pub fn foreground(mut self, foreground: bool) -> PulseOptions {
        self.foreground = foreground;
        self
    }

    /// The lvs daemon to run when active.
    pub fn lvs(mut self, lvs: LvsDaemon) -> PulseOptions {
        self.lvs = lvs;
        self
    }

    /// Serves Prometheus metrics over HTTP at `address` (`GET /metrics`);
    /// `None` for none.
    pub fn metrics(mut self, address: Option<SocketAddr>) -> PulseOptions {
        self.metrics = address;
        self
    }

    /// With VIP groups, answers status requests (`json`, `text`) on the
    /// Unix socket at `path`; `None` for none. A pair serves none yet.
    pub fn status_socket(mut self, path: Option<PathBuf>) -> PulseOptions {
        self.status_socket = path;
        self
    }
}

/// How a pulse ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PulseExit {
    /// Told to stop: it stood down and told the partner.
    Stopped,
    /// A backup with `backup_active = 0` has nothing to do (Piranha exits 255).
    BackupInactive,
}

impl PulseExit {
    /// Piranha's exit status for it.
    pub fn code(self) -> u8 {
        match self {
            PulseExit::Stopped => 0,
            PulseExit::BackupInactive => 255,
        }
    }
}

/// What a [`PulseHandle`] asks of the running pulse.
#[derive(Debug)]
enum Command_ {
    Reload,
    Stop(String),
    Note(String),
    /// A watchdog's probe: answered as soon as the loop sees it.
    Probe(tokio::sync::oneshot::Sender<()>),
}

/// Reloads or stops a running pulse; cheap to clone.
#[derive(Clone, Debug)]
pub struct PulseHandle {
    commands: UnboundedSender<Command_>,
    heartbeats: SharedCounters,
    phases: watch::Receiver<Phase>,
}

impl PulseHandle {
    /// What became of the datagrams from the partner's side so far.
    pub fn heartbeats(&self) -> HeartbeatCounters {
        // A poisoned lock still holds counts worth reading.
        *self
            .heartbeats
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Asks for lvs.cf to be re-read (the lvs daemon is told too); false
    /// when pulse has ended.
    pub fn reload(&self) -> bool {
        self.commands.send(Command_::Reload).is_ok()
    }

    /// Asks pulse to stand down, tell the partner and end, logging `why`.
    pub fn stop(&self, why: impl Into<String>) -> bool {
        self.commands.send(Command_::Stop(why.into())).is_ok()
    }

    /// Logs `line` as a debugging line (a signal pulse ignores, say).
    pub fn note(&self, line: impl Into<String>) -> bool {
        self.commands.send(Command_::Note(line.into())).is_ok()
    }
}

impl Supervised for PulseHandle {
    fn phases(&self) -> watch::Receiver<Phase> {
        self.phases.clone()
    }

    async fn alive(&self) -> bool {
        crate::service::probe(&self.commands, Command_::Probe).await
    }
}

/// The key file's bytes, one trailing newline aside.
/// The heartbeat keys as read from their files, by id, with the id that
/// seals: what a reload compares.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct KeyMaterial {
    keys: Vec<(u8, Vec<u8>)>,
    sealing: u8,
}

impl KeyMaterial {
    /// Reads every key file.
    pub(crate) fn read(files: &KeyFiles) -> Result<KeyMaterial, PulseError> {
        let keys = files
            .files
            .iter()
            .map(|(id, path)| Ok((*id, read_key(path)?)))
            .collect::<Result<Vec<_>, PulseError>>()?;
        Ok(KeyMaterial {
            keys,
            sealing: files.sealing,
        })
    }

    /// The keyring of these keys.
    pub(crate) fn keyring(&self) -> Result<Keyring, PulseError> {
        Keyring::new(
            self.keys.iter().map(|(id, key)| (*id, key.as_slice())),
            self.sealing,
        )
        .map_err(PulseError::Keyring)
    }
}

fn read_key(path: &str) -> Result<Vec<u8>, PulseError> {
    let mut key = std::fs::read(path).map_err(|source| PulseError::Key {
        path: path.to_owned(),
        source,
    })?;
    if key.last() == Some(&b'\n') {
        key.pop();
    }
    if key.len() < MIN_KEY_LEN {
        return Err(PulseError::ShortKey {
            path: path.to_owned(),
            len: key.len(),
        });
    }
    Ok(key)
}

/// What a heartbeat socket's failure to bind says.
fn socket_failure(address: SocketAddr, source: &std::io::Error) -> String {
    match source.kind() {
        std::io::ErrorKind::PermissionDenied => "cannot create heartbeat socket. running as root?".to_owned(),
        _ => format!("cannot create heartbeat socket on {address}: {source}"),
    }
}

/// Every address on this host's interfaces.
fn local_addresses(rtnl: &mut Rtnl) -> Result<Vec<IpAddr>, PulseError> {
    rtnl.addresses()
        .map(|all| all.into_iter().map(|a| a.ip).collect())
        .map_err(PulseError::Addresses)
}

/// lvs.cf read as pulse reads it, with the heartbeat key.
fn read_settings(
    options: &PulseOptions,
    rtnl: &mut Rtnl,
) -> Result<(RouterSettings, Option<KeyMaterial>), PulseError> {
    let config = load_config(&options.configfile)?;
    let local = local_addresses(rtnl)?;
    let mut settings = RouterSettings::from_config(&config, &local, &system_resolver)?;
    let key = settings.keys.as_ref().map(KeyMaterial::read).transpose()?;
    // Logged with the settings' notes, at start and on each reload.
    match &settings.keys {
        Some(files) => {
            for (_, path) in &files.files {
                settings.notes.extend(crate::files::exposure_warning(
                    std::path::Path::new(path),
                    "heartbeat key file",
                    true,
                ));
            }
            // A restarted partner is believed after two rounds of heartbeats.
            if settings.deadtime < settings.keepalive * 3 {
                settings.notes.push(format!(
                    "WARNING: deadtime ({:?}) is less than three keepalives ({:?}): after a restart the \
                     authenticated handshake may outlast it and the partner be taken for dead",
                    settings.deadtime, settings.keepalive
                ));
            }
        }
        None if settings.partner.is_empty() => {}
        None => settings.notes.push(UNAUTHENTICATED_WARNING.to_owned()),
    }
    Ok((settings, key))
}

fn burst(settings: &RouterSettings) -> Burst {
    Burst {
        count: settings.announcing.count,
        interval: settings.announcing.interval,
    }
}

/// What woke a pulse's main loop.
enum Wake {
    Timer,
    Datagram(usize, std::io::Result<(usize, SocketAddr)>),
    /// The lvs daemon ended, as the log says it.
    ChildExited(String),
    /// A stop, with the line to log.
    Terminate(String),
    Reload,
    /// A line to log as debugging.
    Ignored(String),
    /// What this router's watchers saw (VIP groups): a tracked check's
    /// result, the size of the connection table.
    Observed(lvs_core::election::Event),
}

/// What a pulse's main loop waits on.
struct Waiting<'a, S> {
    deadline: Option<Instant>,
    sockets: &'a [UdpSocket],
    buffers: &'a mut [[u8; 512]],
    lvsd: Option<&'a mut RunningLvs>,
    shutdown: std::pin::Pin<&'a mut S>,
    shut: &'a mut bool,
    commands: &'a mut UnboundedReceiver<Command_>,
    observed: Option<&'a mut UnboundedReceiver<lvs_core::election::Event>>,
}

impl<S: std::future::Future<Output = ()>> Waiting<'_, S> {
    /// Waits for the next thing to handle (answering probes on the way).
    async fn next(self) -> Wake {
        let Waiting {
            deadline,
            sockets,
            buffers,
            mut lvsd,
            mut shutdown,
            shut,
            commands,
            mut observed,
        } = self;
        let deadline = deadline.map(tokio::time::Instant::from_std);
        loop {
            return tokio::select! {
                _ = async {
                    match deadline {
                        Some(at) => tokio::time::sleep_until(at).await,
                        None => std::future::pending().await,
                    }
                } => Wake::Timer,
                (index, result) = receive(sockets, buffers) => Wake::Datagram(index, result),
                status = async {
                    match lvsd.as_mut() {
                        Some(lvs) => lvs.exited().await,
                        None => std::future::pending().await,
                    }
                } => Wake::ChildExited(status),
                Some(event) = async {
                    match observed.as_mut() {
                        Some(observed) => observed.recv().await,
                        None => std::future::pending().await,
                    }
                } => Wake::Observed(event),
                () = shutdown.as_mut(), if !*shut => {
                    *shut = true;
                    Wake::Terminate(String::new())
                }
                command = commands.recv() => match command {
                    Some(Command_::Reload) => Wake::Reload,
                    Some(Command_::Stop(why)) => Wake::Terminate(why),
                    Some(Command_::Note(line)) => Wake::Ignored(line),
                    Some(Command_::Probe(answer)) => {
                        let _ = answer.send(());
                        continue;
                    }
                    // The pulse holds a sender itself: this never happens.
                    None => Wake::Terminate(String::new()),
                },
            };
        }
    }
}

mod groups;

/// A pulse: prepared by [`Pulse::prepare`], run by [`Pulse::run`].
pub struct Pulse(Mode);

enum Mode {
    Pair(Box<PairPulse>),
    Groups(Box<groups::GroupPulse>),
}

impl Pulse {
    /// Reads lvs.cf, finds this router's part from the host's addresses and
    /// binds the heartbeat sockets. Needs no runtime, so a program calls it
    /// before detaching and its errors reach whoever started it.
    pub fn prepare(options: PulseOptions, log: Log) -> Result<Pulse, PulseError> {
        let config = load_config(&options.configfile)?;
        Ok(Pulse(if config.vip_groups.is_empty() {
            Mode::Pair(Box::new(PairPulse::prepare(options, log)?))
        } else {
            Mode::Groups(Box::new(groups::GroupPulse::prepare(options, &config, log)?))
        }))
    }

    /// A handle that reloads or stops this pulse.
    pub fn handle(&self) -> PulseHandle {
        match &self.0 {
            Mode::Pair(pulse) => pulse.handle.clone(),
            Mode::Groups(pulse) => pulse.handle(),
        }
    }

    /// Runs until `shutdown` completes or the handle says stop (then it
    /// stands down and tells the other routers at once), or until the
    /// machine says exit. Must be called inside a tokio runtime with IO and
    /// time enabled.
    pub async fn run(self, shutdown: impl std::future::Future<Output = ()>) -> Result<PulseExit, PulseError> {
        match self.0 {
            Mode::Pair(pulse) => pulse.run(shutdown).await,
            Mode::Groups(pulse) => pulse.run(shutdown).await,
        }
    }
}

/// The pulse of a router pair, Piranha's.
struct PairPulse {
    options: PulseOptions,
    settings: RouterSettings,
    key: Option<KeyMaterial>,
    machine: Failover,
    startup: Vec<Action>,
    rtnl: Rtnl,
    /// Bound by [`Pulse::prepare`], handed to the runtime by [`Pulse::run`].
    bound: Vec<std::net::UdpSocket>,
    sockets: Vec<UdpSocket>,
    auth: Option<Authenticator>,
    dropped_lines: Throttle,
    lvsd: Option<RunningLvs>,
    announcing: Option<JoinHandle<()>>,
    /// The metrics listener, bound by `prepare`, and what the metrics count.
    metrics: Option<std::net::TcpListener>,
    counted: crate::metrics::PulseMetrics,
    sync: Option<SyncSwitch>,
    link_failed: bool,
    log: Log,
    commands: UnboundedReceiver<Command_>,
    handle: PulseHandle,
    /// What pulse is doing, for a service manager.
    phase: watch::Sender<Phase>,
}

impl PairPulse {
    fn prepare(options: PulseOptions, log: Log) -> Result<PairPulse, PulseError> {
        let mut rtnl = Rtnl::connect().map_err(PulseError::Rtnetlink)?;
        let (settings, key) = read_settings(&options, &mut rtnl)?;
        let bound = bind_heartbeat_sockets(&settings.own)?;
        let metrics = options
            .metrics
            .map(|address| {
                crate::metrics::bind(address).map_err(|source| PulseError::Metrics { address, source })
            })
            .transpose()?;
        let (machine, startup) = Failover::new(settings.failover(options.force_active), Instant::now());
        let auth = key.as_ref().map(|key| new_session(key, &settings)).transpose()?;
        let sync = SyncSwitch::for_settings(&settings, options.dry_run, &log);
        let (sender, commands) = unbounded_channel();
        let (phase, phases) = watch::channel(Phase::Starting);
        Ok(PairPulse {
            options,
            settings,
            key,
            machine,
            startup,
            rtnl,
            bound,
            sockets: Vec::new(),
            auth,
            dropped_lines: Throttle::new(DROPPED_LINES_PER_MINUTE, Duration::from_secs(60)),
            lvsd: None,
            announcing: None,
            metrics,
            counted: crate::metrics::PulseMetrics::default(),
            sync,
            link_failed: false,
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

    /// Runs until `shutdown` completes or the handle says stop (then it
    /// stands down and sends a last STOPPED heartbeat), or until the machine
    /// says exit.
    async fn run(mut self, shutdown: impl std::future::Future<Output = ()>) -> Result<PulseExit, PulseError> {
        self.sockets = std::mem::take(&mut self.bound)
            .into_iter()
            .map(UdpSocket::from_std)
            .collect::<Result<Vec<_>, _>>()
            .map_err(PulseError::Watch)?;
        let metrics = self.metrics.take().and_then(|listener| {
            let (counted, heartbeats) = (self.counted.clone(), self.handle.clone());
            let render = move || {
                let text = counted.render(heartbeats.heartbeats(), Instant::now());
                std::future::ready(Some(std::sync::Arc::new(text)))
            };
            crate::metrics::spawn(listener, render, &self.log)
        });
        let code = self.serve(shutdown).await;
        if let Some(task) = metrics {
            task.abort();
        }
        // The sync daemon's last switch (to backup) is seen through, as Piranha does it inline.
        if let Some(sync) = self.sync.take() {
            sync.finish(LVSD_STOP_GRACE);
        }
        Ok(if code == 255 {
            PulseExit::BackupInactive
        } else {
            PulseExit::Stopped
        })
    }

    /// The event loop; returns the machine's exit status.
    async fn serve(&mut self, shutdown: impl std::future::Future<Output = ()>) -> i32 {
        let mut shutdown = std::pin::pin!(shutdown);
        let mut shut = false;
        for note in std::mem::take(&mut self.settings.notes) {
            self.log.warning(&note);
        }
        self.log.write_with(
            Severity::Notice,
            match self.settings.role {
                Role::Master => "STARTING PULSE AS MASTER",
                Role::Backup => "STARTING PULSE AS BACKUP",
            },
            Fields::event(LogEvent::Start),
        );
        if self.settings.role == Role::Backup && !self.settings.backup_active {
            self.log
                .warning("We are backup node and backup is marked inactive -- exiting pulse");
            return 255;
        }
        self.remove_stale_vips();
        // Start passive: inactive_cmd and the sync daemon as backup (§2.2 step 8).
        self.run_command(self.settings.inactive_cmd.clone());
        self.switch_sync_daemon(DaemonState::Backup);
        let startup = std::mem::take(&mut self.startup);
        if let Some(code) = self.perform(startup).await {
            return code;
        }
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
                observed: None,
            }
            .next()
            .await;
            let now = Instant::now();
            let actions = match wake {
                Wake::Timer => {
                    let mut actions = self.check_links(now);
                    actions.extend(self.machine.on_timeout(now));
                    actions
                }
                Wake::Datagram(index, Ok((len, from))) => {
                    let datagram = buffers[index][..len].to_vec();
                    match self.read_heartbeat(&datagram, from, now) {
                        Some(state) => self.machine.handle(Event::Heartbeat(state), now),
                        None => Vec::new(),
                    }
                }
                Wake::Datagram(_, Err(e)) => {
                    self.log.debug(&format!("heartbeat receive failed: {e}"));
                    Vec::new()
                }
                Wake::ChildExited(how) => {
                    self.lvsd = None;
                    self.log.error(&how);
                    self.machine.handle(Event::ChildExited, now)
                }
                Wake::Terminate(why) => {
                    if !why.is_empty() {
                        self.log
                            .write_with(Severity::Notice, &why, Fields::event(LogEvent::Stop));
                    }
                    self.phase.send_replace(Phase::Stopping);
                    self.machine.handle(Event::Stop, now)
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
                // A pair watches nothing.
                Wake::Observed(_) => Vec::new(),
            };
            if let Some(code) = self.perform(actions).await {
                return code;
            }
            self.show_phase();
        }
    }

    /// Tells whoever follows the phases whether this router serves, unless
    /// it is standing down.
    fn show_phase(&self) {
        if *self.phase.borrow() == Phase::Stopping {
            return;
        }
        let role = match self.settings.role {
            Role::Master => "primary",
            Role::Backup => "backup",
        };
        let state = if self.machine.is_active() {
            "active: this router holds the virtual IPs"
        } else {
            "inactive: standing by"
        };
        let dry = if self.options.dry_run {
            " (test start: nothing is changed)"
        } else {
            ""
        };
        self.phase.send_if_modified(|phase| {
            let line = Phase::Running(format!("{role} router, {state}{dry}"));
            let changed = *phase != line;
            *phase = line;
            changed
        });
    }

    /// Checks a datagram and returns the partner's state; counts what is
    /// dropped and logs why, a few lines a minute at most.
    fn read_heartbeat(&mut self, datagram: &[u8], from: SocketAddr, now: Instant) -> Option<PeerState> {
        let partners: Vec<IpAddr> = self.settings.partner.iter().map(SocketAddr::ip).collect();
        let outcome = heartbeat::check_source(from.ip(), &partners).and_then(|()| match self.auth.as_mut() {
            Some(auth) => auth.open(datagram),
            None => heartbeat::decode_piranha(datagram),
        });
        self.handle
            .heartbeats
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .count(&outcome);
        match outcome {
            Ok(state) => {
                self.log.debug(&format!("heartbeat {state:?} from {}", from.ip()));
                self.counted.heard(state, now);
                Some(state)
            }
            Err(e) => {
                report_dropped(&self.log, &mut self.dropped_lines, &self.handle, &e, from, now);
                None
            }
        }
    }

    async fn send_heartbeat(&mut self, state: PeerState) {
        // Sealed once: the copy over the other channel is a duplicate, not a replay.
        let datagram: Vec<u8> = match self.auth.as_mut() {
            Some(auth) => auth.seal(state).to_vec(),
            None => heartbeat::encode_piranha(state).to_vec(),
        };
        for (socket, partner) in self.sockets.iter().zip(&self.settings.partner) {
            let sent = socket.send_to(&datagram, partner).await;
            if let Err(e) = sent {
                self.log.debug(&format!("heartbeat to {partner} failed: {e}"));
            }
        }
    }

    /// Carries out the machine's actions; returns an exit status when told to exit.
    async fn perform(&mut self, actions: Vec<Action>) -> Option<i32> {
        let mut queue = std::collections::VecDeque::from(actions);
        while let Some(action) = queue.pop_front() {
            match action {
                Action::SendHeartbeat(state) => self.send_heartbeat(state).await,
                Action::Activate(reason) => {
                    self.log.write_with(
                        Severity::Notice,
                        &reason.to_string(),
                        Fields::event(LogEvent::Activate),
                    );
                    self.counted.transition(true, reason.word());
                    if !self.activate() {
                        // The lvs daemon could not start: a child failure, at once.
                        queue.extend(self.machine.handle(Event::ChildExited, Instant::now()));
                    }
                }
                Action::Deactivate(reason) => {
                    // A link failure has been logged in Piranha's words already.
                    if reason != DeactivateReason::LinkFailure {
                        self.log.write_with(
                            Severity::Notice,
                            &reason.to_string(),
                            Fields::event(LogEvent::Deactivate),
                        );
                    }
                    self.counted.transition(false, reason.word());
                    self.deactivate().await;
                }
                Action::ResendAnnouncements => {
                    self.log.notice("partner active: resending arps");
                    self.run_command(self.settings.active_cmd.clone());
                    self.announce();
                }
                Action::LinkFailed => self.log.write_with(
                    Severity::Warning,
                    "Local NIC link failure: Pulse disabled",
                    Fields::event(LogEvent::LinkFailure),
                ),
                Action::LinksRestored => self.log.write_with(
                    Severity::Notice,
                    "Local NIC link(s) restored: Pulse enabled",
                    Fields::event(LogEvent::LinkRestored),
                ),
                Action::Exit(code) => return Some(code),
            }
        }
        None
    }

    /// Piranha's activateLvs: active_cmd, the lvs daemon, the sync daemon as
    /// master, then the VIPs and their announcements.
    /// Returns false when the lvs daemon cannot be started (and nothing
    /// after it is done).
    fn activate(&mut self) -> bool {
        self.run_command(self.settings.active_cmd.clone());
        if !self.start_lvsd() {
            return false;
        }
        self.switch_sync_daemon(DaemonState::Master);
        self.announce();
        true
    }

    /// Piranha's deactivateLvs: inactive_cmd, the sync daemon as backup, the
    /// lvs daemon stopped, the VIPs taken down.
    async fn deactivate(&mut self) {
        if let Some(task) = self.announcing.take() {
            task.abort();
        }
        self.run_command(self.settings.inactive_cmd.clone());
        self.switch_sync_daemon(DaemonState::Backup);
        self.stop_lvsd().await;
        let vips = self.settings.vips.clone();
        self.take_down(&vips);
    }

    /// Starts the lvs daemon unless it runs (or in a dry run); false when
    /// it cannot be started.
    fn start_lvsd(&mut self) -> bool {
        if self.options.dry_run || self.lvsd.is_some() {
            return true;
        }
        match RunningLvs::start(&self.options, &self.log) {
            Ok(lvs) => {
                self.lvsd = Some(lvs);
                true
            }
            Err(e) => {
                self.log.error(&e);
                false
            }
        }
    }

    async fn stop_lvsd(&mut self) {
        if let Some(lvs) = self.lvsd.take() {
            lvs.stop(&self.log).await;
        }
    }

    /// Runs active_cmd or inactive_cmd as Piranha does: split on single
    /// spaces, no shell, not waited for.
    fn run_command(&self, command: Option<String>) {
        let Some(command) = command else { return };
        if self.options.dry_run {
            return;
        }
        let mut argv = command.split(' ').filter(|w| !w.is_empty());
        let Some(program) = argv.next() else { return };
        // Dropped without waiting: tokio reaps it when it exits.
        if let Err(e) = without_manager(&mut Command::new(program)).args(argv).spawn() {
            self.log.error(&format!("cannot run {command}: {e}"));
        }
    }

    fn switch_sync_daemon(&self, state: DaemonState) {
        if let Some(sync) = &self.sync {
            sync.switch(state);
        }
    }

    /// Brings every VIP up now, then announces them in the background; logs
    /// Piranha's `gratuitous lvs arps finished` when the bursts are done.
    fn announce(&mut self) {
        if self.options.dry_run {
            return;
        }
        if let Some(task) = self.announcing.take() {
            task.abort();
        }
        self.counted.announced(std::time::SystemTime::now());
        self.announcing = bring_up_and_announce(
            &mut self.rtnl,
            &self.settings.vips,
            burst(&self.settings),
            &self.log,
        );
    }

    fn take_down(&mut self, vips: &[Vip]) {
        if !self.options.dry_run {
            take_down(&mut self.rtnl, vips, &self.log);
        }
    }

    /// A crashed pulse may have left its VIPs up: a router starts passive, so
    /// they go.
    fn remove_stale_vips(&mut self) {
        if self.options.dry_run {
            return;
        }
        for vip in self.settings.vips.clone() {
            if let Ok(Change::Removed) = self.rtnl.remove_vip(&vip.device, vip.ip) {
                self.log
                    .notice(&format!("removed the stale VIP {} from {}", vip.ip, vip.device));
            }
        }
    }

    /// `monitor_links`: the interfaces holding our heartbeat addresses must
    /// be up with carrier.
    fn check_links(&mut self, now: Instant) -> Vec<Action> {
        if !self.settings.monitor_links {
            return Vec::new();
        }
        let own: Vec<IpAddr> = self.settings.own.iter().map(SocketAddr::ip).collect();
        let down = match (self.rtnl.addresses(), self.rtnl.interfaces()) {
            (Ok(addresses), Ok(interfaces)) => own.iter().any(|ip| {
                // An address on no interface counts as up, as in Piranha.
                addresses
                    .iter()
                    .find(|a| a.ip == *ip)
                    .and_then(|a| interfaces.iter().find(|i| i.index == a.index))
                    .is_some_and(|i| !(i.up && i.carrier))
            }),
            _ => false,
        };
        if down == self.link_failed {
            return Vec::new();
        }
        self.link_failed = down;
        self.machine
            .handle(if down { Event::LinkDown } else { Event::LinkUp }, now)
    }

    /// SIGHUP: a valid new lvs.cf replaces pulse's settings (VIPs that went
    /// away are taken down, new ones brought up when active); an invalid one
    /// changes nothing. The lvs daemon gets the signal too.
    async fn reload(&mut self, now: Instant) {
        self.log.info("SIGHUP received: re-reading the configuration");
        let loaded = read_settings(&self.options, &mut self.rtnl);
        match loaded {
            Err(e) => self.log.write_with(
                Severity::Error,
                &format!("{e}; keeping the running configuration"),
                Fields::event(LogEvent::ReloadRefused),
            ),
            Ok((new, _)) if new.role != self.settings.role || new.own != self.settings.own => {
                self.log.warning(
                    "the router's role or heartbeat addresses changed; restart pulse to apply that. \
                 Keeping the running configuration",
                )
            }
            Ok((mut new, key)) => {
                for note in std::mem::take(&mut new.notes) {
                    self.log.warning(&note);
                }
                let gone: Vec<Vip> = self
                    .settings
                    .vips
                    .iter()
                    .filter(|v| !new.vips.contains(v))
                    .cloned()
                    .collect();
                let added = new.vips.iter().any(|v| !self.settings.vips.contains(v));
                if new.sync_daemon != self.settings.sync_daemon {
                    if let Some(old) = self.sync.take() {
                        old.finish(LVSD_STOP_GRACE);
                    }
                    self.sync = SyncSwitch::for_settings(&new, self.options.dry_run, &self.log);
                    if let Some(sync) = &self.sync {
                        sync.switch(if self.machine.is_active() {
                            DaemonState::Master
                        } else {
                            DaemonState::Backup
                        });
                    }
                }
                if key != self.key {
                    // New keys keep the session, so that a rotation drops no
                    // heartbeat; authentication turned on or off starts afresh.
                    let changed = match (self.auth.as_mut(), key.as_ref()) {
                        (Some(auth), Some(key)) => key.keyring().map(|ring| auth.set_keys(ring)),
                        (_, key) => key
                            .map(|key| new_session(key, &new))
                            .transpose()
                            .map(|auth| self.auth = auth),
                    };
                    match changed {
                        Ok(()) => self.key = key,
                        Err(e) => self.log.error(&format!("{e}; keeping the running key")),
                    }
                }
                self.machine.set_timers(new.keepalive, new.deadtime, now);
                if let Some(auth) = self.auth.as_mut() {
                    auth.set_window(Authenticator::window_for(new.keepalive, new.deadtime));
                }
                self.settings = new;
                if self.machine.is_active() {
                    self.take_down(&gone);
                    if added {
                        self.announce();
                    }
                }
                self.log.write_with(
                    Severity::Notice,
                    "configuration re-read",
                    Fields::event(LogEvent::Reload),
                );
            }
        }
        // Piranha signals its whole process group when no lvs daemon runs; only the daemon here.
        if let Some(lvs) = self.lvsd.as_mut() {
            lvs.reload();
        }
    }
}

/// The lvs daemon while pulse runs it.
enum RunningLvs {
    Child {
        child: Child,
        path: PathBuf,
    },
    /// A director on a thread of its own (with its own runtime), so that
    /// reading lvs.cf, resolving names and applying a large table never
    /// delay pulse's heartbeats.
    InProcess {
        /// Its handle, once it is prepared.
        handle: Option<DirectorHandle>,
        prepared: tokio::sync::oneshot::Receiver<DirectorHandle>,
        /// How it ended, sent as its thread ends.
        ended: tokio::sync::oneshot::Receiver<String>,
    },
}

impl RunningLvs {
    /// Starts the daemon `options` names; the log line of a failure.
    fn start(options: &PulseOptions, log: &Log) -> Result<RunningLvs, String> {
        match &options.lvs {
            LvsDaemon::Program(path) => {
                let mut command = Command::new(path);
                without_manager(&mut command)
                    .arg(if options.foreground {
                        "--nodaemon"
                    } else {
                        "--nofork"
                    })
                    .arg("-c")
                    .arg(&options.configfile);
                if options.verbose {
                    command.arg("-v");
                }
                let child = command
                    .spawn()
                    .map_err(|e| format!("cannot run {}: {e}", path.display()))?;
                log.debug(&format!(
                    "started {} (pid {})",
                    path.display(),
                    child.id().unwrap_or(0)
                ));
                Ok(RunningLvs::Child {
                    child,
                    path: path.clone(),
                })
            }
            LvsDaemon::InProcess(director) => {
                let mut director = director.clone();
                director.configfile = options.configfile.clone();
                director.verbose |= options.verbose;
                let (handle_sender, prepared) = tokio::sync::oneshot::channel();
                let (end_sender, ended) = tokio::sync::oneshot::channel();
                let director_log = log.clone();
                // The thread starts in this thread's network namespace, where pulse runs.
                std::thread::Builder::new()
                    .name("lvs-director".to_owned())
                    .spawn(move || {
                        let end = run_director(director, director_log, handle_sender);
                        let _ = end_sender.send(end);
                    })
                    .map_err(|e| format!("cannot start the director: {e}"))?;
                log.debug("started the director in this process");
                Ok(RunningLvs::InProcess {
                    handle: None,
                    prepared,
                    ended,
                })
            }
        }
    }

    /// Waits for the daemon to end by itself; the line pulse logs.
    async fn exited(&mut self) -> String {
        match self {
            RunningLvs::Child { child, .. } => {
                let pid = child.id().unwrap_or(0);
                describe_exit(pid, child.wait().await)
            }
            RunningLvs::InProcess { ended, .. } => ended
                .await
                .unwrap_or_else(|_| "the director's thread ended".to_owned()),
        }
    }

    /// The in-process director's handle, once it is prepared.
    fn director(&mut self) -> Option<&DirectorHandle> {
        match self {
            RunningLvs::Child { .. } => None,
            RunningLvs::InProcess { handle, prepared, .. } => {
                if handle.is_none() {
                    *handle = prepared.try_recv().ok();
                }
                handle.as_ref()
            }
        }
    }

    /// Passes a reload on.
    fn reload(&mut self) {
        if let RunningLvs::Child { child, .. } = self {
            if let Some(pid) = child.id().and_then(|p| i32::try_from(p).ok()) {
                // SAFETY: kill(2) on our own child, which has not been reaped yet.
                unsafe { libc::kill(pid, libc::SIGHUP) };
            }
        } else if let Some(handle) = self.director() {
            handle.reload();
        }
    }

    /// Stops it, waiting up to [`LVSD_STOP_GRACE`] before killing it (a
    /// director in this process is told to stop and waited for).
    async fn stop(self, log: &Log) {
        match self {
            RunningLvs::Child { mut child, path } => {
                if let Some(pid) = child.id().and_then(|pid| i32::try_from(pid).ok()) {
                    // SAFETY: kill(2) on our own child, which has not been reaped yet.
                    unsafe { libc::kill(pid, libc::SIGTERM) };
                }
                if tokio::time::timeout(LVSD_STOP_GRACE, child.wait()).await.is_err() {
                    log.warning(&format!(
                        "{} did not stop within {LVSD_STOP_GRACE:?}; killing it",
                        path.display()
                    ));
                    let _ = child.kill().await;
                }
            }
            RunningLvs::InProcess {
                handle,
                prepared,
                mut ended,
            } => {
                let stopped = async {
                    let handle = match handle {
                        Some(handle) => Some(handle),
                        // Still preparing: it is stopped as soon as it can be.
                        None => prepared.await.ok(),
                    };
                    if let Some(handle) = handle {
                        handle.stop("");
                    }
                    let _ = (&mut ended).await;
                };
                if tokio::time::timeout(LVSD_STOP_GRACE, stopped).await.is_err() {
                    log.warning(&format!("the director did not stop within {LVSD_STOP_GRACE:?}"));
                }
            }
        }
    }
}

/// Prepares and runs a director on the calling thread, with a runtime of
/// its own; sends its handle once prepared; returns how it ended.
fn run_director(
    options: DirectorOptions,
    log: Log,
    handle: tokio::sync::oneshot::Sender<DirectorHandle>,
) -> String {
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => return format!("cannot start the director: {e}"),
    };
    let director = match Director::prepare(options, log) {
        Ok(director) => director,
        Err(e) => return format!("cannot start the director: {e}"),
    };
    let _ = handle.send(director.handle());
    match runtime.block_on(director.run(std::future::pending())) {
        Ok(()) => "the director ended".to_owned(),
        Err(e) => format!("the director ended: {e}"),
    }
}

/// The IPVS sync daemon's role, switched on a thread of its own: stopping a
/// daemon waits for its kernel thread, and failover must not wait for that.
/// Requests are applied in order, and only the latest of a queue counts.
struct SyncSwitch {
    requests: std::sync::mpsc::Sender<DaemonState>,
    /// Closed by the thread when it has applied everything and ended.
    done: std::sync::mpsc::Receiver<()>,
}

impl SyncSwitch {
    /// A switch when `syncdaemon = 1` (and pulse may change things).
    fn for_settings(settings: &RouterSettings, dry_run: bool, log: &Log) -> Option<SyncSwitch> {
        match (&settings.sync_daemon, dry_run) {
            (Some(daemon), false) => Some(SyncSwitch::start(
                daemon.interface.clone(),
                daemon.sync_id,
                log.clone(),
            )),
            _ => None,
        }
    }

    fn start(interface: String, sync_id: u32, log: Log) -> SyncSwitch {
        let (requests, queue) = std::sync::mpsc::channel::<DaemonState>();
        let (finished, done) = std::sync::mpsc::channel::<()>();
        std::thread::spawn(move || {
            let _finished = finished;
            while let Ok(mut state) = queue.recv() {
                while let Ok(later) = queue.try_recv() {
                    state = later;
                }
                let result = Ipvs::connect().and_then(|mut ipvs| {
                    for old in [DaemonState::Backup, DaemonState::Master] {
                        match ipvs.stop_daemon(old) {
                            Err(e) if e.errno() != Some(libc::ESRCH) => return Err(e),
                            _ => {}
                        }
                    }
                    ipvs.start_daemon(&Daemon::new(state, &interface, sync_id))
                });
                match result {
                    Ok(()) => log.debug(&format!("sync daemon: {state:?} on {interface}, id {sync_id}")),
                    Err(e) => log.error(&format!("sync daemon: {e}")),
                }
            }
        });
        SyncSwitch { requests, done }
    }

    fn switch(&self, state: DaemonState) {
        let _ = self.requests.send(state);
    }

    /// Waits, up to `limit`, for the requests made so far to be applied.
    fn finish(self, limit: Duration) {
        drop(self.requests);
        let _ = self.done.recv_timeout(limit);
    }
}

/// Logs why a datagram was dropped: expected ones (a stranger's, the copy
/// over the second channel, the handshake after a start) as debugging,
/// others as warnings, a few lines a minute at most.
fn report_dropped(
    log: &Log,
    lines: &mut Throttle,
    handle: &PulseHandle,
    error: &HeartbeatError,
    from: SocketAddr,
    now: Instant,
) {
    let line = match error {
        HeartbeatError::UnexpectedSource(_)
        | HeartbeatError::Duplicate
        | HeartbeatError::Stale
        | HeartbeatError::NotLvs(_) => {
            log.debug(&format!("{error} (from {})", from.ip()));
            return;
        }
        HeartbeatError::BadLength(_) | HeartbeatError::Incompatible(_) => error.to_string(),
        _ => format!("dropped a heartbeat from {}: {error}", from.ip()),
    };
    match lines.check(now) {
        Verdict::Log { suppressed } => {
            if suppressed > 0 {
                log.warning(&format!(
                    "{suppressed} more bad heartbeats were dropped without a line (counts: {})",
                    handle.heartbeats()
                ));
            }
            log.warning(&line);
        }
        _ => log.debug(&line),
    }
}

/// The heartbeat sockets on this router's addresses, non-blocking.
fn bind_heartbeat_sockets(own: &[SocketAddr]) -> Result<Vec<std::net::UdpSocket>, PulseError> {
    own.iter()
        .map(|own| {
            std::net::UdpSocket::bind(own)
                .and_then(|s| s.set_nonblocking(true).map(|()| s))
                .map_err(|source| PulseError::Socket {
                    address: *own,
                    source,
                })
        })
        .collect()
}

/// Brings `vips` up now, then announces them in the background; logs
/// Piranha's `gratuitous lvs arps finished` when the bursts are done.
fn bring_up_and_announce(rtnl: &mut Rtnl, vips: &[Vip], burst: Burst, log: &Log) -> Option<JoinHandle<()>> {
    let mut announcements = Vec::new();
    for vip in vips {
        match rtnl.add_vip(&vip.device, vip.ip, vip.prefix_len) {
            Ok(interface) => match interface.mac {
                Some(mac) => announcements.push((interface.index, Announcement::for_address(vip.ip, mac))),
                None => log.warning(&format!(
                    "{} has no hardware address; {} is not announced",
                    vip.device, vip.ip
                )),
            },
            Err(e) => log.error(&format!("cannot bring up {} on {}: {e}", vip.ip, vip.device)),
        }
    }
    let socket = match PacketSocket::open() {
        Ok(socket) => socket,
        Err(e) => {
            log.error(&format!("cannot send gratuitous arps: {e}"));
            return None;
        }
    };
    let log = log.clone();
    Some(tokio::spawn(async move {
        let bursts = announcements
            .iter()
            .map(|(index, announcement)| send_burst(&socket, *index, announcement, burst));
        let results = join_all(bursts).await;
        for e in results.into_iter().filter_map(Result::err) {
            log.error(&format!("gratuitous arp failed: {e}"));
        }
        log.info("gratuitous lvs arps finished");
    }))
}

/// Takes `vips` down, logging what cannot be.
fn take_down(rtnl: &mut Rtnl, vips: &[Vip], log: &Log) {
    for vip in vips {
        if let Err(e) = rtnl.remove_vip(&vip.device, vip.ip) {
            log.error(&format!("cannot take {} down from {}: {e}", vip.ip, vip.device));
        }
    }
}

/// Waits for a datagram on any of the sockets.
async fn receive(
    sockets: &[UdpSocket],
    buffers: &mut [[u8; 512]],
) -> (usize, std::io::Result<(usize, SocketAddr)>) {
    match (sockets, buffers) {
        ([public], [buffer]) => (0, public.recv_from(buffer).await),
        ([public, private], [first, second]) => tokio::select! {
            result = public.recv_from(first) => (0, result),
            result = private.recv_from(second) => (1, result),
        },
        _ => std::future::pending().await,
    }
}

/// Runs futures side by side on this task and collects their outputs.
async fn join_all<F: std::future::Future>(futures: impl Iterator<Item = F>) -> Vec<F::Output> {
    let mut pinned: Vec<_> = futures.map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = pinned.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (future, output) in pinned.iter_mut().zip(outputs.iter_mut()) {
            if output.is_none() {
                match future.as_mut().poll(cx) {
                    std::task::Poll::Ready(value) => *output = Some(value),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    outputs.into_iter().flatten().collect()
}

fn describe_exit(pid: u32, status: std::io::Result<std::process::ExitStatus>) -> String {
    use std::os::unix::process::ExitStatusExt;
    match status {
        Ok(status) => match (status.code(), status.signal()) {
            (Some(code), _) => format!("Child process {pid} exited with status {code}"),
            (None, Some(signal)) => format!("Child process {pid} terminated with signal {signal}"),
            _ => format!("Child process {pid} exited"),
        },
        Err(e) => format!("Child process {pid}: {e}"),
    }
}

/// An authenticator for a new session: a random number from the kernel, so
/// that no clock is trusted and no two runs share one.
fn new_session(key: &KeyMaterial, settings: &RouterSettings) -> Result<Authenticator, PulseError> {
    let window = Authenticator::window_for(settings.keepalive, settings.deadtime);
    Ok(Authenticator::with_keys(
        key.keyring()?,
        settings.role,
        random_session()?,
        window,
    ))
}

/// A random session number from the kernel, so that no clock is trusted
/// and no two runs share one.
pub(crate) fn random_session() -> Result<u64, PulseError> {
    getrandom::u64().map_err(|e| PulseError::Random(std::io::Error::other(e.to_string())))
}
