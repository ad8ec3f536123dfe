//! `lvs-web`: the web configuration and monitoring tool (see `lvs-web --help`).

use std::process::ExitCode;

use clap::Parser;
use lvs_cli::web::WebArgs;

fn main() -> ExitCode {
    lvs_cli::web::main(WebArgs::parse())
}
