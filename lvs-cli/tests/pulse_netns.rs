//! `pulse` across real network namespaces: two routers and a client on one
//! bridge. In each router namespace a server on port 8080 answers with its
//! router's name, so the client sees which router owns the VIP.
//!
//! Needs root (namespaces); in CI it must run, elsewhere it skips.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)] // a test: a failure is the report

use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use lvs_core::failover::{PeerState, Role};
use lvs_core::heartbeat::{encode_piranha, Authenticator};
use testkit::routers::{spawn_in, RouterPair, BACKUP, NAMES, PRIMARY, VIP};
use testkit::TempDir;

const KEY: &str = "a key of more than sixteen bytes, shared by both routers\n";

/// The cases are timing-sensitive; one at a time on a small machine.
static SERIAL: Mutex<()> = Mutex::new(());

struct Lab {
    net: RouterPair,
    dir: TempDir,
    lvsd: PathBuf,
    /// Every pulse's log, shown when a wait fails.
    logs: Mutex<Vec<PathBuf>>,
}

impl Lab {
    fn new(name: &str) -> Lab {
        let dir = TempDir::new(name);
        let lvsd = dir.stand_in_lvsd();
        Lab {
            net: RouterPair::new(),
            dir,
            lvsd,
            logs: Mutex::new(Vec::new()),
        }
    }

    /// lvs.cf for both routers, with `extra` global lines.
    fn config(&self, keepalive: &str, deadtime: &str, extra: &str) -> PathBuf {
        self.dir.file(
            "lvs.cf",
            &format!(
                "serial_no = 1\nprimary = {PRIMARY}\nservice = lvs\nbackup_active = 1\nbackup = {BACKUP}\n\
                 heartbeat = 1\nheartbeat_port = 539\nkeepalive = {keepalive}\ndeadtime = {deadtime}\n\
                 network = direct\narp_count = 3\narp_interval = 0.1\n{extra}\
                 virtual web {{\n     active = 1\n     address = {VIP} eth0:1\n     port = 8080\n\
                 \x20    scheduler = wlc\n     protocol = tcp\n     timeout = 6\n     reentry = 15\n\
                 \x20    server one {{\n         address = 10.7.0.50\n         active = 1\n         weight = 1\n     }}\n}}\n"
            ),
        )
    }

    /// Starts both routers: the primary first, until it is active (alone, it
    /// activates after `deadtime`), then the backup, until it has heard it.
    fn pair(&self, config: &Path, extra: &[&str]) -> (Pulse, Pulse) {
        let primary = self.pulse(0, config, extra);
        self.wait_owner(0, Duration::from_secs(5));
        let backup = self.pulse(1, config, extra);
        backup.wait_log("STARTING PULSE AS BACKUP", Duration::from_secs(2));
        std::thread::sleep(Duration::from_millis(300));
        (primary, backup)
    }

    /// Starts pulse in router `index` (0: the primary), logging to a file.
    fn pulse(&self, index: usize, config: &Path, extra: &[&str]) -> Pulse {
        let mut logs = self.logs.lock().unwrap_or_else(|p| p.into_inner());
        let log = self.dir.0.join(format!("pulse-{index}-{}.log", logs.len()));
        logs.push(log.clone());
        let lvsd = format!("--lvsd={}", self.lvsd.display());
        let mut args = vec![
            "-n".as_ref(),
            "-v".as_ref(),
            "-c".as_ref(),
            config.as_os_str(),
            lvsd.as_ref(),
        ];
        args.extend(extra.iter().map(std::ffi::OsStr::new));
        let child = self.net.routers[index].spawn_logged(env!("CARGO_BIN_EXE_pulse"), args, &log);
        Pulse { child, log }
    }

    /// Waits up to `limit` for `router` to own the VIP alone and answer the client.
    fn wait_owner(&self, router: usize, limit: Duration) -> Duration {
        let started = Instant::now();
        let name = NAMES[router];
        let net = &self.net;
        while started.elapsed() < limit {
            if net.has_vip(router) && !net.has_vip(1 - router) && net.answer().as_deref() == Some(name) {
                return started.elapsed();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!(
            "{name} did not become the only VIP owner within {limit:?} (r1 has it: {}, r2 has it: {}, the client reaches {:?})\n{}",
            net.has_vip(0),
            net.has_vip(1),
            net.answer(),
            self.all_logs()
        );
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

struct Pulse {
    child: Child,
    log: PathBuf,
}

impl Pulse {
    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn wait_log(&self, line: &str, limit: Duration) {
        let started = Instant::now();
        while started.elapsed() < limit {
            if self.log().contains(line) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!(
            "pulse did not log {line:?} within {limit:?}; its log:\n{}",
            self.log()
        );
    }

    fn signal(&self, signal: i32) {
        // SAFETY: kill(2) on our own child (ip netns exec becomes pulse itself).
        unsafe { libc::kill(self.child.id() as i32, signal) };
    }

    fn wait_exit(&mut self, limit: Duration) -> std::process::ExitStatus {
        let started = Instant::now();
        while started.elapsed() < limit {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("pulse did not exit within {limit:?}; its log:\n{}", self.log());
    }
}

impl Drop for Pulse {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn lab(name: &str) -> Option<(std::sync::MutexGuard<'static, ()>, Lab)> {
    if !testkit::require_root(name) {
        return None;
    }
    let guard = SERIAL.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    Some((guard, Lab::new(name)))
}

#[test]
fn a_cut_link_fails_over_and_there_is_no_fail_back() {
    let Some((_serial, lab)) = lab("pulse_link_cut") else {
        return;
    };
    let config = lab.config("0.1", "0.5", "monitor_links = 1\n");
    let (primary, backup) = lab.pair(&config, &[]);
    primary.wait_log("STARTING PULSE AS MASTER", Duration::from_secs(1));
    backup.wait_log("STARTING PULSE AS BACKUP", Duration::from_secs(1));
    primary.wait_log("gratuitous lvs arps finished", Duration::from_secs(3));

    lab.net.cable(0, false);
    let took = lab.wait_owner(1, Duration::from_secs(3));
    backup.wait_log("partner dead: activating lvs", Duration::from_secs(1));
    primary.wait_log("Local NIC link failure: Pulse disabled", Duration::from_secs(1));
    assert!(
        took < Duration::from_millis(1500),
        "failover took {took:?} with deadtime 0.5"
    );
    assert!(
        !lab.net.has_vip(0),
        "the primary took its VIP down on the link failure"
    );

    // The link returns: no automatic fail-back.
    lab.net.cable(0, true);
    primary.wait_log(
        "Local NIC link(s) restored: Pulse enabled",
        Duration::from_secs(2),
    );
    std::thread::sleep(Duration::from_secs(1));
    assert!(!lab.net.has_vip(0) && lab.net.has_vip(1), "{}", lab.all_logs());
    assert_eq!(lab.net.answer().as_deref(), Some("r2"));
}

#[test]
fn a_graceful_stop_hands_over_at_once() {
    let Some((_serial, lab)) = lab("pulse_graceful") else {
        return;
    };
    // A long deadtime: only the final STOPPED heartbeat can make this fast.
    let config = lab.config("0.1", "3", "");
    let (mut primary, backup) = lab.pair(&config, &[]);
    std::thread::sleep(Duration::from_millis(300));

    primary.signal(libc::SIGTERM);
    let took = lab.wait_owner(1, Duration::from_secs(2));
    assert!(took < Duration::from_secs(1), "took {took:?}; deadtime is 3 s");
    backup.wait_log("primary inactive: activating lvs", Duration::from_secs(1));
    let status = primary.wait_exit(Duration::from_secs(5));
    assert!(status.success(), "{status}");
    let log = primary.log();
    assert!(log.contains("Terminating due to signal 15"), "{log}");
    assert!(log.contains("shutting down: deactivating LVS"), "{log}");
    assert!(!lab.net.has_vip(0));
}

#[test]
fn a_killed_primary_comes_back_passive_without_its_stale_vip_and_forceactive_takes_over() {
    let Some((_serial, lab)) = lab("pulse_kill") else {
        return;
    };
    let config = lab.config("0.1", "0.5", "");
    let (mut primary, backup) = lab.pair(&config, &[]);

    primary.signal(libc::SIGKILL);
    primary.wait_exit(Duration::from_secs(2));
    // The backup takes over after deadtime, while the dead primary's VIP is
    // still on its interface: the client reaches the backup once its
    // gratuitous ARPs have updated the client's neighbour entry.
    let started = Instant::now();
    while !lab.net.has_vip(1) {
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "the backup did not activate"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    backup.wait_log("partner dead: activating lvs", Duration::from_secs(1));
    assert!(lab.net.has_vip(0), "SIGKILL leaves the VIP behind");

    let restarted = lab.pulse(0, &config, &[]);
    restarted.wait_log(
        &format!("removed the stale VIP {VIP} from eth0:1"),
        Duration::from_secs(3),
    );
    lab.wait_owner(1, Duration::from_secs(3));
    std::thread::sleep(Duration::from_secs(1));
    assert!(
        !lab.net.has_vip(0),
        "the restarted primary stays passive (no fail-back)"
    );
    assert!(!restarted.log().contains("activating lvs"), "{}", restarted.log());
    drop(restarted);

    // --forceactive: the primary takes over and the backup stands down.
    let forced = lab.pulse(0, &config, &["--forceactive"]);
    forced.wait_log("Forced active on startup: activating lvs", Duration::from_secs(3));
    lab.wait_owner(0, Duration::from_secs(3));
    backup.wait_log("partner active: deactivating LVS", Duration::from_secs(2));
}

#[test]
fn a_healed_partition_leaves_the_master_as_the_one_owner() {
    let Some((_serial, lab)) = lab("pulse_partition") else {
        return;
    };
    // No link monitoring: both routers stay up through the partition.
    let config = lab.config("0.1", "0.5", "");
    let (primary, backup) = lab.pair(&config, &[]);

    lab.net.cable(0, false);
    backup.wait_log("partner dead: activating lvs", Duration::from_secs(3));
    assert!(
        lab.net.has_vip(0) && lab.net.has_vip(1),
        "both are active while partitioned"
    );

    lab.net.cable(0, true);
    backup.wait_log("partner active: deactivating LVS", Duration::from_secs(3));
    primary.wait_log("partner active: resending arps", Duration::from_secs(3));
    lab.wait_owner(0, Duration::from_secs(3));
}

/// Log lines that are not `DEBUG -- ` lines.
fn plain_lines<'a>(log: &'a str, containing: &'a str) -> impl Iterator<Item = &'a str> {
    log.lines()
        .filter(move |l| l.contains(containing) && !l.contains("DEBUG -- "))
}

#[test]
fn forged_altered_and_captured_authenticated_heartbeats_are_dropped_and_the_log_is_throttled() {
    let Some((_serial, lab)) = lab("pulse_auth") else {
        return;
    };
    let key = lab.dir.file("heartbeat.key", KEY);
    std::fs::set_permissions(&key, std::os::unix::fs::PermissionsExt::from_mode(0o600)).expect("chmod");
    let config = lab.config("0.1", "0.5", &format!("heartbeat_key = {}\n", key.display()));
    let (primary, backup) = lab.pair(&config, &["--metrics", "127.0.0.1:9102"]);

    // From the primary's address: heartbeats that would make the backup
    // activate (STOPPED) if it believed them.
    let target = format!("{BACKUP}:539");
    lab.net.routers[0].run(|| {
        let socket = UdpSocket::bind(format!("{PRIMARY}:0")).expect("bind");
        let mut forger = Authenticator::new(b"a guessed key of sixteen bytes", Role::Master, 7, 7);
        let key = KEY.trim_end().as_bytes();
        // Genuine, sealed with the key, as a capture of another run is.
        let mut captured = Authenticator::new(key, Role::Master, 8, 7);
        for _ in 0..10 {
            socket
                .send_to(&forger.seal(PeerState::Stopped), &target)
                .expect("send");
            socket
                .send_to(&captured.seal(PeerState::Stopped), &target)
                .expect("send");
            let mut altered = captured.seal(PeerState::Running);
            altered[6] ^= 0x03;
            socket.send_to(&altered, &target).expect("send");
            socket
                .send_to(&encode_piranha(PeerState::Stopped), &target)
                .expect("send");
            std::thread::sleep(Duration::from_millis(50));
        }
        // A flood: 200 forgeries at once.
        for _ in 0..200 {
            socket
                .send_to(&forger.seal(PeerState::Stopped), &target)
                .expect("send");
        }
    });
    std::thread::sleep(Duration::from_millis(300));
    let log = backup.log();
    assert!(
        log.contains(&format!(
            "dropped a heartbeat from {PRIMARY}: forged or altered heartbeat"
        )),
        "{log}"
    );
    assert!(log.contains("bad heartbeat packet"), "{log}");
    assert!(
        !log.contains("activating lvs"),
        "the backup believed a forgery or a capture:\n{log}"
    );
    let logged =
        plain_lines(&log, "dropped a heartbeat").count() + plain_lines(&log, "bad heartbeat").count();
    assert!(
        logged <= 5,
        "{logged} lines for 240 bad datagrams: the log is not throttled\n{log}"
    );
    assert!(!lab.net.has_vip(1));
    lab.wait_owner(0, Duration::from_secs(1));

    // Both routers' metrics say the same: each one's part, what it heard,
    // and the backup's count of every kind of datagram it dropped.
    let backup_metrics = metrics(&lab.net.routers[1]);
    for (sample, at_least) in [
        ("lvs_pulse_role{state=\"inactive\"}", 1.0),
        ("lvs_pulse_partner_state{state=\"running\"}", 1.0),
        ("lvs_pulse_heartbeats_total{outcome=\"accepted\"}", 5.0),
        // 10 forged, 10 altered, 200 in the flood.
        ("lvs_pulse_heartbeats_total{outcome=\"forged\"}", 220.0),
        ("lvs_pulse_heartbeats_total{outcome=\"malformed\"}", 10.0),
    ] {
        let value = backup_metrics.get(sample).copied().unwrap_or(-1.0);
        assert!(
            value >= at_least,
            "{sample} is {value}, not {at_least} or more: {backup_metrics:?}"
        );
    }
    let stale_or_replayed = backup_metrics["lvs_pulse_heartbeats_total{outcome=\"stale\"}"]
        + backup_metrics["lvs_pulse_heartbeats_total{outcome=\"replayed\"}"];
    assert!(
        stale_or_replayed >= 10.0,
        "the 10 captured ones: {backup_metrics:?}"
    );
    assert_eq!(backup_metrics.get("lvs_pulse_role{state=\"active\"}"), Some(&0.0));
    assert!(
        backup_metrics["lvs_pulse_heartbeat_age_seconds"] < 1.0,
        "{backup_metrics:?}"
    );
    let primary_metrics = metrics(&lab.net.routers[0]);
    assert_eq!(
        primary_metrics.get("lvs_pulse_role{state=\"active\"}"),
        Some(&1.0)
    );
    assert_eq!(
        primary_metrics.get("lvs_pulse_transitions_total{to=\"active\",reason=\"partner_dead\"}"),
        Some(&1.0),
        "{primary_metrics:?}"
    );
    assert!(
        primary_metrics["lvs_pulse_last_announcement_timestamp_seconds"] > 1.7e9,
        "{primary_metrics:?}"
    );
    drop(primary);
}

/// The metrics of the pulse in `router` (`--metrics 127.0.0.1:9102`), after
/// promtool has checked them, by name and labels.
fn metrics(router: &testkit::Netns) -> std::collections::HashMap<String, f64> {
    router.run(|| testkit::scrape_metrics("pulse metrics", "127.0.0.1:9102"))
}

#[test]
fn a_capture_replayed_at_a_restarted_backup_does_not_stop_it_taking_over() {
    let Some((_serial, lab)) = lab("pulse_capture") else {
        return;
    };
    let key = lab.dir.file("heartbeat.key", KEY);
    std::fs::set_permissions(&key, std::os::unix::fs::PermissionsExt::from_mode(0o600)).expect("chmod");
    let config = lab.config("0.1", "0.5", &format!("heartbeat_key = {}\n", key.display()));
    // The master is gone; the backup (re)starts while an attacker replays an
    // authentic RUNNING heartbeat from the master's address all along.
    let (stop, stopped) = std::sync::mpsc::channel::<()>();
    spawn_in(&lab.net.routers[0], move || {
        let socket = UdpSocket::bind(format!("{PRIMARY}:0")).expect("bind");
        let mut captured = Authenticator::new(KEY.trim_end().as_bytes(), Role::Master, 99, 7);
        let heartbeat = captured.seal(PeerState::Running);
        while stopped.try_recv().is_err() {
            let _ = socket.send_to(&heartbeat, format!("{BACKUP}:539"));
            std::thread::sleep(Duration::from_millis(30));
        }
    });
    let backup = lab.pulse(1, &config, &[]);
    backup.wait_log("partner dead: activating lvs", Duration::from_secs(5));
    lab.wait_owner(1, Duration::from_secs(3));
    let _ = stop.send(());
    let log = backup.log();
    assert!(log.contains("DEBUG -- stale heartbeat"), "{log}");
}

#[test]
fn a_private_channel_and_a_restarted_master_log_no_false_replays() {
    let Some((_serial, lab)) = lab("pulse_private") else {
        return;
    };
    // A second channel: private addresses on the same wire.
    for (router, address) in [(0, "10.8.0.1/24"), (1, "10.8.0.2/24")] {
        lab.net.routers[router].ip(&["addr", "add", address, "dev", "eth0"]);
    }
    let key = lab.dir.file("heartbeat.key", KEY);
    std::fs::set_permissions(&key, std::os::unix::fs::PermissionsExt::from_mode(0o600)).expect("chmod");
    let config = lab.config(
        "0.05",
        "0.5",
        &format!(
            "heartbeat_key = {}\nprimary_private = 10.8.0.1\nbackup_private = 10.8.0.2\n",
            key.display()
        ),
    );
    let (mut primary, backup) = lab.pair(&config, &[]);
    std::thread::sleep(Duration::from_secs(1));
    // The master restarts (its clock is not consulted: sessions are random).
    primary.signal(libc::SIGKILL);
    primary.wait_exit(Duration::from_secs(2));
    backup.wait_log("partner dead: activating lvs", Duration::from_secs(3));
    let restarted = lab.pulse(0, &config, &[]);
    restarted.wait_log("STARTING PULSE AS MASTER", Duration::from_secs(2));
    std::thread::sleep(Duration::from_secs(1));
    for (who, log) in [("backup", backup.log()), ("restarted master", restarted.log())] {
        assert!(
            !log.contains("replayed") && plain_lines(&log, "dropped a heartbeat").next().is_none(),
            "the {who} dropped genuine heartbeats:\n{log}"
        );
        assert!(log.contains("DEBUG -- duplicate heartbeat"), "{who}: {log}");
    }
    // The backup kept the VIP and the restarted master believes it: one owner.
    lab.wait_owner(1, Duration::from_secs(1));
    assert!(!restarted.log().contains("activating lvs"), "{}", restarted.log());
}

#[test]
fn unauthenticated_heartbeats_and_an_exposed_key_are_warned_about() {
    let Some((_serial, lab)) = lab("pulse_warnings") else {
        return;
    };
    let config = lab.config("0.1", "0.5", "");
    let plain = lab.pulse(0, &config, &["--test-start"]);
    plain.wait_log(
        "WARNING: heartbeats are not authenticated",
        Duration::from_secs(2),
    );
    drop(plain);
    let key = lab.dir.file("exposed.key", KEY);
    std::fs::set_permissions(&key, std::os::unix::fs::PermissionsExt::from_mode(0o644)).expect("chmod");
    let config = lab.config("0.1", "0.5", &format!("heartbeat_key = {}\n", key.display()));
    let keyed = lab.pulse(0, &config, &["--test-start"]);
    keyed.wait_log(
        &format!(
            "WARNING: heartbeat key file {} has mode 0644: other users can read it",
            key.display()
        ),
        Duration::from_secs(2),
    );
    assert!(!keyed.log().contains("not authenticated"), "{}", keyed.log());
}

/// A peer speaking Piranha's wire format, built from the reference: 4 bytes,
/// the magic in host byte order.
fn piranha_peer(
    lab: &Lab,
    index: usize,
    address: &'static str,
    sends: impl Fn(Duration) -> Option<PeerState> + Send + 'static,
    run_for: Duration,
) -> std::sync::mpsc::Receiver<Vec<u8>> {
    let (heard_tx, heard_rx) = std::sync::mpsc::channel();
    let partner = if index == 0 { BACKUP } else { PRIMARY };
    spawn_in(&lab.net.routers[index], move || {
        let socket = UdpSocket::bind(format!("{address}:539")).expect("bind the peer");
        socket
            .set_read_timeout(Some(Duration::from_millis(20)))
            .expect("timeout");
        let started = Instant::now();
        let mut next_send = started;
        let mut buffer = [0u8; 64];
        while started.elapsed() < run_for {
            if Instant::now() >= next_send {
                if let Some(state) = sends(started.elapsed()) {
                    let _ = socket.send_to(&encode_piranha(state), format!("{partner}:539"));
                }
                next_send += Duration::from_millis(100);
            }
            if let Ok((len, _)) = socket.recv_from(&mut buffer) {
                let _ = heard_tx.send(buffer[..len].to_vec());
            }
        }
    });
    heard_rx
}

#[test]
fn pulse_pairs_with_a_router_speaking_piranhas_wire_format() {
    let Some((_serial, lab)) = lab("pulse_piranha_peer") else {
        return;
    };
    let config = lab.config("0.1", "0.5", "");
    const RUNNING_LE: [u8; 4] = [0xda, 0xdb, 0xad, 0xbd];
    const STOPPED_LE: [u8; 4] = [0xbd, 0xda, 0xbd, 0xad];

    // Our pulse as master; the Piranha backup says STOPPED for a second, then RUNNING.
    let heard = piranha_peer(
        &lab,
        1,
        BACKUP,
        |t| {
            Some(if t < Duration::from_secs(1) {
                PeerState::Stopped
            } else {
                PeerState::Running
            })
        },
        Duration::from_secs(2),
    );
    let master = lab.pulse(0, &config, &[]);
    master.wait_log("backup inactive: activating lvs", Duration::from_secs(2));
    master.wait_log("partner active: resending arps", Duration::from_secs(3));
    let datagrams: Vec<Vec<u8>> = heard.iter().collect();
    assert!(datagrams.iter().all(|d| d.len() == 4), "4-byte heartbeats only");
    assert!(
        datagrams.iter().any(|d| d[..] == STOPPED_LE),
        "STOPPED before activating"
    );
    assert!(
        datagrams.iter().any(|d| d[..] == RUNNING_LE),
        "RUNNING once active"
    );
    assert!(lab.net.has_vip(0), "the master stays active: it wins ties");
    drop(master);

    // Our pulse as backup; the Piranha master is active for a second, then dies.
    let _heard = piranha_peer(
        &lab,
        0,
        PRIMARY,
        |t| (t < Duration::from_secs(1)).then_some(PeerState::Running),
        Duration::from_secs(3),
    );
    let backup = lab.pulse(1, &config, &[]);
    std::thread::sleep(Duration::from_millis(800));
    assert!(!lab.net.has_vip(1), "passive while the Piranha master runs");
    backup.wait_log("partner dead: activating lvs", Duration::from_secs(3));
    // The VIP comes up just after that line; on a busy machine, a moment after.
    let started = std::time::Instant::now();
    while !lab.net.has_vip(1) && started.elapsed() < Duration::from_secs(3) {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(lab.net.has_vip(1));
}

#[test]
fn sighup_rereads_the_configuration_and_keeps_it_when_invalid() {
    let Some((_serial, lab)) = lab("pulse_sighup") else {
        return;
    };
    let config = lab.config("0.1", "0.5", "");
    let primary = lab.pulse(0, &config, &[]);
    lab.wait_owner(0, Duration::from_secs(5));

    // An invalid file changes nothing.
    let good = std::fs::read_to_string(&config).expect("read");
    std::fs::write(&config, good.replace("keepalive = 0.1", "keepalive = soon")).expect("write");
    primary.signal(libc::SIGHUP);
    primary.wait_log("keeping the running configuration", Duration::from_secs(2));
    assert!(lab.net.has_vip(0));

    // A new VIP is brought up by the active router; SIGUSR1/SIGUSR2 do not kill pulse.
    std::fs::write(
        &config,
        good.replace(&format!("{VIP} eth0:1"), "10.7.0.101 eth0:1"),
    )
    .expect("write");
    primary.signal(libc::SIGHUP);
    primary.wait_log("configuration re-read", Duration::from_secs(2));
    let started = Instant::now();
    while lab.net.has_vip(0)
        || !lab.net.routers[0]
            .ip(&["-o", "addr"])
            .contains("inet 10.7.0.101/32")
    {
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "the VIPs did not follow the file"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    primary.signal(libc::SIGUSR1);
    primary.signal(libc::SIGUSR2);
    std::thread::sleep(Duration::from_millis(300));
    let mut primary = primary;
    assert!(
        primary.child.try_wait().expect("status").is_none(),
        "pulse survived SIGUSR1/2"
    );
}

#[test]
fn commands_vips_and_test_start_on_a_lone_master() {
    let Some((_serial, lab)) = lab("pulse_commands") else {
        return;
    };
    let marks = lab.dir.path().join("marks");
    std::fs::create_dir_all(&marks).expect("mkdir");
    let config = lab.dir.file(
        "lone.cf",
        &format!(
            "primary = {PRIMARY}\nservice = lvs\nbackup_active = 0\nbackup = {BACKUP}\nkeepalive = 0.1\n\
             deadtime = 0.3\nnetwork = nat\nnat_router = 10.7.0.254 eth0:2\nnat_nmask = 255.255.255.0\n\
             active_cmd = \"/usr/bin/touch {m}/active\"\ninactive_cmd = \"/usr/bin/touch {m}/inactive\"\n\
             arp_count = 1\n\
             virtual web {{\n  active = 1\n  address = {VIP} eth0:1\n  port = 8080\n\
             server one {{\n    address = 10.7.0.50\n    active = 1\n  }}\n}}\n\
             virtual web6 {{\n  active = 1\n  address = fd00:7::100 eth0\n  port = 8080\n\
             server one {{\n    address = fd00:7::50\n    active = 1\n  }}\n}}\n",
            m = marks.display()
        ),
    );
    let addresses = |index: usize| lab.net.routers[index].ip(&["-o", "addr", "show", "dev", "eth0"]);

    // --test-start: the decisions and their log lines, but nothing is changed.
    let mut dry = lab.pulse(0, &config, &["--test-start"]);
    dry.wait_log("partner dead: activating lvs", Duration::from_secs(3));
    std::thread::sleep(Duration::from_millis(300));
    assert!(!addresses(0).contains(VIP), "{}", addresses(0));
    assert!(
        std::fs::read_dir(&marks).expect("marks").next().is_none(),
        "no command ran"
    );
    dry.signal(libc::SIGTERM);
    assert!(dry.wait_exit(Duration::from_secs(5)).success());

    // For real: inactive_cmd at start; after deadtime active_cmd, the VIP and
    // the NAT router address with its netmask.
    let mut real = lab.pulse(0, &config, &[]);
    real.wait_log("partner dead: activating lvs", Duration::from_secs(3));
    real.wait_log("gratuitous lvs arps finished", Duration::from_secs(3));
    let started = Instant::now();
    while !(marks.join("inactive").exists() && marks.join("active").exists()) {
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "the commands did not run"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let up = addresses(0);
    assert!(
        up.contains(&format!("inet {VIP}/32")) && up.contains("eth0:1"),
        "{up}"
    );
    assert!(up.contains("inet 10.7.0.254/24") && up.contains("eth0:2"), "{up}");
    assert!(up.contains("inet6 fd00:7::100/128"), "an IPv6 VIP: {up}");
    assert_eq!(lab.net.answer().as_deref(), Some(NAMES[0]));
    std::fs::remove_file(marks.join("inactive")).expect("rm");
    real.signal(libc::SIGTERM);
    assert!(real.wait_exit(Duration::from_secs(5)).success());
    let down = addresses(0);
    assert!(
        !down.contains(VIP) && !down.contains("10.7.0.254") && !down.contains("fd00:7::100"),
        "{down}"
    );
    assert!(
        marks.join("inactive").exists(),
        "inactive_cmd ran on the way down"
    );

    // The backup of a pair without backup_active has nothing to do.
    let mut backup = lab.pulse(1, &config, &[]);
    let status = backup.wait_exit(Duration::from_secs(5));
    assert_eq!(status.code(), Some(255));
    assert!(backup
        .log()
        .contains("We are backup node and backup is marked inactive -- exiting pulse"));
}

#[test]
fn an_lvs_daemon_that_cannot_start_is_a_child_failure() {
    let Some((_serial, lab)) = lab("pulse_no_lvsd") else {
        return;
    };
    let config = lab.dir.file(
        "lone.cf",
        &format!(
            "primary = {PRIMARY}\nservice = lvs\nbackup_active = 0\nkeepalive = 0.1\ndeadtime = 0.3\n\
             network = direct\narp_count = 1\n\
             virtual web {{\n  active = 1\n  address = {VIP} eth0:1\n  port = 8080\n}}\n"
        ),
    );
    let log = lab.dir.path().join("no-lvsd.log");
    let child = lab.net.routers[0].spawn_logged(
        env!("CARGO_BIN_EXE_pulse"),
        [
            "-n".as_ref(),
            "-c".as_ref(),
            config.as_os_str(),
            "--lvsd=/nonexistent/lvsd".as_ref(),
        ],
        &log,
    );
    let pulse = Pulse { child, log };
    pulse.wait_log("partner dead: activating lvs", Duration::from_secs(3));
    pulse.wait_log("cannot run /nonexistent/lvsd", Duration::from_secs(1));
    pulse.wait_log("lvs daemon exited: deactivating LVS", Duration::from_secs(1));
    std::thread::sleep(Duration::from_secs(1));
    assert!(
        !lab.net.has_vip(0),
        "no VIP without an lvs daemon:\n{}",
        pulse.log()
    );
    assert_eq!(
        pulse.log().matches("activating lvs").count(),
        1,
        "CHILDFAIL holds it back:\n{}",
        pulse.log()
    );
}
