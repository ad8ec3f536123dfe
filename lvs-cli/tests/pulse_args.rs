//! pulse's command line and start-up refusals: Piranha's options, and the
//! errors that come before any heartbeat (no root or namespace needed).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)] // a test: a failure is the report

use std::process::{Command, Output};

use testkit::TempDir;

const PULSE: &str = env!("CARGO_BIN_EXE_pulse");

fn pulse(args: &[&str]) -> Output {
    Command::new(PULSE).args(args).output().expect("run pulse")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A file for a pair of routers at documentation addresses.
const ELSEWHERE: &str =
    "primary = 192.0.2.1\nbackup_active = 1\nbackup = 192.0.2.2\nkeepalive = 1\ndeadtime = 3\n\
                         virtual web {\n  active = 1\n  address = 192.0.2.100 eth0:1\n  port = 80\n}\n";

#[test]
fn help_names_piranhas_options() {
    let out = pulse(&["--help"]);
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for option in [
        "--configfile",
        "--nodaemon",
        "--test-start",
        "--norun",
        "--verbose",
        "--forceactive",
        "--lvsd",
        "--lvs",
        "--fos",
    ] {
        assert!(help.contains(option), "--help lacks {option}:\n{help}");
    }
    let out = pulse(&["-?"]);
    assert!(out.status.success(), "-? is popt's help");
    assert!(pulse(&["--version"]).status.success());
}

#[test]
fn operands_and_fos_are_refused() {
    let out = pulse(&["extra"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stderr(&out), "pulse: unexpected arguments\n");
    let out = pulse(&["--fos=/usr/sbin/fos"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out),
        "pulse: --fos (failover services) is not supported by lvs-rs\n"
    );
}

#[test]
fn configuration_errors_name_the_file_and_line() {
    let dir = TempDir::new("pulse-args");
    let missing = dir.path().join("nope.cf");
    let out = pulse(&["-n", "-c", missing.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("nope.cf"), "{}", stderr(&out));

    let bad = dir.file("bad.cf", "primary = 192.0.2.1\nkeepalive = soon\n");
    let out = pulse(&["-n", "-c", bad.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(1));
    let text = stderr(&out);
    assert!(
        text.starts_with("pulse: error parsing ") && text.contains("bad.cf at line 2"),
        "{text}"
    );

    let none = dir.file(
        "none.cf",
        "primary = 192.0.2.1\nvirtual web {\n  active = 0\n  address = 192.0.2.100 eth0:1\n}\n",
    );
    let out = pulse(&["-n", "-c", none.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(1));
    let text = stderr(&out);
    assert!(
        text.contains("none.cf") && text.contains("no active virtual services"),
        "{text}"
    );

    let key = dir.file("short.key", "tiny\n");
    let keyed = dir.file(
        "keyed.cf",
        &format!("heartbeat_key = {}\n{ELSEWHERE}", key.display()),
    );
    let out = pulse(&["-n", "-c", keyed.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("short.key is too short (4 bytes; at least 16)"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_host_with_neither_router_address_is_refused() {
    // In an empty namespace: no host's addresses can get in the way.
    if !testkit::require_root("a_host_with_neither_router_address_is_refused") {
        return;
    }
    let ns = testkit::Netns::new("pulse-bind");
    let dir = TempDir::new("pulse-bind");
    let config = dir.file("lvs.cf", ELSEWHERE);
    let out = ns.exec(PULSE, &["-n", "-c", config.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out),
        "pulse: this host holds neither the primary address 192.0.2.1 nor the backup address 192.0.2.2: \
         it is not one of the routers\n"
    );
}

#[test]
fn a_taken_heartbeat_port_is_named_and_root_is_not_doubted() {
    if !testkit::require_root("a_taken_heartbeat_port_is_named_and_root_is_not_doubted") {
        return;
    }
    let ns = testkit::Netns::new("pulse-port");
    // The primary's address, on the namespace's loopback.
    ns.ip(&["addr", "add", "192.0.2.1/32", "dev", "lo"]);
    ns.ip(&["link", "set", "lo", "up"]);
    let dir = TempDir::new("pulse-port");
    let config = dir.file("lvs.cf", ELSEWHERE);
    let out = ns.run(|| {
        let _taken = std::net::UdpSocket::bind("192.0.2.1:539").expect("take the heartbeat port");
        Command::new(PULSE)
            .args(["-n", "-c", config.to_str().expect("utf-8")])
            .output()
            .expect("run pulse")
    });
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out),
        "pulse: cannot create heartbeat socket on 192.0.2.1:539: Address already in use (os error 98)\n"
    );
}

#[test]
fn a_service_manager_hears_when_pulse_is_ready_and_when_it_activates() {
    if !testkit::require_root("a_service_manager_hears_when_pulse_is_ready_and_when_it_activates") {
        return;
    }
    let ns = testkit::Netns::new("pulse-notify");
    ns.ip(&["addr", "add", "192.0.2.1/32", "dev", "lo"]);
    ns.ip(&["link", "set", "lo", "up"]);
    let dir = TempDir::new("pulse-notify");
    // The backup never answers: after deadtime the primary activates.
    let config = dir.file("lvs.cf", &ELSEWHERE.replace("deadtime = 3", "deadtime = 1"));
    let notify = dir.path().join("notify");
    let socket = std::os::unix::net::UnixDatagram::bind(&notify).expect("notify socket");
    socket
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .expect("timeout");
    let mut pulse = ns.run(|| {
        Command::new(PULSE)
            .args(["--nofork", "-t", "-c"])
            .arg(&config)
            .arg("--pidfile")
            .arg(dir.path().join("pulse.pid"))
            .env("NOTIFY_SOCKET", &notify)
            .env("WATCHDOG_USEC", "300000")
            .spawn()
            .expect("start pulse")
    });
    let mut seen = Vec::new();
    let mut buffer = [0u8; 4096];
    let mut until = |wanted: &str| loop {
        let len = socket
            .recv(&mut buffer)
            .unwrap_or_else(|e| panic!("no {wanted:?} (after {seen:?}): {e}"));
        let message = String::from_utf8_lossy(&buffer[..len]).into_owned();
        seen.push(message.clone());
        if message.contains(wanted) {
            return message;
        }
    };
    let ready = until("READY=1");
    assert!(
        ready.contains("STATUS=primary router, inactive: standing by (test start: nothing is changed)"),
        "{ready:?}"
    );
    until("STATUS=primary router, active: this router holds the virtual IPs");
    until("WATCHDOG=1");
    // SAFETY: kill(2) on our own child.
    unsafe { libc::kill(pulse.id() as i32, libc::SIGTERM) };
    until("STOPPING=1");
    assert!(pulse.wait().expect("pulse exits").success());
}
