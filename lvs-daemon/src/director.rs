//! The director (Piranha's lvsd): the IO shell around `lvs-core`'s planner
//! and reconciler and `lvs-health`'s check engine.
//!
//! [`Director::prepare`] reads lvs.cf and connects to IPVS (before a program
//! detaches, so that its errors reach whoever started it); [`Director::run`]
//! adopts the entries of the services lvs.cf names, runs every real
//! server's check on the engine, and after each batch of health changes
//! applies only the operations the reconciler gives. [`DirectorHandle`]
//! reloads (an invalid file changes nothing) and stops it; a stop removes
//! the services it runs.
//!
//! The status socket and the metrics listener are served off the event
//! loop: each connection is a task of its own with a bounded time, reading a
//! snapshot the loop publishes and the kernel's counters on a blocking
//! thread, so no client can delay a health update, a reload or a stop.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use lvs_cf::{Config, Host, Reparser};
use lvs_core::admin::{
    AdminAction, AdminAnswer, AdminRequest, AdminState, DrainEnd, HoldChange, HoldSource, Holds,
};
use lvs_core::director::{
    carry_over, reconcile, reconcile_nanny_mode, reconcile_services, Before, CarriedHealth, Health, Plan,
    PlannedServer, ServerRef, SorryServer, WithHolds,
};
use lvs_core::events::Event;
use lvs_core::nanny::NannyAction;
use lvs_core::preview::{describe, drift, PlanAnswer, PreviewInputs, ReloadPreview, ResyncReport};
use lvs_core::status::ServerHealth;
use lvs_health::engine::{Engine, LastCheck, Server, Update};
use lvs_ipvs::{
    ApplyOptions, Destinations, Ipvs, IpvsError, Operation, Service, ServiceKey, Table, Timeouts,
};
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};
use tokio::sync::watch;

use crate::config::load_config_with;
use crate::log::{Fields, Log, LogEvent, Severity};
use crate::nannies::{Nannies, NannyNews};
use crate::service::{Phase, Supervised};
use crate::status::{Snapshot, StatusServer};

/// How soon failed table operations are tried again.
const RETRY_INTERVAL: Duration = Duration::from_secs(5);

/// How often draining servers' connections, and the maintenance directory,
/// are looked at.
const HOLD_CHECK_INTERVAL: Duration = Duration::from_secs(1);

/// How long the loop waits for the maintenance directory to be read.
const MAINTENANCE_READ_TIME: Duration = Duration::from_millis(500);

/// How often, by default, the owned entries are compared with the kernel's.
pub const DRIFT_CHECK_INTERVAL: Duration = Duration::from_secs(10);

/// The most destinations one periodic drift check reads: the services'
/// own settings are read every time, their destinations a few services at
/// a time, so that a check costs little however large the table.
const DRIFT_DESTINATIONS_PER_CHECK: usize = 256;

/// What a director runs, and how.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct DirectorOptions {
    /// The lvs.cf to read (and re-read on reload).
    pub configfile: PathBuf,
    /// Log each table change instead of making it (lvsd's `-t`).
    pub dry_run: bool,
    /// Log every table change (`DEBUG -- ...`) and pass `-v` to nannies.
    pub verbose: bool,
    /// Run a `nanny` process per real server instead of checking in-process.
    pub nanny_processes: bool,
    /// Nannies stay in the foreground (`--nodaemon`).
    pub nanny_foreground: bool,
    /// The Unix socket that answers status requests, if any.
    pub status_socket: Option<PathBuf>,
    /// Where Prometheus metrics are served over HTTP, if anywhere.
    pub metrics: Option<SocketAddr>,
    /// The record of the services this director owns (see
    /// [`crate::ownership`]); `None` puts it beside the status socket
    /// (`/var/run/lvs.owned` for `/var/run/lvs.sock`), and without a socket
    /// there is none.
    pub ownership_file: Option<PathBuf>,
    /// How often the kernel's entries of the owned services are compared
    /// with what the director made them (a few services' destinations at a
    /// time), and what differs restored; `None` never (`lvsd --resync` still
    /// does it on demand).
    pub drift_check: Option<Duration>,
    /// What the director keeps of the last hour for the web tool's charts
    /// (the status socket's `history`); `None` keeps nothing.
    pub history: Option<lvs_core::history::HistoryOptions>,
}

impl DirectorOptions {
    /// A director of `configfile`, making table changes, with Piranha's
    /// status socket (`/var/run/lvs.sock`) and no metrics.
    pub fn new(configfile: impl Into<PathBuf>) -> DirectorOptions {
        DirectorOptions {
            configfile: configfile.into(),
            dry_run: false,
            verbose: false,
            nanny_processes: false,
            nanny_foreground: false,
            status_socket: Some(PathBuf::from(crate::DEFAULT_STATUS_SOCKET)),
            metrics: None,
            ownership_file: None,
            drift_check: Some(DRIFT_CHECK_INTERVAL),
            history: Some(lvs_core::history::HistoryOptions::default()),
        }
    }

    /// What the director keeps of the last hour; `None` keeps nothing.
    pub fn history(mut self, history: Option<lvs_core::history::HistoryOptions>) -> DirectorOptions {
        self.history = history;
        self
    }

    /// Logs each table change instead of making it.
    pub fn dry_run(mut self, dry_run: bool) -> DirectorOptions {
        self.dry_run = dry_run;
        self
    }

    /// Logs every table change.
    pub fn verbose(mut self, verbose: bool) -> DirectorOptions {
        self.verbose = verbose;
        self
    }

    /// A `nanny` process per real server (Piranha's model).
    pub fn nanny_processes(mut self, nanny_processes: bool) -> DirectorOptions {
        self.nanny_processes = nanny_processes;
        self
    }

    /// Nannies stay in the foreground.
    pub fn nanny_foreground(mut self, foreground: bool) -> DirectorOptions {
        self.nanny_foreground = foreground;
        self
    }

    /// The status socket; `None` for none.
    pub fn status_socket(mut self, socket: Option<PathBuf>) -> DirectorOptions {
        self.status_socket = socket;
        self
    }

    /// The metrics address; `None` for none.
    pub fn metrics(mut self, address: Option<SocketAddr>) -> DirectorOptions {
        self.metrics = address;
        self
    }

    /// Where the director records the services it owns; `None` (the
    /// default) puts the record beside the status socket. Two directors (in
    /// two network namespaces, say) need two records, as they need two sockets.
    pub fn ownership_file(mut self, path: Option<PathBuf>) -> DirectorOptions {
        self.ownership_file = path;
        self
    }

    /// How often entries changed behind the director's back are looked for
    /// and restored (by default every [`DRIFT_CHECK_INTERVAL`]); `None` (or
    /// a zero duration) only on demand.
    pub fn drift_check(mut self, every: Option<Duration>) -> DirectorOptions {
        self.drift_check = every;
        self
    }
}

/// Why a director cannot start, or had to stop.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DirectorError {
    /// lvs.cf cannot be read or is invalid.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// lvs.cf cannot be planned (a name does not resolve, say).
    #[error(transparent)]
    Plan(#[from] lvs_core::director::PlanError),
    /// The IPVS table cannot be reached or read.
    #[error(transparent)]
    Ipvs(#[from] IpvsError),
    /// Another director answers on the status socket.
    #[error("another lvs daemon answers on {}; stop it first", socket.display())]
    AlreadyRunning {
        /// The socket.
        socket: PathBuf,
    },
    /// The metrics address cannot be bound.
    #[error("cannot serve metrics on {address}: {source}")]
    Metrics {
        /// The address asked for.
        address: SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A nanny died with `hard_shutdown = 1`.
    #[error("nanny for child {service}/{server} died ({status})")]
    NannyDied {
        /// Its virtual service.
        service: String,
        /// Its real server.
        server: String,
        /// How it ended.
        status: String,
    },
}

/// What a [`DirectorHandle`] asks of the running director.
#[derive(Debug)]
enum Command {
    Reload,
    Stop(String),
    /// A watchdog's probe: answered as soon as the loop sees it.
    Probe(tokio::sync::oneshot::Sender<()>),
    /// What a reload to this file (read and planned already, with its
    /// `drain_timeout`) would do.
    Preview(
        String,
        Box<Plan>,
        Option<Duration>,
        tokio::sync::oneshot::Sender<PlanAnswer>,
    ),
    /// An operator's hold on a server.
    Admin(AdminRequest, tokio::sync::oneshot::Sender<AdminAnswer>),
    /// Compare every owned entry with the kernel's now, and restore.
    Resync(tokio::sync::oneshot::Sender<ResyncReport>),
}

/// Reloads or stops a running director; cheap to clone, usable from any
/// thread or task.
#[derive(Clone, Debug)]
pub struct DirectorHandle {
    commands: UnboundedSender<Command>,
    phases: watch::Receiver<Phase>,
    events: tokio::sync::broadcast::Sender<Arc<str>>,
}

impl DirectorHandle {
    /// Asks for lvs.cf to be re-read; false when the director has ended.
    pub fn reload(&self) -> bool {
        self.commands.send(Command::Reload).is_ok()
    }

    /// Asks the director to remove its services and end, logging `why`;
    /// false when it has ended already.
    pub fn stop(&self, why: impl Into<String>) -> bool {
        self.commands.send(Command::Stop(why.into())).is_ok()
    }

    /// What a reload to the lvs.cf at `path` would do (the table operations,
    /// the checks started afresh and the risks), worked out from the running
    /// director's state and changing nothing; `None` when the director has
    /// ended. A following reload to the same file, with nothing else changed
    /// meanwhile, makes exactly the operations listed.
    ///
    /// The file is read and planned in the caller's task, on a blocking
    /// thread (a large file, or names to resolve, take a while): the
    /// director's loop only works out the difference.
    pub async fn preview(&self, path: impl Into<PathBuf>) -> Option<PlanAnswer> {
        let path = path.into();
        let file = path.display().to_string();
        // Only a regular file: a pipe or a device would hold the read for ever.
        match std::fs::metadata(&path) {
            Ok(metadata) if metadata.is_file() => {}
            Ok(_) => return Some(PlanAnswer::Refused(format!("{file}: not a regular file"))),
            Err(e) => return Some(PlanAnswer::Refused(format!("{file}: {e}"))),
        }
        let read = tokio::task::spawn_blocking(move || read_plan(&path, &mut Reparser::default())).await;
        let (plan, drain_timeout) = match read {
            Ok(Ok((config, plan))) => (plan, config.drain_timeout.map(|t| t.as_duration())),
            Ok(Err(e)) => {
                return Some(PlanAnswer::Refused(format!(
                    "{e}; a reload to it would change nothing"
                )))
            }
            Err(e) => return Some(PlanAnswer::Refused(format!("cannot read {file}: {e}"))),
        };
        let (answer, answered) = tokio::sync::oneshot::channel();
        self.commands
            .send(Command::Preview(file, Box::new(plan), drain_timeout, answer))
            .ok()?;
        answered.await.ok()
    }

    /// The director's events from now on, each a JSON line of
    /// [`lvs_core::events::Event`] (what `lvsd --events` prints); a
    /// receiver that falls behind by more than
    /// [`crate::events::STREAM_BACKLOG`] loses the oldest.
    pub fn events(&self) -> tokio::sync::broadcast::Receiver<Arc<str>> {
        self.events.subscribe()
    }

    /// Drains, disables or enables a server (see [`lvs_core::admin`]); with
    /// `wait`, answers when the drain has ended. `None` when the director
    /// has ended (or stopped before the drain did).
    pub async fn admin(&self, request: AdminRequest) -> Option<AdminAnswer> {
        let (answer, answered) = tokio::sync::oneshot::channel();
        self.commands.send(Command::Admin(request, answer)).ok()?;
        answered.await.ok()
    }

    /// Compares every entry of the owned services with the kernel's table
    /// and restores what differs; `None` when the director has ended.
    pub async fn resync(&self) -> Option<ResyncReport> {
        let (answer, answered) = tokio::sync::oneshot::channel();
        self.commands.send(Command::Resync(answer)).ok()?;
        answered.await.ok()
    }
}

impl Supervised for DirectorHandle {
    fn phases(&self) -> watch::Receiver<Phase> {
        self.phases.clone()
    }

    async fn alive(&self) -> bool {
        crate::service::probe(&self.commands, Command::Probe).await
    }
}

/// Resolves lvs.cf's host names: the one resolver of the daemons (the
/// system's, through `getaddrinfo`).
pub fn system_resolver(host: &Host) -> std::io::Result<std::net::IpAddr> {
    host.resolve()
}

/// Reads lvs.cf and derives its plan (while the file is validated), as the
/// director does at start and on each reload.
fn read_plan(path: &Path, reparser: &mut Reparser) -> Result<(Config, Plan), DirectorError> {
    let (config, plan) = load_config_with(path, reparser, |config| Plan::new(config, &system_resolver))?;
    Ok((config, plan?))
}

/// The timeouts lvs.cf sets (0 leaves the kernel's), if it sets any.
fn timeouts(config: &Config) -> Option<Timeouts> {
    let wanted = Timeouts {
        tcp: config.tcp_timeout,
        tcp_fin: config.tcpfin_timeout,
        udp: config.udp_timeout,
    };
    (wanted.tcp != 0 || wanted.tcp_fin != 0 || wanted.udp != 0).then_some(wanted)
}

/// A director: prepared by [`Director::prepare`], run by [`Director::run`].
pub struct Director {
    options: DirectorOptions,
    log: Log,
    ipvs: Option<Ipvs>,
    /// The handle status requests read the kernel's counters with.
    status_ipvs: Option<Ipvs>,
    /// The IPVS sysctls lvs.cf sets, and what they were.
    sysctls: crate::sysctl::ManagedSysctls,
    /// The handle the kernel's entries are read with off the loop's thread
    /// (drift checks, a preview's connection counts); `None` while it is
    /// lent to a blocking thread, and in a dry run.
    reading_ipvs: Option<Ipvs>,
    /// Where the next periodic drift check starts among the owned services.
    drift_cursor: Option<ServiceKey>,
    /// The metrics listener, bound by `prepare`.
    metrics: Option<std::net::TcpListener>,
    /// What the metrics count: reloads, table operations, checks.
    counted: crate::metrics::DirectorMetrics,
    config: Config,
    /// Keeps the file's tokens between reloads.
    reparser: Reparser,
    plan: Arc<Plan>,
    /// What is looked up in the plan often, worked out once per plan.
    plan_index: PlanIndex,
    health: HashMap<ServerRef, Health>,
    /// The operators' holds on servers.
    holds: Holds,
    /// The services that lost their quorum.
    quorums: lvs_core::quorum::Quorums,
    /// The VIPs this director took off for lost quorums, to put back.
    withdrawn: Vec<lvs_core::router::Vip>,
    /// Where events go: `--events` clients and `notify` programs.
    events: crate::events::Events,
    /// Each server's latest check line, the reason its next health event gives.
    reasons: HashMap<ServerRef, String>,
    /// `lvs --drain --wait` requests, answered when their drain ends.
    drain_waiters: Vec<DrainWaiter>,
    /// The last failure to read the maintenance directory or the
    /// connections, logged once until it changes.
    hold_trouble: [Option<String>; 2],
    /// The maintenance directory's files as last taken in, with the plan
    /// (its generation) they were matched against.
    maintenance_seen: Option<(u64, Vec<String>)>,
    /// A read of the maintenance directory that has not answered yet.
    maintenance_read: Option<(String, tokio::task::JoinHandle<std::io::Result<Vec<String>>>)>,
    /// Counts the plans a reload put in place (what the maintenance files
    /// were matched against).
    plan_generation: u64,
    /// The kernel's entries of the services this daemon owns, as last known.
    table: Table,
    /// Services with an operation that failed: the next sync tries them again.
    unsettled: BTreeSet<ServiceKey>,
    /// When the unsettled services are tried again.
    retry_at: Instant,
    /// Engine ids: stable for a server across reloads.
    ids: Ids,
    commands: UnboundedReceiver<Command>,
    handle: DirectorHandle,
    /// What the director is doing, for a service manager.
    phase: watch::Sender<Phase>,
    /// The record of owned services could not be read: it is left alone.
    no_record: bool,
}

/// An `lvs --drain --wait` request: the server's names, where its answer
/// goes, and the answer so far.
type DrainWaiter = (
    (String, String),
    tokio::sync::oneshot::Sender<AdminAnswer>,
    AdminAnswer,
);

/// What only exists while the director runs.
struct Running {
    engine: Engine,
    updates: UnboundedReceiver<Update>,
    /// When verbose: every check, as the engine records it, to be logged.
    checks: Option<UnboundedReceiver<(usize, LastCheck)>>,
    /// `--nanny-processes`: the nannies, and what they report.
    nannies: Option<Nannies>,
    news_sender: UnboundedSender<NannyNews>,
    news: UnboundedReceiver<NannyNews>,
    snapshot: watch::Sender<Arc<Snapshot>>,
}

/// How the loop ended.
enum Ending {
    Stop(String),
    NannyDied(DirectorError),
}

impl Director {
    /// Reads and plans lvs.cf, and connects to IPVS unless `dry_run`. Needs
    /// no runtime, so a program calls it before detaching.
    pub fn prepare(options: DirectorOptions, log: Log) -> Result<Director, DirectorError> {
        let mut reparser = Reparser::default();
        let (config, plan) = read_plan(&options.configfile, &mut reparser)?;
        // Another director answering on this socket runs this table: a
        // second one would take its services away as leftovers.
        if let Some(socket) = options.status_socket.as_ref().filter(|_| !options.dry_run) {
            if std::os::unix::net::UnixStream::connect(socket).is_ok() {
                return Err(DirectorError::AlreadyRunning {
                    socket: socket.clone(),
                });
            }
        }
        let (ipvs, status_ipvs, reading_ipvs) = if options.dry_run {
            (None, None, None)
        } else {
            // Further handles answer status requests and read the table off
            // the loop: opened here, in the caller's network namespace, not
            // on whichever thread asks.
            (
                Some(Ipvs::connect()?),
                Some(Ipvs::connect()?),
                Some(Ipvs::connect()?),
            )
        };
        // Bound before anything touches the kernel: a port in use stops the
        // start, and the running table is left as it was.
        let metrics = options
            .metrics
            .map(|address| {
                crate::metrics::bind(address).map_err(|source| DirectorError::Metrics { address, source })
            })
            .transpose()?;
        let (sender, commands) = unbounded_channel();
        let (phase, phases) = watch::channel(Phase::Starting);
        let events = crate::events::Events::new(log.clone()).run_hooks(!options.dry_run);
        Ok(Director {
            options,
            ipvs,
            status_ipvs,
            sysctls: crate::sysctl::ManagedSysctls::default(),
            reading_ipvs,
            drift_cursor: None,
            metrics,
            counted: crate::metrics::DirectorMetrics::default(),
            config,
            reparser,
            plan_index: PlanIndex::of(&plan),
            plan: Arc::new(plan),
            health: HashMap::new(),
            holds: Holds::new(),
            log,
            reasons: HashMap::new(),
            quorums: lvs_core::quorum::Quorums::new(),
            withdrawn: Vec::new(),
            drain_waiters: Vec::new(),
            hold_trouble: [None, None],
            maintenance_seen: None,
            plan_generation: 0,
            maintenance_read: None,
            table: Table::default(),
            unsettled: BTreeSet::new(),
            retry_at: Instant::now(),
            ids: Ids::default(),
            commands,
            handle: DirectorHandle {
                commands: sender,
                phases,
                events: events.sender(),
            },
            events,
            phase,
            no_record: false,
        })
    }

    /// A handle that reloads or stops this director.
    pub fn handle(&self) -> DirectorHandle {
        self.handle.clone()
    }

    /// Runs until `shutdown` completes or the handle says stop, then
    /// removes the virtual services it runs. Must be called inside a tokio
    /// runtime with IO and time enabled.
    pub async fn run(mut self, shutdown: impl std::future::Future<Output = ()>) -> Result<(), DirectorError> {
        let mut running = self.start().await?;
        if self.metrics.is_some() {
            // Checks are counted and timed only where the metrics are served.
            let counted = self.counted.clone();
            running
                .engine
                .board()
                .observe_with(move |check| counted.checked(check));
        }
        let server = StatusServer::start(
            self.options.status_socket.as_deref(),
            self.metrics
                .take()
                .map(|listener| (listener, self.counted.clone())),
            running.snapshot.subscribe(),
            running.engine.board(),
            self.status_ipvs.take(),
            Some((self.handle(), self.options.history)),
            &self.log,
        );
        self.phase.send_replace(Phase::Running(self.status_line()));
        let ending = self.serve(&mut running, shutdown).await;
        self.phase.send_replace(Phase::Stopping);
        let stopping = Event::new(LogEvent::Stop.as_str(), crate::events::now(), "lvs stops");
        self.events.emit(stopping, None);
        // The stream's clients take the last line before their tasks end with the socket.
        tokio::time::sleep(Duration::from_millis(20)).await;
        if let Ending::Stop(why) = &ending {
            if !why.is_empty() {
                self.log
                    .write_with(Severity::Notice, why, Fields::event(LogEvent::Stop));
            }
        }
        self.close(&mut running).await;
        // The socket goes last: while it answers, the director still runs.
        drop(server);
        match ending {
            Ending::Stop(_) => Ok(()),
            Ending::NannyDied(e) => Err(e),
        }
    }

    /// Adopts the table, starts the checks and makes the first sync.
    async fn start(&mut self) -> Result<Running, DirectorError> {
        let kernel = match self.ipvs.as_mut() {
            Some(ipvs) => ipvs.snapshot()?,
            None => Table::default(),
        };
        let plan = Arc::clone(&self.plan);
        // What a run killed before it could clean up left, and this file no longer names.
        let leftover: BTreeSet<ServiceKey> = self
            .recorded()
            .into_iter()
            .filter(|key| !plan.named.contains(key))
            .collect();
        self.table = kernel.filtered(|key| plan.named.contains(key) || leftover.contains(key));
        let carried = carry_over(&plan, &self.table, None, |_| true);
        let nannies = self.options.nanny_processes.then(Nannies::default);
        // Each nanny checks its own server.
        let servers = if nannies.is_some() {
            Vec::new()
        } else {
            engine_servers(&carried.servers, &mut self.ids)
        };
        self.health = carried.health;
        let (sender, updates) = unbounded_channel();
        let (news_sender, news) = unbounded_channel();
        let engine = Engine::start(servers, sender);
        let checks = self.log.verbose().then(|| {
            let (listener, checks) = unbounded_channel();
            engine.board().report_to(listener);
            checks
        });
        let (snapshot, _) = watch::channel(Arc::new(Snapshot::default()));
        let mut running = Running {
            engine,
            updates,
            checks,
            nannies,
            news_sender,
            news,
            snapshot,
        };
        if let Some(wanted) = timeouts(&self.config) {
            self.set_timeouts(wanted);
        }
        self.set_sysctls();
        let starting = format!(
            "starting: {} virtual services, {} real servers checked by {}, {} entries adopted from the running table",
            self.plan.services.len(),
            self.plan.servers().count(),
            match running.nannies {
                Some(_) => "a nanny process each".to_owned(),
                // Servers checked the same way share a probe.
                None => format!("{} probes", running.engine.probes()),
            },
            self.table.destination_count(),
        );
        self.log
            .write_with(Severity::Notice, &starting, Fields::event(LogEvent::Start));
        if self.options.nanny_processes && self.plan_index.any_quorum {
            self.log
                .warning("quorum is not judged with --nanny-processes: each nanny enters its own server");
        }
        self.restore_holds();
        let files = self.maintenance_files().await;
        self.maintain(files, Instant::now());
        self.record_owned(plan.named.iter().chain(&leftover));
        self.sync(&running, Some(&Plan::owning(leftover)));
        self.record_settled(&[]);
        self.start_nannies(&mut running);
        self.publish(&running);
        Ok(running)
    }

    /// The event loop: health updates, commands, retries and nannies.
    async fn serve(
        &mut self,
        running: &mut Running,
        shutdown: impl std::future::Future<Output = ()>,
    ) -> Ending {
        let mut shutdown = std::pin::pin!(shutdown);
        // The engine holds a sender, so the channel stays open; this is a guard.
        let mut checking = true;
        let drift_every = self
            .options
            .drift_check
            .filter(|every| !every.is_zero() && !self.options.dry_run);
        let mut drift_checks = tokio::time::interval(drift_every.unwrap_or(Duration::from_secs(3600)));
        drift_checks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // The first tick is at once: the start has just made the table.
        drift_checks.tick().await;
        let mut hold_checks = tokio::time::interval(HOLD_CHECK_INTERVAL);
        hold_checks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                update = running.updates.recv(), if checking => {
                    let Some(update) = update else {
                        checking = false;
                        continue;
                    };
                    let mut touched = BTreeSet::new();
                    touched.extend(self.note(update));
                    while let Ok(more) = running.updates.try_recv() {
                        touched.extend(self.note(more));
                    }
                    let changed = !touched.is_empty();
                    // Services whose operations failed are tried again with the batch.
                    self.sync_services(running, touched);
                    if changed {
                        self.publish(running);
                    }
                }
                command = self.commands.recv() => match command {
                    Some(Command::Reload) => {
                        self.phase.send_replace(Phase::Reloading);
                        self.reload(running).await;
                        self.publish(running);
                        self.phase.send_replace(Phase::Running(self.status_line()));
                    }
                    Some(Command::Stop(why)) => return Ending::Stop(why),
                    Some(Command::Probe(answer)) => {
                        let _ = answer.send(());
                    }
                    Some(Command::Preview(file, plan, drain_timeout, answer)) => {
                        let _ = answer.send(self.preview(&file, &plan, drain_timeout).await);
                    }
                    Some(Command::Admin(request, answer)) => self.admin(running, request, answer),
                    Some(Command::Resync(answer)) => {
                        let keys = self.owned();
                        let with_destinations = self.compared_destinations(&keys, usize::MAX);
                        let report = self.resync(running, keys, with_destinations).await;
                        self.publish(running);
                        let _ = answer.send(report);
                    }
                    // The director holds a sender itself: this never happens.
                    None => return Ending::Stop(String::new()),
                },
                () = &mut shutdown => return Ending::Stop(String::new()),
                // Operations that failed are tried again while they fail.
                // A fixed deadline, not a sleep made afresh on each wake-up
                // (steady wake-ups would otherwise put the retries off for ever).
                () = tokio::time::sleep_until(self.retry_at.into()), if !self.unsettled.is_empty() => {
                    self.sync_services(running, BTreeSet::new());
                }
                Some(item) = running.news.recv() => {
                    if let Some(ending) = self.nanny_news(running, item) {
                        return ending;
                    }
                }
                died = next_death(running.nannies.as_mut()) => {
                    if let Some(ending) = self.nanny_news(running, died) {
                        return ending;
                    }
                }
                Some((id, check)) = next_check(running.checks.as_mut()) => self.log_check(id, &check),
                _ = hold_checks.tick(), if self.holds_need_tending() => self.tend_holds(running).await,
                _ = drift_checks.tick(), if drift_every.is_some() => {
                    let keys = self.owned();
                    let with_destinations = self.next_drift_slice(&keys);
                    let report = self.resync(running, keys, with_destinations).await;
                    if !report.drift.is_empty() {
                        self.publish(running);
                    }
                }
            }
        }
    }

    /// `DEBUG -- check of SERVICE/SERVER (RIP:RPORT): RESULT`, for `-v`.
    fn log_check(&self, id: usize, check: &LastCheck) {
        let Some(at) = self.ids.server(id) else { return };
        let result = match &check.result {
            Ok(()) => "ok".to_owned(),
            Err(why) => why.to_string(),
        };
        // A server behind several services is checked once, for the first.
        let Some((service, server)) = self.names(at) else {
            return;
        };
        let address = std::net::SocketAddr::new(at.addr, at.port);
        self.log
            .debug(&format!("check of {service}/{server} ({address}): {result}"));
    }

    /// The names in lvs.cf of a server and its virtual service.
    fn names(&self, at: ServerRef) -> Option<(&str, &str)> {
        self.planned(at)
            .map(|(service, server)| (service.name.as_str(), server.name.as_str()))
    }

    /// The names of a server and its service, and its `notify` program,
    /// owned (for calls that change the director meanwhile).
    fn named_with_hook(&self, at: ServerRef) -> Option<(String, String, Option<String>)> {
        self.planned(at)
            .map(|(service, server)| (service.name.clone(), server.name.clone(), server.notify.clone()))
    }

    /// A server of the plan, with its service.
    fn planned(&self, at: ServerRef) -> Option<(&lvs_core::director::PlannedService, &PlannedServer)> {
        let &(service, server) = self.plan_index.servers.get(&at)?;
        let planned = self.plan.services.get(service)?;
        Some((planned, planned.servers.get(server)?))
    }

    /// The one line a service manager shows for this director.
    fn status_line(&self) -> String {
        let services = self.plan.services.len();
        let servers = self.plan.servers().count();
        format!(
            "{services} virtual service{}, {servers} real server{}{}",
            if services == 1 { "" } else { "s" },
            if servers == 1 { "" } else { "s" },
            if self.options.dry_run {
                " (test start: the table is not touched)"
            } else {
                ""
            }
        )
    }

    /// Shares what status requests read: the plan, the health and the ids.
    fn publish(&self, running: &Running) {
        running.snapshot.send_replace(Arc::new(Snapshot {
            plan: Arc::clone(&self.plan),
            health: self.health.clone(),
            holds: self.holds.clone(),
            quorums: self.quorums.clone(),
            ids: self.ids.by_server.clone(),
        }));
    }

    /// Sets the IPVS sysctls lvs.cf gives, and puts back those it dropped.
    fn set_sysctls(&mut self) {
        let wanted = &self.config.ipvs_sysctls;
        if self.options.dry_run {
            for (name, value) in wanted.entries() {
                self.log.info(&format!("would set {name} to {value}"));
            }
            return;
        }
        let lines = self.sysctls.apply(wanted);
        self.log_sysctls(lines);
    }

    fn log_sysctls(&self, lines: Vec<Result<String, String>>) {
        for line in lines {
            match line {
                Ok(change) => self.log.write(Severity::Notice, &format!("IPVS sysctl {change}")),
                Err(e) => self.log.error(&e),
            }
        }
    }

    fn set_timeouts(&mut self, wanted: Timeouts) {
        if self.options.dry_run {
            self.log.info(&format!("would set timeouts {wanted:?}"));
        } else if let Some(ipvs) = self.ipvs.as_mut() {
            if let Err(e) = ipvs.set_timeouts(wanted) {
                self.log.error(&format!("cannot set timeouts: {e}"));
            }
        }
    }

    /// `--nanny-processes`: starts the nannies of the plan that do not run yet.
    fn start_nannies(&mut self, running: &mut Running) {
        let Some(nannies) = running.nannies.as_mut() else {
            return;
        };
        if self.options.dry_run {
            return;
        }
        for (argv, service, server) in nanny_argvs(
            &self.config,
            &self.plan,
            self.options.verbose,
            self.options.nanny_foreground,
        ) {
            match nannies.start(argv, &service, &server, &running.news_sender) {
                Ok(pid) => self.log.debug(&format!(
                    "create_monitor for {service}/{server} running as pid {pid}"
                )),
                Err(e) => self.log.error(&format!("{service}/{server}: {e}")),
            }
        }
    }

    /// What a nanny said, or its death; an ending when lvs must stop.
    fn nanny_news(&mut self, running: &mut Running, news: NannyNews) -> Option<Ending> {
        match news {
            // A nanny logs to lvs (under -n, or for a sorry server): each
            // line at the severity the nanny gave it.
            NannyNews::Line(line) => match crate::log::split_priority(&line) {
                (Some(severity), text) => self.log.write(severity, text),
                (None, text) => self.log.info(text),
            },
            NannyNews::Status {
                service,
                server,
                active,
            } => {
                let planned = self.plan.services.iter().find(|s| s.name == service);
                if let Some(at) = planned.and_then(|p| p.servers.iter().find(|s| s.name == server)) {
                    let state = if active {
                        Health::In { weight: at.weight }
                    } else {
                        Health::Out
                    };
                    self.set_health(at.at, state);
                    self.sync(running, None);
                    self.publish(running);
                }
            }
            NannyNews::Died {
                service,
                server,
                status,
            } => {
                if self.config.hard_shutdown {
                    self.log.error(&format!(
                        "nanny for child {service}/{server} died! shutting down lvs ({status})"
                    ));
                    return Some(Ending::NannyDied(DirectorError::NannyDied {
                        service,
                        server,
                        status,
                    }));
                }
                self.log.error(&format!(
                    "nanny for child {service}/{server} died! manual action needed! ({status})"
                ));
            }
        }
        None
    }

    /// Takes in one health change (or log line) from the engine; returns
    /// the service whose server changed.
    fn note(&mut self, update: Update) -> Option<ServiceKey> {
        let server = self.ids.server(update.id)?;
        match update.action {
            NannyAction::Add { weight } | NannyAction::SetWeight { weight } => {
                self.set_health(server, Health::In { weight });
            }
            NannyAction::Remove => {
                self.set_health(server, Health::Out);
            }
            NannyAction::Log(line) => {
                let address = SocketAddr::new(server.addr, server.port).to_string();
                let mut fields = Fields::event(LogEvent::ServerHealth).address(&address);
                if let Some((service, name)) = self.names(server) {
                    fields = fields.service(service).server(name);
                }
                self.log.write_with(Severity::Notice, &line, fields);
                self.reasons.insert(server, line);
                return None;
            }
            NannyAction::QueryLoad => return None,
        }
        Some(server.service)
    }

    /// Records a server's health; when its word changes (`up`, `down`,
    /// ...), the change is an event, with the latest check line as reason.
    fn set_health(&mut self, at: ServerRef, health: Health) {
        let old = ServerHealth::of(self.health.insert(at, health).as_ref());
        let new = ServerHealth::of(Some(&health));
        if old == new {
            return;
        }
        let reason = self.reasons.remove(&at);
        let Some((service, server, hook)) = self.named_with_hook(at) else {
            return;
        };
        let address = SocketAddr::new(at.addr, at.port);
        let mut event = Event::new(
            LogEvent::ServerHealth.as_str(),
            crate::events::now(),
            format!("{service}/{server} ({address}) is {new}, was {old}"),
        )
        .server(&service, &server, address)
        .states(old.as_str(), new.as_str());
        if let Some(reason) = reason {
            event = event.reason(reason);
        }
        self.events.emit(event, hook.as_deref());
    }

    /// Logs `event`'s message with its fields and sends it on, to `hook`'s
    /// program too.
    fn tell(&mut self, severity: Severity, kind: LogEvent, event: Event, hook: Option<String>) {
        let mut fields = Fields::event(kind);
        if let Some(service) = &event.service {
            fields = fields.service(service);
        }
        if let Some(server) = &event.server {
            fields = fields.server(server);
        }
        if let Some(address) = &event.address {
            fields = fields.address(address);
        }
        self.log.write_with(severity, &event.message, fields);
        self.events.emit(event, hook.as_deref());
    }

    /// A hold's change on `at` (from `old`), logged and sent as an event.
    fn hold_event(&mut self, at: ServerRef, old: AdminState, message: String, reason: &str) {
        let new = AdminState::of(self.holds.get(&at));
        let Some((service, server, hook)) = self.named_with_hook(at) else {
            return;
        };
        let event = Event::new(LogEvent::ServerHold.as_str(), crate::events::now(), message)
            .server(&service, &server, SocketAddr::new(at.addr, at.port))
            .states(old.as_str(), new.as_str())
            .reason(reason);
        self.tell(Severity::Notice, LogEvent::ServerHold, event, hook);
    }

    /// Applies what the table lacks; `previous` is the plan before a reload.
    /// Returns how many operations it made.
    fn sync(&mut self, running: &Running, previous: Option<&Plan>) -> usize {
        // A full sync covers every owned service, the unsettled ones too.
        self.unsettled.clear();
        self.judge_quorums(&running.engine.board(), None);
        let operations = if running.nannies.is_some() {
            reconcile_nanny_mode(&self.plan, previous, &self.health, &self.table)
        } else {
            reconcile(&self.plan, previous, &self.standing(), &self.table)
        };
        self.apply(&operations);
        operations.len()
    }

    /// Piranha's lines for the sorry server coming and going (of the
    /// operations made), and their events.
    fn log_sorry_changes(&mut self, operations: &[&Operation]) {
        if !self.plan_index.any_sorry {
            return;
        }
        for operation in operations {
            let (key, at, coming) = match operation {
                Operation::AddDest(key, d) => (*key, (d.addr, d.port), true),
                Operation::DeleteDest(key, addr, port) => (*key, (*addr, *port), false),
                _ => continue,
            };
            let Some(planned) = self
                .plan
                .services
                .iter()
                .find(|s| s.service.key == key && s.sorry.as_ref().map(SorryServer::at) == Some(at))
            else {
                continue;
            };
            let (name, addr) = (planned.name.clone(), at.0);
            let hook = planned.notify.clone();
            let (kind, line) = if coming {
                (
                    LogEvent::SorryServerIn,
                    format!("Virtual Server {name}: No real servers; activate sorry_server {addr}"),
                )
            } else {
                (
                    LogEvent::SorryServerOut,
                    format!("Virtual Server {name}: real servers available; deactivate sorry_server {addr}"),
                )
            };
            let mut event = Event::new(kind.as_str(), crate::events::now(), line).service(&name);
            event.address = Some(SocketAddr::new(at.0, at.1).to_string());
            self.tell(Severity::Notice, kind, event, hook);
        }
    }

    /// [`Director::sync`] for the services in `keys` (and those whose
    /// operations failed before) only: the cost follows the change, not the
    /// size of the table.
    fn sync_services(&mut self, running: &mut Running, keys: BTreeSet<ServiceKey>) -> usize {
        self.sync_services_with(running, keys, |_| {})
    }

    /// [`Director::sync_services`], running `meanwhile` on the engine while
    /// the kernel works: its part is mostly waiting (a scheduler change
    /// waits out an RCU grace period), so a reload restarts the changed
    /// servers' checks on this thread as the operations go out on another.
    fn sync_services_with(
        &mut self,
        running: &mut Running,
        mut keys: BTreeSet<ServiceKey>,
        meanwhile: impl FnOnce(&mut Engine),
    ) -> usize {
        if running.nannies.is_some() {
            meanwhile(&mut running.engine);
            return self.sync(running, None);
        }
        keys.append(&mut self.unsettled);
        self.judge_quorums(&running.engine.board(), Some(&keys));
        let operations = reconcile_services(&self.plan, &self.standing(), &self.table, &keys);
        self.apply_while(running, &operations, keys, meanwhile);
        operations.len()
    }

    /// Makes `operations` (of the services `keys`, tried again as a whole
    /// if the thread making them fails), running `meanwhile` on the engine
    /// while the kernel works.
    fn apply_while(
        &mut self,
        running: &mut Running,
        operations: &[Operation],
        keys: BTreeSet<ServiceKey>,
        meanwhile: impl FnOnce(&mut Engine),
    ) {
        match self.ipvs.as_mut() {
            Some(ipvs) if !self.options.dry_run && !operations.is_empty() => {
                let engine = &mut running.engine;
                let sent = std::thread::scope(|scope| {
                    let sending = scope.spawn(|| ipvs.apply(operations, ApplyOptions { idempotent: true }));
                    meanwhile(engine);
                    sending.join()
                });
                match sent {
                    Ok(results) => {
                        self.record(operations, results);
                    }
                    Err(_) => {
                        self.log
                            .error("the thread applying the table changes failed; they will be tried again");
                        self.unsettled.extend(keys);
                        self.retry_at = Instant::now() + RETRY_INTERVAL;
                    }
                }
            }
            _ => {
                meanwhile(&mut running.engine);
                self.apply(operations);
            }
        }
    }

    /// Makes `operations` (with `dry_run`, logs them), recording in the
    /// table model what was done and logging each failure with its reason.
    /// Returns the failures, as they are logged.
    fn apply(&mut self, operations: &[Operation]) -> Vec<String> {
        if operations.is_empty() {
            return Vec::new();
        }
        if self.options.dry_run {
            for operation in operations {
                self.log.info(&format!("would {}", describe(operation)));
                self.table.apply(operation);
            }
            self.log_sorry_changes(&operations.iter().collect::<Vec<_>>());
            return Vec::new();
        }
        let Some(ipvs) = self.ipvs.as_mut() else {
            return Vec::new();
        };
        let results = ipvs.apply(operations, ApplyOptions { idempotent: true });
        self.record(operations, results)
    }

    /// Notes what each operation did: the table model follows the ones that
    /// succeeded; failures are logged and their services tried again later
    /// (a service the file no longer names stays in the model until its
    /// delete succeeds).
    /// Returns the failures, as they are logged.
    fn record(&mut self, operations: &[Operation], results: Vec<Result<(), IpvsError>>) -> Vec<String> {
        let mut failures = Vec::new();
        let mut made = Vec::new();
        for (operation, result) in operations.iter().zip(results) {
            match result {
                Ok(()) => {
                    self.log.debug(&describe(operation));
                    self.table.apply(operation);
                    made.push(operation);
                }
                Err(e) => {
                    let failure = format!("failed to {}: {e}", describe(operation));
                    self.log.write_with(
                        Severity::Error,
                        &failure,
                        Fields::event(LogEvent::TableChangeFailed),
                    );
                    failures.push(failure);
                    self.unsettled.extend(operation.service_key());
                    self.retry_at = Instant::now() + RETRY_INTERVAL;
                }
            }
        }
        self.counted.operations(made.len(), failures.len());
        self.log_sorry_changes(&made);
        failures
    }

    /// The health a reload to `plan` starts the changed services' servers
    /// with.
    fn carry_over<'p>(&self, plan: &'p Plan, changed: &BTreeSet<ServiceKey>) -> CarriedHealth<'p> {
        let before = Before {
            plan: &self.plan,
            health: &self.health,
        };
        carry_over(plan, &self.table, Some(before), |key| changed.contains(key))
    }

    /// Every server's health after a reload: the changed services' servers
    /// as `carried` says, the others' as it is.
    fn health_after_reload(
        &self,
        changed: &BTreeSet<ServiceKey>,
        carried: &CarriedHealth<'_>,
    ) -> HashMap<ServerRef, Health> {
        let mut health = self.health.clone();
        for service in self
            .plan
            .services
            .iter()
            .filter(|s| changed.contains(&s.service.key))
        {
            for server in &service.servers {
                health.remove(&server.at);
            }
        }
        health.extend(carried.health.iter().map(|(at, state)| (*at, *state)));
        health
    }

    /// The operations a reload to `plan` makes, `health` being
    /// [`Director::health_after_reload`]'s: what a reload applies and a
    /// preview lists (the services that failed before are tried again).
    fn reload_operations(
        &self,
        plan: &Plan,
        health: &HashMap<ServerRef, Health>,
        holds: &Holds,
        changed: &BTreeSet<ServiceKey>,
    ) -> Vec<Operation> {
        if self.options.nanny_processes {
            reconcile_nanny_mode(plan, Some(&self.plan), health, &self.table)
        } else {
            let mut keys = changed.clone();
            keys.extend(self.unsettled.iter().copied());
            // Services with a leaving entry whose server the new plan has again.
            keys.extend(self.holds.services_waiting());
            let standing = WithHolds {
                health,
                holds,
                quorums: &self.quorums,
            };
            reconcile_services(plan, &standing, &self.table, &keys)
        }
    }

    /// The holds after a reload to `plan` (see [`Holds::after_reload`]),
    /// with the holds it drops by their names.
    fn holds_after_reload(
        &self,
        plan: &Plan,
        changed: &BTreeSet<ServiceKey>,
        drain_timeout: Option<Duration>,
    ) -> (Holds, Vec<(String, String)>) {
        let leaving = drain_timeout
            .filter(|t| !t.is_zero() && !self.options.nanny_processes)
            .map(|timeout| (&self.table, Instant::now() + timeout));
        self.holds.after_reload(&self.plan, plan, changed, leaving)
    }

    /// What a reload to `plan`, read from `file`, would do (`lvsd --plan`).
    async fn preview(&mut self, file: &str, plan: &Plan, drain_timeout: Option<Duration>) -> PlanAnswer {
        let changed = plan.changed_since(&self.plan);
        let carried = self.carry_over(plan, &changed);
        let health = self.health_after_reload(&changed, &carried);
        let (holds, _) = self.holds_after_reload(plan, &changed, drain_timeout);
        let operations = self.reload_operations(plan, &health, &holds, &changed);
        let restarted: Vec<&PlannedServer> = if self.options.nanny_processes {
            Vec::new()
        } else {
            carried.servers.iter().map(|(server, _)| *server).collect()
        };
        let removing = ReloadPreview::removing(&operations);
        let active = self
            .read_kernel(removing.clone(), removing)
            .await
            .unwrap_or_default()
            .into_iter()
            .filter_map(|(key, (_, dests))| {
                let counts = dests?.into_iter().map(|(at, d)| (at, d.active_conns)).collect();
                Some((key, counts))
            })
            .collect();
        PlanAnswer::Preview(ReloadPreview::new(PreviewInputs {
            file,
            plan,
            running: &self.plan,
            changed: &changed,
            health: &health,
            table: &self.table,
            operations: &operations,
            restarted: &restarted,
            active: &active,
        }))
    }

    /// Judges the quorums of the services `keys` names (all: `None`) by
    /// their servers' standing, acting on each change.
    /// A server the checks have not put in yet is out once its first check
    /// has run (`board`): the nanny machine says nothing of a server that
    /// fails from the start. With nannies (which check out of process),
    /// no quorum is judged.
    fn judge_quorums(&mut self, board: &lvs_health::engine::CheckBoard, keys: Option<&BTreeSet<ServiceKey>>) {
        if self.options.nanny_processes
            || (self.quorums.lost().next().is_none()
                && self.withdrawn.is_empty()
                && !self.plan_index.any_quorum)
        {
            return;
        }
        let plan = Arc::clone(&self.plan);
        self.quorums.retain(|key| plan.named.contains(key));
        for service in plan
            .services
            .iter()
            .filter(|s| keys.is_none_or(|keys| keys.contains(&s.service.key)))
        {
            if service.quorum.is_none() && !self.quorums.is_lost(&service.service.key) {
                continue;
            }
            let standings: HashMap<ServerRef, Health> = service
                .servers
                .iter()
                .map(|server| {
                    let at = server.at;
                    let health = match lvs_core::director::Standing::standing(&self.standing(), &at) {
                        Health::Unknown
                            if self
                                .ids
                                .by_server
                                .get(&at)
                                .is_some_and(|id| board.has_checked(*id)) =>
                        {
                            Health::Out
                        }
                        health => health,
                    };
                    (at, health)
                })
                .collect();
            let change = self.quorums.judge(service, |at| {
                standings.get(at).copied().unwrap_or(Health::Unknown)
            });
            if let Some(change) = change {
                self.quorum_changed(service, change);
            }
        }
        self.settle_vips();
    }

    /// A quorum lost or regained: logged, sent as an event, and the VIP
    /// taken off or put back when the service asks for that.
    fn quorum_changed(
        &mut self,
        service: &lvs_core::director::PlannedService,
        change: lvs_core::quorum::QuorumChange,
    ) {
        let name = &service.name;
        let Some(rule) = service.quorum.as_ref() else {
            let event = Event::new(
                LogEvent::QuorumRegained.as_str(),
                crate::events::now(),
                format!("Virtual Server {name}: no quorum any more; it runs as its servers' health says"),
            )
            .service(name)
            .states("lost", "held");
            self.tell(
                Severity::Notice,
                LogEvent::QuorumRegained,
                event,
                service.notify.clone(),
            );
            return;
        };
        let what = match rule.action {
            lvs_cf::QuorumAction::Sorry => "the sorry server takes new connections",
            lvs_cf::QuorumAction::Withdraw => "its VIP is withdrawn",
            _ => "nothing else changes",
        };
        let (kind, line, states) = if change.lost {
            (
                LogEvent::QuorumLost,
                format!(
                    "Virtual Server {name}: quorum lost (healthy weight {}, below {}); {what}",
                    change.weight,
                    rule.lost_below()
                ),
                ("held", "lost"),
            )
        } else {
            (
                LogEvent::QuorumRegained,
                format!(
                    "Virtual Server {name}: quorum regained (healthy weight {}, at least {})",
                    change.weight,
                    rule.regained_at()
                ),
                ("lost", "held"),
            )
        };
        let event = Event::new(kind.as_str(), crate::events::now(), line)
            .service(name)
            .states(states.0, states.1)
            .reason(format!("healthy weight {}", change.weight));
        self.tell(Severity::Notice, kind, event, service.notify.clone());
    }

    /// Brings the VIPs in line with the quorums: each withdrawing rule's
    /// VIP, and each VIP taken off before (whose rule or service a reload
    /// may have changed or dropped), off or back as the services on it
    /// now say.
    fn settle_vips(&mut self) {
        let mut vips: Vec<lvs_core::router::Vip> = self.withdrawn.clone();
        for service in &self.plan.services {
            if let Some(vip) = service.quorum.as_ref().and_then(|q| q.vip.as_ref()) {
                if self.quorums.is_lost(&service.service.key) && !vips.iter().any(|v| v.ip == vip.ip) {
                    vips.push(vip.clone());
                }
            }
        }
        for vip in vips {
            self.withdraw_or_restore(vip);
        }
    }

    /// Takes `vip` off this router while every service on it has lost a
    /// quorum that withdraws it, and puts back one this director took off
    /// once any of them regains it (announcing it again).
    fn withdraw_or_restore(&mut self, vip: lvs_core::router::Vip) {
        let on_vip = |s: &&lvs_core::director::PlannedService| {
            s.quorum
                .as_ref()
                .and_then(|q| q.vip.as_ref())
                .is_some_and(|v| v.ip == vip.ip)
                || matches!(s.service.key, ServiceKey::Addr { addr, .. } if addr == vip.ip)
        };
        let services: Vec<&lvs_core::director::PlannedService> =
            self.plan.services.iter().filter(on_vip).collect();
        // No service on it any more: nothing keeps it off.
        let all_lost = !services.is_empty()
            && services.iter().all(|s| {
                s.quorum.as_ref().is_some_and(|q| q.vip.is_some()) && self.quorums.is_lost(&s.service.key)
            });
        let taken = self.withdrawn.iter().any(|v| v.ip == vip.ip);
        match (all_lost, taken) {
            (true, false) => {
                if self.options.dry_run {
                    self.log
                        .info(&format!("would withdraw {} from {}", vip.ip, vip.device));
                    return;
                }
                match lvs_arp::link::Rtnl::connect().and_then(|mut rtnl| rtnl.remove_vip(&vip.device, vip.ip))
                {
                    // Only one this director took off is put back later.
                    Ok(lvs_arp::link::Change::Removed) => {
                        self.log.write(
                            Severity::Notice,
                            &format!("withdrew the VIP {} from {}", vip.ip, vip.device),
                        );
                        self.withdrawn.push(vip);
                    }
                    Ok(_) => self.log.warning(&format!(
                        "the VIP {} is not on {}: there is nothing to withdraw",
                        vip.ip, vip.device
                    )),
                    Err(e) => self
                        .log
                        .error(&format!("cannot withdraw {} from {}: {e}", vip.ip, vip.device)),
                }
            }
            (false, true) => {
                self.withdrawn.retain(|v| v.ip != vip.ip);
                self.restore_vip(&vip, true);
            }
            _ => {}
        }
    }

    /// Puts `vip` back up and, when `announce`, announces it (`arp_count`
    /// times; not at a stop, where whoever brought it up decides).
    fn restore_vip(&self, vip: &lvs_core::router::Vip, announce: bool) {
        let added = lvs_arp::link::Rtnl::connect()
            .and_then(|mut rtnl| rtnl.add_vip(&vip.device, vip.ip, vip.prefix_len));
        let interface = match added {
            Ok(interface) => interface,
            Err(e) => {
                self.log.error(&format!(
                    "cannot put the VIP {} back on {}: {e}",
                    vip.ip, vip.device
                ));
                return;
            }
        };
        self.log.write(
            Severity::Notice,
            &format!("put the VIP {} back on {}", vip.ip, vip.device),
        );
        let Some(mac) = interface.mac.filter(|_| announce) else {
            return;
        };
        let burst = lvs_arp::announce::Burst {
            count: self.config.arp_count,
            interval: self.config.arp_interval.as_duration(),
        };
        let announcement = lvs_arp::frame::Announcement::for_address(vip.ip, mac);
        let log = self.log.clone();
        tokio::spawn(async move {
            let sent = match lvs_arp::packet::PacketSocket::open() {
                Ok(socket) => {
                    lvs_arp::announce::send_burst(&socket, interface.index, &announcement, burst).await
                }
                Err(e) => Err(e),
            };
            if let Err(e) = sent {
                log.error(&format!("gratuitous arp failed: {e}"));
            }
        });
    }

    /// The servers' health under the operators' holds.
    fn standing(&self) -> WithHolds<'_> {
        WithHolds {
            health: &self.health,
            holds: &self.holds,
            quorums: &self.quorums,
        }
    }

    /// `lvs --drain`, `--disable`, `--enable`: the hold changes, the table
    /// follows, and the answer goes (with `--wait`, when the drain ends).
    fn admin(
        &mut self,
        running: &mut Running,
        request: AdminRequest,
        answer: tokio::sync::oneshot::Sender<AdminAnswer>,
    ) {
        let target = request.target();
        if running.nannies.is_some() {
            let _ = answer.send(AdminAnswer::refused(format!(
                "{target}: servers cannot be held with --nanny-processes, where each nanny enters its own server"
            )));
            return;
        }
        let Some(at) = lvs_core::admin::find(&self.plan, &request.service, &request.server) else {
            let _ = answer.send(AdminAnswer::refused(format!(
                "{target}: {} has no active real server of that name",
                self.options.configfile.display()
            )));
            return;
        };
        let timeout = request
            .timeout_seconds
            .map(Duration::from_secs)
            .unwrap_or_else(|| self.config.drain_deadline().as_duration());
        let old = AdminState::of(self.holds.get(&at));
        let change = match request.action {
            AdminAction::Drain => self.holds.drain(at, HoldSource::Command, Instant::now(), timeout),
            AdminAction::Disable => self.holds.disable(at, HoldSource::Command),
            AdminAction::Enable => self.holds.release(&at, HoldSource::Command),
            // A newer client's action: nothing is done.
            _ => {
                let _ = answer.send(AdminAnswer::refused(format!(
                    "{target}: not an action this daemon knows"
                )));
                return;
            }
        };
        let state = AdminState::of(self.holds.get(&at));
        let message = match (request.action, change) {
            (AdminAction::Drain, HoldChange::Started) => format!(
                "{target} draining: weight 0 until its connections end, removed within {} s",
                timeout.as_secs()
            ),
            (AdminAction::Disable, HoldChange::Started | HoldChange::Changed) => {
                format!("{target} disabled: out of the table until lvs --enable")
            }
            (_, HoldChange::Released) => format!("{target} enabled: its checks decide again"),
            (AdminAction::Enable, HoldChange::StillHeld) => {
                format!("{target} is still held: a file in the maintenance directory names it")
            }
            (AdminAction::Enable, _) => format!("{target} was not held"),
            (_, _) => format!("{target} is {state} already"),
        };
        if old != state {
            let reason = format!("lvsd --{}", request.action.as_str());
            self.hold_event(at, old, message.clone(), &reason);
        }
        if change == HoldChange::Released {
            self.answer_drain_waiters(&request.service, &request.server, DrainEnd::Released);
        }
        if old == AdminState::Draining && state == AdminState::Disabled {
            self.answer_drain_waiters(&request.service, &request.server, DrainEnd::Disabled);
        }
        self.record_holds();
        self.sync_services(running, BTreeSet::from([at.service]));
        self.publish(running);
        let reply = AdminAnswer::done(message, state);
        if request.action == AdminAction::Drain && request.wait && state == AdminState::Draining {
            self.drain_waiters
                .push(((request.service, request.server), answer, reply));
        } else {
            let _ = answer.send(reply);
        }
    }

    /// Answers the `--wait`s on `service`/`server`: its drain ended so.
    fn answer_drain_waiters(&mut self, service: &str, server: &str, end: DrainEnd) {
        let (done, waiting): (Vec<DrainWaiter>, Vec<DrainWaiter>) = std::mem::take(&mut self.drain_waiters)
            .into_iter()
            .partition(|((s, r), _, _)| s == service && r == server);
        self.drain_waiters = waiting;
        for (_, answer, reply) in done {
            let _ = answer.send(reply.drained(end, format!("{service}/{server}: drain over, {end}")));
        }
    }

    /// Whether the hold timer has work: a maintenance directory to watch,
    /// or drains waiting on connections.
    fn holds_need_tending(&self) -> bool {
        self.config.maintenance_dir.is_some() || self.holds.waits_on_connections()
    }

    /// Logs a failure to look at the holds once, until it changes; `slot`
    /// is what was looked at (0: the maintenance directory, 1: the
    /// connections).
    fn hold_trouble(&mut self, slot: usize, trouble: Option<String>) {
        if let Some(line) = trouble
            .as_ref()
            .filter(|line| self.hold_trouble[slot].as_ref() != Some(line))
        {
            self.log.warning(line);
        }
        self.hold_trouble[slot] = trouble;
    }

    /// The files of the maintenance directory, read on a blocking thread
    /// (a hung network file system must not hold the loop); `None` when
    /// lvs.cf names no directory, or it cannot be read (logged: its holds
    /// stay as they are).
    async fn maintenance_files(&mut self) -> Option<Vec<String>> {
        let dir = self.config.maintenance_dir.clone()?;
        // One read at a time: one that hangs is not repeated, nor waited for
        // again until it has answered (and then only for the directory it read).
        let mut reading = match self.maintenance_read.take() {
            Some((read, handle)) if read == dir && !handle.is_finished() => {
                self.maintenance_read = Some((read, handle));
                self.hold_trouble(
                    0,
                    Some(format!(
                        "cannot read maintenance_dir {dir}: it does not answer; its holds stay as they were"
                    )),
                );
                return None;
            }
            Some((read, handle)) if read == dir => handle,
            _ => {
                let path = PathBuf::from(&dir);
                tokio::task::spawn_blocking(move || crate::holds::maintenance_files(&path))
            }
        };
        let trouble = match tokio::time::timeout(MAINTENANCE_READ_TIME, &mut reading).await {
            Ok(Ok(Ok(names))) => {
                self.hold_trouble(0, None);
                return Some(names);
            }
            Ok(Ok(Err(e))) => e.to_string(),
            Ok(Err(e)) => e.to_string(),
            Err(_) => {
                self.maintenance_read = Some((dir.clone(), reading));
                format!("no answer within {} ms", MAINTENANCE_READ_TIME.as_millis())
            }
        };
        self.hold_trouble(
            0,
            Some(format!(
                "cannot read maintenance_dir {dir}: {trouble}; its holds stay as they were"
            )),
        );
        None
    }

    /// The maintenance directory's holds brought up to date with its files
    /// (`names`; with no directory in lvs.cf, none); returns the services
    /// whose servers' holds began or ended.
    fn maintain(&mut self, names: Option<Vec<String>>, now: Instant) -> BTreeSet<ServiceKey> {
        let mut touched = BTreeSet::new();
        // Each nanny enters its own server: nothing is held there.
        if self.options.nanny_processes {
            return touched;
        }
        let names = match (names, &self.config.maintenance_dir) {
            (Some(names), _) => names,
            // No directory (any more): its holds end.
            (None, None) => Vec::new(),
            // It could not be read: its holds stay.
            (None, Some(_)) => return touched,
        };
        // The same files for the same plan: nothing to look at again.
        let seen = (self.plan_generation, names);
        if self.maintenance_seen.as_ref() == Some(&seen) {
            return touched;
        }
        let names = &seen.1;
        let named: Vec<ServerRef> = names
            .iter()
            .flat_map(|name| lvs_core::admin::maintenance_matches(&self.plan, name))
            .collect();
        let dir = self.config.maintenance_dir.clone().unwrap_or_default();
        let timeout = self.config.drain_deadline().as_duration();
        let was: HashMap<ServerRef, AdminState> = self
            .holds
            .iter()
            .filter(|(_, held)| held.by_maintenance)
            .map(|(at, held)| (*at, AdminState::of(Some(held))))
            .collect();
        for (at, change) in self.holds.maintain(&named, now, timeout) {
            touched.insert(at.service);
            let Some((service, server, _)) = self.named_with_hook(at) else {
                continue;
            };
            let line = match change {
                HoldChange::Started => format!("{service}/{server} draining: a file in {dir} names it"),
                HoldChange::Released if dir.is_empty() => {
                    format!("{service}/{server} enabled: lvs.cf names no maintenance_dir any more")
                }
                HoldChange::Released => format!("{service}/{server} enabled: its file in {dir} is gone"),
                _ => continue,
            };
            let old = was.get(&at).copied().unwrap_or_default();
            self.hold_event(at, old, line, "maintenance_dir");
            if change == HoldChange::Released {
                self.answer_drain_waiters(&service, &server, DrainEnd::Released);
            }
        }
        self.maintenance_seen = Some(seen);
        touched
    }

    /// Each second while there is work: the maintenance directory read, and
    /// the drains whose connections ended (or whose deadline passed) done.
    async fn tend_holds(&mut self, running: &mut Running) {
        let now = Instant::now();
        let files = self.maintenance_files().await;
        let mut touched = self.maintain(files, now);
        if self.holds.waits_on_connections() {
            let keys = self.holds.services_waiting();
            let read = self.read_kernel(keys.clone(), keys).await;
            let settled = match read {
                // Only whole readings: a service whose entries could not be
                // read would look emptied.
                Ok(kernel) if kernel.values().all(|(_, dests)| dests.is_some()) => {
                    self.hold_trouble(1, None);
                    let active = |key: &ServiceKey, at: SocketAddr| {
                        let (_, dests) = kernel.get(key)?;
                        dests.as_ref()?.get(&(at.ip(), at.port())).map(|d| d.active_conns)
                    };
                    self.holds.settle(now, &self.health, Some(&active))
                }
                // The counts unknown: only deadlines end drains.
                failed => {
                    let why = failed
                        .err()
                        .unwrap_or_else(|| "a service's entries could not be read".to_owned());
                    self.hold_trouble(
                        1,
                        Some(format!(
                            "cannot read the draining servers' connections: {why}; their drains end at their deadlines"
                        )),
                    );
                    self.holds.settle(now, &self.health, None)
                }
            };
            touched.extend(settled.left);
            for drained in settled.drained {
                touched.insert(drained.at.service);
                let Some((service, server, _)) = self.named_with_hook(drained.at) else {
                    continue;
                };
                let line = format!("{service}/{server} drained ({}): removed", drained.end);
                self.hold_event(drained.at, AdminState::Draining, line, &drained.end.to_string());
                self.answer_drain_waiters(&service, &server, drained.end);
            }
        }
        if !touched.is_empty() {
            self.record_holds();
            self.sync_services(running, touched);
            self.publish(running);
        }
    }

    /// Where the commands' holds are recorded: beside the status socket
    /// (none in a dry run, or without a socket).
    fn holds_path(&self) -> Option<PathBuf> {
        if self.options.dry_run {
            return None;
        }
        self.options
            .status_socket
            .as_ref()
            .map(|socket| socket.with_extension("holds"))
    }

    /// Takes back the holds an earlier run recorded.
    fn restore_holds(&mut self) {
        let Some(path) = self.holds_path().filter(|_| !self.options.nanny_processes) else {
            return;
        };
        let records = match crate::holds::read(&path) {
            Ok(records) => records,
            Err(e) => {
                self.log.warning(&format!("{e}; no server is held"));
                return;
            }
        };
        let (holds, unknown) = Holds::restored(&records, &self.plan, Instant::now());
        self.holds = holds;
        for record in &records {
            if unknown.contains(record) {
                self.log.warning(&format!(
                    "{}/{} was held by an earlier run but is not in the configuration: its hold ends",
                    record.service, record.server
                ));
                continue;
            }
            let what = match record.drain_seconds {
                Some(seconds) => format!("draining again, removed within {seconds} s"),
                None => "disabled".to_owned(),
            };
            if let Some(at) = lvs_core::admin::find(&self.plan, &record.service, &record.server) {
                let line = format!(
                    "{}/{} held by an earlier run: {what}",
                    record.service, record.server
                );
                self.hold_event(at, AdminState::Enabled, line, "recorded by an earlier run");
            }
        }
        self.record_holds();
    }

    /// Records the commands' holds, for a restart.
    fn record_holds(&self) {
        let Some(path) = self.holds_path() else { return };
        if let Err(e) = crate::holds::write(&path, self.holds.records(&self.plan)) {
            self.log.error(&e.to_string());
        }
    }

    /// The services this director owns: those the file names, and those
    /// of an older file still in the table.
    fn owned(&self) -> BTreeSet<ServiceKey> {
        let mut keys = self.plan.named.clone();
        keys.extend(self.table.services.keys().copied());
        keys
    }

    /// Of `keys`, those whose destinations are compared: none with a nanny
    /// per server (the nannies make those entries), otherwise the services
    /// in order until their destinations pass `most`.
    fn compared_destinations<'k>(
        &self,
        keys: impl IntoIterator<Item = &'k ServiceKey>,
        most: usize,
    ) -> BTreeSet<ServiceKey> {
        if self.options.nanny_processes {
            return BTreeSet::new();
        }
        let mut picked = BTreeSet::new();
        let mut destinations = 0;
        for key in keys {
            if destinations >= most {
                break;
            }
            destinations += self
                .table
                .services
                .get(key)
                .map_or(1, |(_, dests)| dests.len().max(1));
            picked.insert(*key);
        }
        picked
    }

    /// The services whose destinations the next periodic check compares:
    /// the next ones after the last check's, round the owned services.
    fn next_drift_slice(&mut self, keys: &BTreeSet<ServiceKey>) -> BTreeSet<ServiceKey> {
        let after = match self.drift_cursor {
            Some(last) => keys.range((std::ops::Bound::Excluded(last), std::ops::Bound::Unbounded)),
            None => keys.range(..),
        };
        let mut picked = self.compared_destinations(after, DRIFT_DESTINATIONS_PER_CHECK);
        if picked.is_empty() {
            picked = self.compared_destinations(keys, DRIFT_DESTINATIONS_PER_CHECK);
        }
        self.drift_cursor = picked.last().copied();
        picked
    }

    /// The kernel's entries of the services `keys` names that it holds,
    /// with the destinations of those `with_destinations` names (a service
    /// whose destinations cannot be read has `None`), read on a blocking
    /// thread while this loop waits: nothing else changes the table
    /// meanwhile.
    async fn read_kernel(
        &mut self,
        keys: BTreeSet<ServiceKey>,
        with_destinations: BTreeSet<ServiceKey>,
    ) -> Result<BTreeMap<ServiceKey, (Service, Option<Destinations>)>, String> {
        if keys.is_empty() {
            return Ok(BTreeMap::new());
        }
        let mut ipvs = match self.reading_ipvs.take() {
            Some(ipvs) => ipvs,
            None if self.options.dry_run => return Err("a test start reads no table".to_owned()),
            // Lost with a blocking thread that failed: a new one, opened on this thread.
            None => Ipvs::connect_without_modprobe().map_err(|e| e.to_string())?,
        };
        let read = tokio::task::spawn_blocking(move || {
            let services = ipvs.services().map(|services| {
                services
                    .into_iter()
                    .filter(|service| keys.contains(&service.key))
                    .map(|service| {
                        let dests = with_destinations
                            .contains(&service.key)
                            .then(|| ipvs.destinations(&service.key).ok())
                            .flatten()
                            .map(|dests| dests.into_iter().map(|d| ((d.addr, d.port), d)).collect());
                        (service.key, (service, dests))
                    })
                    .collect()
            });
            (ipvs, services)
        })
        .await;
        match read {
            Ok((ipvs, services)) => {
                self.reading_ipvs = Some(ipvs);
                services.map_err(|e| e.to_string())
            }
            Err(e) => Err(format!("the thread reading the table failed: {e}")),
        }
    }

    /// Compares the owned entries of `keys` with the kernel's (the
    /// destinations of `with_destinations`) and restores what differs: the
    /// model takes the kernel's entries of the services that drifted, and
    /// the reconciler gives the operations back to what the file and the
    /// servers' health ask for.
    async fn resync(
        &mut self,
        running: &mut Running,
        keys: BTreeSet<ServiceKey>,
        with_destinations: BTreeSet<ServiceKey>,
    ) -> ResyncReport {
        let kernel = match self.read_kernel(keys.clone(), with_destinations).await {
            Ok(kernel) => kernel,
            Err(e) => {
                let failure = format!("cannot read the table to compare it: {e}");
                self.log.warning(&failure);
                return ResyncReport::new(Vec::new(), Vec::new(), vec![failure]);
            }
        };
        let found = drift(&self.table, &kernel, &keys);
        if found.is_empty() {
            return ResyncReport::default();
        }
        let mut drifted = BTreeSet::new();
        for (key, what) in &found {
            drifted.insert(*key);
            let event = Event::new(
                LogEvent::Drift.as_str(),
                crate::events::now(),
                format!("changed behind lvs's back: {what}; restoring it"),
            );
            self.tell(Severity::Warning, LogEvent::Drift, event, None);
        }
        let mut kernel = kernel;
        for key in &drifted {
            match kernel.remove(key) {
                None => {
                    self.table.services.remove(key);
                }
                Some((service, Some(dests))) => {
                    self.table.services.insert(*key, (service, dests));
                }
                // Destinations not read: the model's stand.
                Some((service, None)) => {
                    let dests = self
                        .table
                        .services
                        .remove(key)
                        .map(|(_, d)| d)
                        .unwrap_or_default();
                    self.table.services.insert(*key, (service, dests));
                }
            }
        }
        let operations = if running.nannies.is_some() {
            reconcile_nanny_mode(&self.plan, None, &self.health, &self.table)
        } else {
            reconcile_services(&self.plan, &self.standing(), &self.table, &drifted)
        };
        let failed = self.apply(&operations);
        ResyncReport::new(
            found.into_iter().map(|(_, what)| what).collect(),
            operations.iter().map(describe).collect(),
            failed,
        )
    }

    /// A reload: a valid new file replaces the plan, and the difference is
    /// applied; an invalid one is logged and changes nothing.
    async fn reload(&mut self, running: &mut Running) {
        self.log.info("SIGHUP received: re-reading the configuration");
        let started = Instant::now();
        // The plan is derived while the file is validated, on a blocking
        // thread: a large file takes a while to read (and names to resolve),
        // and the checks on this runtime must keep their time meanwhile.
        let path = self.options.configfile.clone();
        let mut reparser = std::mem::take(&mut self.reparser);
        let read = tokio::task::spawn_blocking(move || {
            let loaded = read_plan(&path, &mut reparser);
            (loaded, reparser)
        })
        .await;
        let loaded = match read {
            Ok((loaded, reparser)) => {
                self.reparser = reparser;
                loaded
            }
            Err(e) => {
                self.log.error(&format!("cannot re-read the configuration: {e}"));
                self.counted.reloaded(false);
                return;
            }
        };
        let (config, plan) = match loaded {
            Ok(loaded) => loaded,
            Err(e) => {
                let event = Event::new(
                    LogEvent::ReloadRefused.as_str(),
                    crate::events::now(),
                    format!("{e}; keeping the running configuration"),
                );
                self.tell(Severity::Error, LogEvent::ReloadRefused, event, None);
                self.counted.reloaded(false);
                return;
            }
        };
        let read = started.elapsed();
        // Only the services that changed are looked at again: their checks,
        // their health and their entries. The table is known from the
        // daemon's own operations; it is not read back (a reload must cost
        // little however large the table).
        let changed = plan.changed_since(&self.plan);
        let old_timeouts = timeouts(&self.config);
        let carried = self.carry_over(&plan, &changed);
        // What `--plan` lists, worked out the same way.
        let health = self.health_after_reload(&changed, &carried);
        let drain_timeout = config.drain_timeout.map(|t| t.as_duration());
        let (holds, dropped_holds) = self.holds_after_reload(&plan, &changed, drain_timeout);
        let operations = self.reload_operations(&plan, &health, &holds, &changed);
        // The changed services' servers, as they were, make way for the new:
        // the ids of those the file dropped go.
        let kept: HashSet<ServerRef> = carried.servers.iter().map(|(server, _)| server.at).collect();
        let mut gone_ids = Vec::new();
        for service in self
            .plan
            .services
            .iter()
            .filter(|s| changed.contains(&s.service.key))
        {
            for server in service.servers.iter().filter(|server| !kept.contains(&server.at)) {
                gone_ids.extend(self.ids.forget(&server.at));
            }
        }
        // Unchanged servers keep their running checks; the changed ones
        // restart while the table changes (below).
        let restarted = if running.nannies.is_some() {
            Vec::new()
        } else {
            engine_servers(&carried.servers, &mut self.ids)
        };
        drop(carried);
        self.health = health;
        self.holds = holds;
        for (service, server) in dropped_holds {
            let line = format!("{service}/{server} is no longer in the configuration: its hold ends");
            let mut event = Event::new(LogEvent::ServerHold.as_str(), crate::events::now(), line)
                .service(&service)
                .reason("reload");
            event.server = Some(server.clone());
            self.tell(Severity::Notice, LogEvent::ServerHold, event, None);
            self.answer_drain_waiters(&service, &server, DrainEnd::Gone);
        }
        let checked = started.elapsed();
        self.plan_index = PlanIndex::of(&plan);
        let previous = std::mem::replace(&mut self.plan, Arc::new(plan));
        // The old file's model is freed once the reload is done.
        let previous_config = std::mem::replace(&mut self.config, config);
        if let Some(wanted) = timeouts(&self.config).filter(|t| Some(*t) != old_timeouts) {
            self.set_timeouts(wanted);
        }
        self.set_sysctls();
        // Nannies whose arguments changed stop (removing their servers) before the table changes.
        if let Some(nannies) = running.nannies.as_mut() {
            let keep: Vec<Vec<String>> = nanny_argvs(
                &self.config,
                &self.plan,
                self.options.verbose,
                self.options.nanny_foreground,
            )
            .into_iter()
            .map(|(argv, _, _)| argv)
            .collect();
            nannies.stop_except(&keep).await;
        }
        let revise = |engine: &mut Engine| engine.revise(gone_ids, restarted);
        // Before the table changes: a kill from here on leaves a record of both files' services.
        self.record_owned(previous.named.iter().chain(&self.plan.named));
        let applied = operations.len();
        // Failed operations of before are in `operations` too.
        let mut retried = std::mem::take(&mut self.unsettled);
        if running.nannies.is_some() {
            revise(&mut running.engine);
            self.apply(&operations);
        } else {
            retried.extend(changed.iter().copied());
            self.apply_while(running, &operations, retried, revise);
        }
        self.record_settled(&[&previous]);
        // The holds by the new file's names; a maintenance_dir it dropped lets go of its holds.
        self.plan_generation += 1;
        let mut touched = self.maintain(None, Instant::now());
        self.record_holds();
        // The quorums of the changed services, by the new file's rules.
        let lost_before: Vec<ServiceKey> = self.quorums.lost().copied().collect();
        self.judge_quorums(&running.engine.board(), Some(&changed));
        if self.quorums.lost().copied().collect::<Vec<_>>() != lost_before {
            touched.extend(changed.iter().copied());
        }
        if !touched.is_empty() {
            self.sync_services(running, touched);
        }
        self.start_nannies(running);
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        let reread = format!(
            "configuration re-read: {applied} table changes in {:.1} ms (file {:.1} ms, plan {:.1} ms, table and checks {:.1} ms; {} of {} services changed)",
            ms(started.elapsed()),
            ms(read),
            ms(checked - read),
            ms(started.elapsed() - checked),
            changed.len(),
            self.plan.named.len(),
        );
        let event = Event::new(LogEvent::Reload.as_str(), crate::events::now(), reread);
        self.tell(Severity::Notice, LogEvent::Reload, event, None);
        self.counted.reloaded(true);
        drop((previous, previous_config));
    }

    /// Stops the checks (and nannies, which remove their servers) and
    /// removes the virtual services this daemon runs.
    async fn close(&mut self, running: &mut Running) {
        for (_, answer, _) in self.drain_waiters.drain(..) {
            let _ = answer.send(AdminAnswer::refused(
                "lvs stopped before the drain ended; the hold is kept for its next start",
            ));
        }
        running.engine.stop_all();
        if let Some(nannies) = running.nannies.as_mut() {
            nannies.stop_except(&[]).await;
        }
        let operations: Vec<Operation> = self
            .plan
            .services
            .iter()
            .map(|s| s.service.key)
            .filter(|key| self.table.services.contains_key(key))
            .map(Operation::DeleteService)
            .collect();
        self.apply(&operations);
        // The VIPs this director took off go back to whoever brought them up.
        for vip in std::mem::take(&mut self.withdrawn) {
            self.restore_vip(&vip, false);
        }
        let restored = self.sysctls.restore();
        self.log_sysctls(restored);
        if self.table.services.is_empty() {
            if let Some(path) = self.ownership_path() {
                if let Err(e) = crate::ownership::remove(&path) {
                    self.log
                        .error(&format!("cannot remove the record of owned services: {e}"));
                }
            }
        }
    }

    /// The record's path, when this director keeps one (not in a dry run).
    fn ownership_path(&self) -> Option<PathBuf> {
        if self.options.dry_run || self.no_record {
            return None;
        }
        self.options.ownership_file.clone().or_else(|| {
            self.options
                .status_socket
                .as_ref()
                .map(|socket| socket.with_extension("owned"))
        })
    }

    /// The services a previous run recorded; none (logged) when the record
    /// cannot be read, which is then left alone.
    fn recorded(&mut self) -> BTreeSet<ServiceKey> {
        let Some(path) = self.ownership_path() else {
            return BTreeSet::new();
        };
        match crate::ownership::read(&path) {
            Ok(keys) => keys,
            Err(e) => {
                self.log
                    .warning(&format!("{e}; no record of owned services is kept"));
                self.no_record = true;
                BTreeSet::new()
            }
        }
    }

    /// Records `keys` as owned, before the table may gain them.
    fn record_owned<'k>(&self, keys: impl Iterator<Item = &'k ServiceKey>) {
        if let Some(path) = self.ownership_path() {
            let keys: BTreeSet<&ServiceKey> = keys.collect();
            if let Err(e) = crate::ownership::write(&path, keys) {
                self.log.error(&format!("cannot record the owned services: {e}"));
            }
        }
    }

    /// After the table changed: what the file names, and whatever else of
    /// ours is still in the table (of the `older` plans; at a start, with
    /// none, the leftovers of a killed run that could not be removed).
    fn record_settled(&self, older: &[&Plan]) {
        let table = &self.table;
        let still: Vec<&ServiceKey> = table
            .services
            .keys()
            .filter(|key| !self.plan.named.contains(key))
            .filter(|key| older.iter().any(|p| p.named.contains(key)) || older.is_empty())
            .collect();
        self.record_owned(self.plan.named.iter().chain(still));
    }
}

/// What the loop looks up in a plan often (per event, per sync), worked
/// out once when the plan is put in place.
#[derive(Debug, Default)]
struct PlanIndex {
    /// Where each server is: its service's and its own index (the first
    /// block, should two name one place).
    servers: HashMap<ServerRef, (usize, usize)>,
    /// Whether any service has a sorry server (whose comings and goings are logged).
    any_sorry: bool,
    /// Whether any service has a quorum.
    any_quorum: bool,
}

impl PlanIndex {
    fn of(plan: &Plan) -> PlanIndex {
        let mut index = PlanIndex::default();
        for (i, service) in plan.services.iter().enumerate() {
            index.any_sorry |= service.sorry.is_some();
            index.any_quorum |= service.quorum.is_some();
            for (j, server) in service.servers.iter().enumerate() {
                index.servers.entry(server.at).or_insert((i, j));
            }
        }
        index
    }
}

/// The engine's servers for the carried-over ones, with their ids.
fn engine_servers(
    carried: &[(&lvs_core::director::PlannedServer, Option<u32>)],
    ids: &mut Ids,
) -> Vec<Server> {
    carried
        .iter()
        .map(|(planned, adopt)| Server {
            id: ids.assign(planned.at),
            target: SocketAddr::new(planned.at.addr, planned.at.port),
            check: Arc::clone(&planned.check),
            timeout: planned.timeout,
            nanny: planned.nanny,
            load_command: planned.load_command.clone(),
            adopt: *adopt,
        })
        .collect()
}

/// The nannies `--nanny-processes` runs for `plan`: argument list, service, server.
fn nanny_argvs(
    config: &Config,
    plan: &Plan,
    verbose: bool,
    foreground: bool,
) -> Vec<(Vec<String>, String, String)> {
    let mut all = Vec::new();
    for planned in &plan.services {
        let Some(vs) = config
            .virtual_services
            .iter()
            .find(|vs| vs.active && vs.name == planned.name)
        else {
            continue;
        };
        let vip = vs
            .address
            .as_ref()
            .map_or_else(|| "0.0.0.0".to_owned(), |a| a.host.to_string());
        for server in &planned.servers {
            let Some(rs) = vs.servers.iter().find(|rs| rs.active && rs.name == server.name) else {
                continue;
            };
            all.push((
                crate::nannies::argv(config, vs, rs, server.at.addr, &vip, verbose, foreground),
                planned.name.clone(),
                server.name.clone(),
            ));
        }
    }
    all
}

/// The next check a verbose director logs; never, when not verbose.
async fn next_check(
    checks: Option<&mut UnboundedReceiver<(usize, LastCheck)>>,
) -> Option<(usize, LastCheck)> {
    match checks {
        Some(checks) => checks.recv().await,
        None => std::future::pending().await,
    }
}

async fn next_death(nannies: Option<&mut Nannies>) -> NannyNews {
    match nannies {
        Some(nannies) => nannies.next_death().await,
        None => std::future::pending().await,
    }
}

/// Engine ids of servers, stable across reloads.
#[derive(Default)]
struct Ids {
    by_server: HashMap<ServerRef, usize>,
    by_id: HashMap<usize, ServerRef>,
    next: usize,
}

impl Ids {
    /// The id of `at`, a new one for a new server.
    fn assign(&mut self, at: ServerRef) -> usize {
        if let Some(id) = self.by_server.get(&at) {
            return *id;
        }
        let id = self.next;
        self.next += 1;
        self.by_server.insert(at, id);
        self.by_id.insert(id, at);
        id
    }

    /// Forgets `at`, returning the id it had.
    fn forget(&mut self, at: &ServerRef) -> Option<usize> {
        let id = self.by_server.remove(at)?;
        self.by_id.remove(&id);
        Some(id)
    }

    fn server(&self, id: usize) -> Option<ServerRef> {
        self.by_id.get(&id).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_director_on_a_live_socket_stops_before_it_touches_anything() {
        let dir = testkit::TempDir::new("director-twice");
        let config = dir.file(
            "lvs.cf",
            "serial_no = 1\nprimary = 192.0.2.1\nservice = lvs\n\
             virtual web {\n active = 1\n address = 192.0.2.100 eth0:1\n port = 80\n\
             server a {\n address = 10.0.0.1\n active = 1\n }\n}\n",
        );
        let socket = dir.path().join("lvs.sock");
        let _running = std::os::unix::net::UnixListener::bind(&socket).expect("the first director's socket");
        let options = DirectorOptions::new(&config).status_socket(Some(socket.clone()));
        match Director::prepare(options, Log::stderr("test: ", false)) {
            Err(DirectorError::AlreadyRunning { socket: named }) => assert_eq!(named, socket),
            Err(other) => panic!("another error first: {other}"),
            Ok(_) => panic!("a second director prepared"),
        }
    }
}
