//! Failover of pulse side by side with keepalived (VRRPv3), in the same
//! namespaces and the same run: two routers and a client on one bridge
//! (`testkit::routers`); the client asks the VIP again and again (each try
//! bounded by 5 ms) and the figure is the time from the event to the first
//! answer from the other router.
//!
//! Events: the active router's cable is pulled (its switch port goes down),
//! or its daemon is stopped gracefully (SIGTERM). Each case runs 10 times,
//! always against the router that is active at the time; medians are
//! printed. `cargo xtask bench failover` builds pulse and runs this as root.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)] // a test: a failure is the report

use std::path::PathBuf;
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use testkit::routers::{RouterPair, BACKUP, NAMES, PRIMARY, VIP};
use testkit::{median, TempDir};

const ROUNDS: usize = 10;
const ATTEMPT: Duration = Duration::from_millis(5);

#[derive(Clone, Copy, PartialEq)]
enum Daemon {
    Pulse,
    Keepalived,
}

#[derive(Clone, Copy, PartialEq)]
enum Event {
    CableCut,
    GracefulStop,
}

struct Case {
    name: &'static str,
    daemon: Daemon,
    event: Event,
    /// pulse: keepalive and deadtime; keepalived: advert_int.
    timers: (&'static str, &'static str),
    /// The median must be at most this, if set.
    target: Option<Duration>,
}

struct Bench {
    net: RouterPair,
    dir: TempDir,
    pulse: PathBuf,
    lvsd: PathBuf,
}

/// A running daemon in a router namespace.
struct Running {
    child: Child,
}

impl Running {
    fn stop(mut self) {
        // SAFETY: kill(2) on our own child (ip netns exec becomes the daemon).
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let _ = self.child.wait();
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Bench {
    /// Writes pulse's lvs.cf, the same for both routers.
    fn pulse_config(&self, case: &Case) -> PathBuf {
        self.dir.file(
            "lvs.cf",
            &format!(
                "primary = {PRIMARY}\nservice = lvs\nbackup_active = 1\nbackup = {BACKUP}\n\
                     keepalive = {}\ndeadtime = {}\nnetwork = direct\nmonitor_links = 1\n\
                     arp_count = 3\narp_interval = 0.1\n\
                     virtual web {{\n  active = 1\n  address = {VIP} eth0:1\n  port = 8080\n\
                     server one {{\n    address = 10.7.0.50\n    active = 1\n  }}\n}}\n",
                case.timers.0, case.timers.1
            ),
        )
    }

    /// Writes keepalived's configuration for router `index`.
    fn keepalived_config(&self, index: usize, advert_int: &str) -> PathBuf {
        self.dir.file(
            &format!("keepalived-{index}.conf"),
            &format!(
                "global_defs {{\n  router_id {}\n  vrrp_version 3\n  vrrp_garp_master_repeat 3\n}}\n\
                 vrrp_instance web {{\n  state BACKUP\n  interface eth0\n  virtual_router_id 51\n\
                 \x20 priority {}\n  advert_int {advert_int}\n\
                 \x20 virtual_ipaddress {{\n    {VIP}/32 dev eth0\n  }}\n}}\n",
                NAMES[index],
                if index == 0 { 200 } else { 100 }
            ),
        )
    }

    fn start(&self, case: &Case, index: usize) -> Running {
        let ns = &self.net.routers[index].name;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join(format!("daemon-{index}.log")))
            .expect("log file");
        let mut command = Command::new("ip");
        command.args(["netns", "exec", ns]);
        match case.daemon {
            Daemon::Pulse => {
                command
                    .arg(&self.pulse)
                    .args(["-n", "-c"])
                    .arg(self.pulse_config(case))
                    .arg(format!("--lvsd={}", self.lvsd.display()));
            }
            Daemon::Keepalived => {
                let dir = self.dir.path();
                command
                    .args(["keepalived", "--dont-fork", "--log-console", "--vrrp", "-f"])
                    .arg(self.keepalived_config(index, case.timers.0))
                    .arg("-p")
                    .arg(dir.join(format!("keepalived-{index}.pid")))
                    .arg("-r")
                    .arg(dir.join(format!("vrrp-{index}.pid")));
            }
        }
        let child = command
            .stdout(Stdio::from(log.try_clone().expect("log")))
            .stderr(Stdio::from(log))
            .spawn()
            .expect("start the daemon");
        Running { child }
    }

    /// Waits until exactly one router has the VIP and the client keeps
    /// reaching it for `calm`; returns which.
    fn settle(&self, calm: Duration) -> usize {
        let started = Instant::now();
        let mut owner: Option<(usize, Instant)> = None;
        loop {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "no single VIP owner after a minute; logs in {}",
                self.dir.path().display()
            );
            let holders: Vec<usize> = (0..2).filter(|&i| self.net.has_vip(i)).collect();
            let answer = self.net.answer();
            let now = match (holders.as_slice(), answer.as_deref()) {
                ([one], Some(name)) if NAMES[*one] == name => Some(*one),
                _ => None,
            };
            owner = match (owner, now) {
                (Some((was, since)), Some(is)) if was == is => {
                    if since.elapsed() >= calm {
                        return is;
                    }
                    Some((was, since))
                }
                (_, Some(is)) => Some((is, Instant::now())),
                (_, None) => None,
            };
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn run(&self, case: &Case) -> Vec<Duration> {
        let mut daemons: [Option<Running>; 2] = [Some(self.start(case, 0)), None];
        // The primary first, so that it becomes the active router.
        self.settle(Duration::from_millis(200));
        daemons[1] = Some(self.start(case, 1));
        let calm = match case.daemon {
            Daemon::Pulse => Duration::from_secs_f64(case.timers.1.parse::<f64>().unwrap_or(1.0) * 2.0)
                .max(Duration::from_millis(500)),
            Daemon::Keepalived => Duration::from_secs(1),
        };
        let mut times = Vec::new();
        for _ in 0..ROUNDS {
            let active = self.settle(calm);
            let other = 1 - active;
            let started = Instant::now();
            match case.event {
                Event::CableCut => self.net.cable(active, false),
                Event::GracefulStop => {
                    if let Some(daemon) = daemons[active].take() {
                        // SAFETY: kill(2) on our own child.
                        unsafe { libc::kill(daemon.child.id() as i32, libc::SIGTERM) };
                        // Reaped below, once the failover is measured.
                        daemons[active] = Some(daemon);
                    }
                }
            }
            let answered = self
                .net
                .first_answer_from(other, ATTEMPT, Duration::from_secs(30))
                .expect("the other router never answered");
            times.push(answered - started);
            match case.event {
                Event::CableCut => self.net.cable(active, true),
                Event::GracefulStop => {
                    if let Some(daemon) = daemons[active].take() {
                        daemon.stop();
                    }
                    daemons[active] = Some(self.start(case, active));
                }
            }
        }
        for daemon in daemons.into_iter().flatten() {
            daemon.stop();
        }
        times
    }
}

fn main() -> ExitCode {
    let Some(pulse) = std::env::var_os("LVS_PULSE").map(PathBuf::from) else {
        eprintln!("skipped: run `cargo xtask bench failover`, which builds pulse and names it in LVS_PULSE");
        return ExitCode::SUCCESS;
    };
    if !testkit::require_root("failover benchmark") {
        return ExitCode::SUCCESS;
    }
    let dir = TempDir::new("failover-bench");
    let lvsd = dir.stand_in_lvsd();
    let bench = Bench {
        net: RouterPair::new(),
        dir,
        pulse,
        lvsd,
    };
    let ms = Duration::from_millis;
    let cases = [
        Case {
            name: "cable cut, advert_int 0.1",
            daemon: Daemon::Keepalived,
            event: Event::CableCut,
            timers: ("0.1", ""),
            target: None,
        },
        Case {
            name: "cable cut, keepalive 0.1, deadtime 0.3",
            daemon: Daemon::Pulse,
            event: Event::CableCut,
            timers: ("0.1", "0.3"),
            target: None,
        },
        Case {
            name: "cable cut, keepalive 0.02, deadtime 0.06",
            daemon: Daemon::Pulse,
            event: Event::CableCut,
            timers: ("0.02", "0.06"),
            target: Some(ms(100)),
        },
        Case {
            name: "graceful stop, advert_int 0.1",
            daemon: Daemon::Keepalived,
            event: Event::GracefulStop,
            timers: ("0.1", ""),
            target: None,
        },
        Case {
            name: "graceful stop, keepalive 0.1, deadtime 0.3",
            daemon: Daemon::Pulse,
            event: Event::GracefulStop,
            timers: ("0.1", "0.3"),
            target: Some(ms(30)),
        },
        Case {
            name: "cable cut, Piranha's defaults (2 s, 5 s)",
            daemon: Daemon::Pulse,
            event: Event::CableCut,
            timers: ("2", "5"),
            target: Some(ms(6000)),
        },
    ];
    println!("failover: time from the event to the client's first answer from the other router");
    println!("(each try bounded by {ATTEMPT:?}; {ROUNDS} rounds a case; medians)");
    println!(
        "{:<12} {:<44} {:>9} {:>9} {:>9}",
        "daemon", "case", "median", "min", "max"
    );
    let mut met = true;
    let mut keepalived_cut = None;
    for case in &cases {
        let times = bench.run(case);
        let m = median(times.clone());
        let (min, max) = (
            times.iter().min().copied().unwrap_or_default(),
            times.iter().max().copied().unwrap_or_default(),
        );
        let daemon = match case.daemon {
            Daemon::Pulse => "pulse",
            Daemon::Keepalived => "keepalived",
        };
        // pulse at 0.1/0.3 must be at least as fast as keepalived at advert_int 0.1.
        let target = match (case.daemon, case.event, case.timers.0) {
            (Daemon::Keepalived, Event::CableCut, _) => {
                keepalived_cut = Some(m);
                None
            }
            (Daemon::Pulse, Event::CableCut, "0.1") => keepalived_cut,
            _ => case.target,
        };
        let verdict = match target {
            Some(limit) if m <= limit => format!("  (target {} ms: met)", limit.as_millis()),
            Some(limit) => {
                met = false;
                format!("  (target {} ms: NOT MET)", limit.as_millis())
            }
            None => String::new(),
        };
        println!(
            "{daemon:<12} {:<44} {:>6} ms {:>6} ms {:>6} ms{verdict}",
            case.name,
            m.as_millis(),
            min.as_millis(),
            max.as_millis()
        );
    }
    if met {
        println!("targets met");
        ExitCode::SUCCESS
    } else {
        println!("TARGETS NOT MET");
        ExitCode::FAILURE
    }
}
