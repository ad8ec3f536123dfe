//! `pulse`: heartbeats and failover between two LVS routers (see `pulse --help`).

use std::process::ExitCode;

use clap::Parser;
use lvs_cli::pulse::PulseArgs;

fn main() -> ExitCode {
    lvs_cli::pulse::main(PulseArgs::parse())
}
