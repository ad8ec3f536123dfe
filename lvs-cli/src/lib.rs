//! Argument definitions of the lvs-rs programs.
//!
//! Each binary in `src/bin` parses its arguments with the definitions here
//! and wires the library crates together; nothing else lives in the binaries.
//! The definitions are a library so that `cargo xtask man` and the tests can
//! render the man pages from them.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod config;
pub mod daemon;
pub mod director;
pub mod ipvsadm;
pub mod log;
pub mod lvs;
pub mod nannies;
pub mod nanny;
pub mod pulse;
pub mod router;
pub mod send_arp;
pub mod web;

/// Every program with its man page section, for man page generation.
pub fn programs() -> Vec<(clap::Command, &'static str)> {
    use clap::CommandFactory;
    vec![
        (lvs::LvsArgs::command(), "8"),
        (nanny::NannyArgs::command(), "8"),
        (pulse::PulseArgs::command(), "8"),
        (send_arp::SendArpArgs::command(), "8"),
        (web::WebArgs::command(), "8"),
    ]
}
