//! `lvs`: the director daemon, and lvs.cf's checker (see `lvs --help`).

use std::process::ExitCode;

use clap::Parser;
use lvs_cli::lvs::LvsArgs;

fn main() -> ExitCode {
    lvs_cli::lvs::main(LvsArgs::parse())
}
