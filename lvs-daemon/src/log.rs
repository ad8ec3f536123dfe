//! Log lines with a severity, to one destination at a time: the journal, or
//! else syslog (facility daemon, the program's name as ident), for a daemon
//! that left the terminal; standard output in the foreground (`-n`, as Piranha's daemons
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
//!
//! A daemon that systemd started (its output is the stream `JOURNAL_STREAM`
//! names) and that leaves the terminal writes to the journal's own socket instead of syslog, so
//! that a line keeps its [`Fields`] (`journalctl LVS_SERVER=rs1`) beside its
//! priority and identifier; a line the journal refuses goes to syslog.

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

/// What happened, as a line's `LVS_EVENT` field names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum LogEvent {
    /// A daemon started (`start`).
    Start,
    /// A daemon read its configuration again (`reload`).
    Reload,
    /// A changed configuration was refused and the running one kept
    /// (`reload-refused`).
    ReloadRefused,
    /// A real server's health changed (`server-health`).
    ServerHealth,
    /// A sorry server went into the table (`sorry-server-in`).
    SorryServerIn,
    /// A sorry server left the table (`sorry-server-out`).
    SorryServerOut,
    /// An operator's hold on a real server began, changed, ended or its
    /// drain finished (`server-hold`).
    ServerHold,
    /// A service lost its quorum (`quorum-lost`).
    QuorumLost,
    /// A service regained its quorum (`quorum-regained`).
    QuorumRegained,
    /// A change to the IPVS table failed (`table-change-failed`).
    TableChangeFailed,
    /// An owned entry was found changed behind the director's back, and
    /// restored (`drift`).
    Drift,
    /// This router became active (`activate`).
    Activate,
    /// This router stood down (`deactivate`).
    Deactivate,
    /// A monitored link failed (`link-failure`).
    LinkFailure,
    /// The monitored links are back (`link-restored`).
    LinkRestored,
    /// A daemon is stopping (`stop`).
    Stop,
}

impl LogEvent {
    /// The field's value.
    pub fn as_str(self) -> &'static str {
        match self {
            LogEvent::Start => "start",
            LogEvent::Reload => "reload",
            LogEvent::ReloadRefused => "reload-refused",
            LogEvent::ServerHealth => "server-health",
            LogEvent::SorryServerIn => "sorry-server-in",
            LogEvent::SorryServerOut => "sorry-server-out",
            LogEvent::ServerHold => "server-hold",
            LogEvent::QuorumLost => "quorum-lost",
            LogEvent::QuorumRegained => "quorum-regained",
            LogEvent::TableChangeFailed => "table-change-failed",
            LogEvent::Drift => "drift",
            LogEvent::Activate => "activate",
            LogEvent::Deactivate => "deactivate",
            LogEvent::LinkFailure => "link-failure",
            LogEvent::LinkRestored => "link-restored",
            LogEvent::Stop => "stop",
        }
    }
}

/// What a line is about, kept as fields where the journal takes them; the
/// other destinations write the message alone, which says the same in words.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Fields<'a> {
    /// What happened (`LVS_EVENT`).
    pub event: Option<LogEvent>,
    /// The virtual service's name in lvs.cf (`LVS_SERVICE`).
    pub service: Option<&'a str>,
    /// The real server's name in lvs.cf (`LVS_SERVER`).
    pub server: Option<&'a str>,
    /// The address the line is about: `IP:PORT` of a real server, or an IP
    /// (`LVS_ADDRESS`).
    pub address: Option<&'a str>,
}

impl<'a> Fields<'a> {
    /// The fields of an `event`.
    pub fn event(event: LogEvent) -> Fields<'a> {
        Fields {
            event: Some(event),
            ..Fields::default()
        }
    }

    /// With the virtual service's name.
    pub fn service(self, service: &'a str) -> Fields<'a> {
        Fields {
            service: Some(service),
            ..self
        }
    }

    /// With the real server's name.
    pub fn server(self, server: &'a str) -> Fields<'a> {
        Fields {
            server: Some(server),
            ..self
        }
    }

    /// With the address.
    pub fn address(self, address: &'a str) -> Fields<'a> {
        Fields {
            address: Some(address),
            ..self
        }
    }

    /// The journal's field names and values, for the fields that are set.
    pub fn pairs(&self) -> Vec<(&'static str, &'a str)> {
        [
            ("LVS_EVENT", self.event.map(LogEvent::as_str)),
            ("LVS_SERVICE", self.service),
            ("LVS_SERVER", self.server),
            ("LVS_ADDRESS", self.address),
        ]
        .into_iter()
        .filter_map(|(name, value)| Some((name, value?)))
        .collect()
    }
}

/// Where a daemon's log lines go. Copies share the one connection.
#[derive(Clone, Debug)]
pub struct Log {
    destination: Destination,
    verbose: bool,
}

#[derive(Clone)]
enum Destination {
    /// The journal's socket, syslog when it refuses a line.
    Journal(std::sync::Arc<systemd_journal_logger::JournalLog>),
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

impl std::fmt::Debug for Destination {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Destination::Journal(_) => f.write_str("Journal"),
            Destination::Syslog => f.write_str("Syslog"),
            Destination::Console {
                stream,
                prefix,
                journal,
            } => f
                .debug_struct("Console")
                .field("stream", stream)
                .field("prefix", prefix)
                .field("journal", journal)
                .finish(),
        }
    }
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
    /// output only (lines after `prefix`); otherwise the journal under
    /// systemd, or else syslog, with `ident` as the identifier. `verbose`
    /// turns on the debug lines.
    pub fn open(ident: &'static CStr, foreground: bool, prefix: &'static str, verbose: bool) -> Log {
        if foreground {
            return Log::console(Stream::Stdout, prefix, verbose);
        }
        // SAFETY: the ident is a static C string that outlives every syslog call.
        unsafe { libc::openlog(ident.as_ptr(), libc::LOG_PID, libc::LOG_DAEMON) };
        // systemd sets JOURNAL_STREAM for a service whose output is the
        // journal: believed only while that output is still this process's
        // (before it detaches), as a variable passed on by su or a terminal
        // started from a service would name another stream.
        let journal = (is_the_journal(1) || is_the_journal(2))
            .then(systemd_journal_logger::JournalLog::new)
            .and_then(Result::ok)
            .map(|journal| {
                journal
                    .with_syslog_identifier(ident.to_string_lossy().into_owned())
                    .add_extra_field("SYSLOG_FACILITY", (libc::LOG_DAEMON >> 3).to_string())
            });
        Log {
            destination: match journal {
                Some(journal) => Destination::Journal(std::sync::Arc::new(journal)),
                None => Destination::Syslog,
            },
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
        self.write_with(severity, message, Fields::default());
    }

    /// Writes one line of `severity` about `fields` (a debug line only when
    /// verbose): the journal keeps the fields, the other destinations the
    /// message.
    pub fn write_with(&self, severity: Severity, message: &str, fields: Fields<'_>) {
        use std::io::Write;
        if severity == Severity::Debug && !self.verbose {
            return;
        }
        match &self.destination {
            Destination::Journal(journal) => {
                let pairs = fields.pairs();
                // The log crate's levels, as the journal logger maps them to
                // priorities: Info is notice, Debug info, Trace debug.
                let level = match severity {
                    Severity::Error => log::Level::Error,
                    Severity::Warning => log::Level::Warn,
                    Severity::Notice => log::Level::Info,
                    Severity::Info => log::Level::Debug,
                    Severity::Debug => log::Level::Trace,
                };
                let sent = journal.journal_send(
                    &log::Record::builder()
                        .level(level)
                        .target("lvs-rs")
                        .args(format_args!("{message}"))
                        .key_values(&pairs)
                        .build(),
                );
                if sent.is_err() {
                    syslog(severity, message);
                }
            }
            &Destination::Console {
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
            Destination::Syslog => syslog(severity, message),
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

/// One line to syslog, through the connection [`Log::open`] made.
fn syslog(severity: Severity, message: &str) {
    if let Ok(text) = std::ffi::CString::new(message) {
        // SAFETY: a constant "%s" format with one C string argument.
        unsafe { libc::syslog(severity.syslog_level(), c"%s".as_ptr(), text.as_ptr()) };
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
    fn fields_are_the_journals_names_for_what_is_set() {
        assert!(Fields::default().pairs().is_empty());
        assert_eq!(
            Fields::event(LogEvent::ServerHealth)
                .service("web")
                .server("rs1")
                .address("10.0.0.1:80")
                .pairs(),
            [
                ("LVS_EVENT", "server-health"),
                ("LVS_SERVICE", "web"),
                ("LVS_SERVER", "rs1"),
                ("LVS_ADDRESS", "10.0.0.1:80")
            ]
        );
        assert_eq!(
            Fields::default().address("192.0.2.1").pairs(),
            [("LVS_ADDRESS", "192.0.2.1")]
        );
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
