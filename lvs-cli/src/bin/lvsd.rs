//! `lvsd`: the director daemon under Piranha's name (the same program as `lvs`).

use std::process::ExitCode;

use clap::Parser;
use lvs_cli::lvs::LvsArgs;

fn main() -> ExitCode {
    lvs_cli::lvs::main(LvsArgs::parse())
}
