//! The lvs.cf configuration language of Piranha LVS routers.
//!
//! `lvs-cf` reads `/etc/sysconfig/ha/lvs.cf` as Piranha 0.8.6 does (the same
//! directives, defaults, value rules and error messages), into a typed
//! [`Config`]; checks it beyond syntax ([`validate()`]); and writes it back in
//! the layout of Piranha's configuration tool ([`write()`]). It also accepts a
//! few extensions that modern users expect, each of which `--strict`
//! ([`ParseOptions::strict`]) rejects exactly as Piranha does: `key=value`
//! without blanks, `# comments` after values, IPv6 addresses, `/N` netmasks,
//! fractional seconds for `keepalive`, `deadtime` and `timeout`, and newer
//! IPVS schedulers and protocols.
//!
//! # Non-features
//!
//! - It is not a daemon and touches nothing outside the text it is given:
//!   host names are kept as names ([`Host::resolve`] looks them up on
//!   request), and the only file it may read by itself is `/etc/services`,
//!   for `port = http`.
//! - It does not turn a file into a table or a failover plan; `lvs-core`
//!   does, from the model.
//! - It keeps no comments: the writer writes the canonical layout, as
//!   Piranha's tool did.
//!
//! ```
//! let parsed = lvs_cf::parse("
//! primary = 192.0.2.1
//! virtual web {
//!     active = 1
//!     address = 192.0.2.100 eth0:1
//!     port = 80
//!     server www1 {
//!         address = 10.0.0.1
//!         active = 1
//!     }
//! }
//! ")?;
//! let web = &parsed.config.virtual_services[0];
//! assert_eq!(web.scheduler, lvs_cf::Scheduler::Wlc); // Piranha's default
//! assert_eq!(web.server_port(&web.servers[0]), 80);
//! assert!(parsed.diagnostics().iter().all(|d| !d.is_error()));
//!
//! let text = lvs_cf::write(&parsed.config);
//! assert_eq!(lvs_cf::parse(&text)?.config, parsed.config);
//! # Ok::<(), lvs_cf::ParseError>(())
//! ```
//!
//! [`edit`] is the editing API: a file as blocks of `key = value` entries
//! that a program changes and turns back into text, with every error the
//! parser finds placed on the block and key it came from (the web tool edits
//! lvs.cf through it). [`keys`] is the one table of lvs.cf's keys.
//!
//! With the `proptest` feature, `strategy` exports generators of valid
//! models and of valid-but-ugly texts, for fuzzing tools that consume lvs.cf.

pub mod edit;
mod error;
mod include;
pub mod keys;
mod lexer;
mod model;
mod parser;
mod services;
mod validate;
mod values;
mod writer;

#[cfg(any(test, feature = "proptest"))]
pub mod strategy;

#[cfg(test)]
mod proptests;

pub use error::{ErrorKind, LoadError, ParseError};
pub use include::{Origins, MAX_DEPTH as MAX_INCLUDE_DEPTH};
pub use model::*;
pub use parser::{
    parse, parse_bytes, parse_file, parse_with, BlockMap, Location, ParseOptions, Parsed, Reparser, SourceMap,
};
pub use services::Services;
pub use validate::{validate, Diagnostic, Severity};
pub use values::inet_aton;
pub use writer::{quote, unquote, write};

/// A `check` block made of `key = value` entries given one by one (nanny's
/// `--check` options), read by the same key table and held to the same
/// rules as a block in a file. An error names the entry it is about; a
/// warning (a key the type does not read) is returned beside the block.
pub fn check_block(name: &str, entries: &[&str]) -> Result<(CheckBlock, Vec<String>), String> {
    let (config, warnings) = read_entries(&format!("check {}", quote(name)), entries)?;
    let check = config
        .virtual_services
        .into_iter()
        .next()
        .and_then(|vs| vs.checks.into_iter().next())
        .ok_or_else(|| "no check block was read".to_owned())?;
    Ok((check, warnings))
}

/// A server block's IPVS settings made of `key = value` entries given one
/// by one (nanny's `--ipvs` options: `network`, `tunnel_type`,
/// `upper_threshold`...), read and checked as [`check_block`] reads a check.
pub fn server_options(entries: &[&str]) -> Result<(ServerOptions, Vec<String>), String> {
    for entry in entries {
        let key = entry.split('=').next().unwrap_or_default().trim();
        if !keys::OPTION_KEYS.iter().any(|k| k.name == key) {
            let known: Vec<&str> = keys::OPTION_KEYS.iter().map(|k| k.name).collect();
            return Err(format!(
                "`{entry}`: not an IPVS setting of a server (one of: {})",
                known.join(", ")
            ));
        }
    }
    let (config, warnings) = read_entries("server nanny", entries)?;
    let options = config
        .virtual_services
        .into_iter()
        .next()
        .and_then(|vs| vs.servers.into_iter().next())
        .map(|server| server.options)
        .ok_or_else(|| "no server block was read".to_owned())?;
    Ok((options, warnings))
}

/// Reads `entries` as the lines of the block `header { }` inside a virtual
/// block, as in a file; errors and warnings name the entry they are about.
fn read_entries(header: &str, entries: &[&str]) -> Result<(Config, Vec<String>), String> {
    if let Some(entry) = entries.iter().find(|e| e.contains(['\n', '\r'])) {
        return Err(format!("`{entry}`: an entry is one line"));
    }
    // The block's entries are lines 3 onwards.
    const FIRST_LINE: usize = 3;
    let text = format!("virtual nanny {{\n{header} {{\n{}\n}}\n}}\n", entries.join("\n"));
    let entry_of = |line: Option<usize>| {
        line.and_then(|line| line.checked_sub(FIRST_LINE))
            .and_then(|index| entries.get(index))
    };
    let parsed = parse_with(&text, &ParseOptions::default()).map_err(|error| {
        let what = match &error.note {
            Some(note) => format!("{} ({note})", error.kind),
            None => error.kind.to_string(),
        };
        match entry_of(Some(error.line)) {
            Some(entry) => format!("`{entry}`: {what}"),
            None => what,
        }
    })?;
    let mut warnings = Vec::new();
    for diagnostic in parsed.diagnostics() {
        let message = match entry_of(diagnostic.line) {
            Some(entry) => format!("`{entry}`: {}", diagnostic.message),
            // About the block as a whole (on its header line).
            None if diagnostic.line == Some(FIRST_LINE - 1) => diagnostic.message,
            // About the virtual block around it, which is not nanny's.
            None => continue,
        };
        if diagnostic.severity == Severity::Error {
            return Err(message);
        }
        warnings.push(message);
    }
    Ok((parsed.config, warnings))
}

/// Where Piranha keeps the file.
pub const DEFAULT_PATH: &str = "/etc/sysconfig/ha/lvs.cf";

/// The longest line read, in bytes: a longer one is
/// [`ErrorKind::LineTooLong`], so that a hostile file cannot make the parser
/// take memory or time out of proportion to its size.
pub const MAX_LINE_BYTES: usize = 64 * 1024;
