//! What the control and monitoring panel shows: whether pulse and lvs run,
//! whether this router holds the virtual IPs (is the active one), the lvs
//! daemon's table with health and counters (from its status socket), and
//! the LVS processes, as Piranha's panel listed them.

use std::net::IpAddr;
use std::path::Path;

use lvs_cf::Config;
use lvs_core::failover::Role as RouterRole;
use lvs_core::router::{router_of, vips};
use lvs_core::status::Status;
use lvs_daemon::director::system_resolver;

/// A daemon's process, from its pid file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Daemon {
    Running(u32),
    NotRunning,
}

/// The names pulse runs under.
pub const PULSE_NAMES: &[&str] = &["pulse"];
/// The names the lvs daemon runs under (pulse, when it runs the director
/// in its own process).
pub const LVS_NAMES: &[&str] = &["lvs", "lvsd", "pulse"];

/// Reads pulse's pid file and checks that the process is pulse.
pub fn daemon(pidfile: &Path) -> Daemon {
    daemon_named(pidfile, PULSE_NAMES)
}

/// Reads a pid file and checks that the process exists and runs one of
/// `names`: a stale pid file may name whatever process took the number.
fn daemon_named(pidfile: &Path, names: &[&str]) -> Daemon {
    let pid = std::fs::read_to_string(pidfile)
        .ok()
        .and_then(|text| text.trim().parse::<u32>().ok())
        .filter(|&pid| is_daemon(u64::from(pid), names));
    pid.map_or(Daemon::NotRunning, Daemon::Running)
}

/// Whether `pid` names one existing process (never 0, which kill(2) reads
/// as the caller's group, nor a number it would read as negative) whose
/// name, as the kernel keeps it in /proc, is one of `names`.
fn is_daemon(pid: u64, names: &[&str]) -> bool {
    (1..=i32::MAX as u64).contains(&pid)
        && std::fs::read_to_string(format!("/proc/{pid}/comm"))
            .is_ok_and(|comm| names.contains(&comm.trim_end_matches('\n')))
}

/// The lvs daemon: from its pid file, or else from its status (a daemon
/// started with `-n` writes no pid file but answers on its socket).
pub fn lvs_daemon(pidfile: &Path, status: Option<&Status>) -> Daemon {
    match daemon_named(pidfile, LVS_NAMES) {
        Daemon::NotRunning => status
            .map(|s| u64::from(s.pid))
            .filter(|&pid| is_daemon(pid, LVS_NAMES))
            .and_then(|pid| u32::try_from(pid).ok())
            .map_or(Daemon::NotRunning, Daemon::Running),
        running => running,
    }
}

/// Sends SIGHUP to a daemon found by [`daemon`] or [`lvs_daemon`] (so a
/// process checked to be one); its pid when it was sent.
pub fn hangup(daemon: Daemon) -> Option<u32> {
    match daemon {
        // SAFETY: kill(2) with a pid checked, just now, to be the daemon's.
        Daemon::Running(pid) if unsafe { libc::kill(pid as i32, libc::SIGHUP) } == 0 => Some(pid),
        _ => None,
    }
}

/// This router's part, from lvs.cf and the machine's addresses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Role {
    /// "primary", "backup", or `None` when neither address is local.
    pub router: Option<&'static str>,
    /// The active services' virtual IPs, and whether each is up here.
    pub vips: Vec<(IpAddr, bool)>,
}

impl Role {
    /// Active when every virtual IP is up on this machine.
    pub fn active(&self) -> bool {
        !self.vips.is_empty() && self.vips.iter().all(|(_, up)| *up)
    }
}

/// This router's part: the router pulse would run as, and the VIPs pulse
/// brings up, each marked up here or not (`lvs-core` decides both, for
/// pulse and for this page alike).
pub fn role(config: &Config, local: &[IpAddr]) -> Role {
    let router = router_of(config, local, &system_resolver).map(|role| match role {
        RouterRole::Master => "primary",
        RouterRole::Backup => "backup",
    });
    let vips = vips(config, &system_resolver)
        .unwrap_or_default()
        .into_iter()
        .map(|vip| (vip.ip, local.contains(&vip.ip)))
        .collect();
    Role { router, vips }
}

/// The machine's addresses (empty when rtnetlink cannot be read).
pub fn local_addresses() -> Vec<IpAddr> {
    lvs_arp::link::Rtnl::connect()
        .and_then(|mut rtnl| rtnl.addresses())
        .map(|all| all.into_iter().map(|a| a.ip).collect())
        .unwrap_or_default()
}

/// The lvs daemon's status (see `lvs --status --format json`).
pub fn lvs_status(socket: &Path) -> Result<Status, String> {
    lvs_daemon::status::fetch(socket).map_err(|e| e.to_string())
}

/// The LVS programs running on this machine: pid and command line.
pub fn processes() -> Vec<(u32, String)> {
    const NAMES: &[&str] = &[
        "pulse",
        "lvs",
        "lvsd",
        "nanny",
        "send_arp",
        "ipvsadm",
        "ipvsadm-rs",
    ];
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return found;
    };
    for entry in entries.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let argv: Vec<String> = cmdline
            .split(|&b| b == 0)
            .filter(|a| !a.is_empty())
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        let program = argv
            .first()
            .and_then(|a| Path::new(a).file_name())
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        if NAMES.contains(&program) {
            found.push((pid, argv.join(" ")));
        }
    }
    found.sort();
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_role_follows_the_local_addresses() {
        let config = lvs_cf::parse(
            "primary = 192.0.2.1\nbackup = 192.0.2.2\nbackup_active = 1\nservice = lvs\n\
             virtual web {\n active = 1\n address = 192.0.2.100 eth0:1\n port = 80\n}\n\
             virtual off {\n active = 0\n address = 192.0.2.101 eth0:2\n port = 80\n}\n",
        )
        .expect("valid")
        .config;
        let ip = |s: &str| s.parse::<IpAddr>().expect("literal");
        let backup = role(&config, &[ip("192.0.2.2")]);
        assert_eq!(backup.router, Some("backup"));
        assert!(!backup.active());
        assert_eq!(backup.vips, vec![(ip("192.0.2.100"), false)]);
        let active = role(&config, &[ip("192.0.2.1"), ip("192.0.2.100")]);
        assert_eq!(active.router, Some("primary"));
        assert!(active.active());
    }

    #[test]
    fn pid_files() {
        let dir = testkit::TempDir::new("web-pid");
        let path = dir.path().join("pulse.pid");
        assert_eq!(daemon(&path), Daemon::NotRunning);
        // A live process that is not pulse (this test) is never taken for it.
        std::fs::write(&path, format!("{}\n", std::process::id())).expect("write");
        assert_eq!(daemon(&path), Daemon::NotRunning);
        assert_eq!(hangup(daemon(&path)), None);
        // One that is, is.
        let dir_lvs = dir.path().join("pulse");
        std::fs::copy("/bin/sleep", &dir_lvs).expect("copy sleep");
        let mut child = std::process::Command::new(&dir_lvs)
            .arg("30")
            .spawn()
            .expect("spawn");
        std::fs::write(&path, format!("{}\n", child.id())).expect("write");
        assert_eq!(daemon(&path), Daemon::Running(child.id()));
        let _ = child.kill();
        let _ = child.wait();
        std::fs::write(&path, "junk").expect("write");
        assert_eq!(daemon(&path), Daemon::NotRunning);
        let mine = processes();
        assert!(mine.iter().all(|(pid, _)| *pid > 0));
    }
}
