//! The check engine against Piranha's model, on this machine:
//! - the engine checks 10,000 real servers (TCP listeners on loopback
//!   addresses, served by a separate process) every second; its CPU (share
//!   of one core) and resident memory are measured over a window;
//! - 1,000 servers are checked by the engine, and by 1,000 `nanny`
//!   processes (Piranha's model, one per server), CPU and memory summed.
//!
//! `cargo xtask bench health` builds nanny and runs this. Targets: the 10,000
//! under 10% of a core and 64 MiB; the exit status says whether they were met.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)] // a test: a failure is the report

use std::io::{BufRead, BufReader};
use std::net::{Ipv4Addr, SocketAddr};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::Arc;
use std::time::Duration;

use lvs_core::check::Check;
use lvs_core::nanny::{NannyAction, NannyConfig};
use lvs_health::engine::{Engine, Server, Update};

const PORT: u16 = 8080;
const WARM_UP: Duration = Duration::from_secs(3);
const WINDOW: Duration = Duration::from_secs(10);

fn address(index: usize) -> Ipv4Addr {
    Ipv4Addr::new(127, 2, (index / 250) as u8, (index % 250 + 1) as u8)
}

fn raise_file_limit() {
    // SAFETY: plain getrlimit/setrlimit on a local struct.
    unsafe {
        let mut limit: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 {
            limit.rlim_cur = limit.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
    }
}

/// The server side: `count` listeners that accept and close; prints `ready`.
fn serve(count: usize) {
    raise_file_limit();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async move {
        for index in 0..count {
            let listener = tokio::net::TcpListener::bind((address(index), PORT))
                .await
                .expect("bind a listener");
            tokio::spawn(async move {
                loop {
                    if let Ok((stream, _)) = listener.accept().await {
                        drop(stream);
                    }
                }
            });
        }
        println!("ready");
        std::future::pending::<()>().await;
    });
}

/// User plus system CPU seconds of this process.
fn own_cpu() -> f64 {
    // SAFETY: getrusage fills a local struct.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    secs(usage.ru_utime) + secs(usage.ru_stime)
}

/// Resident memory of process `pid` (or `self`), in MiB.
fn resident_mib(pid: &str) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|kb| kb.parse::<f64>().ok())
        .unwrap_or(0.0)
        / 1024.0
}

struct Measurement {
    /// How the checks went out: half-open probes or connections.
    method: &'static str,
    cpu_share: f64,
    resident_mib: f64,
    added: usize,
    removed: usize,
}

fn engine(count: usize) -> Measurement {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async move {
        let servers = (0..count)
            .map(|id| Server {
                id,
                target: SocketAddr::from((address(id), PORT)),
                check: Arc::new(Check::Tcp {
                    send: None,
                    expect: None,
                }),
                timeout: Duration::from_secs(1),
                nanny: NannyConfig::piranha(1, Duration::from_secs(1), Duration::from_secs(3)),
                load_command: None,
                adopt: None,
            })
            .collect();
        let (sender, mut receiver) = tokio::sync::mpsc::unbounded_channel::<Update>();
        let engine = Engine::start(servers, sender);
        let method = if engine.half_open() {
            "half-open probes"
        } else {
            "connections"
        };
        let mut added = 0;
        let mut removed = 0;
        let mut drain = |receiver: &mut tokio::sync::mpsc::UnboundedReceiver<Update>, measuring: bool| {
            while let Ok(update) = receiver.try_recv() {
                match update.action {
                    NannyAction::Add { .. } => added += 1,
                    NannyAction::Remove if measuring => removed += 1,
                    _ => {}
                }
            }
        };
        tokio::time::sleep(WARM_UP).await;
        drain(&mut receiver, false);
        let before = own_cpu();
        let start = tokio::time::Instant::now();
        while start.elapsed() < WINDOW {
            tokio::time::sleep(Duration::from_millis(200)).await;
            drain(&mut receiver, true);
        }
        let cpu_share = (own_cpu() - before) / start.elapsed().as_secs_f64();
        let resident_mib = resident_mib("self");
        engine.stop();
        Measurement {
            method,
            cpu_share,
            resident_mib,
            added,
            removed,
        }
    })
}

/// CPU seconds of this process's children that have been waited for.
fn children_cpu() -> f64 {
    // SAFETY: getrusage fills a local struct.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage);
        usage
    };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    secs(usage.ru_utime) + secs(usage.ru_stime)
}

/// 1,000 nanny processes for the whole window (start-up included, as a
/// process per server pays it); CPU from the kernel's exact accounting of
/// waited-for children, memory from /proc while they run.
fn nannies(nanny: &str, count: usize) -> Measurement {
    let before = children_cpu();
    let started = std::time::Instant::now();
    let mut children: Vec<Child> = (0..count)
        .map(|index| {
            Command::new(nanny)
                .args([
                    "-n",
                    "--test-start",
                    "--lvs",
                    "-h",
                    &address(index).to_string(),
                    "-p",
                    &PORT.to_string(),
                    "-V",
                    "10.0.0.1",
                    "-t",
                    "1",
                ])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start nanny")
        })
        .collect();
    std::thread::sleep(WARM_UP + WINDOW);
    let resident_mib = children.iter().map(|c| resident_mib(&c.id().to_string())).sum();
    for child in &mut children {
        let _ = child.kill();
    }
    for child in &mut children {
        let _ = child.wait();
    }
    let cpu_share = (children_cpu() - before) / started.elapsed().as_secs_f64();
    Measurement {
        method: "connections",
        cpu_share,
        resident_mib,
        added: count,
        removed: 0,
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--serve") {
        serve(args.get(i + 1).and_then(|n| n.parse().ok()).unwrap_or(10_000));
        return ExitCode::SUCCESS;
    }
    let Some(nanny) = std::env::var("LVS_NANNY").ok() else {
        eprintln!("skipped: run `cargo xtask bench health`, which builds nanny and names it in LVS_NANNY");
        return ExitCode::SUCCESS;
    };
    raise_file_limit();
    let exe = std::env::current_exe().expect("own path");
    let mut server = Command::new(exe)
        .args(["--serve", "10000"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the servers");
    let ready = server
        .stdout
        .take()
        .map(|out| BufReader::new(out).lines().next().is_some())
        .unwrap_or(false);
    assert!(ready, "the servers did not start");

    let big = engine(10_000);
    let small = engine(1_000);
    let piranha = nannies(&nanny, 1_000);
    let _ = server.kill();
    let _ = server.wait();

    println!("health checks every second, TCP connect checks of listeners on 127.2.x.y:{PORT}; CPU over {WINDOW:?}");
    println!(
        "{:<28} {:>9} {:>10} {:>8}  checks",
        "", "CPU core", "resident", "added"
    );
    for (name, m) in [
        ("engine, 10,000 servers", &big),
        ("engine, 1,000 servers", &small),
        ("1,000 nanny processes", &piranha),
    ] {
        println!(
            "{name:<28} {:>8.1}% {:>7.1} MiB {:>8}  {}",
            m.cpu_share * 100.0,
            m.resident_mib,
            m.added,
            m.method
        );
    }
    println!(
        "1,000 servers: the engine uses {:.1}x less CPU and {:.1}x less memory than 1,000 nannies",
        piranha.cpu_share / small.cpu_share.max(1e-9),
        piranha.resident_mib / small.resident_mib.max(1e-9)
    );
    let checks_ok = big.added == 10_000 && big.removed == 0;
    if !checks_ok {
        println!(
            "CHECKS FAILED: {} of 10,000 servers added, {} removed while measuring",
            big.added, big.removed
        );
    }
    if checks_ok && big.cpu_share < 0.10 && big.resident_mib < 64.0 {
        println!("targets met (10,000 servers: under 10% of a core and 64 MiB)");
        ExitCode::SUCCESS
    } else {
        println!("TARGETS NOT MET (10,000 servers: under 10% of a core and 64 MiB)");
        ExitCode::FAILURE
    }
}
