//! The lab demo (`cargo xtask demo` runs it in the kernel test lab): a
//! client, two routers running `pulse` and `lvs` from `docs/examples/demo.cf`,
//! and three real web servers, each in a network namespace. It shows traffic
//! being balanced, a real server failing and returning, and the active router
//! failing over to the backup, saying what the client saw and how long each
//! switch took. It ends by itself.
//!
//! The programs are named by `LVS_PULSE` and `LVS_LVS` (default: those cargo
//! built beside the example); the example file by `LVS_DEMO_CF` (default: the
//! repository's). `cargo xtask test` runs it in the lab too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)] // a test: a failure is the report

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode};
use std::time::{Duration, Instant};

use testkit::farm::{Farm, Mode, GATEWAY, VIP};
use testkit::TempDir;

struct Demo {
    farm: Farm,
    dir: TempDir,
    pulses: Vec<Option<Child>>,
    timings: Vec<(String, Duration)>,
}

fn say(text: &str) {
    println!("{text}");
}

fn step(title: &str) {
    println!("\n== {title}");
}

impl Demo {
    fn start_router(&mut self, index: usize, pulse: &Path, lvs: &Path, config: &Path) {
        let name = format!("r{}", index + 1);
        let lvsd = format!("--lvsd={}", self.dir.lvsd_for(lvs, &name).display());
        let log = self.dir.path().join(format!("{name}.log"));
        let child = self.farm.directors[index].spawn_logged(
            pulse,
            ["-n".as_ref(), "-c".as_ref(), config.as_os_str(), lvsd.as_ref()],
            &log,
        );
        self.pulses[index] = Some(child);
    }

    fn log(&self, router: usize) -> String {
        std::fs::read_to_string(self.dir.path().join(format!("r{}.log", router + 1))).unwrap_or_default()
    }

    /// Waits for `done`, up to `limit`; the time it took.
    fn until(&self, limit: Duration, done: impl Fn() -> bool) -> Option<Duration> {
        let started = Instant::now();
        while started.elapsed() < limit {
            if done() {
                return Some(started.elapsed());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    fn holds(&self, router: usize, address: &str) -> bool {
        self.farm.directors[router]
            .ip(&["-o", "addr"])
            .contains(&format!("inet {address}/"))
    }

    /// `count` requests: prints what the client saw, returns the answers per server.
    fn traffic(&self, count: usize) -> BTreeMap<String, usize> {
        let answers = self.farm.gets(count);
        let shown: Vec<String> = answers
            .iter()
            .map(|a| a.clone().unwrap_or_else(|| "(no answer)".into()))
            .collect();
        say(&format!(
            "   client, {count} requests to http://{VIP}/: {}",
            shown.join(" ")
        ));
        let mut counts = BTreeMap::new();
        for answer in shown {
            *counts.entry(answer).or_insert(0) += 1;
        }
        counts
    }

    fn status(&self, router: usize, lvs: &Path) {
        let out = Command::new(lvs)
            .args(["--status", "--socket"])
            .arg(self.dir.path().join(format!("r{}.sock", router + 1)))
            .output();
        if let Ok(out) = out {
            for line in String::from_utf8_lossy(&out.stdout).lines() {
                say(&format!("   r{} lvs --status | {line}", router + 1));
            }
        }
    }

    /// Whether router `router`'s IPVS table holds server `server`.
    fn table_has(&self, router: usize, server: usize) -> bool {
        let address = &self.farm.servers[server].address;
        let table = self.farm.directors[router]
            .run(|| lvs_ipvs::Ipvs::connect().and_then(|mut ipvs| ipvs.snapshot()));
        table.is_ok_and(|table| {
            table
                .services
                .values()
                .any(|(_, dests)| dests.values().any(|d| d.addr.to_string() == *address))
        })
    }

    fn time(&mut self, what: &str, took: Option<Duration>) -> bool {
        match took {
            Some(took) => {
                say(&format!("   -> {what}: {} ms", took.as_millis()));
                self.timings.push((what.to_owned(), took));
                true
            }
            None => {
                say(&format!("   -> {what}: DID NOT HAPPEN"));
                false
            }
        }
    }
}

fn main() -> ExitCode {
    // Named by the environment, or else the ones cargo built beside this example.
    let beside = |name: &str| {
        let dir = std::env::current_exe().ok()?.parent()?.parent()?.to_owned();
        Some(dir.join(name)).filter(|path| path.exists())
    };
    let program = |var: &str| std::env::var_os(var).map(PathBuf::from);
    let pulse = program("LVS_PULSE").or_else(|| beside("pulse"));
    let lvs = program("LVS_LVS").or_else(|| beside("lvs"));
    let (Some(pulse), Some(lvs)) = (pulse, lvs) else {
        eprintln!("demo: run it with `cargo xtask demo`, which builds pulse and lvs and boots the lab");
        return ExitCode::FAILURE;
    };
    let config = program("LVS_DEMO_CF")
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/examples/demo.cf"));
    if !testkit::require_root("demo") {
        return ExitCode::FAILURE;
    }

    step("The lab");
    say("   client 10.8.0.10 -- front bridge -- routers r1 (10.8.0.1, primary) and r2 (10.8.0.2, backup)");
    say(&format!("   routers -- back bridge -- web servers rs1 10.8.1.11, rs2 10.8.1.12, rs3 10.8.1.13 (NAT via {GATEWAY})"));
    say(&format!(
        "   both routers run pulse with {} (keepalive 0.2 s, deadtime 1 s)",
        config.display()
    ));
    let mut demo = Demo {
        farm: Farm::new(Mode::Nat, 2),
        dir: TempDir::new("demo"),
        pulses: vec![None, None],
        timings: Vec::new(),
    };
    let mut ok = true;

    step("r1 starts: alone, it activates after deadtime");
    demo.start_router(0, &pulse, &lvs, &config);
    let took = demo.until(Duration::from_secs(30), || {
        demo.holds(0, VIP) && (0..3).all(|s| demo.table_has(0, s))
    });
    ok &= demo.time("r1 active, VIP up, all three servers in its table", took);
    demo.start_router(1, &pulse, &lvs, &config);
    std::thread::sleep(Duration::from_secs(2));
    say("   r2 starts as backup and hears r1's heartbeats:");
    for line in demo.log(1).lines().filter(|l| l.starts_with("pulse: ")).take(3) {
        say(&format!("   r2 | {line}"));
    }
    demo.status(0, &lvs);

    step("Traffic is balanced (round robin)");
    let counts = demo.traffic(12);
    ok &= counts.len() == 3 && counts.values().all(|&n| n == 4);

    step("rs2 fails (stops serving)");
    demo.farm.servers[1].set_up(false);
    let took = demo.until(Duration::from_secs(10), || !demo.table_has(0, 1));
    ok &= demo.time("rs2 out of the table", took);
    for line in demo.log(0).lines().filter(|l| l.contains("[inactive]")).take(1) {
        say(&format!("   r1 | lvs: {line}"));
    }
    let counts = demo.traffic(8);
    ok &= !counts.contains_key("rs2") && counts.len() == 2;

    step("rs2 returns: back after reentry (3 s of passing checks)");
    demo.farm.servers[1].set_up(true);
    let took = demo.until(Duration::from_secs(15), || demo.table_has(0, 1));
    ok &= demo.time("rs2 back in the table", took);
    let counts = demo.traffic(9);
    ok &= counts.len() == 3;

    step("r1 fails: its front cable is pulled");
    demo.farm.switch.ip(&["link", "set", "d1", "down"]);
    let cut = Instant::now();
    let took = demo.until(Duration::from_secs(30), || demo.farm.get().is_some());
    ok &= demo.time(
        "the client is served again, through r2",
        took.map(|_| cut.elapsed()),
    );
    // Each router's lines about the switch (r1's first two are from its own start).
    for router in 0..2 {
        let log = demo.log(router);
        let lines: Vec<&str> = log
            .lines()
            .filter(|l| l.contains("activating") || l.contains("link failure") || l.contains("arps finished"))
            .collect();
        for line in lines.iter().skip(if router == 0 { 2 } else { 0 }) {
            say(&format!("   r{} | {line}", router + 1));
        }
    }
    ok &= demo.holds(1, VIP) && demo.holds(1, GATEWAY) && !demo.holds(0, VIP);
    // r2's lvs adds each server at its first passing check, spread over one interval.
    let took = demo.until(Duration::from_secs(10), || (0..3).all(|s| demo.table_has(1, s)));
    ok &= demo.time("all three servers in r2's table", took.map(|_| cut.elapsed()));
    demo.status(1, &lvs);
    let counts = demo.traffic(9);
    ok &= counts.len() == 3;

    step("r1's cable is back: no automatic fail-back, r2 stays active");
    demo.farm.switch.ip(&["link", "set", "d1", "up"]);
    std::thread::sleep(Duration::from_secs(2));
    say(&format!(
        "   VIP on r1: {}, on r2: {}",
        demo.holds(0, VIP),
        demo.holds(1, VIP)
    ));
    ok &= demo.holds(1, VIP) && !demo.holds(0, VIP);
    demo.traffic(3);

    step("Summary");
    for (what, took) in &demo.timings {
        say(&format!("   {:<58} {:>6} ms", what, took.as_millis()));
    }
    for child in demo.pulses.iter_mut().flatten() {
        // SAFETY: kill(2) on our own child: pulse stops gracefully.
        unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
        let _ = child.wait();
    }
    if ok {
        say("\ndemo: every step behaved as expected");
        ExitCode::SUCCESS
    } else {
        say("\ndemo: SOME STEPS DID NOT BEHAVE AS EXPECTED (see above)");
        ExitCode::FAILURE
    }
}
