//! The lvs-rs programs' command lines.
//!
//! Each binary in `src/bin` parses its arguments with the definitions here,
//! maps them to a library's options and calls it: the daemons are
//! `lvs-daemon`'s, the ipvsadm emulation `lvs-ipvsadm`'s, the web tool
//! `lvs-web`'s. The definitions are a library so that `cargo xtask man` and
//! the tests can render the man pages from them; nothing else lives here.

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

/// Prints `program: message` on standard error and gives the failure status.
pub(crate) fn fail(program: &str, message: &dyn std::fmt::Display) -> std::process::ExitCode {
    eprintln!("{program}: {message}");
    std::process::ExitCode::FAILURE
}
