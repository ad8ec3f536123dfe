//! Lossless fail-back against the real kernel: two routers running pulse
//! and the lvs daemon, each with its own IPVS table and sync daemons, in
//! front of three real servers reached by direct routing (`testkit::farm`).
//! A client holds 200 TCP connections through the VIP; the primary stops
//! and its namespace is replaced (a reboot: its table is gone), the backup
//! carries the connections, and then the primary returns.
//!
//! With VIP groups both sync daemons run on both routers and the returning
//! primary waits for its table to catch up: every connection survives.
//! Piranha's pair runs one sync daemon per router, following its role, and
//! `--forceactive` takes over at once: the fail-back resets the
//! connections, which shows the test can fail.
//!
//! `cargo xtask test` runs these in the kernel test lab with
//! `LVS_KERNEL_TESTS=1`; elsewhere they skip with a reason.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)] // a test: a failure is the report

mod common;

use std::path::{Path, PathBuf};
use std::process::Child;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use testkit::farm::{Farm, Held, Mode, VIP};
use testkit::{Netns, TempDir};

const CONNECTIONS: usize = 200;
const KEY: &str = "a key of more than sixteen bytes, shared by both routers\n";

/// How long one answer may take: a connection whose packets are
/// retransmitted across a takeover stalls for a while, but is not lost.
const PATIENCE: Duration = Duration::from_secs(15);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Sync {
    /// VIP groups: both daemons on both routers, and the readiness gate.
    BothWays,
    /// Piranha's pair: master on the active router, backup on the other.
    OneWay,
}

struct Run {
    child: Child,
    log: PathBuf,
}

impl Drop for Run {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Run {
    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGTERM, and the exit (pulse stops its lvs daemon first).
    fn stop(mut self) {
        // SAFETY: kill(2) on our own child (ip netns exec becomes pulse itself).
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(30) {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("pulse did not stop:\n{}", self.log());
    }
}

/// lvs.cf for both routers.
fn lvs_cf(farm: &Farm, sync: Sync, dir: &TempDir) -> String {
    let file = farm.lvs_cf(
        "rr",
        &[0, 1, 2],
        1,
        if sync == Sync::BothWays {
            "  vip_group = web\n"
        } else {
            ""
        },
    );
    let mut globals = format!(
        "backup = {}\nkeepalive = 0.2\ndeadtime = 1\narp_count = 3\narp_interval = 0.2\n\
         syncdaemon = 1\nsyncd_iface = eth0\nsyncd_id = 7\n",
        testkit::farm::DIRECTORS[1]
    );
    if sync == Sync::BothWays {
        let key = dir.file("heartbeat.key", KEY);
        std::fs::set_permissions(&key, std::os::unix::fs::PermissionsExt::from_mode(0o600)).expect("chmod");
        globals.push_str(&format!(
            "heartbeat_key = {}\ncatch_up_bound = 120\n\
             vip_group web {{\n  priorities = [ primary:200 backup:100 ]\n}}\n",
            key.display()
        ));
    }
    file.replace("backup_active = 0\n", "backup_active = 1\n")
        .replacen("virtual web", &format!("{globals}virtual web"), 1)
}

/// The kernel resends an established connection to the sync daemons every
/// `sync_threshold` period of its packets (50 by default); the client's
/// connections here carry one request a round, so the period is shorter
/// to keep the run short. Per namespace, so on every router's.
fn tune(ns: &Netns) {
    let out = ns.exec("sysctl", &["-qw", "net.ipv4.vs.sync_threshold=3 10"]);
    assert!(out.status.success(), "sysctl sync_threshold: {out:?}");
}

fn start(farm: &Farm, dir: &TempDir, index: usize, config: &Path, run: usize, extra: &[&str]) -> Run {
    let lvsd = dir.lvsd_for(
        Path::new(env!("CARGO_BIN_EXE_lvs")),
        &format!("lvs-{index}-{run}"),
    );
    let log = dir.path().join(format!("pulse-{index}-{run}.log"));
    let lvsd = format!("--lvsd={}", lvsd.display());
    // Routers in namespaces share the file system: a status socket each.
    let socket = dir.path().join(format!("pulse-{index}-{run}.sock"));
    let socket = format!("--socket={}", socket.display());
    let mut args = vec![
        "-n",
        "-v",
        "-c",
        config.to_str().expect("a UTF-8 path"),
        &lvsd,
        &socket,
    ];
    args.extend_from_slice(extra);
    let child = farm.directors[index].spawn_logged(env!("CARGO_BIN_EXE_pulse"), args, &log);
    Run { child, log }
}

fn wait(what: &str, limit: Duration, logs: impl Fn() -> String, done: impl Fn() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(
            started.elapsed() < limit,
            "{what}: not within {limit:?}\n{}",
            logs()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn has_vip(ns: &Netns) -> bool {
    ns.ip(&["-o", "addr", "show", "dev", "eth0"])
        .contains(&format!("inet {VIP}/"))
}

/// Established connections in a router's IPVS table.
fn established(ns: &Netns) -> usize {
    let out = ns.exec("cat", &["/proc/net/ip_vs_conn"]);
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|line| line.contains("ESTABLISHED"))
        .count()
}

/// One request on every connection still alive; a connection whose answer
/// does not come (a reset, or silence past [`PATIENCE`]) is lost.
fn round(held: &mut [Held], alive: &mut [bool], number: usize) {
    for (i, (connection, alive)) in held.iter_mut().zip(alive.iter_mut()).enumerate() {
        if *alive {
            let line = format!("{number}.{i}");
            *alive = connection
                .ask(&line)
                .is_some_and(|answer| answer.ends_with(&line));
        }
    }
}

fn alive_count(alive: &[bool]) -> usize {
    alive.iter().filter(|a| **a).count()
}

/// What became of the connections: alive after the failover, alive after
/// the fail-back, and the routers' logs.
struct Outcome {
    after_failover: usize,
    after_failback: usize,
    logs: String,
    returned_log: String,
}

fn fail_over_and_back(sync: Sync, name: &str) -> Outcome {
    let mut farm = Farm::new(Mode::DirectRouting, 2);
    let dir = TempDir::new(name);
    let config = dir.file("lvs.cf", &lvs_cf(&farm, sync, &dir));
    for ns in &farm.directors {
        tune(ns);
    }
    let primary = start(&farm, &dir, 0, &config, 0, &[]);
    wait(
        "the primary serving",
        Duration::from_secs(60),
        || primary.log(),
        || farm.get().is_some(),
    );
    let backup = start(&farm, &dir, 1, &config, 0, &[]);
    let both = |a: &Run, b: &Run| format!("== primary\n{}\n== backup\n{}", a.log(), b.log());
    wait(
        "the backup's sync daemon",
        Duration::from_secs(60),
        || both(&primary, &backup),
        || backup.log().contains("sync daemon: Backup on eth0"),
    );
    std::thread::sleep(Duration::from_secs(2));

    let mut held: Vec<Held> = (0..CONNECTIONS).map(|_| farm.hold()).collect();
    for connection in &held {
        connection.patience(PATIENCE);
    }
    let mut alive = vec![true; CONNECTIONS];
    round(&mut held, &mut alive, 0);
    assert_eq!(alive_count(&alive), CONNECTIONS, "{}", both(&primary, &backup));
    wait(
        "every connection in the backup's table",
        Duration::from_secs(60),
        || {
            format!(
                "{} of {CONNECTIONS}\n{}",
                established(&farm.directors[1]),
                both(&primary, &backup)
            )
        },
        || established(&farm.directors[1]) >= CONNECTIONS,
    );

    // The primary stops, and reboots: its table is gone.
    let first_log = primary.log();
    primary.stop();
    wait(
        "the backup holding the VIP",
        Duration::from_secs(60),
        || backup.log(),
        || has_vip(&farm.directors[1]),
    );
    farm.reboot_director(0);
    tune(&farm.directors[0]);
    round(&mut held, &mut alive, 1);
    let after_failover = alive_count(&alive);
    eprintln!("{sync:?}: {after_failover} of {CONNECTIONS} connections alive after the failover");

    // Traffic goes on while the primary returns and takes the VIP back.
    let stop = AtomicBool::new(false);
    let extra: &[&str] = match sync {
        Sync::BothWays => &[],
        Sync::OneWay => &["--forceactive"],
    };
    let returned = start(&farm, &dir, 0, &config, 1, extra);
    let started = Instant::now();
    std::thread::scope(|scope| {
        let keeper = scope.spawn(|| {
            let mut number = 2;
            while !stop.load(Ordering::Relaxed) {
                round(&mut held, &mut alive, number);
                number += 1;
                std::thread::sleep(Duration::from_millis(100));
            }
            round(&mut held, &mut alive, number);
        });
        let logs = || {
            format!(
                "== returned primary\n{}\n== backup\n{}",
                returned.log(),
                backup.log()
            )
        };
        wait(
            "the primary holding the VIP again",
            Duration::from_secs(180),
            logs,
            || has_vip(&farm.directors[0]) && !has_vip(&farm.directors[1]),
        );
        eprintln!(
            "{sync:?}: the primary took the VIP back {:?} after its start",
            started.elapsed()
        );
        // Rounds through the returned primary.
        std::thread::sleep(Duration::from_secs(3));
        stop.store(true, Ordering::Relaxed);
        keeper
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
    });
    let after_failback = alive_count(&alive);
    for line in returned
        .log()
        .lines()
        .filter(|l| l.contains("connection table") || l.contains("readiness"))
    {
        eprintln!("{sync:?}: the returned primary: {line}");
    }
    eprintln!("{sync:?}: {after_failback} of {CONNECTIONS} connections alive after the fail-back");
    Outcome {
        after_failover,
        after_failback,
        logs: format!(
            "== primary\n{first_log}\n== returned primary\n{}\n== backup\n{}",
            returned.log(),
            backup.log()
        ),
        returned_log: returned.log(),
    }
}

fn lab(test: &str) -> bool {
    let ready = common::ipvs_lab(test, "failback").is_some();
    if ready {
        // The client's connections and the servers' ends live in this
        // process: more files than the usual soft limit of 1024.
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit and setrlimit on a struct we own.
        unsafe {
            if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 {
                limit.rlim_cur = limit.rlim_max.min(65536);
                libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
            }
        }
    }
    ready
}

#[test]
fn two_way_sync_keeps_every_connection_through_failover_and_fail_back() {
    if !lab("two_way_sync_keeps_every_connection_through_failover_and_fail_back") {
        return;
    }
    let outcome = fail_over_and_back(Sync::BothWays, "failback-two-way");
    assert_eq!(outcome.after_failover, CONNECTIONS, "{}", outcome.logs);
    assert_eq!(outcome.after_failback, CONNECTIONS, "{}", outcome.logs);
    // The gate opened on a full table, before the group was taken back.
    let log = &outcome.returned_log;
    // And it compared with the holder's count of all 200.
    let full = format!("{CONNECTIONS} connections at the holders");
    assert!(
        log.lines()
            .any(|line| line.contains("connection table caught up after") && line.contains(&full)),
        "{}",
        outcome.logs
    );
    let caught_up = log.find("connection table caught up after");
    let taken = log.find("vip_group web: backup -> master");
    assert!(
        caught_up.is_some() && taken.is_some() && caught_up < taken,
        "{}",
        outcome.logs
    );
}

#[test]
fn one_way_sync_loses_the_fail_backs_connections() {
    if !lab("one_way_sync_loses_the_fail_backs_connections") {
        return;
    }
    let outcome = fail_over_and_back(Sync::OneWay, "failback-one-way");
    assert_eq!(
        outcome.after_failover, CONNECTIONS,
        "the failover keeps them one way too\n{}",
        outcome.logs
    );
    assert!(
        outcome.after_failback < CONNECTIONS / 2,
        "a primary that takes over without the backup's connections resets them: {} survived\n{}",
        outcome.after_failback,
        outcome.logs
    );
}
