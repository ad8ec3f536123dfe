//! Embedding pulse and the director in a program of one's own: no fork, no
//! signal handlers, no syslog, its own tokio runtime and its own shutdown
//! signal (a oneshot channel here; any future will do).
//!
//! The program sets up a small farm in network namespaces (a client, a
//! director and three web servers behind NAT, from `testkit`), runs pulse on
//! the director with the director in the same process, checks that the
//! client's requests are spread over the servers, then stops pulse and checks
//! that the VIP and the virtual service it added are gone.
//!
//! It needs root and a kernel with IPVS: `cargo xtask test` runs it in the
//! kernel test lab. Elsewhere it says why it cannot run and exits 0.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)] // a test: a failure is the report

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use lvs_daemon::director::DirectorOptions;
use lvs_daemon::log::Log;
use lvs_daemon::pulse::{LvsDaemon, Pulse, PulseExit, PulseOptions};
use testkit::farm::{Farm, Mode, DIRECTORS, GATEWAY, VIP};
use testkit::TempDir;

fn config() -> String {
    let servers: String = (1..=3)
        .map(|i| {
            format!("    server rs{i} {{\n        address = 10.8.1.{}\n        active = 1\n        weight = 1\n    }}\n", 10 + i)
        })
        .collect();
    format!(
        "primary = {primary}\nservice = lvs\nbackup_active = 0\nheartbeat_port = 539\nkeepalive = 0.2\n\
         deadtime = 0.5\nnetwork = nat\nnat_router = {GATEWAY} eth1:1\nnat_nmask = 255.255.255.0\n\
         arp_count = 1\n\nvirtual web {{\n    active = 1\n    address = {VIP} eth0:1\n    port = 80\n    \
         send = \"GET / HTTP/1.0\\r\\n\\r\\n\"\n    expect = \"HTTP\"\n    scheduler = rr\n    timeout = 1\n{servers}}}\n",
        primary = DIRECTORS[0],
    )
}

fn main() -> ExitCode {
    if std::env::var_os("LVS_KERNEL_TESTS").is_none() {
        println!("embed: skipped: needs root and IPVS (set LVS_KERNEL_TESTS=1, as the kernel test lab does)");
        return ExitCode::SUCCESS;
    }
    match run() {
        Ok(()) => {
            println!("embed: ok");
            ExitCode::SUCCESS
        }
        Err(why) => {
            eprintln!("embed: FAILED: {why}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let farm = Farm::new(Mode::Nat, 1);
    let dir = TempDir::new("embed");
    let cf = dir.file("lvs.cf", &config());
    let socket = dir.path().join("lvs.sock");
    let director = DirectorOptions::new(&cf).status_socket(Some(socket.clone()));
    let options = PulseOptions::new(&cf).lvs(LvsDaemon::InProcess(director));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();

    let ended = std::thread::scope(|scope| {
        // pulse and the director run on a thread of the director's namespace,
        // on a runtime this program builds.
        let router = scope.spawn(|| {
            farm.directors[0].run(|| {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(|e| format!("runtime: {e}"))?;
                let pulse = Pulse::prepare(options, Log::stderr("embed: pulse: ", false))
                    .map_err(|e| format!("pulse: {e}"))?;
                runtime
                    .block_on(pulse.run(async {
                        let _ = stopped.await;
                    }))
                    .map_err(|e| format!("pulse: {e}"))
            })
        });

        // Traffic: every server answers within a limit.
        let started = Instant::now();
        let mut answers: BTreeMap<String, usize> = BTreeMap::new();
        while answers.len() < 3 && started.elapsed() < Duration::from_secs(30) {
            match farm.get() {
                Some(server) => *answers.entry(server).or_default() += 1,
                None => std::thread::sleep(Duration::from_millis(200)),
            }
        }
        let status = lvs_daemon::status::fetch(&socket);
        let _ = stop.send(());
        let ended = router.join().map_err(|_| "the router thread panicked".to_owned());
        (answers, status, ended)
    });
    let (answers, status, ended) = ended;
    println!("embed: answers {answers:?}");
    if answers.len() < 3 {
        return Err(format!(
            "the client reached {} of 3 servers: {answers:?}",
            answers.len()
        ));
    }
    let status = status.map_err(|e| format!("status: {e}"))?;
    let up = status
        .services
        .iter()
        .flat_map(|s| &s.servers)
        .filter(|s| s.health == lvs_core::status::ServerHealth::Up)
        .count();
    println!("embed: the director's status: {up} servers up");
    if up != 3 {
        return Err(format!("the status says {up} of 3 servers up: {status:?}"));
    }
    match ended?? {
        PulseExit::Stopped => println!("embed: pulse stopped"),
        other => return Err(format!("pulse ended as {other:?}")),
    }

    // What it added is gone: the VIP, the gateway and the virtual service.
    let addresses = farm.directors[0].ip(&["-o", "addr", "show"]);
    if addresses.contains(VIP) || addresses.contains(GATEWAY) {
        return Err(format!("an address is left behind:\n{addresses}"));
    }
    let table = farm.directors[0].run(|| {
        lvs_ipvs::Ipvs::connect()
            .and_then(|mut ipvs| ipvs.listing())
            .map_err(|e| e.to_string())
    })?;
    if !table.is_empty() {
        return Err(format!("the IPVS table still holds {} services", table.len()));
    }
    println!("embed: the VIP, the gateway and the virtual service are gone");
    Ok(())
}
