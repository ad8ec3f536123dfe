//! `nanny`: checks one real server and keeps its IPVS entry in step (see `nanny --help`).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use lvs_cli::daemon::Detach;
use lvs_cli::log::Log;
use lvs_cli::nanny::NannyArgs;
use lvs_core::check::{self, Check, Expect};
use lvs_core::nanny::{Nanny, NannyAction, NannyConfig, NannyEvent};
use lvs_ipvs::{Destination, ForwardMethod, Ipvs, Protocol, ServiceKey};
use tokio::signal::unix::{signal, SignalKind};

fn fail(message: &str) -> ExitCode {
    eprintln!("nanny: {message}");
    ExitCode::FAILURE
}

/// `inet_aton` forms, as nanny reads `-h`.
fn ipv4(text: &str) -> Option<Ipv4Addr> {
    text.parse().ok().or_else(|| {
        use std::net::ToSocketAddrs;
        // getaddrinfo reads the short inet_aton forms (10.1) numerically; names are not allowed.
        if text
            .chars()
            .all(|c| c.is_ascii_hexdigit() || c == '.' || c == 'x' || c == 'X')
        {
            (text, 0).to_socket_addrs().ok()?.find_map(|a| match a.ip() {
                IpAddr::V4(v4) => Some(v4),
                IpAddr::V6(_) => None,
            })
        } else {
            None
        }
    })
}

fn main() -> ExitCode {
    let args = NannyArgs::parse();
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
        .or_else(|| ipv4(server).map(IpAddr::V4))
    else {
        return fail(&format!("bad IP address -- {server}"));
    };
    let key = match (args.fwmark, args.vip.as_deref()) {
        (Some(mark), _) if mark != 0 => ServiceKey::Fwmark {
            family: lvs_ipvs::Family::of(rip),
            mark,
        },
        (_, Some(vip)) => match vip.parse::<IpAddr>().ok().or_else(|| ipv4(vip).map(IpAddr::V4)) {
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
    let forward = match args.method.trim_start_matches('-') {
        "g" => ForwardMethod::DirectRoute,
        "i" => ForwardMethod::Tunnel,
        _ => ForwardMethod::Masquerade,
    };
    let rport = args.rport.unwrap_or(args.port);
    let log = Log::open(c"nanny", args.nodaemon, "", args.verbose);

    // The check, as nanny builds it.
    let translate = |s: &str| {
        if args.suppress {
            s.as_bytes().to_vec()
        } else {
            check::translate_escapes(s)
        }
    };
    let check = if let Some(command) = &args.send_program {
        Check::Program {
            command: command.clone(),
            expect: args.expect.clone(),
        }
    } else {
        let (send, expect) = if args.send.is_none() && args.expect.is_none() && args.port == 80 && !args.udp {
            log.line("nanny: no monitor configured, assuming web service on port 80");
            (
                Some(b"GET / HTTP/1.0\r\n\r\n".to_vec()),
                Some(Expect::Prefix(b"HTTP".to_vec())),
            )
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

    // No thread exists yet: the runtime is built after detaching.
    let runtime = match lvs_cli::daemon::start(Detach::from_flags(args.nodaemon, args.nofork), None, &log) {
        Ok(runtime) => runtime,
        Err(e) => return fail(&e),
    };
    let target = SocketAddr::new(rip, rport);
    let watch = Watch {
        key,
        target,
        forward,
        check,
        config,
        // -t bounds each check and load query; it is also the interval unless --check-interval.
        timeout: Duration::from_secs(args.interval),
        loadcmd: args.loadcmd.clone(),
        test_start: args.test_start,
        log,
    };
    runtime.block_on(watch.run())
}

struct Watch {
    key: ServiceKey,
    target: SocketAddr,
    forward: ForwardMethod,
    check: Check,
    config: NannyConfig,
    /// Bounds each check and load query (`-t`).
    timeout: Duration,
    loadcmd: String,
    test_start: bool,
    log: Log,
}

impl Watch {
    async fn run(self) -> ExitCode {
        let mut ipvs = if self.test_start {
            None
        } else {
            match Ipvs::connect() {
                Ok(ipvs) => Some(ipvs),
                Err(e) => return fail(&e.to_string()),
            }
        };
        let signals = (|| {
            Ok::<_, std::io::Error>((
                signal(SignalKind::terminate())?,
                signal(SignalKind::interrupt())?,
                signal(SignalKind::user_defined1())?,
                signal(SignalKind::user_defined2())?,
                signal(SignalKind::hangup())?,
            ))
        })();
        let (mut term, mut int, mut usr1, mut usr2, mut hup) = match signals {
            Ok(signals) => signals,
            Err(e) => return fail(&format!("cannot handle signals: {e}")),
        };
        let mut machine = Nanny::new(self.config, self.target.to_string());
        let mut ticker = tokio::time::interval(self.config.interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut pending: Option<tokio::task::JoinHandle<Result<(), check::Failure>>> = None;
        loop {
            tokio::select! {
                _ = ticker.tick(), if pending.is_none() => {
                    let (check, target, limit) = (self.check.clone(), self.target, self.timeout);
                    pending = Some(tokio::spawn(async move { check::run(&check, target, limit).await }));
                }
                result = async {
                    match pending.as_mut() {
                        Some(handle) => handle.await,
                        None => std::future::pending().await,
                    }
                } => {
                    pending = None;
                    let result = result.unwrap_or_else(|e| Err(check::Failure::Program(e.to_string())));
                    match &result {
                        Ok(()) => self.log.debug(&format!("{} is up", self.target)),
                        Err(why) => self.log.debug(&format!("{} is down: {why}", self.target)),
                    }
                    let actions = machine.handle(NannyEvent::Checked { up: result.is_ok() });
                    self.perform(&mut ipvs, &mut machine, actions).await;
                }
                _ = term.recv() => return self.stop(&mut ipvs, &mut machine, "SIGTERM").await,
                _ = int.recv() => return self.stop(&mut ipvs, &mut machine, "SIGINT").await,
                _ = usr1.recv() => {
                    let actions = machine.handle(NannyEvent::ForceDown);
                    self.perform(&mut ipvs, &mut machine, actions).await;
                }
                _ = usr2.recv() => {
                    let actions = machine.handle(NannyEvent::ForceUp);
                    self.perform(&mut ipvs, &mut machine, actions).await;
                }
                _ = hup.recv() => {
                    let actions = machine.handle(NannyEvent::Unforce);
                    self.perform(&mut ipvs, &mut machine, actions).await;
                    ticker.reset_immediately();
                }
            }
        }
    }

    async fn stop(&self, ipvs: &mut Option<Ipvs>, machine: &mut Nanny, signal: &str) -> ExitCode {
        self.log.line(&format!("Terminating due to {signal}"));
        let actions = machine.shutdown();
        Box::pin(self.perform(ipvs, machine, actions)).await;
        ExitCode::SUCCESS
    }

    async fn perform(&self, ipvs: &mut Option<Ipvs>, machine: &mut Nanny, actions: Vec<NannyAction>) {
        for action in actions {
            match action {
                NannyAction::Log(line) => self.log.line(&line),
                NannyAction::QueryLoad => {
                    let load = check::query_load(&self.loadcmd, self.target.ip(), self.timeout).await;
                    let more = machine.handle(NannyEvent::Load(load));
                    Box::pin(self.perform(ipvs, machine, more)).await;
                }
                NannyAction::Add { weight } | NannyAction::SetWeight { weight } => {
                    let add = matches!(action, NannyAction::Add { .. });
                    let dest = Destination::new(self.target.ip(), self.target.port(), self.forward, weight);
                    let verb = if add { "adding" } else { "setting the weight of" };
                    self.log.debug(&format!(
                        "{verb} {} in {} (weight {weight})",
                        self.target, self.key
                    ));
                    let Some(ipvs) = ipvs.as_mut() else { continue };
                    let result = if add {
                        // An entry left behind (a previous nanny) is adopted.
                        ipvs.add_destination(&self.key, &dest)
                            .or_else(|e| match e.errno() {
                                Some(libc::EEXIST) => ipvs.edit_destination(&self.key, &dest),
                                _ => Err(e),
                            })
                    } else {
                        ipvs.edit_destination(&self.key, &dest)
                            .or_else(|e| match e.errno() {
                                Some(libc::ENOENT) => ipvs.add_destination(&self.key, &dest),
                                _ => Err(e),
                            })
                    };
                    if let Err(e) = result {
                        self.log.line(&format!("{e}"));
                    }
                }
                NannyAction::Remove => {
                    self.log
                        .debug(&format!("removing {} from {}", self.target, self.key));
                    let Some(ipvs) = ipvs.as_mut() else { continue };
                    match ipvs.delete_destination(&self.key, self.target.ip(), self.target.port()) {
                        Err(e) if e.errno() != Some(libc::ENOENT) => self.log.line(&format!("{e}")),
                        _ => {}
                    }
                }
            }
        }
    }
}
