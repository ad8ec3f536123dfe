//! The lvs-rs programs' command lines.
//!
//! Each binary in `src/bin` parses its arguments with the definitions here,
//! maps them to a library's options and calls it: the daemons are
//! `lvs-daemon`'s, the ipvsadm emulation `lvs-ipvsadm`'s, the web tool
//! `lvs-web`'s. The definitions are a library so that `cargo xtask man` and
//! the tests can render the man pages and shell completions from them
//! ([`generated`]); nothing else lives here.

pub mod generated;
pub mod lvs;
pub mod nanny;
pub mod pulse;
pub mod send_arp;
#[cfg(feature = "web")]
pub mod web;

/// Every program with its man page section, for man page generation.
pub fn programs() -> Vec<(clap::Command, &'static str)> {
    use clap::CommandFactory;
    vec![
        (lvs::LvsArgs::command(), "8"),
        (nanny::NannyArgs::command(), "8"),
        (pulse::PulseArgs::command(), "8"),
        (send_arp::SendArpArgs::command(), "8"),
        #[cfg(feature = "web")]
        (web::WebArgs::command(), "8"),
    ]
}

/// Runs a prepared daemon as a program: leaves the terminal as `detach`
/// says (writing `pidfile`), builds the runtime, installs the daemons'
/// signals (SIGUSR1 and SIGUSR2 too with `user_signals`) before anything else
/// runs and hands each to `on_signal`, runs `daemon` to its end, and removes
/// the pid file. Must be called before any thread is started.
pub(crate) fn run_daemon(
    program: &str,
    (detach, pidfile): (lvs_daemon::process::Detach, Option<&std::path::Path>),
    log: &lvs_daemon::log::Log,
    user_signals: bool,
    mut on_signal: impl FnMut(lvs_daemon::process::DaemonSignal) + Send + 'static,
    daemon: impl std::future::Future<Output = std::process::ExitCode>,
) -> std::process::ExitCode {
    use lvs_daemon::process::{self, Signals};
    let (runtime, pidfile) = match process::start(detach, pidfile, log) {
        Ok(started) => started,
        Err(e) => return fail(program, &e),
    };
    let code = runtime.block_on(async move {
        let signals = if user_signals {
            Signals::with_user()
        } else {
            Signals::new()
        };
        let mut signals = match signals {
            Ok(signals) => signals,
            Err(e) => return fail(program, &format!("cannot handle signals: {e}")),
        };
        tokio::spawn(async move {
            loop {
                on_signal(signals.next().await);
            }
        });
        daemon.await
    });
    if let Some(pidfile) = pidfile {
        pidfile.remove();
    }
    code
}

/// Runs `daemon` while a task tells a service manager (if one listens)
/// what `supervised` is doing, and lets that task say its last word
/// (`STOPPING=1`) before the daemon's status is returned.
pub(crate) async fn reporting_to_manager(
    supervised: impl lvs_daemon::service::Supervised,
    daemon: impl std::future::Future<Output = std::process::ExitCode>,
) -> std::process::ExitCode {
    let reporter = tokio::spawn(lvs_daemon::service::report_to_manager(supervised));
    let code = daemon.await;
    let _ = reporter.await;
    code
}

/// Reports a usage error the way clap reports its own (`error: ...`, the
/// usage line, exit status 2): for what the argument definitions cannot say.
pub(crate) fn usage<Args: clap::CommandFactory>(
    kind: clap::error::ErrorKind,
    message: &str,
) -> std::process::ExitCode {
    let error = Args::command().error(kind, message);
    let _ = error.print();
    std::process::ExitCode::from(2)
}

/// Prints `program: message` on standard error and gives the failure status.
pub(crate) fn fail(program: &str, message: &dyn std::fmt::Display) -> std::process::ExitCode {
    eprintln!("{program}: {message}");
    std::process::ExitCode::FAILURE
}
