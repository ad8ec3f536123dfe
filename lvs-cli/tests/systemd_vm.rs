//! The Debian package on a real Debian system booted with systemd as init:
//! installed with apt, pulse and lvsd started, reloaded and stopped with
//! systemctl, then removed and purged.
//!
//! `cargo xtask test` builds the package (`cargo xtask package`), prepares a
//! Debian root with debootstrap and the lab kernel's modules, and runs this
//! test with `LVS_SYSTEMD_TESTS=1`, `LVS_DEB` (the package), `LVS_SYSTEMD_ROOT`
//! (the root), `LVS_KERNEL` and `LVS_INITRD`. The test copies the root, adds
//! the package, the lvs.cf files and a guest script run by a unit at boot,
//! makes an ext4 disk of it and boots it in QEMU (TCG). The guest writes what
//! it sees to its second serial port, section by section; the assertions are
//! made here.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)] // a test: a failure is the report

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The routers' file the operator writes in place of the shipped one: one
/// router (no backup), a NAT-less service of two local nginx servers.
const LVS_CF: &str = "serial_no = 1
primary = 192.168.77.1
service = lvs
backup_active = 0
heartbeat = 1
heartbeat_port = 539
keepalive = 1
deadtime = 2
network = direct

virtual web {
     active = 1
     address = 192.168.77.100 lan0:1
     vip_nmask = 255.255.255.255
     port = 80
     protocol = tcp
     scheduler = wlc
     timeout = 2
     reentry = 2
     server a {
         address = 192.168.77.10
         active = 1
         weight = 1
     }
     server b {
         address = 192.168.77.11
         active = 1
         weight = 1
     }
}
";

/// What the guest does, each observation under an `@@ NAME` line.
const GUEST_SCRIPT: &str = r#"#!/bin/bash
set -u
section() { echo "@@ $1"; }
run() { "$@" 2>&1; echo "rc=$?"; }
# Polls a condition for up to $1 seconds.
wait_for() {
    local limit=$(( $1 * 5 )); shift
    for _ in $(seq "$limit"); do
        if "$@" > /dev/null 2>&1; then return 0; fi
        sleep 0.2
    done
    return 1
}
# The lab's lvs.cf with a third server, c, in its virtual service.
with_server_c() {
    sed 's/^}$/     server c {\n         address = 192.168.77.12\n         active = 1\n         weight = 1\n     }\n}/' /lab/lvs.cf > /etc/sysconfig/ha/lvs.cf
}
table() { ipvsadm -Ln; }
has() { ipvsadm -Ln | grep -q -- "$1"; }
vip() { ip -o addr show dev lan0 | grep -q 192.168.77.100/32; }
state() { systemctl show -p ActiveState -p SubState -p StatusText -p Type -p NotifyAccess -p WatchdogUSec "$1"; }

section network
ip link add lan0 type dummy
ip link set lan0 up
for a in 1 10 11 12; do ip addr add 192.168.77.$a/24 dev lan0; done
systemctl is-active nginx

section install
run apt-get install -y /lab/lvs-rs.deb
section installed-files
dpkg -L lvs-rs | sort
section verify
run systemd-analyze verify /usr/lib/systemd/system/lvsd.service /usr/lib/systemd/system/pulse.service /usr/lib/systemd/system/lvs-web.service
section enabled
systemctl is-enabled lvsd pulse lvs-web
section shipped-file
run lvsd --check

cp /lab/lvs.cf /etc/sysconfig/ha/lvs.cf
section lvsd-start
run systemctl start lvsd
wait_for 30 has 192.168.77.11:80
state lvsd
table

section lvsd-reload
with_server_c
run systemctl reload lvsd
wait_for 30 has 192.168.77.12:80
state lvsd
table

section lvsd-watchdog
systemctl show -p WatchdogTimestampMonotonic lvsd
sleep 17
systemctl show -p WatchdogTimestampMonotonic lvsd

section lvsd-journal
journalctl -b -u lvsd -o json --no-pager

section lvsd-stop
run systemctl stop lvsd
state lvsd
table

cp /lab/lvs.cf /etc/sysconfig/ha/lvs.cf
section pulse-start
run systemctl start pulse
wait_for 60 vip
wait_for 30 has 192.168.77.11:80
state pulse
ip -o addr show dev lan0
table
ps -eo comm= | sort

section pulse-reload
with_server_c
run systemctl reload pulse
wait_for 30 has 192.168.77.12:80
state pulse
table

section pulse-journal
journalctl -b -u pulse -o json --no-pager

section pulse-stop
run systemctl stop pulse
state pulse
ip -o addr show dev lan0
table
ps -eo comm= | sort

section remove
run apt-get remove -y lvs-rs
ls /etc/sysconfig/ha
ls /usr/sbin/lvsd /usr/lib/systemd/system/pulse.service 2>&1

section purge
run apt-get purge -y lvs-rs
dpkg-query -W -f '${db:Status-Status}\n' lvs-rs 2>&1
find /etc /usr/sbin /usr/lib/systemd /usr/lib/tmpfiles.d /usr/share/doc /usr/share/man /usr/share/bash-completion /usr/share/zsh /usr/share/fish /var/lib/systemd \( -name 'lvs*' -o -name 'pulse*' -o -name 'nanny*' -o -name 'send_arp*' -o -name 'ipvsadm-rs*' \) -print 2>/dev/null
echo "(found)"
ls /etc/sysconfig 2>&1

section end
"#;

/// The unit that runs the guest script once the system is up, and powers
/// the machine off after it.
const RUNNER_UNIT: &str = "[Unit]
Description=lvs-rs package test
After=multi-user.target nginx.service

[Service]
Type=oneshot
ExecStart=/bin/bash /lab/run.sh
StandardOutput=file:/dev/ttyS1
StandardError=inherit
ExecStopPost=/usr/bin/systemctl poweroff --no-block

[Install]
WantedBy=multi-user.target
";

/// Each section's lines, by name.
fn sections(transcript: &str) -> BTreeMap<String, String> {
    let mut sections = BTreeMap::new();
    let mut name = String::from("(before)");
    let mut body = String::new();
    for line in transcript.lines() {
        if let Some(next) = line.strip_prefix("@@ ") {
            sections.insert(
                std::mem::replace(&mut name, next.trim().to_owned()),
                std::mem::take(&mut body),
            );
        } else {
            body.push_str(line);
            body.push('\n');
        }
    }
    sections.insert(name, body);
    sections
}

/// The journal's records (`journalctl -o json`) in a section.
fn journal(section: &str) -> Vec<serde_json::Value> {
    section
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .collect()
}

/// The records whose message contains `text`, as (priority, identifier).
fn logged(records: &[serde_json::Value], text: &str) -> Vec<(String, String)> {
    let field = |record: &serde_json::Value, name: &str| {
        record
            .get(name)
            .and_then(|value| value.as_str())
            .unwrap_or_default()
            .to_owned()
    };
    records
        .iter()
        .filter(|record| field(record, "MESSAGE").contains(text))
        .map(|record| (field(record, "PRIORITY"), field(record, "SYSLOG_IDENTIFIER")))
        .collect()
}

/// For each record whose message contains `text`: its `LVS_*` fields and
/// its transport, in that order.
fn fields_of(records: &[serde_json::Value], text: &str) -> Vec<Vec<(&'static str, String)>> {
    records
        .iter()
        .filter(|record| {
            record
                .get("MESSAGE")
                .and_then(|m| m.as_str())
                .is_some_and(|m| m.contains(text))
        })
        .map(|record| {
            [
                "LVS_EVENT",
                "LVS_SERVICE",
                "LVS_SERVER",
                "LVS_ADDRESS",
                "_TRANSPORT",
            ]
            .into_iter()
            .filter_map(|name| Some((name, record.get(name)?.as_str()?.to_owned())))
            .collect()
        })
        .collect()
}

fn env_path(name: &str) -> Option<PathBuf> {
    std::env::var_os(name).map(PathBuf::from)
}

fn sh(command: &mut Command) {
    let status = command.status().expect("runs");
    assert!(status.success(), "{command:?} failed: {status}");
}

/// Boots the prepared system with the package and returns the guest's
/// transcript.
fn boot(root: &Path, deb: &Path, kernel: &Path, initrd: &Path) -> String {
    let work = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("systemd-vm");
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).expect("work directory");
    let guest = work.join("root");
    sh(Command::new("cp").arg("-a").arg(root).arg(&guest));
    let lab = guest.join("lab");
    std::fs::create_dir_all(&lab).expect("lab directory");
    std::fs::copy(deb, lab.join("lvs-rs.deb")).expect("package copied");
    std::fs::write(lab.join("lvs.cf"), LVS_CF).expect("lvs.cf");
    std::fs::write(lab.join("run.sh"), GUEST_SCRIPT).expect("guest script");
    let units = guest.join("etc/systemd/system");
    std::fs::write(units.join("lvs-package-test.service"), RUNNER_UNIT).expect("unit");
    let wants = units.join("multi-user.target.wants");
    std::fs::create_dir_all(&wants).expect("wants");
    std::os::unix::fs::symlink(
        "/etc/systemd/system/lvs-package-test.service",
        wants.join("lvs-package-test.service"),
    )
    .expect("enabled");
    let disk = work.join("disk.img");
    sh(Command::new("mkfs.ext4")
        .args(["-q", "-L", "root", "-d"])
        .arg(&guest)
        .arg(&disk)
        .arg("4G"));
    let _ = std::fs::remove_dir_all(&guest);
    let console = work.join("console.log");
    let results = work.join("results.log");
    let started = std::time::Instant::now();
    let status = Command::new("timeout")
        // About 3 minutes alone; far longer beside a busy host (seen: 16).
        .arg("2400")
        .arg("qemu-system-x86_64")
        .args(["-accel", "tcg", "-m", "1536", "-smp", "2", "-kernel"])
        .arg(kernel)
        .arg("-initrd")
        .arg(initrd)
        .args(["-append", "root=/dev/vda rw console=ttyS0 quiet"])
        .arg("-drive")
        .arg(format!("file={},format=raw,if=virtio", disk.display()))
        .arg("-serial")
        .arg(format!("file:{}", console.display()))
        .arg("-serial")
        .arg(format!("file:{}", results.display()))
        .args(["-display", "none", "-no-reboot", "-nic", "none"])
        .status()
        .expect("qemu runs");
    println!(
        "the guest ran for {:.0} s ({status})",
        started.elapsed().as_secs_f64()
    );
    let transcript = std::fs::read_to_string(&results).unwrap_or_default();
    if !transcript.contains("@@ end") {
        let console = std::fs::read_to_string(&console).unwrap_or_default();
        let tail: Vec<&str> = console.lines().rev().take(40).collect();
        panic!(
            "the guest did not finish ({status}); its transcript:\n{transcript}\nthe console's last lines:\n{}",
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        );
    }
    let _ = std::fs::remove_file(&disk);
    transcript
}

#[test]
fn the_package_installs_runs_reloads_stops_and_purges_under_systemd() {
    let (Some("1"), Some(deb), Some(root), Some(kernel), Some(initrd)) = (
        std::env::var("LVS_SYSTEMD_TESTS").ok().as_deref(),
        env_path("LVS_DEB"),
        env_path("LVS_SYSTEMD_ROOT"),
        env_path("LVS_KERNEL"),
        env_path("LVS_INITRD"),
    ) else {
        eprintln!(
            "skipped: needs LVS_SYSTEMD_TESTS=1 and the package, Debian root, kernel and initrd \
             cargo xtask test prepares (LVS_DEB, LVS_SYSTEMD_ROOT, LVS_KERNEL, LVS_INITRD)"
        );
        return;
    };
    let transcript = boot(&root, &deb, &kernel, &initrd);
    println!("{transcript}");
    let s = sections(&transcript);
    let section = |name: &str| s.get(name).map(String::as_str).unwrap_or_default();

    assert!(
        section("network").contains("active"),
        "nginx serves: {}",
        section("network")
    );
    assert!(section("install").ends_with("rc=0\n"), "apt installs the package");
    for path in [
        "/usr/sbin/lvsd",
        "/usr/sbin/pulse",
        "/usr/sbin/nanny",
        "/usr/sbin/lvs-web",
        "/usr/lib/systemd/system/pulse.service",
        "/usr/share/man/man8/lvsd.8.gz",
        "/usr/share/man/man5/lvs.cf.5.gz",
        "/usr/share/bash-completion/completions/lvsd",
        "/etc/sysconfig/ha/lvs.cf",
    ] {
        assert!(
            section("installed-files").lines().any(|line| line == path),
            "the package installs {path}"
        );
    }
    assert!(
        !section("installed-files")
            .lines()
            .any(|line| line == "/usr/sbin/lvs"),
        "no lvs beside LVM2's"
    );
    assert_eq!(
        section("verify").trim(),
        "rc=0",
        "systemd-analyze verify is clean"
    );
    assert_eq!(
        section("enabled").split_whitespace().collect::<Vec<_>>(),
        ["disabled", "disabled", "disabled"],
        "nothing starts before lvs.cf is edited"
    );
    assert!(
        section("shipped-file").contains("no active virtual services")
            && section("shipped-file").ends_with("rc=1\n"),
        "the shipped lvs.cf says what to do: {}",
        section("shipped-file")
    );

    // lvsd alone: ready once the table is there, reloaded, watched, stopped.
    let start = section("lvsd-start");
    assert!(start.contains("rc=0"), "systemctl start lvsd: {start}");
    assert!(
        start.contains("ActiveState=active") && start.contains("SubState=running"),
        "{start}"
    );
    assert!(start.contains("Type=notify"), "{start}");
    assert!(
        start.contains("StatusText=1 virtual service, 2 real servers"),
        "{start}"
    );
    assert!(start.contains("192.168.77.100:80 wlc"), "the table: {start}");
    assert!(
        start.contains("192.168.77.10:80") && start.contains("192.168.77.11:80"),
        "{start}"
    );
    let reload = section("lvsd-reload");
    assert!(
        reload.contains("rc=0") && reload.contains("192.168.77.12:80"),
        "the reload changes the table: {reload}"
    );
    assert!(
        reload.contains("StatusText=1 virtual service, 3 real servers"),
        "{reload}"
    );
    let pings: Vec<&str> = section("lvsd-watchdog")
        .lines()
        .filter_map(|line| line.strip_prefix("WatchdogTimestampMonotonic="))
        .collect();
    assert_eq!(pings.len(), 2, "{}", section("lvsd-watchdog"));
    assert!(
        pings[0] != "0" && pings[0] != pings[1],
        "the watchdog is pinged: {pings:?}"
    );
    let records = journal(section("lvsd-journal"));
    assert_eq!(
        logged(&records, "SIGHUP received: re-reading the configuration"),
        [("6".to_owned(), "lvsd".to_owned())],
        "the reload is logged once, at info"
    );
    // The new server joins after its first check, not with the reload itself.
    assert_eq!(
        logged(&records, "configuration re-read: "),
        [("5".to_owned(), "lvsd".to_owned())],
        "its result once, at notice"
    );
    assert_eq!(
        logged(&records, "starting: 1 virtual services").len(),
        1,
        "one start line"
    );
    // The journal keeps what a line is about as fields, sent on its own socket.
    assert_eq!(
        fields_of(&records, "starting: 1 virtual services"),
        [vec![
            ("LVS_EVENT", "start".to_owned()),
            ("_TRANSPORT", "journal".to_owned())
        ]],
        "the start line's fields"
    );
    assert_eq!(
        fields_of(&records, "[ active ] making 192.168.77.11:80 available"),
        [vec![
            ("LVS_EVENT", "server-health".to_owned()),
            ("LVS_SERVICE", "web".to_owned()),
            ("LVS_SERVER", "b".to_owned()),
            ("LVS_ADDRESS", "192.168.77.11:80".to_owned()),
            ("_TRANSPORT", "journal".to_owned()),
        ]],
        "a server's line names its service, server and address"
    );
    let stop = section("lvsd-stop");
    assert!(
        stop.contains("rc=0") && stop.contains("ActiveState=inactive"),
        "{stop}"
    );
    assert!(
        !stop.contains("192.168.77.100:80"),
        "lvsd's service is gone: {stop}"
    );

    // pulse: the VIP and the table come up, a reload reaches lvsd, a stop undoes all.
    let start = section("pulse-start");
    assert!(
        start.contains("rc=0") && start.contains("SubState=running"),
        "{start}"
    );
    assert!(start.contains("StatusText=primary router, active"), "{start}");
    assert!(start.contains("192.168.77.100/32"), "the VIP: {start}");
    assert!(
        start.contains("192.168.77.100:80 wlc") && start.contains("192.168.77.11:80"),
        "{start}"
    );
    assert!(start.lines().any(|l| l == "lvsd"), "pulse runs lvsd: {start}");
    let reload = section("pulse-reload");
    assert!(
        reload.contains("rc=0") && reload.contains("192.168.77.12:80"),
        "{reload}"
    );
    let records = journal(section("pulse-journal"));
    assert_eq!(
        fields_of(&records, "STARTING PULSE AS MASTER"),
        [vec![
            ("LVS_EVENT", "start".to_owned()),
            ("_TRANSPORT", "journal".to_owned())
        ]],
        "pulse's start line"
    );
    assert_eq!(
        fields_of(&records, "partner dead: activating lvs"),
        [vec![
            ("LVS_EVENT", "activate".to_owned()),
            ("_TRANSPORT", "journal".to_owned())
        ]],
        "pulse's activation"
    );
    assert_eq!(
        logged(&records, "SIGHUP received: re-reading the configuration"),
        [
            ("6".to_owned(), "pulse".to_owned()),
            ("6".to_owned(), "lvsd".to_owned())
        ],
        "pulse and its lvsd each log the reload once"
    );
    assert_eq!(
        logged(&records, "configuration re-read: "),
        [("5".to_owned(), "lvsd".to_owned())],
        "lvsd's result once, at notice"
    );
    let stop = section("pulse-stop");
    assert!(
        stop.contains("rc=0") && stop.contains("ActiveState=inactive"),
        "{stop}"
    );
    assert!(
        !stop.contains("192.168.77.100"),
        "the VIP and the service are gone: {stop}"
    );
    assert!(
        !stop.lines().any(|l| l == "lvsd" || l == "pulse"),
        "no daemon is left: {stop}"
    );

    // Removal keeps the edited lvs.cf; purging takes the rest.
    let remove = section("remove");
    assert!(remove.contains("rc=0"), "{remove}");
    assert!(
        remove.lines().any(|l| l == "lvs.cf"),
        "the edited lvs.cf stays: {remove}"
    );
    assert!(remove.contains("'/usr/sbin/lvsd': No such file"), "{remove}");
    // dpkg purges a conffile even when it was edited.
    let purge = section("purge");
    assert!(purge.contains("rc=0"), "{purge}");
    let found: Vec<&str> = purge
        .lines()
        .skip_while(|line| {
            !line.contains("no packages found matching lvs-rs") && !line.starts_with("not-installed")
        })
        .skip(1)
        .take_while(|line| *line != "(found)")
        .filter(|line| !line.contains("lvs-package-test"))
        .collect();
    assert!(
        found.is_empty(),
        "the purge leaves nothing of the package: {found:?}"
    );
    assert!(purge.contains("/etc/sysconfig': No such file"), "{purge}");
}
