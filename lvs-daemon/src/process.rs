//! Starting as Piranha's daemons do: leaving the terminal, the pid file, the
//! signals, and the single-threaded runtime they run on. Opt-in parts for
//! programs: a daemon embedded in another program uses none of them.

use std::path::{Path, PathBuf};

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
    /// Another process holds the pid file's lock: the daemon runs already.
    #[error("already running ({} is locked{})", path.display(), pid.map(|pid| format!(" by pid {pid}")).unwrap_or_default())]
    AlreadyRunning {
        /// The pid file.
        path: PathBuf,
        /// The process id it holds, when it could be read.
        pid: Option<u32>,
    },
}

/// How a daemon leaves the terminal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Detach {
    /// `-n`/`--nodaemon`: stays in the foreground.
    Foreground,
    /// `--nofork`: a session of its own, same process (what pulse runs lvsd
    /// with, and what the systemd units run).
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

/// A daemon's pid file, locked (`flock`) for as long as the daemon runs, so
/// that a second daemon of the same file refuses to start instead of
/// fighting the first over the kernel's table.
#[derive(Debug)]
pub struct PidFile {
    path: PathBuf,
    file: std::fs::File,
}

impl PidFile {
    /// Opens `path` (made when missing, mode 0644) and takes its lock
    /// without waiting. A lock another process holds is
    /// [`ProcessError::AlreadyRunning`]; the file is written later, by
    /// [`PidFile::record`], once the process is the one that stays.
    pub fn lock(path: &Path) -> Result<PidFile, LockError> {
        use std::os::unix::fs::OpenOptionsExt;
        use std::os::unix::io::AsRawFd;
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o644)
            .open(path)
            .map_err(LockError::Open)?;
        // SAFETY: flock on a descriptor this function owns.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
            let error = std::io::Error::last_os_error();
            if error.raw_os_error() == Some(libc::EWOULDBLOCK) {
                let pid = std::fs::read_to_string(path)
                    .ok()
                    .and_then(|text| text.trim().parse().ok());
                return Err(LockError::Held(ProcessError::AlreadyRunning {
                    path: path.to_owned(),
                    pid,
                }));
            }
            return Err(LockError::Open(error));
        }
        Ok(PidFile {
            path: path.to_owned(),
            file,
        })
    }

    /// Writes this process's id in place of what the file held.
    pub fn record(&mut self) -> std::io::Result<()> {
        use std::io::Write;
        self.file.set_len(0)?;
        self.file
            .write_all(format!("{}\n", std::process::id()).as_bytes())?;
        self.file.flush()
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Removes the file; the lock goes with the handle.
    pub fn remove(self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Why [`PidFile::lock`] did not lock.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LockError {
    /// Another daemon holds it: this one must not start.
    #[error(transparent)]
    Held(ProcessError),
    /// The file could not be opened or locked (a missing directory, say):
    /// worth a line in the log, not a reason to stay down.
    #[error("{0}")]
    Open(#[source] std::io::Error),
}

/// Leaves the terminal as `how` says and, when not in the foreground, locks
/// and writes `pidfile`. Another daemon holding its lock is an error, found
/// before leaving the terminal so that whoever started this one sees it; a
/// pid file that cannot be written is logged, not fatal. Must be called
/// before any thread is started; the pid file stays locked while the
/// returned value lives.
pub fn detach(how: Detach, pidfile: Option<&Path>, log: &Log) -> Result<Option<PidFile>, ProcessError> {
    let mut locked = match (how, pidfile) {
        (Detach::Foreground, _) | (_, None) => None,
        (_, Some(path)) => match PidFile::lock(path) {
            Ok(locked) => Some(locked),
            Err(LockError::Held(running)) => return Err(running),
            Err(LockError::Open(e)) => {
                log.error(&format!("cannot write {}: {e}", path.display()));
                None
            }
        },
    };
    match how {
        Detach::Foreground => return Ok(None),
        // SAFETY: setsid has no preconditions; failing (already a leader) is harmless.
        Detach::NoFork => unsafe {
            libc::setsid();
        },
        Detach::Fork => {
            // The lock belongs to the open file, which the child inherits:
            // it stays held when the parent exits.
            // SAFETY: the caller guarantees no other thread exists, so forking is sound.
            if unsafe { libc::daemon(0, 0) } < 0 {
                return Err(ProcessError::Detach(std::io::Error::last_os_error()));
            }
        }
    }
    if let Some(file) = locked.as_mut() {
        if let Err(e) = file.record() {
            log.error(&format!("cannot write {}: {e}", file.path().display()));
        }
    }
    Ok(locked)
}

/// Detaches as `how` says (see [`detach`]), then builds the runtime the
/// daemon runs on. Must be called before any thread is started.
pub fn start(
    how: Detach,
    pidfile: Option<&Path>,
    log: &Log,
) -> Result<(tokio::runtime::Runtime, Option<PidFile>), ProcessError> {
    let pidfile = detach(how, pidfile, log)?;
    Ok((runtime()?, pidfile))
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
