//! The pulse daemon: the IO shell around `lvs-core`'s failover machine.
//!
//! [`Settings`] is what pulse takes from lvs.cf (role, heartbeat channels,
//! timers, VIPs, commands); [`run`] owns the heartbeat sockets, the timers,
//! the lvs daemon child and the signals, feeds events to the machine and
//! carries out its actions through `lvs-arp` (VIPs and announcements) and
//! `lvs-ipvs` (the sync daemon). Nothing here decides when to fail over.

use std::net::{IpAddr, SocketAddr};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use lvs_arp::announce::{send_burst, Burst};
use lvs_arp::frame::Announcement;
use lvs_arp::link::{Change, Rtnl};
use lvs_arp::packet::PacketSocket;
use lvs_cf::{Config, Host, Network, ServiceType};

use crate::config::load_config;
use crate::daemon::{Detach, Signals};
use lvs_core::failover::{Action, DeactivateReason, Event, Failover, FailoverConfig, PeerState, Role};
use lvs_core::heartbeat::{self, Authenticator, HeartbeatError};
use lvs_ipvs::{Daemon, DaemonState, Ipvs};
use tokio::net::UdpSocket;
use tokio::process::{Child, Command};
use tokio::signal::unix::{signal, Signal, SignalKind};
use tokio::task::JoinHandle;

use crate::log::Log;
use crate::pulse::PulseArgs;

/// How long the lvs daemon has to exit after SIGTERM before it is killed.
const LVSD_STOP_GRACE: Duration = Duration::from_secs(10);
/// A shared key shorter than this is refused: it would be guessable.
const MIN_KEY_LEN: usize = 16;

/// Why pulse cannot start (or cannot take a new lvs.cf on SIGHUP).
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("{0}")]
    Config(String),
    #[error("cannot resolve {what} `{host}`")]
    Resolve { what: &'static str, host: String },
    #[error("cannot read the heartbeat key {path}: {source}")]
    Key { path: String, source: std::io::Error },
    #[error("the heartbeat key {path} is too short ({len} bytes; at least {MIN_KEY_LEN})")]
    ShortKey { path: String, len: usize },
    #[error("cannot list this host's addresses: {0}")]
    Addresses(String),
}

/// A virtual IP: where it goes and with what prefix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Vip {
    /// Piranha's device name (`eth0:1`: interface `eth0`, label `eth0:1`).
    pub device: String,
    pub ip: IpAddr,
    pub prefix_len: u8,
}

/// What pulse takes from lvs.cf.
#[derive(Clone, Debug, PartialEq)]
pub struct Settings {
    pub role: Role,
    /// Our heartbeat addresses: public, and private when it differs.
    pub own: Vec<SocketAddr>,
    /// The partner's, in the same order.
    pub partner: Vec<SocketAddr>,
    pub keepalive: Duration,
    pub deadtime: Duration,
    pub backup_active: bool,
    /// VIPs of the active virtual services, then `nat_router` (NAT only).
    pub vips: Vec<Vip>,
    pub active_cmd: Option<String>,
    pub inactive_cmd: Option<String>,
    pub monitor_links: bool,
    /// `syncdaemon = 1`: the multicast interface and sync id.
    pub sync_daemon: Option<(String, u32)>,
    /// The shared key of authenticated heartbeats.
    pub key: Option<Vec<u8>>,
    pub burst: Burst,
    /// Lines to log once running (Piranha's notes about the file).
    pub notes: Vec<String>,
}

fn resolve(what: &'static str, host: &Host) -> Result<IpAddr, SetupError> {
    host.resolve().map_err(|_| SetupError::Resolve {
        what,
        host: host.to_string(),
    })
}

fn default_prefix(ip: IpAddr) -> u8 {
    if ip.is_ipv4() {
        32
    } else {
        128
    }
}

impl Settings {
    /// Pulse's reading of `config` on a host whose addresses are `local`.
    pub fn from_config(config: &Config, local: &[IpAddr]) -> Result<Settings, SetupError> {
        if config.service == ServiceType::Fos {
            return Err(SetupError::Config(
                "service = fos (failover services) is not supported by lvs-rs".to_owned(),
            ));
        }
        let primary = config
            .primary
            .as_ref()
            .ok_or_else(|| SetupError::Config("no primary address in the configuration".to_owned()))
            .and_then(|h| resolve("primary", h))?;
        let backup = config
            .backup
            .as_ref()
            .filter(|h| !h.is_unspecified())
            .map(|h| resolve("backup", h))
            .transpose()?;
        let mut notes = Vec::new();
        let mut backup_active = config.backup_active;
        if backup_active && backup.is_none() {
            notes.push("Undefined backup node marked as active? -- clearing that!".to_owned());
            backup_active = false;
        }
        let role = if local.contains(&primary) {
            Role::Master
        } else {
            Role::Backup
        };
        let primary_private = config
            .effective_primary_private()
            .map(|h| resolve("primary_private", h))
            .transpose()?
            .unwrap_or(primary);
        let backup_private = config
            .effective_backup_private()
            .map(|h| resolve("backup_private", h))
            .transpose()?;
        let port = config.heartbeat_port;
        let (own_public, own_private, partner_public, partner_private) = match role {
            Role::Master => (Some(primary), primary_private, backup, backup_private),
            Role::Backup => (
                backup,
                backup_private.unwrap_or(primary_private),
                Some(primary),
                Some(primary_private),
            ),
        };
        let own_public = own_public.ok_or_else(|| {
            SetupError::Config("this host is not the primary, and no backup address is set".to_owned())
        })?;
        let partner_public = partner_public.unwrap_or(own_public);
        let mut own = vec![SocketAddr::new(own_public, port)];
        let mut partner = vec![SocketAddr::new(partner_public, port)];
        // A second channel only where Piranha opens one: primary_private differs from primary.
        if primary_private != primary {
            own.push(SocketAddr::new(own_private, port));
            partner.push(SocketAddr::new(partner_private.unwrap_or(partner_public), port));
        }

        if !config.virtual_services.iter().any(|vs| vs.active) {
            return Err(SetupError::Config(
                "no active virtual services are defined".to_owned(),
            ));
        }
        // One entry per address, the first block's device and mask winning.
        let mut vips: Vec<Vip> = Vec::new();
        let mut add = |device: &str, ip: IpAddr, mask: Option<lvs_cf::Netmask>| {
            if !vips.iter().any(|v| v.ip == ip) {
                vips.push(Vip {
                    device: device.to_owned(),
                    ip,
                    prefix_len: mask
                        .and_then(|m| m.prefix_len())
                        .unwrap_or_else(|| default_prefix(ip)),
                });
            }
        };
        for vs in config.virtual_services.iter().filter(|vs| vs.active) {
            if let Some(address) = &vs.address {
                add(
                    &address.device,
                    resolve("virtual address", &address.host)?,
                    vs.vip_nmask,
                );
            }
        }
        if let (Network::Nat, Some(router)) = (config.network, &config.nat_router) {
            add(
                &router.device,
                resolve("nat_router", &router.host)?,
                config.nat_nmask,
            );
        }
        let key = config.heartbeat_key.as_deref().map(read_key).transpose()?;
        Ok(Settings {
            role,
            own,
            partner,
            keepalive: config.keepalive.as_duration(),
            deadtime: config.deadtime.as_duration(),
            backup_active,
            vips,
            active_cmd: config.active_cmd.clone(),
            inactive_cmd: config.inactive_cmd.clone(),
            monitor_links: config.monitor_links && backup_active,
            sync_daemon: config
                .syncdaemon
                .then(|| (config.syncd_iface.clone(), u32::from(config.syncd_id))),
            key,
            burst: Burst {
                count: config.arp_count,
                interval: config.arp_interval.as_duration(),
            },
            notes,
        })
    }
}

/// The key file's bytes, one trailing newline aside.
fn read_key(path: &str) -> Result<Vec<u8>, SetupError> {
    let mut key = std::fs::read(path).map_err(|source| SetupError::Key {
        path: path.to_owned(),
        source,
    })?;
    if key.last() == Some(&b'\n') {
        key.pop();
    }
    if key.len() < MIN_KEY_LEN {
        return Err(SetupError::ShortKey {
            path: path.to_owned(),
            len: key.len(),
        });
    }
    Ok(key)
}

/// Every address on this host's interfaces.
fn local_addresses(rtnl: &mut Rtnl) -> Result<Vec<IpAddr>, SetupError> {
    rtnl.addresses()
        .map(|all| all.into_iter().map(|a| a.ip).collect())
        .map_err(|e| SetupError::Addresses(e.to_string()))
}

fn fail(message: &str) -> ExitCode {
    eprintln!("pulse: {message}");
    ExitCode::FAILURE
}

/// Runs pulse. Returns once it is told to stop, or cannot go on.
pub fn main(args: PulseArgs) -> ExitCode {
    if !args.operands.is_empty() {
        return fail("unexpected arguments");
    }
    if args.fos.is_some() {
        return fail("--fos (failover services) is not supported by lvs-rs");
    }
    let config = match load_config(&args.configfile) {
        Ok(config) => config,
        Err(e) => return fail(&e),
    };
    let mut rtnl = match Rtnl::connect() {
        Ok(rtnl) => rtnl,
        Err(e) => return fail(&format!("cannot open rtnetlink: {e}")),
    };
    let settings = match local_addresses(&mut rtnl).and_then(|local| Settings::from_config(&config, &local)) {
        Ok(settings) => settings,
        Err(e) => return fail(&e.to_string()),
    };
    // Bound before daemonizing, so that a failure is seen by whoever started us.
    let sockets: Result<Vec<std::net::UdpSocket>, _> = settings
        .own
        .iter()
        .map(|own| std::net::UdpSocket::bind(own).and_then(|s| s.set_nonblocking(true).map(|()| s)))
        .collect();
    let Ok(sockets) = sockets else {
        return fail("cannot create heartbeat socket. running as root?");
    };
    let log = Log::open(c"pulse", args.nodaemon, "pulse: ", args.verbose);
    // No thread exists yet: the runtime is built after detaching.
    let runtime = match crate::daemon::start(
        Detach::from_flags(args.nodaemon, false),
        Some(&args.pidfile),
        &log,
    ) {
        Ok(runtime) => runtime,
        Err(e) => return fail(&e),
    };
    let code = runtime.block_on(async move {
        let sockets: Result<Vec<UdpSocket>, _> = sockets.into_iter().map(UdpSocket::from_std).collect();
        let sockets = match sockets {
            Ok(sockets) => sockets,
            Err(e) => return fail(&format!("cannot watch the heartbeat sockets: {e}")),
        };
        let signals = match PulseSignals::new() {
            Ok(signals) => signals,
            Err(e) => return fail(&format!("cannot handle signals: {e}")),
        };
        let pulse = Pulse::new(args, settings, rtnl, sockets, log);
        pulse.run(signals).await
    });
    code
}

/// pulse's signals: the daemons' ones, and SIGUSR1/SIGUSR2, which it ignores
/// (Piranha's pulse dies of them).
struct PulseSignals {
    common: Signals,
    usr1: Signal,
    usr2: Signal,
}

impl PulseSignals {
    fn new() -> std::io::Result<PulseSignals> {
        Ok(PulseSignals {
            common: Signals::new()?,
            usr1: signal(SignalKind::user_defined1())?,
            usr2: signal(SignalKind::user_defined2())?,
        })
    }
}

/// What woke the main loop.
enum Wake {
    Timer,
    Datagram(usize, std::io::Result<(usize, SocketAddr)>),
    ChildExited(std::io::Result<std::process::ExitStatus>),
    Terminate(i32),
    Reload,
    Ignored(&'static str),
}

struct Pulse {
    args: PulseArgs,
    settings: Settings,
    machine: Failover,
    startup: Vec<Action>,
    rtnl: Rtnl,
    sockets: Vec<UdpSocket>,
    auth: Option<Authenticator>,
    lvsd: Option<Child>,
    announcing: Option<JoinHandle<()>>,
    sync: Option<SyncSwitch>,
    link_failed: bool,
    log: Log,
}

impl Pulse {
    fn new(args: PulseArgs, settings: Settings, rtnl: Rtnl, sockets: Vec<UdpSocket>, log: Log) -> Pulse {
        let (machine, startup) = Failover::new(
            Self::failover_config(&settings, args.force_active),
            Instant::now(),
        );
        let auth = settings
            .key
            .as_deref()
            .map(|key| Authenticator::new(key, settings.role, unix_now()));
        let sync = SyncSwitch::for_settings(&settings, args.test_start, &log);
        Pulse {
            args,
            settings,
            machine,
            startup,
            rtnl,
            sockets,
            auth,
            lvsd: None,
            announcing: None,
            sync,
            link_failed: false,
            log,
        }
    }

    fn failover_config(settings: &Settings, force_active: bool) -> FailoverConfig {
        FailoverConfig {
            role: settings.role,
            keepalive: settings.keepalive,
            deadtime: settings.deadtime,
            backup_active: settings.backup_active,
            force_active,
        }
    }

    async fn run(mut self, mut signals: PulseSignals) -> ExitCode {
        for note in std::mem::take(&mut self.settings.notes) {
            self.log.line(&note);
        }
        self.log.line(match self.settings.role {
            Role::Master => "STARTING PULSE AS MASTER",
            Role::Backup => "STARTING PULSE AS BACKUP",
        });
        if self.settings.role == Role::Backup && !self.settings.backup_active {
            self.log
                .line("We are backup node and backup is marked inactive -- exiting pulse");
            return self.exit(255);
        }
        self.remove_stale_vips();
        // Start passive: inactive_cmd and the sync daemon as backup (§2.2 step 8).
        self.run_command(self.settings.inactive_cmd.clone());
        self.switch_sync_daemon(DaemonState::Backup);
        let startup = std::mem::take(&mut self.startup);
        if let Some(code) = self.perform(startup).await {
            return self.exit(code);
        }
        let mut buffers = vec![[0u8; 512]; self.sockets.len()];
        loop {
            let deadline = self.machine.next_timeout().map(tokio::time::Instant::from_std);
            let wake = tokio::select! {
                _ = async {
                    match deadline {
                        Some(at) => tokio::time::sleep_until(at).await,
                        None => std::future::pending().await,
                    }
                } => Wake::Timer,
                (index, result) = receive(&self.sockets, &mut buffers) => Wake::Datagram(index, result),
                status = async {
                    match self.lvsd.as_mut() {
                        Some(child) => child.wait().await,
                        None => std::future::pending().await,
                    }
                } => Wake::ChildExited(status),
                _ = signals.common.term.recv() => Wake::Terminate(libc::SIGTERM),
                _ = signals.common.int.recv() => Wake::Terminate(libc::SIGINT),
                _ = signals.common.hup.recv() => Wake::Reload,
                _ = signals.usr1.recv() => Wake::Ignored("SIGUSR1"),
                _ = signals.usr2.recv() => Wake::Ignored("SIGUSR2"),
            };
            let now = Instant::now();
            let actions = match wake {
                Wake::Timer => {
                    let mut actions = self.check_links(now);
                    actions.extend(self.machine.on_timeout(now));
                    actions
                }
                Wake::Datagram(index, Ok((len, from))) => {
                    let datagram = buffers[index][..len].to_vec();
                    match self.read_heartbeat(&datagram, from) {
                        Some(state) => self.machine.handle(Event::Heartbeat(state), now),
                        None => Vec::new(),
                    }
                }
                Wake::Datagram(_, Err(e)) => {
                    self.log.debug(&format!("heartbeat receive failed: {e}"));
                    Vec::new()
                }
                Wake::ChildExited(status) => {
                    let pid = self.lvsd.as_ref().and_then(Child::id).unwrap_or(0);
                    self.lvsd = None;
                    self.log.line(&describe_exit(pid, status));
                    self.machine.handle(Event::ChildExited, now)
                }
                Wake::Terminate(number) => {
                    self.log.line(&format!("Terminating due to signal {number}"));
                    self.machine.handle(Event::Stop, now)
                }
                Wake::Reload => {
                    self.reload(now).await;
                    Vec::new()
                }
                Wake::Ignored(name) => {
                    self.log.debug(&format!("{name} received and ignored"));
                    Vec::new()
                }
            };
            if let Some(code) = self.perform(actions).await {
                return self.exit(code);
            }
        }
    }

    fn exit(&mut self, code: i32) -> ExitCode {
        // The sync daemon's last switch (to backup) is seen through, as Piranha does it inline.
        if let Some(sync) = self.sync.take() {
            sync.finish(LVSD_STOP_GRACE);
        }
        if !self.args.nodaemon {
            let _ = std::fs::remove_file(&self.args.pidfile);
        }
        ExitCode::from(code.clamp(0, 255) as u8)
    }

    /// Checks a datagram and returns the partner's state, logging what is
    /// dropped and why.
    fn read_heartbeat(&mut self, datagram: &[u8], from: SocketAddr) -> Option<PeerState> {
        let partners: Vec<IpAddr> = self.settings.partner.iter().map(SocketAddr::ip).collect();
        if let Err(e) = heartbeat::check_source(from.ip(), &partners) {
            self.log.debug(&e.to_string());
            return None;
        }
        let decoded = match self.auth.as_mut() {
            Some(auth) => auth.open(datagram),
            None => heartbeat::decode_piranha(datagram),
        };
        match decoded {
            Ok(state) => {
                self.log.debug(&format!("heartbeat {state:?} from {}", from.ip()));
                Some(state)
            }
            Err(e @ (HeartbeatError::BadLength(_) | HeartbeatError::Incompatible(_))) => {
                self.log.line(&e.to_string());
                None
            }
            Err(e @ HeartbeatError::NotLvs(_)) => {
                self.log.debug(&e.to_string());
                None
            }
            Err(e) => {
                self.log
                    .line(&format!("dropped a heartbeat from {}: {e}", from.ip()));
                None
            }
        }
    }

    async fn send_heartbeat(&mut self, state: PeerState) {
        for (socket, partner) in self.sockets.iter().zip(&self.settings.partner) {
            let sent = match self.auth.as_mut() {
                Some(auth) => socket.send_to(&auth.seal(state), partner).await,
                None => socket.send_to(&heartbeat::encode_piranha(state), partner).await,
            };
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
                    self.log.line(&reason.to_string());
                    if !self.activate() {
                        // The lvs daemon could not start: a child failure, at once.
                        queue.extend(self.machine.handle(Event::ChildExited, Instant::now()));
                    }
                }
                Action::Deactivate(reason) => {
                    // A link failure has been logged in Piranha's words already.
                    if reason != DeactivateReason::LinkFailure {
                        self.log.line(&reason.to_string());
                    }
                    self.deactivate().await;
                }
                Action::ResendAnnouncements => {
                    self.log.line("partner active: resending arps");
                    self.run_command(self.settings.active_cmd.clone());
                    self.announce();
                }
                Action::LinkFailed => self.log.line("Local NIC link failure: Pulse disabled"),
                Action::LinksRestored => self.log.line("Local NIC link(s) restored: Pulse enabled"),
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

    /// Starts the lvs daemon unless it runs (or `--test-start`); false when it cannot be run.
    fn start_lvsd(&mut self) -> bool {
        if self.args.test_start || self.lvsd.is_some() {
            return true;
        }
        let mut command = Command::new(&self.args.lvsd);
        command
            .arg(if self.args.nodaemon {
                "--nodaemon"
            } else {
                "--nofork"
            })
            .arg("-c")
            .arg(&self.args.configfile);
        if self.args.verbose {
            command.arg("-v");
        }
        match command.spawn() {
            Ok(child) => {
                self.log.debug(&format!(
                    "started {} (pid {})",
                    self.args.lvsd.display(),
                    child.id().unwrap_or(0)
                ));
                self.lvsd = Some(child);
                true
            }
            Err(e) => {
                self.log
                    .line(&format!("cannot run {}: {e}", self.args.lvsd.display()));
                false
            }
        }
    }

    async fn stop_lvsd(&mut self) {
        let Some(mut child) = self.lvsd.take() else { return };
        if let Some(pid) = child.id().and_then(|pid| i32::try_from(pid).ok()) {
            // SAFETY: kill(2) on our own child, which has not been reaped yet.
            unsafe { libc::kill(pid, libc::SIGTERM) };
        }
        match tokio::time::timeout(LVSD_STOP_GRACE, child.wait()).await {
            Ok(_) => {}
            Err(_) => {
                self.log.line(&format!(
                    "{} did not stop within {LVSD_STOP_GRACE:?}; killing it",
                    self.args.lvsd.display()
                ));
                let _ = child.kill().await;
            }
        }
    }

    /// Runs active_cmd or inactive_cmd as Piranha does: split on single
    /// spaces, no shell, not waited for.
    fn run_command(&self, command: Option<String>) {
        let Some(command) = command else { return };
        if self.args.test_start {
            return;
        }
        let mut argv = command.split(' ').filter(|w| !w.is_empty());
        let Some(program) = argv.next() else { return };
        // Dropped without waiting: tokio reaps it when it exits.
        if let Err(e) = Command::new(program).args(argv).spawn() {
            self.log.line(&format!("cannot run {command}: {e}"));
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
        if self.args.test_start {
            return;
        }
        if let Some(task) = self.announcing.take() {
            task.abort();
        }
        let mut announcements = Vec::new();
        for vip in &self.settings.vips {
            match self.rtnl.add_vip(&vip.device, vip.ip, vip.prefix_len) {
                Ok(interface) => match interface.mac {
                    Some(mac) => {
                        announcements.push((interface.index, Announcement::for_address(vip.ip, mac)))
                    }
                    None => self.log.line(&format!(
                        "{} has no hardware address; {} is not announced",
                        vip.device, vip.ip
                    )),
                },
                Err(e) => self
                    .log
                    .line(&format!("cannot bring up {} on {}: {e}", vip.ip, vip.device)),
            }
        }
        let burst = self.settings.burst;
        let socket = match PacketSocket::open() {
            Ok(socket) => socket,
            Err(e) => {
                self.log.line(&format!("cannot send gratuitous arps: {e}"));
                return;
            }
        };
        let log = self.log.clone();
        self.announcing = Some(tokio::spawn(async move {
            let bursts = announcements
                .iter()
                .map(|(index, announcement)| send_burst(&socket, *index, announcement, burst));
            let results = join_all(bursts).await;
            for e in results.into_iter().filter_map(Result::err) {
                log.line(&format!("gratuitous arp failed: {e}"));
            }
            log.line("gratuitous lvs arps finished");
        }));
    }

    fn take_down(&mut self, vips: &[Vip]) {
        if self.args.test_start {
            return;
        }
        for vip in vips {
            if let Err(e) = self.rtnl.remove_vip(&vip.device, vip.ip) {
                self.log
                    .line(&format!("cannot take {} down from {}: {e}", vip.ip, vip.device));
            }
        }
    }

    /// A crashed pulse may have left its VIPs up: a router starts passive, so
    /// they go.
    fn remove_stale_vips(&mut self) {
        if self.args.test_start {
            return;
        }
        for vip in self.settings.vips.clone() {
            if let Ok(Change::Removed) = self.rtnl.remove_vip(&vip.device, vip.ip) {
                self.log
                    .line(&format!("removed the stale VIP {} from {}", vip.ip, vip.device));
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
        self.log.line("SIGHUP received: re-reading the configuration");
        let loaded = load_config(&self.args.configfile).and_then(|config| {
            local_addresses(&mut self.rtnl)
                .and_then(|local| Settings::from_config(&config, &local))
                .map_err(|e| e.to_string())
        });
        match loaded {
            Err(e) => self.log.line(&format!("{e}; keeping the running configuration")),
            Ok(new) if new.role != self.settings.role || new.own != self.settings.own => self.log.line(
                "the router's role or heartbeat addresses changed; restart pulse to apply that. \
                 Keeping the running configuration",
            ),
            Ok(mut new) => {
                for note in std::mem::take(&mut new.notes) {
                    self.log.line(&note);
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
                    self.sync = SyncSwitch::for_settings(&new, self.args.test_start, &self.log);
                    if let Some(sync) = &self.sync {
                        sync.switch(if self.machine.is_active() {
                            DaemonState::Master
                        } else {
                            DaemonState::Backup
                        });
                    }
                }
                if new.key != self.settings.key {
                    self.auth = new
                        .key
                        .as_deref()
                        .map(|key| Authenticator::new(key, new.role, unix_now()));
                }
                self.machine.set_timers(new.keepalive, new.deadtime, now);
                self.settings = new;
                if self.machine.is_active() {
                    self.take_down(&gone);
                    if added {
                        self.announce();
                    }
                }
                self.log.line("configuration re-read");
            }
        }
        // Piranha signals its whole process group when no lvs daemon runs; only the daemon here.
        if let Some(pid) = self
            .lvsd
            .as_ref()
            .and_then(Child::id)
            .and_then(|p| i32::try_from(p).ok())
        {
            // SAFETY: kill(2) on our own child, which has not been reaped yet.
            unsafe { libc::kill(pid, libc::SIGHUP) };
        }
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
    fn for_settings(settings: &Settings, test_start: bool, log: &Log) -> Option<SyncSwitch> {
        match (&settings.sync_daemon, test_start) {
            (Some((interface, sync_id)), false) => {
                Some(SyncSwitch::start(interface.clone(), *sync_id, log.clone()))
            }
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
                    Err(e) => log.line(&format!("sync daemon: {e}")),
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

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(text: &str) -> Config {
        lvs_cf::parse(text).expect("valid lvs.cf").config
    }

    const PAIR: &str = "primary = 10.0.0.1\nprimary_private = 192.168.0.1\nbackup_active = 1\n\
                        backup = 10.0.0.2\nbackup_private = 192.168.0.2\nheartbeat_port = 600\n\
                        keepalive = 0.5\ndeadtime = 2\nnetwork = direct\nnat_router = 10.0.0.254 eth0:9\n\
                        virtual a {\n active = 1\n address = 10.0.0.100 eth0:1\n vip_nmask = 255.255.255.0\n}\n\
                        virtual b {\n active = 1\n address = 10.0.0.100 eth0:1\n port = 443\n}\n\
                        virtual c {\n active = 0\n address = 10.0.0.101 eth0:2\n}\n";

    #[test]
    fn roles_channels_and_vips() {
        let ip = |s: &str| s.parse::<IpAddr>().expect("literal");
        let sock = |s: &str| s.parse::<SocketAddr>().expect("literal");
        let master = Settings::from_config(&config(PAIR), &[ip("10.0.0.1")]).expect("settings");
        assert_eq!(master.role, Role::Master);
        assert_eq!(master.own, [sock("10.0.0.1:600"), sock("192.168.0.1:600")]);
        assert_eq!(master.partner, [sock("10.0.0.2:600"), sock("192.168.0.2:600")]);
        assert_eq!(master.keepalive, Duration::from_millis(500));
        // One VIP per address, from active services only; nat_router only with network = nat.
        assert_eq!(
            master.vips,
            [Vip {
                device: "eth0:1".into(),
                ip: ip("10.0.0.100"),
                prefix_len: 24
            }]
        );
        assert_eq!(master.burst, Burst::PIRANHA);

        let backup = Settings::from_config(&config(PAIR), &[ip("10.0.0.2")]).expect("settings");
        assert_eq!(backup.role, Role::Backup);
        assert_eq!(backup.own, [sock("10.0.0.2:600"), sock("192.168.0.2:600")]);
        assert_eq!(backup.partner, [sock("10.0.0.1:600"), sock("192.168.0.1:600")]);

        let nat = Settings::from_config(&config(&PAIR.replace("network = direct", "network = nat")), &[])
            .expect("settings");
        assert_eq!(nat.vips.len(), 2);
        assert_eq!(nat.vips[1].ip, ip("10.0.0.254"));
        assert_eq!(nat.vips[1].prefix_len, 32, "no nat_nmask: a host address");
    }

    #[test]
    fn piranhas_start_up_rules() {
        // Without primary_private there is one channel.
        let single = PAIR
            .replace("primary_private = 192.168.0.1\n", "")
            .replace("backup_private = 192.168.0.2\n", "");
        let settings = Settings::from_config(&config(&single), &[]).expect("settings");
        assert_eq!(settings.own.len(), 1);
        // backup_active without a backup is cleared, with Piranha's note.
        let lone = single.replace("backup = 10.0.0.2\n", "");
        let settings =
            Settings::from_config(&config(&lone), &["10.0.0.1".parse().expect("literal")]).expect("settings");
        assert!(!settings.backup_active);
        assert_eq!(
            settings.notes,
            ["Undefined backup node marked as active? -- clearing that!"]
        );
        assert!(matches!(
            Settings::from_config(
                &config(
                    &PAIR
                        .replace("service = lvs", "")
                        .replace("primary = 10.0.0.1\n", "service = fos\nprimary = 10.0.0.1\n")
                ),
                &[]
            ),
            Err(SetupError::Config(_))
        ));
    }
}
