//! Log lines as Piranha's daemons write them: to syslog (facility daemon,
//! level info, the program's name as ident) and, in the foreground, to
//! standard output.

use std::ffi::CStr;

/// Where a daemon's log lines go. Copies share the one syslog connection.
#[derive(Clone, Debug)]
pub struct Log {
    /// Prefix of lines on standard output (pulse writes `pulse: message`;
    /// nanny writes the bare message); `None` when not in the foreground.
    stdout: Option<&'static str>,
    verbose: bool,
}

impl Log {
    /// Opens syslog with `ident`. With `stdout`, lines also go to standard
    /// output, after `prefix`. `verbose` turns on the `DEBUG -- ` lines.
    pub fn open(ident: &'static CStr, stdout: bool, prefix: &'static str, verbose: bool) -> Log {
        // SAFETY: the ident is a static C string that outlives every syslog call.
        unsafe { libc::openlog(ident.as_ptr(), libc::LOG_PID, libc::LOG_DAEMON) };
        Log {
            stdout: stdout.then_some(prefix),
            verbose,
        }
    }

    pub fn line(&self, message: &str) {
        if let Some(prefix) = self.stdout {
            use std::io::Write;
            let mut out = std::io::stdout().lock();
            // A closed stdout (a daemon's) must not stop the program.
            let _ = writeln!(out, "{prefix}{message}");
            let _ = out.flush();
        }
        if let Ok(text) = std::ffi::CString::new(message) {
            // SAFETY: a constant "%s" format with one C string argument.
            unsafe { libc::syslog(libc::LOG_INFO, c"%s".as_ptr(), text.as_ptr()) };
        }
    }

    pub fn debug(&self, message: &str) {
        if self.verbose {
            self.line(&format!("DEBUG -- {message}"));
        }
    }

    pub fn verbose(&self) -> bool {
        self.verbose
    }
}
