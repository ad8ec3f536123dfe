//! Imports the configurations of other LVS directors into lvs.cf.
//!
//! `lvs-import` reads ldirectord.cf with a grammar of its own, maps what it
//! says onto [`lvs_cf::Config`] (with ldirectord's defaults where they
//! differ from lvs.cf's), and reports, directive by directive, whether it
//! was mapped, approximated (saying how) or dropped (saying why). The
//! configuration is written with [`lvs_cf::write`] and checked with
//! [`lvs_cf::validate`], whose findings join the report. keepalived.conf is
//! the next source.
//!
//! ```
//! use lvs_import::{Importer, Source};
//!
//! let text = "\
//! checktimeout=3
//! checkinterval=5
//!
//! virtual=192.0.2.10:80
//! \treal=10.0.0.1:80 gate 3
//! \treal=10.0.0.2:80 gate
//! \tservice=http
//! \trequest=\"health\"
//! \treceive=\"ok\"
//! \tscheduler=rr
//! ";
//! let imported = Importer::new(Source::Ldirectord).import_text("ldirectord.cf", text)?;
//! let service = &imported.config.virtual_services[0];
//! assert_eq!(service.scheduler, lvs_cf::Scheduler::Rr);
//! assert_eq!(service.servers[0].weight, 3);
//! assert_eq!(service.checks[0].path.as_deref(), Some("/health"));
//! let text = lvs_cf::write(&imported.config);
//! assert!(lvs_cf::parse(&text).is_ok());
//! println!("{}", imported.report);
//! # Ok::<(), lvs_import::ImportError>(())
//! ```
//!
//! # Non-features
//!
//! - It does not touch the system: it reads the file it is given and
//!   returns a model. Comparing it with the running IPVS table is the
//!   director's job.
//! - It does not resolve host names: a name stays a name, as lvs.cf keeps
//!   it (a range of addresses must be written with addresses).
//! - It does not guess what the source does not say. ldirectord leaves the
//!   routers and their VIPs to a cluster manager, so `primary` and the
//!   VIPs' devices are for the operator to fill in; `lvs --check`'s
//!   findings in the report say what is missing.
//! - Comments are not carried over: lvs-cf writes the canonical layout.

mod error;
pub mod ldirectord;
mod report;

use std::path::{Path, PathBuf};

pub use error::{ImportError, Position};
pub use report::{Entry, Fate, Report};

/// Which tool's configuration is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Source {
    /// ldirectord.cf, as ldirectord(8) of resource-agents reads it.
    Ldirectord,
}

impl std::str::FromStr for Source {
    type Err = String;

    fn from_str(name: &str) -> Result<Source, String> {
        match name {
            "ldirectord" => Ok(Source::Ldirectord),
            other => Err(format!("unknown source {other:?}: ldirectord")),
        }
    }
}

/// An imported configuration and its report.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Imported {
    /// The configuration, as lvs-cf's model.
    pub config: lvs_cf::Config,
    /// What became of each directive, and `lvs --check`'s findings.
    pub report: Report,
}

/// Reads another tool's configuration into lvs.cf's model.
///
/// Built with [`Importer::new`]; [`Importer::import_file`] reads a file,
/// [`Importer::import_text`] a text in hand.
#[derive(Clone, Debug)]
pub struct Importer {
    source: Source,
    routers: Routers,
}

/// What the operator says of the routers, where the source does not.
#[derive(Clone, Debug)]
pub(crate) struct Routers {
    /// lvs.cf's `primary`.
    pub(crate) primary: Option<lvs_cf::Host>,
    /// lvs.cf's `backup` (and `backup_active = 1`).
    pub(crate) backup: Option<lvs_cf::Host>,
    /// The interface the VIPs go up on.
    pub(crate) device: String,
}

impl Importer {
    /// An importer of `source`'s files.
    pub fn new(source: Source) -> Importer {
        Importer {
            source,
            routers: Routers {
                primary: None,
                backup: None,
                device: "eth0".into(),
            },
        }
    }

    /// The primary router's address, lvs.cf's `primary` (ldirectord.cf
    /// names no router; pulse needs it).
    pub fn primary(mut self, address: lvs_cf::Host) -> Importer {
        self.routers.primary = Some(address);
        self
    }

    /// The backup router's address: lvs.cf's `backup`, with
    /// `backup_active = 1`.
    pub fn backup(mut self, address: lvs_cf::Host) -> Importer {
        self.routers.backup = Some(address);
        self
    }

    /// The interface pulse brings the VIPs up on, as labels `DEVICE:1`,
    /// `DEVICE:2`... (`eth0` unless set).
    pub fn vip_device(mut self, device: impl Into<String>) -> Importer {
        self.routers.device = device.into();
        self
    }

    /// Imports the file at `path`.
    pub fn import_file(&self, path: &Path) -> Result<Imported, ImportError> {
        let text = std::fs::read(path).map_err(|source| ImportError::Read {
            file: path.to_owned(),
            source,
        })?;
        let text = String::from_utf8(text).map_err(|e| ImportError::Syntax {
            at: utf8_position(path, e.as_bytes(), e.utf8_error().valid_up_to()),
            message: "not UTF-8 text".into(),
        })?;
        self.import(path, &text)
    }

    /// Imports `text` as the file `name` (the name is what the report and
    /// errors call it).
    pub fn import_text(&self, name: impl Into<PathBuf>, text: &str) -> Result<Imported, ImportError> {
        self.import(&name.into(), text)
    }

    fn import(&self, name: &Path, text: &str) -> Result<Imported, ImportError> {
        let (config, mut report) = match self.source {
            Source::Ldirectord => ldirectord::import(name, text, &self.routers)?,
        };
        // Validated as written, so that findings name the written file's lines.
        let written = lvs_cf::write(&config);
        report.check = match lvs_cf::parse(&written) {
            Ok(parsed) => lvs_cf::validate(&parsed.config, Some(&parsed.source_map)),
            Err(_) => lvs_cf::validate(&config, None),
        };
        Ok(Imported { config, report })
    }
}

/// Where the first byte that is not UTF-8 is.
fn utf8_position(path: &Path, bytes: &[u8], offset: usize) -> Position {
    let before = &bytes[..offset.min(bytes.len())];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let line_start = before.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let column = String::from_utf8_lossy(&before[line_start..]).chars().count() + 1;
    Position {
        file: path.to_owned(),
        line,
        column,
    }
}
