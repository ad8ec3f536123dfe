//! Starting as Piranha's daemons do: leaving the terminal, the pid file, the
//! signals, and the single-threaded runtime they run on. Opt-in parts for
//! programs: a daemon embedded in another program uses none of them.

use std::path::Path;

use crate::log::Log;

/// Why a daemon could not start as a process.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProcessError {
    /// `daemon(3)` failed.
    #[error("cannot become a daemon: {0}")]
    Detach(#[source] std::io::Error),
    /// The runtime could not be built.
    #[error("cannot start: {0}")]
    Runtime(#[source] std::io::Error),
}

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
    /// Piranha's flags: `-n`/`--nodaemon` wins over `--nofork`.
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
pub fn detach(how: Detach, pidfile: Option<&Path>, log: &Log) -> Result<(), ProcessError> {
    match how {
        Detach::Foreground => return Ok(()),
        // SAFETY: setsid has no preconditions; failing (already a leader) is harmless.
        Detach::NoFork => unsafe {
            libc::setsid();
        },
        Detach::Fork => {
            // SAFETY: the caller guarantees no other thread exists, so forking is sound.
            if unsafe { libc::daemon(0, 0) } < 0 {
                return Err(ProcessError::Detach(std::io::Error::last_os_error()));
            }
        }
    }
    if let Some(pidfile) = pidfile {
        if let Err(e) = std::fs::write(pidfile, format!("{}\n", std::process::id())) {
            log.error(&format!("cannot write {}: {e}", pidfile.display()));
        }
    }
    Ok(())
}

/// Detaches as `how` says (see [`detach`]), then builds the runtime the
/// daemon runs on. Must be called before any thread is started.
pub fn start(
    how: Detach,
    pidfile: Option<&Path>,
    log: &Log,
) -> Result<tokio::runtime::Runtime, ProcessError> {
    detach(how, pidfile, log)?;
    runtime()
}

/// The signals every daemon acts on: SIGTERM and SIGINT stop it, SIGHUP
/// reloads. Made before anything else runs, so that a signal during
/// start-up does not kill the daemon.
pub struct Signals {
    /// SIGTERM.
    pub term: tokio::signal::unix::Signal,
    /// SIGINT.
    pub int: tokio::signal::unix::Signal,
    /// SIGHUP.
    pub hup: tokio::signal::unix::Signal,
    /// SIGUSR1 and SIGUSR2, for the daemons that act on them (nanny) or
    /// must not die of them (pulse).
    pub user: Option<(tokio::signal::unix::Signal, tokio::signal::unix::Signal)>,
}

impl Signals {
    /// SIGTERM, SIGINT and SIGHUP. Must be called inside the runtime.
    pub fn new() -> std::io::Result<Signals> {
        use tokio::signal::unix::{signal, SignalKind};
        Ok(Signals {
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
            hup: signal(SignalKind::hangup())?,
            user: None,
        })
    }

    /// [`Signals::new`], and SIGUSR1 and SIGUSR2.
    pub fn with_user() -> std::io::Result<Signals> {
        use tokio::signal::unix::{signal, SignalKind};
        let mut signals = Signals::new()?;
        signals.user = Some((
            signal(SignalKind::user_defined1())?,
            signal(SignalKind::user_defined2())?,
        ));
        Ok(signals)
    }
}

/// The daemons' runtime: one thread, with IO and timers.
pub fn runtime() -> Result<tokio::runtime::Runtime, ProcessError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(ProcessError::Runtime)
}

/// What one of the daemons' signals asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DaemonSignal {
    /// SIGTERM or SIGINT, by number.
    Stop(i32),
    /// SIGHUP.
    Reload,
    /// SIGUSR1 (only with [`Signals::with_user`]).
    User1,
    /// SIGUSR2 (only with [`Signals::with_user`]).
    User2,
}

impl Signals {
    /// The next signal.
    pub async fn next(&mut self) -> DaemonSignal {
        let user = async {
            match self.user.as_mut() {
                Some((usr1, usr2)) => tokio::select! {
                    _ = usr1.recv() => DaemonSignal::User1,
                    _ = usr2.recv() => DaemonSignal::User2,
                },
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = self.term.recv() => DaemonSignal::Stop(libc::SIGTERM),
            _ = self.int.recv() => DaemonSignal::Stop(libc::SIGINT),
            _ = self.hup.recv() => DaemonSignal::Reload,
            signal = user => signal,
        }
    }
}
