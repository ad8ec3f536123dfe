//! Building and reading a table of 1,000 services x 10 destinations, against
//! ipvsadm in the same run: `apply` versus `ipvsadm -R`, and `snapshot`
//! versus `ipvsadm -Ln >/dev/null`. Medians of several rounds.
//!
//! Each measurement starts from a fresh network namespace, so each sees an
//! empty table and an empty destination trash (the kernel keeps deleted
//! destinations for a while and searches them on every add).
//!
//! Needs root, a kernel with IPVS and ipvsadm: `cargo xtask bench ipvs` runs
//! it in the kernel test lab. Targets: building at least 10x faster, reading
//! at least 2x faster; the exit status says whether they were met.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)] // a test: a failure is the report

use std::net::{IpAddr, Ipv4Addr};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use lvs_ipvs::{ApplyOptions, Destination, ForwardMethod, Ipvs, Protocol, Service, ServiceKey, Table};
use testkit::{median, ms, Netns};

const ROUNDS: usize = 5;

fn table() -> Table {
    let mut table = Table::default();
    for s in 0..1000u32 {
        let key = ServiceKey::Addr {
            protocol: Protocol::Tcp,
            addr: IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + s)),
            port: 80,
        };
        let dests = (0..10u32)
            .map(|d| {
                Destination::at(
                    std::net::SocketAddr::new(IpAddr::V4(Ipv4Addr::from(0xac10_0000 + s * 10 + d)), 8080),
                    ForwardMethod::Masquerade,
                )
                .weight(d + 1)
            })
            .collect();
        table.insert(Service::new(key, "wlc"), dests);
    }
    table
}

/// The same table as ipvsadm restore input.
fn restore_input(table: &Table) -> String {
    let mut text = String::new();
    for (key, (_, dests)) in &table.services {
        let ServiceKey::Addr { addr, port, .. } = key else {
            continue;
        };
        text.push_str(&format!("-A -t {addr}:{port} -s wlc\n"));
        for d in dests.values() {
            text.push_str(&format!(
                "-a -t {addr}:{port} -r {}:{} -m -w {}\n",
                d.addr, d.port, d.weight
            ));
        }
    }
    text
}

fn ipvsadm(ns: &Netns, args: &[&str], stdin: Option<&std::path::Path>) -> Duration {
    let mut command = Command::new("ip");
    command
        .args(["netns", "exec", &ns.name, "ipvsadm"])
        .args(args)
        .stdout(Stdio::null());
    if let Some(path) = stdin {
        command.stdin(std::fs::File::open(path).expect("restore file"));
    }
    let started = Instant::now();
    let status = command.status().expect("run ipvsadm");
    let elapsed = started.elapsed();
    assert!(status.success(), "ipvsadm {args:?} failed");
    elapsed
}

fn main() -> ExitCode {
    if let Err(e) = Ipvs::connect() {
        eprintln!("skipped: {e}; run `cargo xtask bench ipvs` (the kernel test lab)");
        return ExitCode::SUCCESS;
    }
    let table = table();
    let operations = table.build_operations();
    let restore = std::env::temp_dir().join("lvs-ipvs-bench.restore");
    std::fs::write(&restore, restore_input(&table)).expect("write the restore file");

    let (mut restore_times, mut list_times, mut apply_times, mut snapshot_times) =
        (vec![], vec![], vec![], vec![]);
    for round in 1..=ROUNDS {
        let theirs = Netns::new("bench-ipvsadm");
        restore_times.push(ipvsadm(&theirs, &["-R"], Some(&restore)));
        list_times.push(ipvsadm(&theirs, &["-Ln"], None));
        drop(theirs);

        let ours = Netns::new("bench-lvs-ipvs");
        let (apply, snapshot) = ours.run(|| {
            let mut ipvs = Ipvs::connect().expect("connect");
            let started = Instant::now();
            let results = ipvs.apply(&operations, ApplyOptions::default());
            let apply = started.elapsed();
            assert!(results.iter().all(Result::is_ok), "apply failed");
            let started = Instant::now();
            let read = ipvs.snapshot().expect("snapshot");
            let snapshot = started.elapsed();
            assert!(read.same_settings(&table), "the snapshot differs from the table");
            (apply, snapshot)
        });
        apply_times.push(apply);
        snapshot_times.push(snapshot);
        eprintln!("round {round}/{ROUNDS} done");
    }

    let (restore, list, apply, snapshot) = (
        median(restore_times),
        median(list_times),
        median(apply_times),
        median(snapshot_times),
    );
    let build_ratio = restore.as_secs_f64() / apply.as_secs_f64();
    let read_ratio = list.as_secs_f64() / snapshot.as_secs_f64();
    println!("table: 1,000 services x 10 destinations (11,000 operations), medians of {ROUNDS} rounds");
    println!(
        "build: ipvsadm -R {:>9.1} ms   apply    {:>8.1} ms   {build_ratio:>6.1}x (target >= 10x)",
        ms(restore),
        ms(apply)
    );
    println!(
        "read:  ipvsadm -Ln {:>8.1} ms   snapshot {:>8.1} ms   {read_ratio:>6.1}x (target >= 2x)",
        ms(list),
        ms(snapshot)
    );
    if build_ratio >= 10.0 && read_ratio >= 2.0 {
        println!("targets met");
        ExitCode::SUCCESS
    } else {
        println!("TARGETS NOT MET");
        ExitCode::FAILURE
    }
}
