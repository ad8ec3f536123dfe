//! `nanny`: checks one real server and keeps its IPVS entry in step (see `nanny --help`).

use std::process::ExitCode;

use clap::Parser;
use lvs_cli::nanny::NannyArgs;

fn main() -> ExitCode {
    lvs_cli::nanny::main(NannyArgs::parse())
}
