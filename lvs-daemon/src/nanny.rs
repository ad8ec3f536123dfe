//! nanny: one real server checked on its own, its IPVS entry kept in step
//! (Piranha's per-server health checker).
//!
//! The check runs through `lvs-health`, the decisions are `lvs-core`'s
//! nanny machine; this loop owns the schedule, the IPVS handle and the
//! commands of a [`NannyHandle`] (the program maps SIGUSR1, SIGUSR2 and
//! SIGHUP to them).

use std::net::SocketAddr;
use std::time::Duration;

use lvs_core::check::{Check, Failure};
use lvs_core::director::EntrySettings;
use lvs_core::nanny::{Nanny, NannyAction, NannyConfig, NannyEvent};
use lvs_ipvs::{Ipvs, IpvsError, ServiceKey};
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};

use crate::log::{Fields, Log, LogEvent, Severity};

/// What one nanny watches, and how.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct NannyOptions {
    /// The virtual service.
    pub service: ServiceKey,
    /// The real server.
    pub target: SocketAddr,
    /// How the service reaches it: forwarding method, tunnel, thresholds.
    pub entry: EntrySettings,
    /// The check.
    pub check: Check,
    /// The machine's settings; `interval` is the time between checks.
    pub config: NannyConfig,
    /// Bounds each check and load query.
    pub timeout: Duration,
    /// The load monitor (nanny's `-U`), when `config.load_monitor`.
    pub load_command: String,
    /// Log the table changes without making them.
    pub dry_run: bool,
}

impl NannyOptions {
    /// A nanny of `target` in `service`, entered as `entry` says, checked
    /// by `check` on `config`'s schedule, each check bounded by `timeout`.
    pub fn new(
        service: ServiceKey,
        target: SocketAddr,
        entry: EntrySettings,
        check: Check,
        config: NannyConfig,
        timeout: Duration,
    ) -> NannyOptions {
        NannyOptions {
            service,
            target,
            entry,
            check,
            config,
            timeout,
            load_command: "none".to_owned(),
            dry_run: false,
        }
    }

    /// The load monitor command.
    pub fn load_command(mut self, command: impl Into<String>) -> NannyOptions {
        self.load_command = command.into();
        self
    }

    /// Logs the table changes without making them.
    pub fn dry_run(mut self, dry_run: bool) -> NannyOptions {
        self.dry_run = dry_run;
        self
    }
}

#[derive(Debug)]
enum Command {
    Event(NannyEvent),
    Stop(String),
}

/// Forces a running nanny's server up or down, or stops it.
#[derive(Clone, Debug)]
pub struct NannyHandle {
    commands: UnboundedSender<Command>,
}

impl NannyHandle {
    /// Takes the server out whatever its checks say (SIGUSR1).
    pub fn force_down(&self) -> bool {
        self.commands.send(Command::Event(NannyEvent::ForceDown)).is_ok()
    }

    /// Puts the server in whatever its checks say (SIGUSR2).
    pub fn force_up(&self) -> bool {
        self.commands.send(Command::Event(NannyEvent::ForceUp)).is_ok()
    }

    /// Back to the checks' verdict, with a check at once (SIGHUP).
    pub fn unforce(&self) -> bool {
        self.commands.send(Command::Event(NannyEvent::Unforce)).is_ok()
    }

    /// Removes the server and ends, logging `why`.
    pub fn stop(&self, why: impl Into<String>) -> bool {
        self.commands.send(Command::Stop(why.into())).is_ok()
    }
}

/// A nanny, ready to run.
pub struct NannyWatch {
    options: NannyOptions,
    log: Log,
    ipvs: Option<Ipvs>,
    commands: UnboundedReceiver<Command>,
    handle: NannyHandle,
}

impl NannyWatch {
    /// Connects to IPVS (unless a dry run).
    pub fn prepare(options: NannyOptions, log: Log) -> Result<NannyWatch, IpvsError> {
        let ipvs = if options.dry_run {
            None
        } else {
            Some(Ipvs::connect()?)
        };
        let (sender, commands) = unbounded_channel();
        Ok(NannyWatch {
            options,
            log,
            ipvs,
            commands,
            handle: NannyHandle { commands: sender },
        })
    }

    /// A handle that forces or stops this nanny.
    pub fn handle(&self) -> NannyHandle {
        self.handle.clone()
    }

    /// Checks until stopped, then removes the server.
    pub async fn run(mut self) {
        let mut machine = Nanny::new(self.options.config, self.options.target.to_string());
        let mut ticker = tokio::time::interval(self.options.config.interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        type Checked = (lvs_health::run::Outcome, lvs_health::run::Session);
        let mut pending: Option<tokio::task::JoinHandle<Checked>> = None;
        // Kept between checks (a reused HTTP connection); it travels with each check's task.
        let mut session = Some(lvs_health::run::Session::new());
        loop {
            tokio::select! {
                _ = ticker.tick(), if pending.is_none() => {
                    let (check, target, limit) = (self.options.check.clone(), self.options.target, self.options.timeout);
                    let mut kept = session.take().unwrap_or_default();
                    pending = Some(tokio::spawn(async move {
                        let outcome = lvs_health::run::run_in(&mut kept, &check, target, limit).await;
                        (outcome, kept)
                    }));
                }
                result = async {
                    match pending.as_mut() {
                        Some(handle) => handle.await,
                        None => std::future::pending().await,
                    }
                } => {
                    pending = None;
                    let outcome = match result {
                        Ok((outcome, kept)) => {
                            session = Some(kept);
                            outcome
                        }
                        Err(e) => lvs_health::run::Outcome::of(Err(Failure::Program(e.to_string()))),
                    };
                    match &outcome.result {
                        Ok(()) => self.log.debug(&format!("{} is up", self.options.target)),
                        Err(why) => self.log.debug(&format!("{} is down: {why}", self.options.target)),
                    }
                    let actions = machine.handle(outcome.event());
                    self.perform(&mut machine, actions).await;
                }
                command = self.commands.recv() => match command {
                    Some(Command::Event(event)) => {
                        let actions = machine.handle(event);
                        self.perform(&mut machine, actions).await;
                        if event == NannyEvent::Unforce {
                            ticker.reset_immediately();
                        }
                    }
                    Some(Command::Stop(why)) => {
                        self.log.notice(&why);
                        break;
                    }
                    // The watch holds a sender itself: this never happens.
                    None => break,
                },
            }
        }
        let actions = machine.shutdown();
        self.perform(&mut machine, actions).await;
    }

    /// Carries out the machine's actions (a load query feeds it again).
    async fn perform(&mut self, machine: &mut Nanny, actions: Vec<NannyAction>) {
        let mut queue = std::collections::VecDeque::from(actions);
        while let Some(action) = queue.pop_front() {
            let (key, target) = (self.options.service, self.options.target);
            match action {
                NannyAction::Log(line) => {
                    let address = target.to_string();
                    self.log.write_with(
                        Severity::Notice,
                        &line,
                        Fields::event(LogEvent::ServerHealth).address(&address),
                    );
                }
                NannyAction::QueryLoad => {
                    let load = lvs_health::run::query_load(
                        &self.options.load_command,
                        target.ip(),
                        self.options.timeout,
                    )
                    .await;
                    queue.extend(machine.handle(NannyEvent::Load(load)));
                }
                NannyAction::Add { weight } | NannyAction::SetWeight { weight } => {
                    let add = matches!(action, NannyAction::Add { .. });
                    let dest = self.options.entry.destination(target, weight);
                    let verb = if add { "adding" } else { "setting the weight of" };
                    self.log
                        .debug(&format!("{verb} {target} in {key} (weight {weight})"));
                    let Some(ipvs) = self.ipvs.as_mut() else { continue };
                    let result = if add {
                        // An entry left behind (a previous nanny) is adopted.
                        ipvs.add_destination(&key, &dest).or_else(|e| match e.errno() {
                            Some(libc::EEXIST) => ipvs.edit_destination(&key, &dest),
                            _ => Err(e),
                        })
                    } else {
                        ipvs.edit_destination(&key, &dest).or_else(|e| match e.errno() {
                            Some(libc::ENOENT) => ipvs.add_destination(&key, &dest),
                            _ => Err(e),
                        })
                    };
                    if let Err(e) = result {
                        self.log.error(&format!("{e}"));
                    }
                }
                NannyAction::Remove => {
                    self.log.debug(&format!("removing {target} from {key}"));
                    let Some(ipvs) = self.ipvs.as_mut() else { continue };
                    match ipvs.delete_destination(&key, target.ip(), target.port()) {
                        Err(e) if e.errno() != Some(libc::ENOENT) => self.log.error(&format!("{e}")),
                        _ => {}
                    }
                }
            }
        }
    }
}
