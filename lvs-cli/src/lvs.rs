//! `lvs` (also installed as `lvsd`): the director daemon's command line.
//!
//! The daemon itself arrives with the director work; today the program checks
//! and dumps lvs.cf.

use std::path::PathBuf;

use clap::{ArgGroup, Parser, ValueEnum};

/// How `--dump` writes the configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum DumpFormat {
    /// The canonical lvs.cf text, in the layout of Piranha's configuration tool.
    #[value(name = "lvs-cf")]
    LvsCf,
    /// The typed model as JSON.
    Json,
}

#[derive(Debug, Parser)]
#[command(
    name = "lvs",
    version,
    about = "Check and dump an LVS router configuration (lvs.cf)",
    long_about = "Check and dump an LVS router configuration (lvs.cf), the file Piranha's pulse, lvsd and \
                  nanny share.\n\n\
                  --check parses the file as Piranha 0.8.6 does, then validates it beyond syntax: duplicate \
                  names, conflicting services, missing addresses, bad netmasks, values out of range. It prints \
                  a one-line summary and exits 0, or prints the first parse error (with Piranha's message, the \
                  line and a caret under the column) or every validation error, and exits 1. Warnings go to \
                  standard error and do not change the exit status.\n\n\
                  --dump writes the configuration back: as canonical lvs.cf, or as JSON.\n\n\
                  lvs-rs accepts a few extensions to Piranha's syntax (key=value without blanks, trailing \
                  comments, IPv6 addresses, /N netmasks, fractional seconds, newer schedulers); --strict \
                  rejects each exactly as Piranha 0.8.6 does.",
    group(ArgGroup::new("mode").required(true).args(["check", "dump"]))
)]
pub struct LvsArgs {
    /// The configuration file.
    #[arg(short = 'c', long = "configfile", value_name = "FILE", default_value = lvs_cf::DEFAULT_PATH)]
    pub configfile: PathBuf,

    /// Parse and validate the file, print a summary, and exit 0 if it has no errors.
    #[arg(long)]
    pub check: bool,

    /// Parse the file and write it to standard output in the chosen --format.
    #[arg(long)]
    pub dump: bool,

    /// The format of --dump.
    #[arg(long, value_enum, default_value_t = DumpFormat::LvsCf, value_name = "FORMAT")]
    pub format: DumpFormat,

    /// Accept only Piranha 0.8.6's syntax: each lvs-rs extension is an error.
    #[arg(long)]
    pub strict: bool,
}
