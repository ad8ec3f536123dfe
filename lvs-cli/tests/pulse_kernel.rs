//! `pulse` with `syncdaemon = 1` against the real IPVS sync daemons, in a
//! network namespace of the kernel test lab (`cargo xtask test` runs it there
//! with `LVS_KERNEL_TESTS=1`; elsewhere it skips with a reason).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)] // a test: a failure is the report

mod common;

use std::time::{Duration, Instant};

use lvs_ipvs::{Daemon, DaemonState, Ipvs};
use testkit::{Netns, TempDir};

fn lab(test: &str) -> Option<Netns> {
    common::ipvs_lab(test, "pulse")
}

fn daemons(ns: &Netns) -> Vec<Daemon> {
    ns.run(|| Ipvs::connect().and_then(|mut ipvs| ipvs.daemons()))
        .expect("list the sync daemons")
}

/// Waits (long: daemon threads start and stop slowly in an emulated VM) for
/// the one running sync daemon to be `state`.
fn wait_daemon(ns: &Netns, state: DaemonState, log: &std::path::Path) {
    let started = Instant::now();
    loop {
        let running = daemons(ns);
        if running.len() == 1 && running[0].state == state {
            assert_eq!(running[0].mcast_interface, "sync0");
            assert_eq!(running[0].sync_id, 7);
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the sync daemons are {running:?}, not one {state:?}; pulse's log:\n{}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn the_sync_daemon_follows_the_routers_state() {
    let Some(ns) = lab("the_sync_daemon_follows_the_routers_state") else {
        return;
    };
    ns.ip(&["link", "add", "sync0", "type", "veth", "peer", "name", "sync1"]);
    ns.ip(&["link", "set", "sync0", "up"]);
    ns.ip(&["link", "set", "sync1", "up"]);
    ns.ip(&["addr", "add", "10.9.0.1/24", "dev", "sync0"]);
    let dir = TempDir::new("pulse-kernel");
    let lvsd = dir.stand_in_lvsd();
    // No backup router: the master activates after deadtime.
    let config = dir.file(
        "lvs.cf",
        "primary = 10.9.0.1\nservice = lvs\nbackup_active = 0\nkeepalive = 0.2\ndeadtime = 1\n\
         network = direct\nsyncdaemon = 1\nsyncd_iface = sync0\nsyncd_id = 7\n\
         virtual web {\n  active = 1\n  address = 10.9.0.100 sync0:1\n  port = 80\n\
         server one {\n    address = 10.9.0.50\n    active = 1\n  }\n}\n",
    );
    let log = dir.path().join("pulse.log");
    let mut pulse = ns.spawn_logged(
        env!("CARGO_BIN_EXE_pulse"),
        [
            "-n".as_ref(),
            "-v".as_ref(),
            "-c".as_ref(),
            config.as_os_str(),
            format!("--lvsd={}", lvsd.display()).as_ref(),
        ],
        &log,
    );

    // Passive first (backup), then active (master) once deadtime has passed.
    wait_daemon(&ns, DaemonState::Master, &log);
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(text.contains("pulse: partner dead: activating lvs"), "{text}");
    assert!(
        text.contains("sync daemon: Backup on sync0, id 7"),
        "started as backup:\n{text}"
    );
    assert!(ns
        .ip(&["-o", "addr", "show", "sync0"])
        .contains("inet 10.9.0.100/32"));

    // A graceful stop switches it back to backup before pulse exits.
    // SAFETY: kill(2) on our own child.
    unsafe { libc::kill(pulse.id() as i32, libc::SIGTERM) };
    let status = pulse.wait().expect("pulse exits");
    assert!(status.success(), "{status}");
    let running = daemons(&ns);
    assert_eq!(running.len(), 1, "{running:?}");
    assert_eq!(running[0].state, DaemonState::Backup);
    assert!(!ns.ip(&["-o", "addr", "show", "sync0"]).contains("10.9.0.100"));
}
