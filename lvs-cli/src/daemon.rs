//! Starting as Piranha's daemons do: leaving the terminal, the pid file, and
//! the single-threaded runtime they run on.

use std::path::Path;

use crate::log::Log;

/// How a daemon leaves the terminal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Detach {
    /// `-n`/`--nodaemon`: stays in the foreground.
    Foreground,
    /// `--nofork`: a session of its own, same process (what pulse runs lvsd with).
    NoFork,
    /// The default: a background process.
    Fork,
}

impl Detach {
    pub fn from_flags(nodaemon: bool, nofork: bool) -> Detach {
        match (nodaemon, nofork) {
            (true, _) => Detach::Foreground,
            (false, true) => Detach::NoFork,
            (false, false) => Detach::Fork,
        }
    }
}

/// Leaves the terminal as `how` says and, when not in the foreground, writes
/// `pidfile` (a failure there is logged, not fatal). Must be called before
/// any thread is started.
pub fn detach(how: Detach, pidfile: Option<&Path>, log: &Log) -> Result<(), String> {
    match how {
        Detach::Foreground => return Ok(()),
        // SAFETY: setsid has no preconditions; failing (already a leader) is harmless.
        Detach::NoFork => unsafe {
            libc::setsid();
        },
        Detach::Fork => {
            // SAFETY: the caller guarantees no other thread exists, so forking is sound.
            if unsafe { libc::daemon(0, 0) } < 0 {
                return Err(format!(
                    "cannot become a daemon: {}",
                    std::io::Error::last_os_error()
                ));
            }
        }
    }
    if let Some(pidfile) = pidfile {
        if let Err(e) = std::fs::write(pidfile, format!("{}\n", std::process::id())) {
            log.line(&format!("cannot write {}: {e}", pidfile.display()));
        }
    }
    Ok(())
}

/// Detaches as `how` says (see [`detach`]), then builds the runtime the
/// daemon runs on. Must be called before any thread is started.
pub fn start(how: Detach, pidfile: Option<&Path>, log: &Log) -> Result<tokio::runtime::Runtime, String> {
    detach(how, pidfile, log)?;
    runtime()
}

/// The signals every daemon acts on: SIGTERM and SIGINT stop it, SIGHUP
/// reloads. Made before anything else runs, so that a signal during
/// start-up does not kill the daemon.
pub struct Signals {
    pub term: tokio::signal::unix::Signal,
    pub int: tokio::signal::unix::Signal,
    pub hup: tokio::signal::unix::Signal,
}

impl Signals {
    /// Must be called inside the runtime.
    pub fn new() -> std::io::Result<Signals> {
        use tokio::signal::unix::{signal, SignalKind};
        Ok(Signals {
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
            hup: signal(SignalKind::hangup())?,
        })
    }
}

/// The daemons' runtime: one thread, with IO and timers.
pub fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start: {e}"))
}
