//! `pulse`: the heartbeat and failover daemon of an LVS router pair; its
//! options are pulse 0.8.6's.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{ArgAction, Parser};
use lvs_daemon::log::Log;
use lvs_daemon::process::{DaemonSignal, Detach};
use lvs_daemon::pulse::{LvsDaemon, Pulse, PulseOptions};
use lvs_daemon::status::Format;

/// `pulse`'s arguments.
#[derive(Debug, Parser)]
#[command(
    name = "pulse",
    version,
    override_usage = "pulse [-c FILE] [-n | --nofork] [-t|--norun] [-v] [--forceactive] [--lvsd=PATH | --lvs=PATH] [--pidfile FILE] [--metrics ADDR] [--socket PATH]\n       pulse --status [--json] [--socket PATH]\n       pulse --events [--socket PATH]",
    about = "Heartbeat and failover between an active and a backup LVS router",
    long_about = "Heartbeat and failover between an active and a backup LVS router, as Piranha's pulse. \
                  The router whose interfaces hold `primary` is the master, the other the backup. Each sends a \
                  heartbeat every `keepalive` seconds to the other's `heartbeat_port` (Piranha's 4-byte format, \
                  or with `heartbeat_key` an authenticated one); after `deadtime` seconds of silence, or on a \
                  STOPPED heartbeat, the backup activates: it runs `active_cmd`, starts the lvs daemon, switches \
                  the IPVS sync daemon to master (`syncdaemon = 1`), brings up every active virtual service's \
                  VIP (and `nat_router`) with its netmask and announces each with `arp_count` gratuitous ARPs \
                  (IPv6: unsolicited neighbour advertisements), `arp_interval` apart. Deactivation undoes each \
                  step. The master wins ties; there is no automatic fail-back (--forceactive takes over).\n\n\
                  Signals: SIGTERM and SIGINT deactivate, send a last STOPPED heartbeat so that the partner \
                  takes over at once, and exit; SIGHUP re-reads lvs.cf (pulse's own settings too; an invalid \
                  file changes nothing) and passes the signal to the lvs daemon; SIGUSR1 and SIGUSR2 are \
                  ignored.",
    disable_help_flag = true,
    disable_version_flag = true
)]
pub struct PulseArgs {
    /// Print help.
    #[arg(short = '?', long = "help", action = ArgAction::Help)]
    pub help: Option<bool>,
    /// Print the version.
    #[arg(long = "version", action = ArgAction::Version)]
    pub version: Option<bool>,
    /// The configuration file.
    #[arg(short = 'c', long = "configfile", value_name = "FILE", default_value = lvs_cf::DEFAULT_PATH)]
    pub configfile: PathBuf,
    /// Stay in the foreground and log to standard output (as `pulse: message`) instead of syslog.
    #[arg(short = 'n', long = "nodaemon")]
    pub nodaemon: bool,
    /// Stay in this process (no fork; a session of its own) and log to syslog, writing the pid
    /// file: what a service manager runs (the systemd unit does). `-n` wins.
    #[arg(long = "nofork")]
    pub nofork: bool,
    /// Exchange heartbeats and log, but change nothing: no lvs daemon, no VIPs, no announcements,
    /// no commands, no sync daemon.
    #[arg(short = 't', long = "test-start", visible_alias = "norun")]
    pub test_start: bool,
    /// Log debugging lines (`DEBUG -- ...`); passes -v to the lvs daemon.
    #[arg(short = 'v', long = "verbose")]
    pub verbose: bool,
    /// Start active, taking over from an active partner.
    #[arg(long = "forceactive")]
    pub force_active: bool,
    /// The lvs daemon to run when active (`--lvs` is pulse(8)'s older name).
    #[arg(
        long = "lvsd",
        visible_alias = "lvs",
        value_name = "PATH",
        default_value = "/usr/sbin/lvsd"
    )]
    pub lvsd: PathBuf,
    /// The failover-services daemon (accepted; lvs-rs has no failover-services mode).
    #[arg(long = "fos", value_name = "PATH")]
    pub fos: Option<PathBuf>,
    /// Piranha's pulse takes no operands; any is refused ("unexpected arguments").
    #[arg(hide = true, num_args = 0.., allow_hyphen_values = false)]
    pub operands: Vec<String>,
    /// Where the daemon writes its process id.
    #[arg(long = "pidfile", value_name = "FILE", default_value = lvs_daemon::DEFAULT_PULSE_PIDFILE)]
    pub pidfile: PathBuf,
    /// Serve Prometheus metrics over HTTP on this local address (for example 127.0.0.1:9102).
    #[arg(long = "metrics", value_name = "ADDR")]
    pub metrics: Option<std::net::SocketAddr>,
    /// With VIP groups: the Unix socket where the daemon answers status requests and
    /// `--status` asks.
    #[arg(long = "socket", value_name = "PATH", default_value = lvs_daemon::DEFAULT_PULSE_SOCKET)]
    pub socket: PathBuf,
    /// Ask the running pulse (with VIP groups) for each group's state and holder, the other
    /// routers' last heartbeats, the tracks and the heartbeat counts, print them and exit.
    #[arg(long = "status")]
    pub status: bool,
    /// With --status: the status as JSON.
    #[arg(long = "json", requires = "status")]
    pub json: bool,
    /// Follow the running pulse's events (with VIP groups) as JSON lines, one per change of a
    /// group's state or a track's, until interrupted.
    #[arg(long = "events", conflicts_with = "status")]
    pub events: bool,
}

impl PulseArgs {
    /// pulse's options for these arguments.
    pub fn pulse_options(&self) -> PulseOptions {
        PulseOptions::new(&self.configfile)
            .dry_run(self.test_start)
            .verbose(self.verbose)
            .force_active(self.force_active)
            .foreground(self.nodaemon)
            .lvs(LvsDaemon::Program(self.lvsd.clone()))
            .metrics(self.metrics)
            .status_socket(Some(self.socket.clone()))
    }
}

/// Runs pulse until SIGTERM or SIGINT; SIGHUP reloads; SIGUSR1 and SIGUSR2
/// are ignored (Piranha's pulse dies of them).
pub fn main(args: PulseArgs) -> ExitCode {
    let fail = |e: &dyn std::fmt::Display| crate::fail("pulse", e);
    if !args.operands.is_empty() {
        return fail(&"unexpected arguments");
    }
    if args.fos.is_some() {
        return fail(&"--fos (failover services) is not supported by lvs-rs");
    }
    if args.events {
        use std::io::Write as _;
        let mut out = std::io::stdout();
        let followed = lvs_daemon::status::follow_events(&args.socket, |line| {
            writeln!(out, "{line}").and_then(|()| out.flush()).is_ok()
        });
        return match followed {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => fail(&e),
        };
    }
    if args.status {
        let format = if args.json { Format::Json } else { Format::Text };
        return match lvs_daemon::status::ask(&args.socket, format) {
            Ok(answer) => {
                print!("{answer}");
                ExitCode::SUCCESS
            }
            Err(e) => fail(&format!(
                "no pulse answers at {}: {e} (only pulse with VIP groups serves its status)",
                args.socket.display()
            )),
        };
    }
    let log = Log::open(c"pulse", args.nodaemon, "pulse: ", args.verbose);
    // Prepared before daemonizing, so that a failure is seen by whoever started us.
    let pulse = match Pulse::prepare(args.pulse_options(), log.clone()) {
        Ok(pulse) => pulse,
        Err(e) => return fail(&e),
    };
    let handle = pulse.handle();
    let on_signal = move |signal| {
        match signal {
            DaemonSignal::Stop(number) => handle.stop(format!("Terminating due to signal {number}")),
            DaemonSignal::Reload => handle.reload(),
            DaemonSignal::User1 => handle.note("SIGUSR1 received and ignored"),
            DaemonSignal::User2 => handle.note("SIGUSR2 received and ignored"),
        };
    };
    let supervised = pulse.handle();
    let run = crate::reporting_to_manager(supervised, async move {
        match pulse.run(std::future::pending()).await {
            Ok(exit) => ExitCode::from(exit.code()),
            Err(e) => fail(&e),
        }
    });
    // No thread exists yet: the runtime is built after detaching.
    let detach = Detach::from_flags(args.nodaemon, args.nofork);
    crate::run_daemon("pulse", (detach, Some(&args.pidfile)), &log, true, on_signal, run)
}
