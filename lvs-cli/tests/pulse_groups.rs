//! `pulse` with VIP groups across real network namespaces: routers and a
//! client on one bridge; in each router a server on port 8080 answers with
//! the router's name, so the client sees which router holds each VIP.
//!
//! Needs root (namespaces); in CI it must run, elsewhere it skips.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)] // a test: a failure is the report

use std::path::{Path, PathBuf};
use std::process::Child;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use lvs_arp::frame::{decode, Decoded};
use lvs_arp::link::Rtnl;
use lvs_arp::packet::Capture;
use testkit::routers::RouterLan;
use testkit::TempDir;

const KEY: &str = "a key of more than sixteen bytes, shared by every router\n";
const WEB: &str = "10.8.0.100";
const MAIL: &str = "10.8.0.101";

/// Timing-sensitive: one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

struct Lab {
    net: RouterLan,
    dir: TempDir,
    lvsd: PathBuf,
    logs: Mutex<Vec<PathBuf>>,
}

struct Pulse {
    child: Child,
    log: PathBuf,
}

impl Drop for Pulse {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Pulse {
    /// SIGTERM, and the exit it leads to.
    fn stop(mut self) {
        // SAFETY: kill(2) on our own child (ip netns exec becomes pulse itself).
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(5) {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!(
            "pulse did not stop: {}",
            std::fs::read_to_string(&self.log).unwrap_or_default()
        );
    }
}

impl Lab {
    fn new(name: &str, routers: usize) -> Lab {
        let dir = TempDir::new(name);
        let lvsd = dir.stand_in_lvsd();
        Lab {
            net: RouterLan::new("vg", routers),
            dir,
            lvsd,
            logs: Mutex::new(Vec::new()),
        }
    }

    /// lvs.cf for every router: `blocks` holds the routers beyond the pair,
    /// the groups and the tracks; the web service is in group `web`, the
    /// mail service in group `mail`.
    fn config(&self, extra: &str, blocks: &str) -> PathBuf {
        let key = self.dir.file("heartbeat.key", KEY);
        std::fs::set_permissions(&key, std::os::unix::fs::PermissionsExt::from_mode(0o600)).expect("chmod");
        let service = |name: &str, vip: &str, device: &str| {
            format!(
                "virtual {name} {{\n     active = 1\n     address = {vip} {device}\n     port = 8080\n\
                 \x20    vip_group = {name}\n     server one {{\n         address = 10.8.0.50\n         active = 1\n     }}\n}}\n"
            )
        };
        self.dir.file(
            "lvs.cf",
            &format!(
                "serial_no = 1\nprimary = {}\nservice = lvs\nbackup_active = 1\nbackup = {}\nheartbeat = 1\n\
                 keepalive = 0.2\ndeadtime = 1\nnetwork = direct\narp_count = 3\narp_interval = 0.1\n\
                 heartbeat_key = {}\n{extra}{blocks}{}{}",
                RouterLan::address(0),
                RouterLan::address(1),
                key.display(),
                service("web", WEB, "eth0:1"),
                service("mail", MAIL, "eth0:2"),
            ),
        )
    }

    fn pulse(&self, index: usize, config: &Path) -> Pulse {
        let mut logs = self.logs.lock().unwrap_or_else(|p| p.into_inner());
        let log = self.dir.0.join(format!("pulse-{index}-{}.log", logs.len()));
        logs.push(log.clone());
        let lvsd = format!("--lvsd={}", self.lvsd.display());
        let socket = self.socket(index);
        let args = [
            "-n".as_ref(),
            "-v".as_ref(),
            "-c".as_ref(),
            config.as_os_str(),
            lvsd.as_ref(),
            "--socket".as_ref(),
            socket.as_os_str(),
            "--metrics".as_ref(),
            "127.0.0.1:9102".as_ref(),
        ];
        let child = self.net.routers[index].spawn_logged(env!("CARGO_BIN_EXE_pulse"), args, &log);
        Pulse { child, log }
    }

    /// Where router `index`'s pulse answers status requests.
    fn socket(&self, index: usize) -> PathBuf {
        self.dir.0.join(format!("pulse-{index}.sock"))
    }

    /// `pulse --status` (with `--json` when `json`) against router `index`.
    fn status(&self, index: usize, json: bool) -> String {
        let socket = self.socket(index);
        let mut args = vec!["--status".as_ref(), "--socket".as_ref(), socket.as_os_str()];
        if json {
            args.push("--json".as_ref());
        }
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_pulse"))
            .args(args)
            .output()
            .expect("run pulse --status");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).expect("UTF-8")
    }

    /// Waits up to `limit` for router `holder` alone to hold `vip` and
    /// answer the client on it.
    fn wait_holder(&self, vip: &str, holder: usize, limit: Duration) {
        self.wait_answer(vip, holder, true, limit);
    }

    /// Waits for router `holder` to hold `vip` (alone, if `alone`) and
    /// answer the client on it.
    fn wait_answer(&self, vip: &str, holder: usize, alone: bool, limit: Duration) {
        let started = Instant::now();
        let name = RouterLan::name(holder);
        while started.elapsed() < limit {
            let holders = self.net.holders(vip);
            let held = if alone {
                holders == [holder]
            } else {
                holders.contains(&holder)
            };
            if held && self.net.answer(vip).as_deref() == Some(name.as_str()) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!(
            "{name} did not become the only holder of {vip} within {limit:?} (holders: {:?}, the client reaches {:?})\n{}",
            self.net.holders(vip),
            self.net.answer(vip),
            self.all_logs()
        );
    }

    /// `vip` stays with `holder` alone for `time`.
    fn stays(&self, vip: &str, holder: usize, time: Duration) {
        let started = Instant::now();
        while started.elapsed() < time {
            assert_eq!(self.net.holders(vip), [holder], "{vip}\n{}", self.all_logs());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn all_logs(&self) -> String {
        let logs = self.logs.lock().unwrap_or_else(|p| p.into_inner());
        logs.iter()
            .map(|path| {
                format!(
                    "== {}\n{}",
                    path.display(),
                    std::fs::read_to_string(path).unwrap_or_default()
                )
            })
            .collect()
    }
}

fn lab(name: &str, routers: usize) -> Option<(std::sync::MutexGuard<'static, ()>, Lab)> {
    if !testkit::require_root(name) {
        return None;
    }
    let guard = SERIAL.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    Some((guard, Lab::new(name, routers)))
}

/// The gratuitous ARPs for `vip` the client sees in `time`.
fn announcements_seen(lab: &Lab, vip: &str, time: Duration) -> usize {
    let vip: std::net::Ipv4Addr = vip.parse().expect("literal");
    let (frames, ()) = lab.net.client.watch_while(
        |ready| {
            let index = Rtnl::connect()
                .expect("rtnl")
                .interface("eth0")
                .expect("eth0")
                .index;
            let capture = Capture::open(index).expect("capture");
            ready();
            capture.collect(time, |_| true).expect("capture")
        },
        || (),
    );
    frames
        .iter()
        .filter_map(|frame| decode(&frame.bytes))
        .filter(|decoded| matches!(decoded, Decoded::Arp { sender_ip, target_ip, .. } if *sender_ip == vip && *target_ip == vip))
        .count()
}

#[test]
fn each_router_holds_its_group_a_failing_track_moves_only_its_groups_and_hooks_hear_it() {
    let Some((_serial, lab)) = lab("pulse_groups_pair", 2) else {
        return;
    };
    let flags = lab.dir.0.display().to_string();
    // Fails while a flag named after one of the router's addresses exists.
    let track = lab.dir.script(
        "haproxy-alive",
        &format!(
            "#!/bin/sh\nfor a in $(ip -o -4 addr show dev eth0 | awk '{{print $4}}'); do\n  \
             [ -e {flags}/fail-${{a%/*}} ] && exit 1\ndone\nexit 0\n"
        ),
    );
    let hook = lab.dir.script(
        "group-changed",
        &format!("#!/bin/sh\necho \"$LVS_ROUTER $* [$LVS_GROUP $LVS_OLD_STATE $LVS_NEW_STATE $LVS_REASON]\" >> {flags}/hooks\n"),
    );
    let blocks = format!(
        "vip_group web {{\n     priorities = [ primary:200 backup:100 ]\n     notify = {hook}\n}}\n\
         vip_group mail {{\n     priorities = [ backup:200 primary:100 ]\n     notify = {hook}\n}}\n\
         track haproxy {{\n     program = {track}\n     interval = 0.2\n     fall = 2\n     rise = 2\n}}\n",
        hook = hook.display(),
        track = track.display()
    );
    let config = lab.config("announce_refresh = 0.5\n", &blocks);
    let _r1 = lab.pulse(0, &config);
    let _r2 = lab.pulse(1, &config);
    lab.wait_holder(WEB, 0, Duration::from_secs(5));
    lab.wait_holder(MAIL, 1, Duration::from_secs(5));

    // Each router's status and metrics say who holds what.
    let status: serde_json::Value = serde_json::from_str(&lab.status(1, true)).expect("JSON");
    assert_eq!(status["router"], "backup");
    assert_eq!(status["groups"][0]["name"], "web");
    assert_eq!(status["groups"][0]["state"], "backup");
    assert_eq!(status["groups"][0]["holder"], "primary");
    assert_eq!(status["groups"][1]["state"], "master");
    assert_eq!(status["groups"][1]["priority"], 200);
    assert_eq!(status["peers"][0]["name"], "primary");
    assert!(status["peers"][0]["heard"].as_f64().is_some(), "{status}");
    assert_eq!(status["tracks"][0]["name"], "haproxy");
    assert_eq!(status["tracks"][0]["passing"], true);
    assert!(status["heartbeats"]["accepted"].as_u64() >= Some(1), "{status}");
    let text = lab.status(0, false);
    assert!(text.contains("pulse: router primary, VIP groups"), "{text}");
    assert!(
        text.lines().any(|l| l.starts_with("web")
            && l.contains("master")
            && l.contains("primary")
            && l.contains(WEB)),
        "{text}"
    );
    let metrics = lab.net.routers[0].run(|| testkit::scrape_metrics("pulse metrics", "127.0.0.1:9102"));
    assert_eq!(
        metrics[r#"lvs_pulse_group_state{group="web",state="master"}"#], 1.0,
        "{metrics:?}"
    );
    assert_eq!(
        metrics[r#"lvs_pulse_group_state{group="mail",state="backup"}"#],
        1.0
    );
    assert_eq!(metrics[r#"lvs_pulse_group_priority{group="mail"}"#], 100.0);
    assert_eq!(
        metrics[r#"lvs_pulse_group_transitions_total{group="web",to="master",reason="no_holder"}"#],
        1.0
    );
    assert!(metrics[r#"lvs_pulse_router_heartbeat_age_seconds{router="backup"}"#] < 1.0);
    assert_eq!(metrics[r#"lvs_pulse_track_passing{track="haproxy"}"#], 1.0);
    assert!(metrics[r#"lvs_pulse_heartbeats_total{outcome="accepted"}"#] >= 1.0);

    // The holder announces its VIP every half second after the first burst.
    std::thread::sleep(Duration::from_millis(600));
    let seen = announcements_seen(&lab, WEB, Duration::from_millis(1600));
    assert!(
        seen >= 6,
        "{seen} gratuitous ARPs for {WEB} in 1.6 s\n{}",
        lab.all_logs()
    );

    // Follow r1's events while its track fails and recovers.
    let mut follower = std::process::Command::new(env!("CARGO_BIN_EXE_pulse"))
        .args(["--events", "--socket"])
        .arg(lab.socket(0))
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("pulse --events");
    std::thread::sleep(Duration::from_millis(200));

    // r1's track fails: web moves to r2; mail never leaves r2.
    let moved = lab.dir.file(&format!("fail-{}", RouterLan::address(0)), "");
    lab.wait_holder(WEB, 1, Duration::from_secs(3));
    lab.stays(MAIL, 1, Duration::from_millis(500));
    std::fs::remove_file(&moved).expect("clear the flag");
    lab.wait_holder(WEB, 0, Duration::from_secs(3));
    lab.stays(MAIL, 1, Duration::from_millis(300));

    let _ = follower.kill();
    let events = follower.wait_with_output().expect("the events");
    let events: Vec<serde_json::Value> = String::from_utf8_lossy(&events.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).expect("a JSON line"))
        .collect();
    let changes: Vec<String> = events
        .iter()
        .map(|e| match e["event"].as_str() {
            Some("group") => {
                format!("{} {} {} {}", e["group"], e["old"], e["new"], e["reason"]).replace('"', "")
            }
            _ => format!("track {} {}", e["track"], e["passing"]).replace('"', ""),
        })
        .collect();
    assert_eq!(
        changes,
        [
            "track haproxy false",
            "web master fault fault",
            // The track applies to every group: r1 cannot hold mail either
            // (it held it not, so nothing moves).
            "mail backup fault fault",
            "track haproxy true",
            "web fault backup fault_cleared",
            "web backup master preempting",
            "mail fault backup fault_cleared",
        ],
        "{events:?}"
    );
    assert!(events
        .iter()
        .all(|e| e["router"] == "primary" && e["time"].as_f64() > Some(1.7e9)));
    assert_eq!(events[1]["vips"][0], WEB);

    let logs = lab.all_logs();
    assert!(
        logs.contains("vip_group web: master -> fault (track haproxy fails)"),
        "{logs}"
    );
    assert!(
        logs.contains("vip_group web: backup -> master (no live router held it)"),
        "{logs}"
    );
    assert_eq!(
        logs.matches("vip_group mail: backup -> master").count(),
        1,
        "mail changed hands once, at the start\n{logs}"
    );
    let hooks = std::fs::read_to_string(lab.dir.0.join("hooks")).unwrap_or_default();
    for line in [
        format!("primary web backup master no_holder {WEB} [web backup master no_holder]"),
        format!("backup mail backup master no_holder {MAIL} [mail backup master no_holder]"),
        format!("primary web master fault fault {WEB} [web master fault fault]"),
        format!("backup web backup master no_holder {WEB} [web backup master no_holder]"),
        format!("primary web fault backup fault_cleared {WEB} [web fault backup fault_cleared]"),
        format!("primary web backup master preempting {WEB} [web backup master preempting]"),
        format!("backup web master backup outranked {WEB} [web master backup outranked]"),
    ] {
        assert!(
            hooks.lines().any(|l| l == line),
            "no hook line {line:?}:\n{hooks}"
        );
    }
}

#[test]
fn three_routers_elect_the_highest_alive_and_without_preemption_keep_the_holder() {
    let Some((_serial, lab)) = lab("pulse_groups_three", 3) else {
        return;
    };
    let blocks = format!(
        "router third {{\n     address = {}\n}}\n\
         vip_group web {{\n     priorities = [ primary:100 backup:200 third:150 ]\n     preempt = 0\n}}\n\
         vip_group mail {{\n     priorities = [ primary:200 backup:100 third:150 ]\n}}\n",
        RouterLan::address(2)
    );
    let config = lab.config("", &blocks);
    let mut routers: Vec<Option<Pulse>> = (0..3).map(|i| Some(lab.pulse(i, &config))).collect();
    lab.wait_holder(WEB, 1, Duration::from_secs(5));
    lab.wait_holder(MAIL, 0, Duration::from_secs(5));

    // The highest stops: the next highest alive takes its group.
    routers[1].take().expect("running").stop();
    lab.wait_holder(WEB, 2, Duration::from_secs(2));
    lab.stays(MAIL, 0, Duration::from_millis(200));
    // It returns: without preemption the holder keeps web.
    routers[1] = Some(lab.pulse(1, &config));
    std::thread::sleep(Duration::from_secs(2));
    lab.stays(WEB, 2, Duration::from_secs(2));
    // With preemption (mail), the primary keeps what it prefers all along;
    // cut it off and the next highest takes mail; mend the cable and the
    // partition heals to one holder, the highest.
    lab.net.cable(0, false);
    // Cut off, the primary still holds mail on its side of the partition.
    lab.wait_answer(MAIL, 2, false, Duration::from_secs(4));
    lab.net.cable(0, true);
    lab.wait_holder(MAIL, 0, Duration::from_secs(4));
    lab.stays(MAIL, 0, Duration::from_secs(1));
    lab.stays(WEB, 2, Duration::from_millis(500));
    drop(routers);
}
