//! A reload of the lvs daemon against a rebuild of the table with ipvsadm,
//! in the same run: 1,000 virtual services x 10 real servers, of which 1%
//! changes (10 services change scheduler, 100 servers change weight).
//!
//! Every lvs.cf key a reload acts on is in use, so none of them is left
//! out of the figure: services 500..600 use `mh` with `mh-port`; the
//! servers are entered by direct routing, IPIP, GUE with checksums, GRE
//! and NAT in turn, each with both connection thresholds; every service
//! has a sorry server with its own port, method and weight, a quorum with
//! hysteresis that only notifies, and a notify program; the global part
//! sets `drain_timeout`, a `maintenance_dir` and an IPVS sysctl. Only
//! `one_packet` and `persistence_engine` are not used: they apply to UDP
//! and SIP services, and these are TCP web services. The
//! daemon's figure is from SIGHUP to its `configuration re-read` line (read
//! the file, read the table, restart the checks, apply the difference);
//! ipvsadm's is `ipvsadm -C` plus `ipvsadm -R` of the whole new table.
//!
//! The real servers' addresses are on a dummy interface of the namespace
//! with a web server behind them, so their checks pass; they are checked
//! once an hour, so checks do not disturb the measurement. Needs root, a
//! kernel with IPVS and ipvsadm: `cargo xtask bench reload` runs it in the
//! kernel test lab. Target: the reload in under 5% of the rebuild's time.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)] // a test: a failure is the report

use std::fmt::Write as _;
use std::net::Ipv4Addr;
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use testkit::{median, ms, Netns, TempDir};

const SERVICES: u32 = 1000;
const SERVERS: u32 = 10;
// Odd, for a median; the lab's speed varies from moment to moment.
const ROUNDS: usize = 9;
const LVS: &str = env!("CARGO_BIN_EXE_lvs");
const IPVSADM: &str = "/usr/sbin/ipvsadm";

fn vip(s: u32) -> Ipv4Addr {
    Ipv4Addr::from(0x0a00_0000 + s)
}

fn rip(s: u32, d: u32) -> Ipv4Addr {
    Ipv4Addr::from(0xac10_0000 + s * SERVERS + d)
}

/// Round `round`'s table: in odd rounds the first 10 services use `rr` and
/// the first 100 servers (of 10 services further on) weigh 2 more.
fn changed(round: usize, s: u32, d: u32) -> (bool, u32) {
    let odd = round % 2 == 1;
    let scheduler = odd && s < 10;
    let weight = 1 + d + if odd && (100..110).contains(&s) { 2 } else { 0 };
    (scheduler, weight)
}

/// Service `s`'s scheduler in round `round`: lvs.cf's lines and ipvsadm's options.
fn scheduler(round: usize, s: u32) -> (&'static str, &'static str) {
    let (rr, _) = changed(round, s, 0);
    if rr {
        (" scheduler = rr\n", "-s rr")
    } else if (500..600).contains(&s) {
        (
            " scheduler = mh\n scheduler_flags = [ mh-port ]\n",
            "-s mh -b mh-port",
        )
    } else {
        (" scheduler = wlc\n", "-s wlc")
    }
}

/// How server `d` of every service is entered: lvs.cf's lines and ipvsadm's options.
fn method(d: u32) -> (&'static str, &'static str) {
    match d {
        0 => ("  network = direct\n", "-g"),
        1 => ("  network = tunnel\n", "-i"),
        2 => (
            "  network = tunnel\n  tunnel_type = gue\n  tunnel_port = 6080\n  tunnel_checksum = checksum\n",
            "-i --tun-type gue --tun-port 6080 --tun-csum",
        ),
        3 => ("  network = tunnel\n  tunnel_type = gre\n", "-i --tun-type gre"),
        _ => ("  network = nat\n", "-m"),
    }
}

fn lvs_cf(round: usize, maintenance: &std::path::Path) -> String {
    let mut text = format!(
        "primary = 10.255.0.1\nservice = lvs\nbackup_active = 0\nnetwork = nat\n\
         drain_timeout = 60\nmaintenance_dir = {}\nexpire_quiescent_template = 1\n",
        maintenance.display()
    );
    for s in 0..SERVICES {
        let _ = write!(
            text,
            "virtual vs{s} {{\n active = 1\n address = {} eth0:1\n port = 80\n{} timeout = 5\n check_interval = 3600\n\
             \x20upper_threshold = 1000\n lower_threshold = 900\n\
             \x20sorry_server = 10.255.1.1\n sorry_port = 8080\n sorry_network = direct\n sorry_weight = 2\n\
             \x20quorum = 2\n hysteresis = 1\n quorum_action = notify\n notify = /bin/true\n",
            vip(s),
            scheduler(round, s).0
        );
        for d in 0..SERVERS {
            let (_, weight) = changed(round, s, d);
            let _ = write!(
                text,
                " server r{d} {{\n  address = {}\n  active = 1\n  weight = {weight}\n{} }}\n",
                rip(s, d),
                method(d).0
            );
        }
        text.push_str("}\n");
    }
    text
}

fn ipvsadm_restore(round: usize) -> String {
    let mut text = String::new();
    for s in 0..SERVICES {
        let _ = writeln!(text, "-A -t {}:80 {}", vip(s), scheduler(round, s).1);
        for d in 0..SERVERS {
            let (_, weight) = changed(round, s, d);
            let _ = writeln!(
                text,
                "-a -t {}:80 -r {}:80 {} -w {weight} -x 1000 -y 900",
                vip(s),
                rip(s, d),
                method(d).1
            );
        }
    }
    text
}

fn main() -> ExitCode {
    if !std::path::Path::new(IPVSADM).exists() {
        eprintln!(
            "skipped: run `cargo xtask bench reload`, which runs it in the kernel test lab with ipvsadm"
        );
        return ExitCode::SUCCESS;
    }
    if !testkit::require_root("reload benchmark") {
        return ExitCode::SUCCESS;
    }
    let ns = Netns::new("reload");
    let dir = TempDir::new("reload-bench");
    // The real servers: every address on a dummy interface, one web server on port 80.
    ns.ip(&["link", "add", "eth0", "type", "dummy"]);
    ns.ip(&["link", "set", "eth0", "up"]);
    ns.ip(&["link", "add", "servers", "type", "dummy"]);
    ns.ip(&["link", "set", "servers", "up"]);
    let batch: String = (0..SERVICES)
        .flat_map(|s| (0..SERVERS).map(move |d| format!("addr add {}/32 dev servers\n", rip(s, d))))
        .collect();
    let batch_file = dir.file("addresses", &batch);
    let out = ns.exec("ip", &["-batch", batch_file.to_str().unwrap_or_default()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let listener = ns.run(|| std::net::TcpListener::bind("0.0.0.0:80").expect("bind"));
    // Port 80 with no send/expect is checked with `GET /` expecting `HTTP`.
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let _ = std::io::Write::write_all(&mut stream, b"HTTP/1.0 200 OK\r\n\r\n");
        }
    });

    // ipvsadm: flush and restore the whole table, each round's version.
    let mut rebuild = Vec::new();
    for round in 0..ROUNDS {
        let input = dir.file("restore", &ipvsadm_restore(round));
        let took = ns.run(|| {
            let started = Instant::now();
            let flushed = Command::new(IPVSADM).arg("-C").status().expect("ipvsadm -C");
            let restored = Command::new(IPVSADM)
                .arg("-R")
                .stdin(std::fs::File::open(&input).expect("restore file"))
                .status()
                .expect("ipvsadm -R");
            assert!(flushed.success() && restored.success());
            started.elapsed()
        });
        rebuild.push(took);
    }
    // The daemon adopts the table ipvsadm left (round ROUNDS - 1's), then reloads each round's file.
    let config = dir.path().join("lvs.cf");
    let maintenance = dir.path().join("maintenance");
    std::fs::create_dir(&maintenance).expect("maintenance directory");
    std::fs::write(&config, lvs_cf(ROUNDS - 1, &maintenance)).expect("write lvs.cf");
    let log_path = dir.path().join("lvs.log");
    let log = std::fs::File::create(&log_path).expect("log");
    let mut daemon: Child = Command::new("ip")
        .args(["netns", "exec", &ns.name, LVS, "-n", "-c"])
        .arg(&config)
        .arg("--socket")
        .arg(dir.path().join("lvs.sock"))
        .stdout(Stdio::from(log.try_clone().expect("log")))
        .stderr(Stdio::from(log))
        .spawn()
        .expect("start lvs");
    let read_log = || std::fs::read_to_string(&log_path).unwrap_or_default();
    // Waits for the `count`th `line`, reading only what the log gained,
    // every 2 ms: the waiting must not take the CPU the daemon is timed on.
    let wait_for = |line: &str, count: usize| {
        use std::io::Read as _;
        let started = Instant::now();
        let mut file = std::fs::File::open(&log_path).expect("log");
        let mut seen = String::new();
        while seen.matches(line).count() < count {
            assert!(
                started.elapsed() < Duration::from_secs(120),
                "no {line:?}:\n{}",
                read_log()
            );
            std::thread::sleep(Duration::from_millis(2));
            let _ = file.read_to_string(&mut seen);
        }
    };
    wait_for("entries adopted from the running table", 1);
    // The first checks pass and each server's first health event runs the
    // notify program (up to its queue's length): the reloads are timed
    // once the log has been quiet for 3 s.
    let mut quiet_since = (Instant::now(), 0);
    while quiet_since.0.elapsed() < Duration::from_secs(3) {
        std::thread::sleep(Duration::from_millis(100));
        let length = std::fs::metadata(&log_path).map(|m| m.len()).unwrap_or(0);
        if length != quiet_since.1 {
            quiet_since = (Instant::now(), length);
        }
    }
    let mut reloads = Vec::new();
    // Each reload flips the 1% (the table holds round ROUNDS - 1's, an even one).
    for round in 0..ROUNDS {
        std::fs::write(&config, lvs_cf(round + 1, &maintenance)).expect("write lvs.cf");
        let started = Instant::now();
        // SAFETY: kill(2) on our own child (ip netns exec becomes lvs).
        unsafe { libc::kill(daemon.id() as i32, libc::SIGHUP) };
        wait_for("configuration re-read", round + 1);
        reloads.push(started.elapsed());
    }
    let log_text = read_log();
    let _ = daemon.kill();
    let _ = daemon.wait();
    assert!(!log_text.contains("failed to"), "{log_text}");
    let table = ns.exec(IPVSADM, &["-Sn"]);
    let expected = ipvsadm_restore(ROUNDS);
    let saved = String::from_utf8_lossy(&table.stdout);
    assert_eq!(
        saved.lines().filter(|l| l.starts_with("-a")).count(),
        expected.lines().filter(|l| l.starts_with("-a")).count(),
        "the daemon's table has every server; its log:\n{}",
        log_text
            .lines()
            .filter(|l| !l.starts_with("would") && !l.contains("available"))
            .collect::<Vec<_>>()
            .join("\n")
    );

    let (reload, rebuild) = (median(reloads), median(rebuild));
    let share = reload.as_secs_f64() / rebuild.as_secs_f64();
    println!("reload of 1,000 services x 10 servers with 1% changed (medians of {ROUNDS})");
    println!(
        "  lvs SIGHUP, to `configuration re-read`   {:>9.1} ms",
        ms(reload)
    );
    println!(
        "  ipvsadm -C + ipvsadm -R                   {:>9.1} ms",
        ms(rebuild)
    );
    println!("  the reload takes {:.1}% of the rebuild's time", share * 100.0);
    // The daemon's own figure (from reading the signal to its log line).
    let own: Vec<Duration> = log_text
        .lines()
        .filter_map(|l| l.split("table changes in ").nth(1))
        .filter_map(|rest| rest.split(" ms").next()?.parse::<f64>().ok())
        .map(|ms| Duration::from_secs_f64(ms / 1000.0))
        .collect();
    if !own.is_empty() {
        println!(
            "  the daemon's own median                  {:>9.1} ms",
            ms(median(own))
        );
    }
    if let Some(line) = log_text.lines().rfind(|l| l.contains("configuration re-read")) {
        println!("  the daemon's last reload: {line}");
    }
    if share < 0.05 {
        println!("target met (under 5%)");
        ExitCode::SUCCESS
    } else {
        println!("TARGET NOT MET (under 5%)");
        ExitCode::FAILURE
    }
}
