//! Log lines with a severity, to one destination at a time: syslog
//! (facility daemon, the program's name as ident) for a daemon that left the
//! terminal; standard output in the foreground (`-n`, as Piranha's daemons
//! wrote, and where lvsd reads a nanny's `[ active ]` lines), with nothing
//! to syslog, so a service manager's journal gets each line once; standard
//! error for a program that embeds a daemon. The words are Piranha's where
//! Piranha had them.
//!
//! Under systemd, when the stream is the journal's (the `JOURNAL_STREAM`
//! variable names it), each line starts with the `<N>` prefix the journal
//! reads as the line's priority (sd-daemon(3)), so that `journalctl -p err`
//! finds the errors; elsewhere lines are plain.

use std::ffi::CStr;

/// How much a line matters, as syslog and the journal rank it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Severity {
    /// Something failed: a table change, a file, a socket (`err`).
    Error,
    /// Something is wrong or may go wrong, and is handled (`warning`).
    Warning,
    /// A change of state: a router activating, a server in or out, a
    /// reload (`notice`).
    Notice,
    /// What the daemon is doing, in passing (`info`).
    Info,
    /// Check results and details, written only when verbose (`debug`).
    Debug,
}

impl Severity {
    /// syslog's level (`LOG_ERR`...), which is also the journal's priority.
    pub fn syslog_level(self) -> libc::c_int {
        match self {
            Severity::Error => libc::LOG_ERR,
            Severity::Warning => libc::LOG_WARNING,
            Severity::Notice => libc::LOG_NOTICE,
            Severity::Info => libc::LOG_INFO,
            Severity::Debug => libc::LOG_DEBUG,
        }
    }
}

/// Where a daemon's log lines go. Copies share the one syslog connection.
#[derive(Clone, Debug)]
pub struct Log {
    destination: Destination,
    verbose: bool,
}

#[derive(Clone, Copy, Debug)]
enum Destination {
    Syslog,
    /// A console stream, each line after `prefix` (pulse writes `pulse:
    /// message`; nanny the bare message), with the journal's priority
    /// prefix when `journal`.
    Console {
        stream: Stream,
        prefix: &'static str,
        journal: bool,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stream {
    Stdout,
    Stderr,
}

impl Stream {
    fn fd(self) -> libc::c_int {
        match self {
            Stream::Stdout => 1,
            Stream::Stderr => 2,
        }
    }
}

impl Log {
    /// The log of a daemon called `ident`: in the `foreground`, standard
    /// output only (lines after `prefix`); otherwise syslog only, opened
    /// with `ident`. `verbose` turns on the debug lines.
    pub fn open(ident: &'static CStr, foreground: bool, prefix: &'static str, verbose: bool) -> Log {
        if foreground {
            return Log::console(Stream::Stdout, prefix, verbose);
        }
        // SAFETY: the ident is a static C string that outlives every syslog call.
        unsafe { libc::openlog(ident.as_ptr(), libc::LOG_PID, libc::LOG_DAEMON) };
        Log {
            destination: Destination::Syslog,
            verbose,
        }
    }

    /// Lines to standard error only, after `prefix`: no syslog.
    pub fn stderr(prefix: &'static str, verbose: bool) -> Log {
        Log::console(Stream::Stderr, prefix, verbose)
    }

    fn console(stream: Stream, prefix: &'static str, verbose: bool) -> Log {
        Log {
            destination: Destination::Console {
                stream,
                prefix,
                journal: is_the_journal(stream.fd()),
            },
            verbose,
        }
    }

    /// Writes one line of `severity` (a debug line only when verbose).
    pub fn write(&self, severity: Severity, message: &str) {
        use std::io::Write;
        if severity == Severity::Debug && !self.verbose {
            return;
        }
        match self.destination {
            Destination::Console {
                stream,
                prefix,
                journal,
            } => {
                let line = if journal {
                    format!("<{}>{prefix}{message}\n", severity.syslog_level())
                } else {
                    format!("{prefix}{message}\n")
                };
                // A closed stream (a daemon's) must not stop the program.
                // Each line is flushed: lvsd reads a nanny's as they come.
                let _ = match stream {
                    Stream::Stdout => {
                        let mut out = std::io::stdout().lock();
                        out.write_all(line.as_bytes()).and_then(|()| out.flush())
                    }
                    Stream::Stderr => std::io::stderr().lock().write_all(line.as_bytes()),
                };
            }
            Destination::Syslog => {
                if let Ok(text) = std::ffi::CString::new(message) {
                    // SAFETY: a constant "%s" format with one C string argument.
                    unsafe { libc::syslog(severity.syslog_level(), c"%s".as_ptr(), text.as_ptr()) };
                }
            }
        }
    }

    /// An `err` line.
    pub fn error(&self, message: &str) {
        self.write(Severity::Error, message);
    }

    /// A `warning` line.
    pub fn warning(&self, message: &str) {
        self.write(Severity::Warning, message);
    }

    /// A `notice` line: a change of state.
    pub fn notice(&self, message: &str) {
        self.write(Severity::Notice, message);
    }

    /// An `info` line.
    pub fn info(&self, message: &str) {
        self.write(Severity::Info, message);
    }

    /// A `debug` line, `DEBUG -- ` first as Piranha wrote them, when verbose.
    pub fn debug(&self, message: &str) {
        if self.verbose {
            self.write(Severity::Debug, &format!("DEBUG -- {message}"));
        }
    }

    /// Whether debug lines are written.
    pub fn verbose(&self) -> bool {
        self.verbose
    }
}

/// Whether `fd` is the stream systemd connected to the journal:
/// `JOURNAL_STREAM` holds its `device:inode` (systemd.exec(5)).
fn is_the_journal(fd: libc::c_int) -> bool {
    let Some(stream) = std::env::var_os("JOURNAL_STREAM") else {
        return false;
    };
    let Some((device, inode)) = stream.to_str().and_then(|s| s.split_once(':')) else {
        return false;
    };
    let (Ok(device), Ok(inode)) = (device.parse::<u64>(), inode.parse::<u64>()) else {
        return false;
    };
    // SAFETY: fstat on a descriptor into a zeroed struct it fills.
    let mut stat: libc::stat = unsafe { std::mem::zeroed() };
    if unsafe { libc::fstat(fd, &mut stat) } != 0 {
        return false;
    }
    stat.st_dev == device && stat.st_ino == inode
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severities_are_syslogs_levels_in_order() {
        let levels: Vec<libc::c_int> = [
            Severity::Error,
            Severity::Warning,
            Severity::Notice,
            Severity::Info,
            Severity::Debug,
        ]
        .iter()
        .map(|s| s.syslog_level())
        .collect();
        assert_eq!(levels, [3, 4, 5, 6, 7]);
    }
}
