//! `nanny`: Piranha's per-real-server health checker; its options are nanny 0.8.6's.

use std::net::{IpAddr, SocketAddr};
use std::process::ExitCode;
use std::time::Duration;

use clap::{ArgAction, Parser};
use lvs_core::check::{Check, Expect};
use lvs_core::director::EntrySettings;
use lvs_core::nanny::NannyConfig;
use lvs_daemon::log::Log;
use lvs_daemon::nanny::{NannyOptions, NannyWatch};
use lvs_daemon::process::{DaemonSignal, Detach};
use lvs_ipvs::{Protocol, ServiceKey};

/// `nanny`'s arguments.
#[derive(Debug, Parser)]
#[command(
    name = "nanny",
    version,
    override_usage = "nanny --lvs -h RIP -V VIP [-p PORT] [-r RPORT] [-t INTERVAL] [-a REENTRY] [-w WEIGHT] \
                      [-s SEND] [-x EXPECT] [--regex] [-T] [-e PROGRAM] [-u] [-q] [-M m|g|i] \
                      [-U none|rsh|ssh|CMD] [-S SCALE] [-f FWMARK] [-n | -c] [-v] [--test-start] \
                      [--check KEY=VALUE]... [--ipvs KEY=VALUE]...",
    about = "Health-check one real server and keep it in (or out of) its IPVS virtual service",
    long_about = "Health-check one real server and keep it in its IPVS virtual service while it passes, as \
                  Piranha's nanny does. Every INTERVAL seconds it connects to SERVER:RPORT (TCP, or UDP with -u), \
                  writes the -s string once and compares one read with the -x string (a prefix, `*` for any \
                  byte, or with --regex an extended regular expression), or runs the -e program. The first \
                  success adds the server; a failure removes it (-q: sets its weight to 0); it comes back after \
                  REENTRY seconds of successes. It edits the table itself, over netlink (-I is accepted and \
                  ignored), and removes its server when it is stopped.\n\n\
                  Signals: SIGUSR1 forces the server down, SIGUSR2 forces it up, SIGHUP returns to checking, \
                  SIGTERM and SIGINT remove the server and exit.",
    // -h is the server and -V the virtual address, as in Piranha: help and version are long options only.
    disable_help_flag = true,
    disable_version_flag = true
)]
pub struct NannyArgs {
    /// Print help.
    #[arg(long = "help", action = ArgAction::Help)]
    pub help: Option<bool>,
    /// Print the version.
    #[arg(long = "version", action = ArgAction::Version)]
    pub version: Option<bool>,
    /// Seconds between checks; also the connect, read and program timeout.
    #[arg(short = 't', long = "interval", value_name = "SECONDS", default_value_t = 10)]
    pub interval: u64,
    /// The ipvsadm binary (accepted for compatibility; the table is edited over netlink).
    #[arg(short = 'I', long = "ipvsadm", value_name = "PATH")]
    pub ipvsadm: Option<String>,
    /// Load monitor: `none`, `rsh` or `ssh` (runs `CMD RIP uptime`), or a command run as `CMD RIP`.
    #[arg(short = 'U', long = "loadcmd", value_name = "CMD", default_value = "none")]
    pub loadcmd: String,
    /// Forwarding method: m (NAT), g (direct routing) or i (tunnel); anything else is m.
    #[arg(
        short = 'M',
        long = "method",
        value_name = "m|g|i",
        default_value = "m",
        allow_hyphen_values = true
    )]
    pub method: String,
    /// Stay in the foreground and log to standard output instead of syslog.
    #[arg(short = 'n', long = "nodaemon")]
    pub nodaemon: bool,
    /// Do not fork, but leave the terminal (setsid, no standard streams).
    #[arg(short = 'c', long = "nofork")]
    pub nofork: bool,
    /// The virtual service's port.
    #[arg(short = 'p', long = "port", value_name = "PORT", default_value_t = 80)]
    pub port: u16,
    /// The real server's port (default: the service's).
    #[arg(short = 'r', long = "rport", value_name = "PORT")]
    pub rport: Option<u16>,
    /// Seconds of successful checks before a failed server is re-added (default 180; the interval with --fos).
    #[arg(short = 'a', long = "reentrytime", value_name = "SECONDS")]
    pub reentry: Option<u64>,
    /// Cap of load-based weights, as a multiple of the weight.
    #[arg(short = 'S', long = "scale", value_name = "N", default_value_t = 10)]
    pub scale: u32,
    /// The real server's address (required).
    #[arg(short = 'h', long = "server", value_name = "ADDRESS")]
    pub server: Option<String>,
    /// A check program; `%h` and `%p` become the server's address and port. Overrides -s.
    #[arg(short = 'e', long = "send_program", value_name = "COMMAND")]
    pub send_program: Option<String>,
    /// Sent once after connecting (escapes \r \n \t \\ \' \" are translated).
    #[arg(short = 's', long = "send_string", value_name = "STRING")]
    pub send: Option<String>,
    /// What one read must start with (`*`: any byte), or the program's exact output.
    #[arg(short = 'x', long = "expect_string", value_name = "STRING")]
    pub expect: Option<String>,
    /// The expect string is an extended regular expression.
    #[arg(long = "regex")]
    pub regex: bool,
    /// Do not translate escapes in -s and -x.
    #[arg(short = 'T', long = "suppress")]
    pub suppress: bool,
    /// On failure set the weight to 0 instead of removing the server.
    #[arg(short = 'q', long = "quiesce_server")]
    pub quiesce: bool,
    /// Check over UDP.
    #[arg(short = 'u', long = "udp")]
    pub udp: bool,
    /// Log each check.
    #[arg(short = 'v', long = "verbose")]
    pub verbose: bool,
    /// The virtual service's address.
    #[arg(short = 'V', long = "virtaddress", value_name = "VIP")]
    pub vip: Option<String>,
    /// The virtual service is this firewall mark.
    #[arg(short = 'f', long = "fwmark", value_name = "MARK")]
    pub fwmark: Option<u32>,
    /// The real server's weight.
    #[arg(short = 'w', long = "weight", value_name = "WEIGHT", default_value_t = 1)]
    pub weight: u32,
    /// Log the table changes without making them.
    #[arg(long = "test-start", alias = "norun")]
    pub test_start: bool,
    /// An LVS real server (lvsd passes it).
    #[arg(long = "lvs")]
    pub lvs: bool,
    /// A failover service (FOS; not supported by lvs-rs).
    #[arg(long = "fos")]
    pub fos: bool,
    /// Consecutive failures before the server is taken out (an lvs-rs extension).
    #[arg(long = "failures", value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub failures: u32,
    /// Seconds between checks, fractions allowed, when they should differ from
    /// -t, which then only bounds each check (an lvs-rs extension).
    #[arg(long = "check-interval", value_name = "SECONDS")]
    pub check_interval: Option<f64>,
    /// One key of an lvs.cf `check` block (`type=https`, `path=/healthz`,
    /// `ca_file=/etc/ssl/ca.pem`...; repeat for each key): the check runs
    /// instead of -s/-x/-e (an lvs-rs extension; see lvs.cf(5)).
    #[arg(long = "check", value_name = "KEY=VALUE")]
    pub check: Vec<String>,
    /// One IPVS setting of the server as an lvs.cf `server` block writes it
    /// (`tunnel_type=gue`, `tunnel_port=6080`, `upper_threshold=100`...;
    /// repeat for each key; `network` overrides -M) (an lvs-rs extension;
    /// see lvs.cf(5)).
    #[arg(long = "ipvs", value_name = "KEY=VALUE")]
    pub ipvs: Vec<String>,
}

fn fail(message: &str) -> ExitCode {
    eprintln!("nanny: {message}");
    ExitCode::FAILURE
}

/// Runs nanny for one real server until SIGTERM or SIGINT; SIGUSR1 forces
/// the server down, SIGUSR2 up, SIGHUP back to checking.
pub fn main(args: NannyArgs) -> ExitCode {
    if args.fos {
        return fail("--fos (failover services) is not supported by lvs-rs");
    }
    if !args.lvs {
        return fail("unknown service type");
    }
    let Some(server) = args.server.as_deref() else {
        return fail("No address supplied for the server to monitor (-h)");
    };
    // IPv6 real servers are an lvs-rs extension; IPv4 takes every inet_aton form.
    let Some(rip) = server
        .parse::<IpAddr>()
        .ok()
        .or_else(|| lvs_cf::inet_aton(server).map(IpAddr::V4))
    else {
        return fail(&format!("bad IP address -- {server}"));
    };
    let key = match (args.fwmark, args.vip.as_deref()) {
        (Some(mark), _) if mark != 0 => ServiceKey::Fwmark {
            family: lvs_ipvs::Family::of(rip),
            mark,
        },
        (_, Some(vip)) => match vip
            .parse::<IpAddr>()
            .ok()
            .or_else(|| lvs_cf::inet_aton(vip).map(IpAddr::V4))
        {
            Some(addr) => ServiceKey::Addr {
                protocol: if args.udp { Protocol::Udp } else { Protocol::Tcp },
                addr,
                port: args.port,
            },
            None => return fail(&format!("bad virtual address -- {vip}")),
        },
        _ => return fail("No virtual address supplied (-V or -f)"),
    };
    if args.interval == 0 {
        return fail("the interval (-t) must be at least 1 second");
    }
    let rport = args.rport.unwrap_or(args.port);
    let log = Log::open(c"nanny", args.nodaemon, "", args.verbose);
    // -M as lvs.cf's `network`, then the --ipvs entries, read as a server block.
    let network = match args.method.trim_start_matches('-') {
        "g" => "network = direct",
        "i" => "network = tunnel",
        _ => "network = nat",
    };
    let entries: Vec<&str> = std::iter::once(network)
        .chain(args.ipvs.iter().map(String::as_str))
        .collect();
    let entry = match lvs_cf::server_options(&entries) {
        Ok((options, warnings)) => {
            for warning in warnings {
                log.warning(&format!("--ipvs {warning}"));
            }
            EntrySettings::of(&options, lvs_cf::Network::Nat)
        }
        Err(why) => return fail(&format!("--ipvs {why}")),
    };

    // The check, as nanny builds it.
    let translate = |s: &str| {
        if args.suppress {
            s.as_bytes().to_vec()
        } else {
            lvs_core::check::translate_escapes(s)
        }
    };
    let check = if !args.check.is_empty() {
        if args.send.is_some() || args.expect.is_some() || args.send_program.is_some() {
            return fail("--check replaces -s, -x and -e: give one or the other");
        }
        let entries: Vec<&str> = args.check.iter().map(String::as_str).collect();
        let block = match lvs_cf::check_block("nanny", &entries) {
            Ok((block, warnings)) => {
                for warning in warnings {
                    log.warning(&format!("--check {warning}"));
                }
                block
            }
            Err(why) => return fail(&format!("--check {why}")),
        };
        match lvs_core::director::block_probe(&block) {
            Ok(probe) => Check::All(vec![probe]),
            Err(why) => return fail(&format!("--check: {why}")),
        }
    } else if let Some(command) = &args.send_program {
        Check::Program {
            command: command.clone(),
            expect: args.expect.clone(),
            dynamic: false,
        }
    } else {
        let default = lvs_core::check::web_default(args.port, args.udp)
            .filter(|_| args.send.is_none() && args.expect.is_none());
        let (send, expect) = if let Some((send, expect)) = default {
            log.info("nanny: no monitor configured, assuming web service on port 80");
            (Some(send), Some(expect))
        } else {
            let expect = match args
                .expect
                .as_deref()
                .map(|x| Expect::from_nanny(x, args.regex, args.suppress))
            {
                Some(Ok(expect)) => Some(expect),
                Some(Err(e)) => return fail(&format!("bad regular expression in -x: {e}")),
                None => None,
            };
            (args.send.as_deref().map(translate), expect)
        };
        if args.udp {
            Check::Udp { send, expect }
        } else {
            Check::Tcp { send, expect }
        }
    };
    let interval = match args.check_interval {
        None => Duration::from_secs(args.interval),
        Some(seconds) if seconds > 0.0 && seconds <= 86_400.0 => Duration::from_secs_f64(seconds),
        Some(seconds) => {
            return fail(&format!(
                "the check interval must be above 0 and at most a day, not {seconds}"
            ))
        }
    };
    let config = NannyConfig {
        weight: args.weight,
        interval,
        reentry: Duration::from_secs(args.reentry.unwrap_or(180)),
        quiesce: args.quiesce,
        failures: args.failures,
        scale: args.scale,
        load_monitor: args.loadcmd != "none",
    };

    let options = NannyOptions::new(
        key,
        SocketAddr::new(rip, rport),
        entry,
        check,
        config,
        // -t bounds each check and load query; it is also the interval unless --check-interval.
        Duration::from_secs(args.interval),
    )
    .load_command(args.loadcmd.clone())
    .dry_run(args.test_start);
    let watch = match NannyWatch::prepare(options, log.clone()) {
        Ok(watch) => watch,
        Err(e) => return fail(&e.to_string()),
    };
    let handle = watch.handle();
    let on_signal = move |signal| {
        match signal {
            DaemonSignal::Stop(number) => {
                let name = if number == libc::SIGINT {
                    "SIGINT"
                } else {
                    "SIGTERM"
                };
                handle.stop(format!("Terminating due to {name}"))
            }
            DaemonSignal::Reload => handle.unforce(),
            DaemonSignal::User1 => handle.force_down(),
            DaemonSignal::User2 => handle.force_up(),
        };
    };
    let run = async move {
        watch.run().await;
        ExitCode::SUCCESS
    };
    // No thread exists yet: the runtime is built after detaching.
    let detach = Detach::from_flags(args.nodaemon, args.nofork);
    crate::run_daemon("nanny", (detach, None), &log, true, on_signal, run)
}
