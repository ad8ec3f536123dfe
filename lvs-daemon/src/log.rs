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
//! finds the errors; elsewhere lines are plain. [`PRIORITIES_VARIABLE`] asks
//! for the prefix too: the lvs daemon sets it for the nannies it reads, and
//! logs each of their lines at its own severity ([`split_priority`]).

/// Set to `1`, console lines carry the `<N>` priority prefix wherever they go.
pub const PRIORITIES_VARIABLE: &str = "LVS_LOG_PRIORITIES";

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

    /// The severity of syslog's `level`; `None` for a level it does not
    /// use (emergencies, alerts and critical lines count as errors).
    pub fn from_syslog_level(level: libc::c_int) -> Option<Severity> {
        match level {
            0..=3 => Some(Severity::Error),
            4 => Some(Severity::Warning),
            5 => Some(Severity::Notice),
            6 => Some(Severity::Info),
            7 => Some(Severity::Debug),
            _ => None,
        }
    }
}

/// A line as a console log with priorities writes it: its severity, if it
/// starts with a `<N>` prefix, and the rest.
pub fn split_priority(line: &str) -> (Option<Severity>, &str) {
    let parsed = line.strip_prefix('<').and_then(|rest| {
        let (level, text) = rest.split_once('>')?;
        Some((Severity::from_syslog_level(level.parse().ok()?)?, text))
    });
    match parsed {
        Some((severity, text)) => (Some(severity), text),
        None => (None, line),
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
                journal: is_the_journal(stream.fd())
                    || std::env::var_os(PRIORITIES_VARIABLE).is_some_and(|v| v == "1"),
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
                // Each line of a message is a line of the stream, with its prefix.
                let line: String = message
                    .lines()
                    .map(|part| match journal {
                        true => format!("<{}>{prefix}{part}\n", severity.syslog_level()),
                        false => format!("{prefix}{part}\n"),
                    })
                    .collect();
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

    #[test]
    fn a_prefixed_line_splits_into_its_severity_and_text() {
        assert_eq!(
            split_priority("<5>[ active ] making 10.0.0.1:80 available"),
            (Some(Severity::Notice), "[ active ] making 10.0.0.1:80 available")
        );
        assert_eq!(
            split_priority("<7>DEBUG -- up"),
            (Some(Severity::Debug), "DEBUG -- up")
        );
        assert_eq!(split_priority("<2>bad"), (Some(Severity::Error), "bad"));
        for plain in ["no prefix", "<9>not a level", "<x>text", "<5 unclosed"] {
            assert_eq!(split_priority(plain), (None, plain));
        }
    }
}
