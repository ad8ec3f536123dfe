//! The director's memory for an hour of history of 1,000 virtual services
//! of 10 real servers each: the target is under 64 MiB. The peer is the same
//! director keeping no history (`--history-minutes 0`), run just before.
//!
//! The history's points for an hour are made whole at a server's first
//! sample (a ring of 720 points of 5 s), so a director that has taken one
//! sample holds what it holds an hour later. The director runs as
//! `lvs -t` (no kernel table: it needs neither root nor IPVS, and its
//! status lists every server all the same), with checks once an hour.
//! The servers are checked over TCP on port 8080 (half-open probes), the
//! most common check.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)] // a benchmark: a failure is the report

use std::fmt::Write as _;
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use testkit::TempDir;

const SERVICES: u32 = 1000;
const SERVERS: u32 = 10;
const LVS: &str = env!("CARGO_BIN_EXE_lvs");

fn lvs_cf() -> String {
    let mut text = String::from("primary = 10.255.0.1\nservice = lvs\nbackup_active = 0\nnetwork = direct\n");
    for s in 0..SERVICES {
        let vip = std::net::Ipv4Addr::from(0x0a00_0000 + s);
        let _ = write!(
            text,
            "virtual vs{s} {{\n active = 1\n address = {vip} eth0:1\n port = 8080\n scheduler = wlc\n check_interval = 3600\n"
        );
        for d in 0..SERVERS {
            let rip = std::net::Ipv4Addr::from(0xac10_0000 + s * SERVERS + d);
            let _ = write!(
                text,
                " server r{d} {{\n  address = {rip}\n  active = 1\n  weight = 1\n }}\n"
            );
        }
        text.push_str("}\n");
    }
    text
}

/// A process's resident memory (`VmRSS`) and its peak (`VmHWM`), in KiB.
fn resident(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc");
    let field = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|kib| kib.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Runs `lvs -t` on `config` with `--history-minutes minutes`; once it
/// answers (with a history, when it keeps one) and has settled, its
/// resident memory and peak in KiB, and the history's step.
fn director(dir: &TempDir, config: &std::path::Path, minutes: u32) -> (u64, u64, f64) {
    let socket = dir.path().join(format!("lvs-{minutes}.sock"));
    let mut daemon = Command::new(LVS)
        .args(["-n", "-t", "-c"])
        .arg(config)
        .arg("--socket")
        .arg(&socket)
        .arg("--history-minutes")
        .arg(minutes.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start lvs");
    let started = Instant::now();
    let last = format!("vs{}", SERVICES - 1);
    let step = loop {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "no answer within 2 minutes"
        );
        // Both runs ask the same: the status, then (with history) one service's.
        let answered =
            lvs_daemon::status::fetch(&socket).is_ok_and(|s| s.services.len() == SERVICES as usize);
        if answered && minutes == 0 {
            break 0.0;
        }
        if let Some(view) = answered
            .then(|| lvs_daemon::status::history(&socket, lvs_core::history::Scope::Service(&last)).ok())
            .flatten()
        {
            if view.newest.is_some()
                && view
                    .services
                    .first()
                    .is_some_and(|s| s.servers.len() == SERVERS as usize)
            {
                break view.step_seconds;
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    // Settled: a few more samples taken, the answers' memory given back.
    std::thread::sleep(Duration::from_secs(12));
    let (rss, peak) = resident(daemon.id());
    let _ = daemon.kill();
    let _ = daemon.wait();
    (rss, peak, step)
}

fn main() -> ExitCode {
    let dir = TempDir::new("history-bench");
    let config = dir.file("lvs.cf", &lvs_cf());
    // The peer: the same director keeping no history, in the same run.
    let (without, without_peak, _) = director(&dir, &config, 0);
    let (with, with_peak, step) = director(&dir, &config, 60);
    let points = (3600.0 / step) as u64;
    let history_bytes = u64::from(SERVICES * SERVERS) * points * 4;
    let mib = |kib: u64| kib as f64 / 1024.0;
    let cost = mib(with.saturating_sub(without));
    println!("an hour of history of {SERVICES} services x {SERVERS} servers, {points} points of {step} s:");
    println!(
        "  its points by count: {:.1} MiB",
        history_bytes as f64 / 1048576.0
    );
    println!(
        "  director resident without history: {:.1} MiB (peak {:.1}); with an hour's: {:.1} MiB (peak {:.1})",
        mib(without),
        mib(without_peak),
        mib(with),
        mib(with_peak)
    );
    println!(
        "  the history costs the director {cost:.1} MiB ({:.2}x its resident memory without); target under 64 MiB: {}",
        mib(with) / mib(without).max(0.001),
        if cost < 64.0 { "met" } else { "NOT MET" }
    );
    ExitCode::SUCCESS
}
