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

/// Reads a pid file and checks that the process exists.
pub fn daemon(pidfile: &Path) -> Daemon {
    let pid = std::fs::read_to_string(pidfile)
        .ok()
        .and_then(|text| text.trim().parse::<u32>().ok())
        .filter(|&pid| live_pid(u64::from(pid)));
    pid.map_or(Daemon::NotRunning, Daemon::Running)
}

/// Whether `pid` names one existing process (never 0, which kill(2) reads
/// as the caller's group, nor a number it would read as negative).
fn live_pid(pid: u64) -> bool {
    (1..=i32::MAX as u64).contains(&pid) && Path::new(&format!("/proc/{pid}")).exists()
}

/// The lvs daemon: from its pid file, or else from its status (a daemon
/// started with `-n` writes no pid file but answers on its socket).
pub fn lvs_daemon(pidfile: &Path, status: Option<&Status>) -> Daemon {
    match daemon(pidfile) {
        Daemon::NotRunning => status
            .map(|s| u64::from(s.pid))
            .filter(|&pid| live_pid(pid))
            .and_then(|pid| u32::try_from(pid).ok())
            .map_or(Daemon::NotRunning, Daemon::Running),
        running => running,
    }
}

/// Sends SIGHUP to a daemon; its pid when it was sent.
pub fn hangup(daemon: Daemon) -> Option<u32> {
    match daemon {
        // SAFETY: kill(2) with a pid read from the daemon's pid file.
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
        std::fs::write(&path, format!("{}\n", std::process::id())).expect("write");
        assert_eq!(daemon(&path), Daemon::Running(std::process::id()));
        std::fs::write(&path, "junk").expect("write");
        assert_eq!(daemon(&path), Daemon::NotRunning);
        let mine = processes();
        assert!(mine.iter().all(|(pid, _)| *pid > 0));
    }
}
