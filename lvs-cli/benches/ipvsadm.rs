//! `ipvsadm-rs` against `ipvsadm` in the same run, as programs: restoring
//! 11,000 rules (1,000 services x 10 servers) with `-R`, and listing that
//! table with `-Ln >/dev/null`. Medians of several rounds, each restore into
//! a fresh network namespace (an empty table and destination trash).
//!
//! Both programs are started the same way, from a thread inside the
//! namespace, so each time is the program's own: start-up, its requests and
//! its output.
//!
//! Needs root, a kernel with IPVS and ipvsadm: `cargo xtask bench ipvsadm`
//! runs it in the kernel test lab. Targets: the restore at least 10x faster,
//! the listing at least 2x faster; the exit status says whether they were met.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)] // a test: a failure is the report

use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use testkit::{median, ms, Netns};

const ROUNDS: usize = 5;
const OURS: &str = env!("CARGO_BIN_EXE_ipvsadm-rs");
const THEIRS: &str = "/usr/sbin/ipvsadm";

/// 1,000 TCP services with 10 NAT servers each, as ipvsadm restore input.
fn restore_input() -> String {
    let mut text = String::new();
    for s in 0..1000u32 {
        let vip = std::net::Ipv4Addr::from(0x0a00_0000 + s);
        text.push_str(&format!("-A -t {vip}:80 -s wlc\n"));
        for d in 0..10u32 {
            let rip = std::net::Ipv4Addr::from(0xac10_0000 + s * 10 + d);
            text.push_str(&format!("-a -t {vip}:80 -r {rip}:8080 -m -w {}\n", d + 1));
        }
    }
    text
}

/// Runs `program` in the namespace, started from a thread that has joined
/// it (not through `ip netns exec`, whose own cost would be counted to both).
fn timed(ns: &Netns, program: &str, args: &[&str], stdin: Option<&std::path::Path>) -> Duration {
    ns.run(|| {
        let mut command = Command::new(program);
        command.args(args).stdout(Stdio::null());
        if let Some(path) = stdin {
            command.stdin(std::fs::File::open(path).expect("restore file"));
        }
        let started = Instant::now();
        let status = command.status().expect("run");
        let elapsed = started.elapsed();
        assert!(status.success(), "{program} {args:?} failed");
        elapsed
    })
}

fn main() -> ExitCode {
    if lvs_ipvs::Ipvs::connect().is_err() || !std::path::Path::new(THEIRS).exists() {
        eprintln!("skipped: needs IPVS and {THEIRS}; run `cargo xtask bench ipvsadm` (the kernel test lab)");
        return ExitCode::SUCCESS;
    }
    let restore = std::env::temp_dir().join("ipvsadm-bench.restore");
    std::fs::write(&restore, restore_input()).expect("write the restore file");
    let mut times: [Vec<Duration>; 4] = Default::default();
    for round in 1..=ROUNDS {
        for (i, program) in [THEIRS, OURS].into_iter().enumerate() {
            let ns = Netns::new("bench-ipvsadm");
            times[i * 2].push(timed(&ns, program, &["-R"], Some(&restore)));
            // Both listings must be the same table.
            let saved = Command::new("ip")
                .args(["netns", "exec", &ns.name, THEIRS, "-S", "-n"])
                .output()
                .expect("save");
            assert_eq!(
                String::from_utf8_lossy(&saved.stdout).lines().count(),
                11_000,
                "{program} -R"
            );
            times[i * 2 + 1].push(timed(&ns, program, &["-Ln"], None));
        }
        eprintln!("round {round}/{ROUNDS} done");
    }
    let [their_restore, their_list, our_restore, our_list] = times.map(median);
    let restore_ratio = their_restore.as_secs_f64() / our_restore.as_secs_f64();
    let list_ratio = their_list.as_secs_f64() / our_list.as_secs_f64();
    println!("table: 1,000 services x 10 servers (11,000 rules), medians of {ROUNDS} rounds");
    println!(
        "-R:  ipvsadm {:>9.1} ms   ipvsadm-rs {:>8.1} ms   {restore_ratio:>6.1}x (target >= 10x)",
        ms(their_restore),
        ms(our_restore)
    );
    println!(
        "-Ln: ipvsadm {:>9.1} ms   ipvsadm-rs {:>8.1} ms   {list_ratio:>6.1}x (target >= 2x)",
        ms(their_list),
        ms(our_list)
    );
    if restore_ratio >= 10.0 && list_ratio >= 2.0 {
        println!("targets met");
        ExitCode::SUCCESS
    } else {
        println!("TARGETS NOT MET");
        ExitCode::FAILURE
    }
}
