//! The lvs daemon: the IO shell around `lvs-core`'s director reconciler and
//! check engine.
//!
//! It reads the kernel's table, adopts the entries of the services lvs.cf
//! names, runs every real server's check on the engine, and after each batch
//! of health changes applies only the operations [`reconcile`] gives. SIGHUP
//! reloads (an invalid file changes nothing), SIGTERM removes the services it
//! runs. A Unix socket answers `--status`; `--metrics` serves Prometheus text.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use lvs_cf::{Config, Reparser};
use lvs_core::director::{reconcile, reconcile_services, Health, Plan, ServerRef};
use lvs_core::engine::{Engine, LastCheck, Server, Update};
use lvs_core::nanny::NannyAction;
use lvs_ipvs::{ApplyOptions, Destination, Ipvs, Operation, Service, ServiceKey, Table, Timeouts};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, UnixListener, UnixStream};
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};

use crate::config::load_config_with;
use crate::daemon::{Detach, Signals};
use crate::log::Log;
use crate::lvs::{LvsArgs, StatusFormat};
use crate::nannies::{Nannies, NannyNews};

fn fail(message: &str) -> ExitCode {
    eprintln!("lvs: {message}");
    ExitCode::FAILURE
}

/// How an operation reads in the log.
fn describe(operation: &Operation) -> String {
    match operation {
        Operation::AddService(s) => format!("add virtual service {} ({})", s.key, s.scheduler),
        Operation::EditService(s) => format!("edit virtual service {} ({})", s.key, s.scheduler),
        Operation::DeleteService(key) => format!("delete virtual service {key}"),
        Operation::AddDest(key, d) => format!("add {} to {key} (weight {})", endpoint(d), d.weight),
        Operation::EditDest(key, d) => format!("set {} in {key} to weight {}", endpoint(d), d.weight),
        Operation::DeleteDest(key, addr, port) => {
            format!("remove {} from {key}", SocketAddr::new(*addr, *port))
        }
        other => format!("{other:?}"),
    }
}

fn endpoint(d: &Destination) -> SocketAddr {
    SocketAddr::new(d.addr, d.port)
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

/// Reads lvs.cf and derives its plan (while the file is validated), as the
/// daemon does at start and on each reload.
fn read_plan(path: &Path, reparser: &mut Reparser) -> Result<(Config, Plan), String> {
    let (config, plan) = load_config_with(path, reparser, Plan::new)?;
    Ok((config, plan.map_err(|e| e.to_string())?))
}

/// How soon failed table operations are tried again.
const RETRY_INTERVAL: Duration = Duration::from_secs(5);

/// Runs the daemon until SIGTERM or SIGINT.
pub fn main(args: LvsArgs) -> ExitCode {
    let mut reparser = Reparser::default();
    let (config, plan) = match read_plan(&args.configfile, &mut reparser) {
        Ok(read) => read,
        Err(e) => return fail(&e),
    };
    let ipvs = if args.test_start {
        None
    } else {
        match Ipvs::connect() {
            Ok(ipvs) => Some(ipvs),
            Err(e) => return fail(&e.to_string()),
        }
    };
    let log = Log::open(c"lvsd", args.nodaemon, "", args.verbose);
    // No thread exists yet: the runtime is built after detaching.
    let runtime = match crate::daemon::start(
        Detach::from_flags(args.nodaemon, args.nofork),
        Some(&args.pidfile),
        &log,
    ) {
        Ok(runtime) => runtime,
        Err(e) => return fail(&e),
    };
    runtime.block_on(async move {
        // Before anything else: a SIGHUP during start-up must not kill the daemon.
        let signals = match Signals::new() {
            Ok(signals) => signals,
            Err(e) => return fail(&format!("cannot handle signals: {e}")),
        };
        let (director, updates, news) = match Director::start(args, config, reparser, plan, ipvs, log) {
            Ok(started) => started,
            Err(e) => return fail(&e),
        };
        director.run(signals, updates, news).await
    })
}

struct Director {
    args: LvsArgs,
    log: Log,
    ipvs: Option<Ipvs>,
    config: Config,
    /// Keeps the file's tokens between reloads.
    reparser: Reparser,
    plan: Plan,
    health: HashMap<ServerRef, Health>,
    /// The kernel's entries of the services this daemon owns, as last known.
    table: Table,
    /// Services with an operation that failed: the next sync tries them again.
    unsettled: BTreeSet<ServiceKey>,
    engine: Engine,
    /// Engine ids: stable for a server across reloads.
    ids: Ids,
    /// `--nanny-processes`: the nannies, and what they report.
    nannies: Option<Nannies>,
    news: UnboundedSender<NannyNews>,
}

impl Director {
    fn start(
        args: LvsArgs,
        config: Config,
        reparser: Reparser,
        plan: Plan,
        mut ipvs: Option<Ipvs>,
        log: Log,
    ) -> Result<(Director, UnboundedReceiver<Update>, UnboundedReceiver<NannyNews>), String> {
        let kernel = match ipvs.as_mut() {
            Some(ipvs) => ipvs.snapshot().map_err(|e| e.to_string())?,
            None => Table::default(),
        };
        let table = kernel.filtered(|key| plan.named.contains(key));
        let mut ids = Ids::default();
        let mut checks = plan_checks(&plan, &table, None, &mut ids, |_| true);
        let nannies = args.nanny_processes.then(Nannies::default);
        if nannies.is_some() {
            // Each nanny checks its own server.
            checks.servers.clear();
        }
        let (sender, updates) = unbounded_channel();
        let (news, news_receiver) = unbounded_channel();
        let mut director = Director {
            args,
            log,
            ipvs,
            config,
            reparser,
            plan,
            health: checks.health,
            table,
            unsettled: BTreeSet::new(),
            engine: Engine::start(checks.servers, sender),
            ids,
            nannies,
            news,
        };
        if let Some(wanted) = timeouts(&director.config) {
            director.set_timeouts(wanted);
        }
        let adopted = director.table.destination_count();
        director.log.line(&format!(
            "starting: {} virtual services, {} real servers checked, {adopted} entries adopted from the running table",
            director.plan.services.len(),
            director.plan.servers().count()
        ));
        director.sync(None);
        director.start_nannies();
        Ok((director, updates, news_receiver))
    }

    fn set_timeouts(&mut self, wanted: Timeouts) {
        if self.args.test_start {
            self.log.line(&format!("would set timeouts {wanted:?}"));
        } else if let Some(ipvs) = self.ipvs.as_mut() {
            if let Err(e) = ipvs.set_timeouts(wanted) {
                self.log.line(&format!("cannot set timeouts: {e}"));
            }
        }
    }

    async fn run(
        mut self,
        signals: Signals,
        mut updates: UnboundedReceiver<Update>,
        mut news: UnboundedReceiver<NannyNews>,
    ) -> ExitCode {
        let Signals {
            mut term,
            mut int,
            mut hup,
        } = signals;
        // A socket left by a killed daemon is replaced.
        let _ = std::fs::remove_file(&self.args.socket);
        let status = match UnixListener::bind(&self.args.socket) {
            Ok(listener) => Some(listener),
            Err(e) => {
                self.log.line(&format!(
                    "no status socket at {}: {e}",
                    self.args.socket.display()
                ));
                None
            }
        };
        let metrics = match self.args.metrics {
            Some(address) => match TcpListener::bind(address).await {
                Ok(listener) => Some(listener),
                Err(e) => return fail(&format!("cannot serve metrics on {address}: {e}")),
            },
            None => None,
        };
        // The engine holds a sender, so the channel stays open; this is a guard.
        let mut checking = true;
        loop {
            tokio::select! {
                update = updates.recv(), if checking => {
                    let Some(update) = update else {
                        checking = false;
                        continue;
                    };
                    let mut touched = BTreeSet::new();
                    touched.extend(self.note(update));
                    while let Ok(more) = updates.try_recv() {
                        touched.extend(self.note(more));
                    }
                    self.sync_services(touched);
                }
                _ = hup.recv() => self.reload().await,
                // Operations that failed are tried again while they fail.
                _ = tokio::time::sleep(RETRY_INTERVAL), if !self.unsettled.is_empty() => {
                    self.sync_services(BTreeSet::new());
                }
                _ = term.recv() => return self.shutdown(libc::SIGTERM).await,
                _ = int.recv() => return self.shutdown(libc::SIGINT).await,
                Some(item) = news.recv() => {
                    if let Some(code) = self.nanny_news(item).await {
                        return code;
                    }
                }
                died = next_death(self.nannies.as_mut()) => {
                    if let Some(code) = self.nanny_news(died).await {
                        return code;
                    }
                }
                accepted = accept_unix(status.as_ref()) => {
                    if let Ok((stream, _)) = accepted {
                        self.answer_status(stream).await;
                    }
                }
                accepted = accept_tcp(metrics.as_ref()) => {
                    if let Ok((stream, _)) = accepted {
                        self.answer_metrics(stream).await;
                    }
                }
            }
        }
    }

    /// `--nanny-processes`: starts the nannies of the plan that do not run yet.
    fn start_nannies(&mut self) {
        let Some(nannies) = self.nannies.as_mut() else {
            return;
        };
        if self.args.test_start {
            return;
        }
        for (argv, service, server) in
            nanny_argvs(&self.config, &self.plan, self.args.verbose, self.args.nodaemon)
        {
            match nannies.start(argv, &service, &server, &self.news) {
                Ok(pid) => self.log.debug(&format!(
                    "create_monitor for {service}/{server} running as pid {pid}"
                )),
                Err(e) => self.log.line(&format!("{service}/{server}: {e}")),
            }
        }
    }

    /// What a nanny said, or its death; an exit status when lvs must stop.
    async fn nanny_news(&mut self, news: NannyNews) -> Option<ExitCode> {
        match news {
            NannyNews::Line(line) => self.log.debug(&line),
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
                    self.health.insert(at.at, state);
                    self.sync(None);
                }
            }
            NannyNews::Died {
                service,
                server,
                status,
            } => {
                if self.config.hard_shutdown {
                    self.log.line(&format!(
                        "nanny for child {service}/{server} died! shutting down lvs ({status})"
                    ));
                    self.close().await;
                    return Some(ExitCode::FAILURE);
                }
                self.log.line(&format!(
                    "nanny for child {service}/{server} died! manual action needed! ({status})"
                ));
            }
        }
        None
    }

    /// `--nanny-processes`: the nannies edit the servers; lvs keeps the
    /// services and the sorry server.
    fn nanny_mode_operations(&self, previous: Option<&Plan>) -> Vec<Operation> {
        let mut operations = Vec::new();
        if let Some(previous) = previous {
            for key in previous.named.difference(&self.plan.named) {
                if self.table.services.contains_key(key) {
                    operations.push(Operation::DeleteService(*key));
                }
            }
        }
        for planned in &self.plan.services {
            let key = planned.service.key;
            let existing = self.table.services.get(&key);
            match existing {
                None => operations.push(Operation::AddService(planned.service.clone())),
                Some((service, _)) if !service.same_settings(&planned.service) => {
                    operations.push(Operation::EditService(planned.service.clone()))
                }
                Some(_) => {}
            }
            let Some((addr, port)) = planned.sorry else {
                continue;
            };
            let serving = planned
                .servers
                .iter()
                .any(|s| matches!(self.health.get(&s.at), Some(Health::In { weight }) if *weight > 0));
            let present = existing.is_some_and(|(_, dests)| dests.contains_key(&(addr, port)));
            if !serving && !present {
                self.log.line(&format!(
                    "Virtual Server {}: No real servers; activate sorry_server {addr}",
                    planned.name
                ));
                operations.push(Operation::AddDest(
                    key,
                    Destination::new(addr, port, planned.forward, 1),
                ));
            } else if serving && present {
                self.log.line(&format!(
                    "Virtual Server {}: real servers available; deactivate sorry_server {addr}",
                    planned.name
                ));
                operations.push(Operation::DeleteDest(key, addr, port));
            }
        }
        operations
    }

    /// Takes in one health change (or log line) from the engine; returns
    /// the service whose server changed.
    fn note(&mut self, update: Update) -> Option<ServiceKey> {
        let server = self.ids.server(update.id)?;
        match update.action {
            NannyAction::Add { weight } | NannyAction::SetWeight { weight } => {
                self.health.insert(server, Health::In { weight });
            }
            NannyAction::Remove => {
                self.health.insert(server, Health::Out);
            }
            NannyAction::Log(line) => {
                self.log.line(&line);
                return None;
            }
            NannyAction::QueryLoad => return None,
        }
        Some(server.service)
    }

    /// Applies what the table lacks; `previous` is the plan before a reload.
    /// Returns how many operations it made.
    fn sync(&mut self, previous: Option<&Plan>) -> usize {
        // A full sync covers every owned service, the unsettled ones too.
        self.unsettled.clear();
        let operations = if self.nannies.is_some() {
            self.nanny_mode_operations(previous)
        } else {
            reconcile(&self.plan, previous, &self.health, &self.table)
        };
        self.apply(&operations);
        operations.len()
    }

    /// [`Director::sync`] for the services in `keys` (and those whose
    /// operations failed before) only: the cost follows the change, not the
    /// size of the table.
    fn sync_services(&mut self, keys: BTreeSet<ServiceKey>) -> usize {
        self.sync_services_with(keys, |_| {})
    }

    /// [`Director::sync_services`], running `meanwhile` on the engine while
    /// the kernel works: its part is mostly waiting (a scheduler change
    /// waits out an RCU grace period), so a reload restarts the changed
    /// servers' checks on this thread as the operations go out on another.
    fn sync_services_with(
        &mut self,
        mut keys: BTreeSet<ServiceKey>,
        meanwhile: impl FnOnce(&mut Engine),
    ) -> usize {
        if self.nannies.is_some() {
            meanwhile(&mut self.engine);
            return self.sync(None);
        }
        keys.append(&mut self.unsettled);
        let operations = reconcile_services(&self.plan, &self.health, &self.table, &keys);
        match self.ipvs.as_mut() {
            Some(ipvs) if !self.args.test_start && !operations.is_empty() => {
                let engine = &mut self.engine;
                let sent = std::thread::scope(|scope| {
                    let sending = scope.spawn(|| ipvs.apply(&operations, ApplyOptions { idempotent: true }));
                    meanwhile(engine);
                    sending.join()
                });
                match sent {
                    Ok(results) => self.record(&operations, results),
                    Err(_) => {
                        self.log
                            .line("the thread applying the table changes failed; they will be tried again");
                        self.unsettled.extend(keys);
                    }
                }
            }
            _ => {
                meanwhile(&mut self.engine);
                self.apply(&operations);
            }
        }
        operations.len()
    }

    /// Makes `operations` (with `-t`, logs them), recording in the table
    /// model what was done and logging each failure with its reason.
    fn apply(&mut self, operations: &[Operation]) {
        if operations.is_empty() {
            return;
        }
        if self.args.test_start {
            for operation in operations {
                self.log.line(&format!("would {}", describe(operation)));
                self.table.apply(operation);
            }
            return;
        }
        let Some(ipvs) = self.ipvs.as_mut() else { return };
        let results = ipvs.apply(operations, ApplyOptions { idempotent: true });
        self.record(operations, results);
    }

    /// Notes what each operation did: the table model follows the ones that
    /// succeeded; failures are logged and their services tried again later
    /// (a service the file no longer names stays in the model until its
    /// delete succeeds).
    fn record(&mut self, operations: &[Operation], results: Vec<Result<(), lvs_ipvs::IpvsError>>) {
        for (operation, result) in operations.iter().zip(results) {
            match result {
                Ok(()) => {
                    self.log.debug(&describe(operation));
                    self.table.apply(operation);
                }
                Err(e) => {
                    self.log.line(&format!("failed to {}: {e}", describe(operation)));
                    self.unsettled.extend(operation.service_key());
                }
            }
        }
    }

    /// SIGHUP: a valid new file replaces the plan, and the difference is
    /// applied; an invalid one is logged and changes nothing.
    async fn reload(&mut self) {
        self.log.line("SIGHUP received: re-reading the configuration");
        let started = std::time::Instant::now();
        // The plan is derived while the file is validated.
        let (config, plan) = match read_plan(&self.args.configfile, &mut self.reparser) {
            Ok(loaded) => loaded,
            Err(e) => {
                self.log.line(&format!("{e}; keeping the running configuration"));
                return;
            }
        };
        let read = started.elapsed();
        // Only the services that changed are looked at again: their checks,
        // their health and their entries. The table is known from the
        // daemon's own operations; it is not read back (a reload must cost
        // little however large the table).
        let changed = plan.changed_since(&self.plan);
        let in_changed = |key: &ServiceKey| changed.contains(key);
        let old_timeouts = timeouts(&self.config);
        let mut checks = plan_checks(
            &plan,
            &self.table,
            Some(Before {
                plan: &self.plan,
                health: &self.health,
            }),
            &mut self.ids,
            in_changed,
        );
        // The changed services' servers, as they were, make way for the new:
        // their health goes, and so do the ids of those the file dropped.
        let kept: HashSet<ServerRef> = plan
            .services
            .iter()
            .filter(|s| in_changed(&s.service.key))
            .flat_map(|s| s.servers.iter().map(|server| server.at))
            .collect();
        let mut gone_ids = Vec::new();
        for service in self.plan.services.iter().filter(|s| in_changed(&s.service.key)) {
            for server in &service.servers {
                self.health.remove(&server.at);
                if !kept.contains(&server.at) {
                    gone_ids.extend(self.ids.forget(&server.at));
                }
            }
        }
        self.health.extend(checks.health);
        if self.nannies.is_some() {
            checks.servers.clear();
        }
        // Unchanged servers keep their running checks; the changed ones
        // restart while the table changes (below).
        let restarted = checks.servers;
        let checked = started.elapsed();
        let previous = std::mem::replace(&mut self.plan, plan);
        // The old file's model is freed once the reload is done.
        let previous_config = std::mem::replace(&mut self.config, config);
        if let Some(wanted) = timeouts(&self.config).filter(|t| Some(*t) != old_timeouts) {
            self.set_timeouts(wanted);
        }
        // Nannies whose arguments changed stop (removing their servers) before the table changes.
        if let Some(nannies) = self.nannies.as_mut() {
            let keep: Vec<Vec<String>> =
                nanny_argvs(&self.config, &self.plan, self.args.verbose, self.args.nodaemon)
                    .into_iter()
                    .map(|(argv, _, _)| argv)
                    .collect();
            nannies.stop_except(&keep).await;
        }
        let revise = |engine: &mut Engine| engine.revise(gone_ids, restarted);
        let applied = if self.nannies.is_some() {
            revise(&mut self.engine);
            self.sync(Some(&previous))
        } else {
            self.sync_services_with(changed.clone(), revise)
        };
        self.start_nannies();
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        self.log.line(&format!(
            "configuration re-read: {applied} table changes in {:.1} ms (file {:.1} ms, plan {:.1} ms, table and checks {:.1} ms; {} of {} services changed)",
            ms(started.elapsed()),
            ms(read),
            ms(checked - read),
            ms(started.elapsed() - checked),
            changed.len(),
            self.plan.named.len(),
        ));
        drop((previous, previous_config));
    }

    /// SIGTERM or SIGINT: the services this daemon runs go, then it exits.
    async fn shutdown(mut self, number: i32) -> ExitCode {
        self.log.line(&format!("Terminating due to signal {number}"));
        self.close().await;
        ExitCode::SUCCESS
    }

    /// Stops the checks (and nannies, which remove their servers) and
    /// removes the virtual services this daemon runs.
    async fn close(&mut self) {
        self.engine.stop_all();
        if let Some(nannies) = self.nannies.as_mut() {
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
        let _ = std::fs::remove_file(&self.args.socket);
        if !self.args.nodaemon {
            let _ = std::fs::remove_file(&self.args.pidfile);
        }
    }

    /// The state of every service and server, with the kernel's counters.
    fn status(&mut self) -> Value {
        let listing: HashMap<_, (Service, Endpoints)> = self
            .ipvs
            .as_mut()
            .and_then(|ipvs| ipvs.listing().ok())
            .unwrap_or_default()
            .into_iter()
            .map(|(service, dests)| {
                let dests = dests.into_iter().map(|d| ((d.addr, d.port), d)).collect();
                (service.key, (service, dests))
            })
            .collect();
        let checks = self.engine.last_checks();
        let now = SystemTime::now();
        let services: Vec<Value> = self
            .plan
            .services
            .iter()
            .map(|planned| {
                let key = planned.service.key;
                let kernel = listing.get(&key);
                let servers: Vec<Value> = planned
                    .servers
                    .iter()
                    .map(|server| {
                        let at = server.at;
                        let dest = kernel.and_then(|(_, dests)| dests.get(&(at.addr, at.port)));
                        let last = self.ids.id(&at).and_then(|id| checks.get(&id).cloned());
                        server_status(
                            &server.name,
                            at,
                            server.weight,
                            self.health.get(&at),
                            dest,
                            last,
                            now,
                        )
                    })
                    .collect();
                let sorry = planned.sorry.map(|(addr, port)| {
                    json!({
                        "address": addr.to_string(),
                        "port": port,
                        "in_use": kernel.is_some_and(|(_, dests)| dests.contains_key(&(addr, port))),
                    })
                });
                let stats = kernel.and_then(|(service, _)| service.stats).unwrap_or_default();
                json!({
                    "name": planned.name,
                    "service": key.to_string(),
                    "scheduler": planned.service.scheduler,
                    "persistent": planned.service.timeout,
                    "in_kernel": kernel.is_some(),
                    "connections": stats.conns,
                    "in_packets": stats.in_pkts,
                    "out_packets": stats.out_pkts,
                    "in_bytes": stats.in_bytes,
                    "out_bytes": stats.out_bytes,
                    "servers": servers,
                    "sorry_server": sorry,
                })
            })
            .collect();
        json!({ "pid": std::process::id(), "services": services })
    }

    async fn answer_status(&mut self, stream: UnixStream) {
        let (reader, mut writer) = stream.into_split();
        let mut request = String::new();
        let asked = tokio::time::timeout(
            Duration::from_secs(2),
            BufReader::new(reader).read_line(&mut request),
        )
        .await;
        if !matches!(asked, Ok(Ok(_))) {
            return;
        }
        let status = self.status();
        let reply = match request.trim() {
            "json" => format!("{status:#}\n"),
            _ => render_status(&status),
        };
        let _ = writer.write_all(reply.as_bytes()).await;
    }

    async fn answer_metrics(&mut self, mut stream: tokio::net::TcpStream) {
        // One request per connection; what it asks for does not matter.
        let mut buffer = [0u8; 1024];
        let _ = tokio::time::timeout(
            Duration::from_secs(2),
            tokio::io::AsyncReadExt::read(&mut stream, &mut buffer),
        )
        .await;
        let body = render_metrics(&self.status());
        let reply = format!(
            "HTTP/1.0 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        let _ = stream.write_all(reply.as_bytes()).await;
    }
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

async fn next_death(nannies: Option<&mut Nannies>) -> NannyNews {
    match nannies {
        Some(nannies) => nannies.next_death().await,
        None => std::future::pending().await,
    }
}

/// A service's destinations by address and port.
type Endpoints = HashMap<(std::net::IpAddr, u16), Destination>;

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

    fn id(&self, at: &ServerRef) -> Option<usize> {
        self.by_server.get(at).copied()
    }
}

/// The checks of a plan's servers, for the engine.
struct Checks {
    servers: Vec<Server>,
    /// What is known before any check: carried over, or adopted entries are in.
    health: HashMap<ServerRef, Health>,
}

/// What a reload knows of the servers from before it.
struct Before<'a> {
    plan: &'a Plan,
    health: &'a HashMap<ServerRef, Health>,
}

/// The checks of `plan`'s servers. A server's health carries over from
/// `before` (a reload), and one that was fully up takes its new configured
/// weight; otherwise an entry the table holds is adopted at its weight.
fn plan_checks(
    plan: &Plan,
    table: &Table,
    before: Option<Before>,
    ids: &mut Ids,
    wanted: impl Fn(&ServiceKey) -> bool,
) -> Checks {
    let mut servers = Vec::new();
    let mut health = HashMap::new();
    let servers_of = |plan: &'_ Plan| {
        plan.services
            .iter()
            .filter(|s| wanted(&s.service.key))
            .flat_map(|s| s.servers.iter())
            .map(|s| (s.at, s.weight))
            .collect::<HashMap<ServerRef, u32>>()
    };
    let configured_before = before.as_ref().map(|b| servers_of(b.plan)).unwrap_or_default();
    let planned_servers = plan
        .services
        .iter()
        .filter(|s| wanted(&s.service.key))
        .flat_map(|s| s.servers.iter());
    for planned in planned_servers {
        let at = planned.at;
        let known = before.as_ref().and_then(|b| b.health.get(&at)).copied();
        let state = match known {
            Some(Health::In { weight }) if configured_before.get(&at) == Some(&weight) => Some(Health::In {
                weight: planned.weight,
            }),
            Some(Health::In { weight }) => Some(Health::In { weight }),
            Some(Health::Out) => Some(Health::Out),
            Some(Health::Unknown) | None => table
                .services
                .get(&at.service)
                .and_then(|(_, dests)| dests.get(&(at.addr, at.port)))
                .map(|d| Health::In { weight: d.weight }),
        };
        let adopt = match state {
            Some(Health::In { weight }) => Some(weight),
            _ => None,
        };
        if let Some(state) = state {
            health.insert(at, state);
        }
        servers.push(Server {
            id: ids.assign(at),
            target: SocketAddr::new(at.addr, at.port),
            check: planned.check.clone(),
            timeout: planned.timeout,
            nanny: planned.nanny,
            load_command: planned.load_command.clone(),
            adopt,
        });
    }
    Checks { servers, health }
}

fn server_status(
    name: &str,
    at: ServerRef,
    configured: u32,
    health: Option<&Health>,
    dest: Option<&Destination>,
    last: Option<LastCheck>,
    now: SystemTime,
) -> Value {
    let state = match health {
        Some(Health::In { weight: 0 }) => "quiesced",
        Some(Health::In { .. }) => "up",
        Some(Health::Out) => "down",
        Some(Health::Unknown) | None => "unknown",
    };
    let last = last.map(|check| {
        json!({
            "seconds_ago": now.duration_since(check.at).unwrap_or_default().as_secs_f64(),
            "result": match &check.result {
                Ok(()) => "ok".to_owned(),
                Err(why) => why.to_string(),
            },
        })
    });
    let stats = dest.and_then(|d| d.stats).unwrap_or_default();
    json!({
        "name": name,
        "address": at.addr.to_string(),
        "port": at.port,
        "health": state,
        "configured_weight": configured,
        "weight": dest.map(|d| d.weight),
        "active_connections": dest.map_or(0, |d| d.active_conns),
        "inactive_connections": dest.map_or(0, |d| d.inactive_conns),
        "connections": stats.conns,
        "in_bytes": stats.in_bytes,
        "out_bytes": stats.out_bytes,
        "last_check": last,
    })
}

/// The status as a table for people.
pub fn render_status(status: &Value) -> String {
    let mut out = String::new();
    let text = |v: &Value| v.as_str().map_or_else(|| v.to_string(), str::to_owned);
    for service in status["services"].as_array().into_iter().flatten() {
        out.push_str(&format!(
            "virtual {} {} {}{} connections {}\n",
            text(&service["name"]),
            text(&service["service"]),
            text(&service["scheduler"]),
            match service["persistent"].as_u64() {
                Some(0) | None => String::new(),
                Some(seconds) => format!(" persistent {seconds}"),
            },
            service["connections"]
        ));
        for server in service["servers"].as_array().into_iter().flatten() {
            let weight = match server["weight"].as_u64() {
                Some(w) => w.to_string(),
                None => "-".to_owned(),
            };
            let last = match server["last_check"].as_object() {
                Some(check) => format!(
                    "{} ({:.1} s ago)",
                    text(&check["result"]),
                    check["seconds_ago"].as_f64().unwrap_or(0.0)
                ),
                None => "not checked yet".to_owned(),
            };
            out.push_str(&format!(
                "  {:<12} {:<24} {:<9} weight {:>4}/{:<4} conns {}/{}  last check: {last}\n",
                text(&server["name"]),
                format!("{}:{}", text(&server["address"]), server["port"]),
                text(&server["health"]),
                weight,
                server["configured_weight"],
                server["active_connections"],
                server["inactive_connections"],
            ));
        }
        if let Some(sorry) = service["sorry_server"].as_object() {
            out.push_str(&format!(
                "  sorry server {}:{} {}\n",
                text(&sorry["address"]),
                sorry["port"],
                if sorry["in_use"].as_bool() == Some(true) {
                    "in use"
                } else {
                    "standing by"
                }
            ));
        }
    }
    out
}

/// The status as Prometheus text.
pub fn render_metrics(status: &Value) -> String {
    let mut out = String::new();
    let label = |v: &Value| {
        v.as_str()
            .unwrap_or_default()
            .replace('\\', "\\\\")
            .replace('"', "\\\"")
    };
    let families: [(&str, &str, &str); 5] = [
        (
            "lvs_real_server_up",
            "gauge",
            "1 when the real server's checks pass",
        ),
        (
            "lvs_real_server_weight",
            "gauge",
            "the real server's weight in the IPVS table (absent: not in it)",
        ),
        (
            "lvs_real_server_active_connections",
            "gauge",
            "active connections to the real server",
        ),
        (
            "lvs_real_server_inactive_connections",
            "gauge",
            "inactive connections to the real server",
        ),
        (
            "lvs_real_server_connections_total",
            "counter",
            "connections scheduled to the real server",
        ),
    ];
    for (name, kind, help) in families {
        out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} {kind}\n"));
        for service in status["services"].as_array().into_iter().flatten() {
            for server in service["servers"].as_array().into_iter().flatten() {
                let value = match name {
                    "lvs_real_server_up" => Value::from(u8::from(server["health"] == "up")),
                    "lvs_real_server_weight" if server["weight"].is_null() => continue,
                    "lvs_real_server_weight" => server["weight"].clone(),
                    "lvs_real_server_active_connections" => server["active_connections"].clone(),
                    "lvs_real_server_inactive_connections" => server["inactive_connections"].clone(),
                    _ => server["connections"].clone(),
                };
                out.push_str(&format!(
                    "{name}{{service=\"{}\",server=\"{}\",address=\"{}:{}\"}} {value}\n",
                    label(&service["name"]),
                    label(&server["name"]),
                    label(&server["address"]),
                    server["port"]
                ));
            }
        }
    }
    for (name, field) in [
        ("lvs_virtual_service_connections_total", "connections"),
        ("lvs_virtual_service_in_bytes_total", "in_bytes"),
        ("lvs_virtual_service_out_bytes_total", "out_bytes"),
    ] {
        out.push_str(&format!("# TYPE {name} counter\n"));
        for service in status["services"].as_array().into_iter().flatten() {
            out.push_str(&format!(
                "{name}{{service=\"{}\"}} {}\n",
                label(&service["name"]),
                service[field]
            ));
        }
    }
    out
}

async fn accept_unix(
    listener: Option<&UnixListener>,
) -> std::io::Result<(UnixStream, tokio::net::unix::SocketAddr)> {
    match listener {
        Some(listener) => listener.accept().await,
        None => std::future::pending().await,
    }
}

async fn accept_tcp(listener: Option<&TcpListener>) -> std::io::Result<(tokio::net::TcpStream, SocketAddr)> {
    match listener {
        Some(listener) => listener.accept().await,
        None => std::future::pending().await,
    }
}

/// `lvs --status`: asks the running daemon and prints its answer.
pub fn status(args: &LvsArgs) -> ExitCode {
    let Some(format) = args.status_format() else {
        return fail("--format for --status is text or json");
    };
    match ask(&args.socket, format) {
        Ok(answer) => {
            print!("{answer}");
            let _ = std::io::stdout().flush();
            ExitCode::SUCCESS
        }
        Err(e) => fail(&format!(
            "cannot reach the lvs daemon at {}: {e}",
            args.socket.display()
        )),
    }
}

/// Asks the daemon at `socket` for its status in `format` (the client side
/// of `--status`, and of lvs-web's monitoring panel).
pub fn ask(socket: &Path, format: StatusFormat) -> std::io::Result<String> {
    use std::io::Read;
    let mut stream = std::os::unix::net::UnixStream::connect(socket)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    stream.write_all(match format {
        StatusFormat::Json => b"json\n",
        StatusFormat::Text => b"text\n",
    })?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    Ok(answer)
}
