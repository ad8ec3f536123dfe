//! Log lines as Piranha's daemons write them: to syslog (facility daemon,
//! level info, the program's name as ident) and, in the foreground, to
//! standard output; or, for a program that embeds a daemon, to standard
//! error only.

use std::ffi::CStr;

/// Where a daemon's log lines go. Copies share the one syslog connection.
#[derive(Clone, Debug)]
pub struct Log {
    /// Prefix of lines on the console (pulse writes `pulse: message`; nanny
    /// writes the bare message); `None` when lines go to syslog only.
    console: Option<(&'static str, Console)>,
    syslog: bool,
    verbose: bool,
}

#[derive(Clone, Copy, Debug)]
enum Console {
    Stdout,
    Stderr,
}

impl Log {
    /// Opens syslog with `ident`. With `stdout`, lines also go to standard
    /// output, after `prefix`. `verbose` turns on the `DEBUG -- ` lines.
    pub fn open(ident: &'static CStr, stdout: bool, prefix: &'static str, verbose: bool) -> Log {
        // SAFETY: the ident is a static C string that outlives every syslog call.
        unsafe { libc::openlog(ident.as_ptr(), libc::LOG_PID, libc::LOG_DAEMON) };
        Log {
            console: stdout.then_some((prefix, Console::Stdout)),
            syslog: true,
            verbose,
        }
    }

    /// Lines to standard error only, after `prefix`: no syslog.
    pub fn stderr(prefix: &'static str, verbose: bool) -> Log {
        Log {
            console: Some((prefix, Console::Stderr)),
            syslog: false,
            verbose,
        }
    }

    /// Writes one line.
    pub fn line(&self, message: &str) {
        use std::io::Write;
        match self.console {
            Some((prefix, Console::Stdout)) => {
                let mut out = std::io::stdout().lock();
                // A closed stdout (a daemon's) must not stop the program.
                let _ = writeln!(out, "{prefix}{message}");
                let _ = out.flush();
            }
            Some((prefix, Console::Stderr)) => {
                let _ = writeln!(std::io::stderr().lock(), "{prefix}{message}");
            }
            None => {}
        }
        if self.syslog {
            if let Ok(text) = std::ffi::CString::new(message) {
                // SAFETY: a constant "%s" format with one C string argument.
                unsafe { libc::syslog(libc::LOG_INFO, c"%s".as_ptr(), text.as_ptr()) };
            }
        }
    }

    /// Writes a `DEBUG -- ` line when verbose.
    pub fn debug(&self, message: &str) {
        if self.verbose {
            self.line(&format!("DEBUG -- {message}"));
        }
    }

    /// Whether `DEBUG -- ` lines are written.
    pub fn verbose(&self) -> bool {
        self.verbose
    }
}
