//! Imports the configurations of other LVS directors into lvs.cf.
//!
//! `lvs-import` reads keepalived.conf (keepalived 2.4's syntax: `include`
//! with globs, conditional `@ID` and `@^ID` lines, `$PARAMETERS` and
//! `~SEQ`/`~LST` sequences) and ldirectord.cf, each with a grammar of its
//! own; maps what they say onto [`lvs_cf::Config`], with the source's
//! defaults where they differ from lvs.cf's; and reports, directive by
//! directive, whether it was mapped, approximated (saying how) or dropped
//! (saying why). The configuration is written with [`lvs_cf::write`] and
//! checked with [`lvs_cf::validate`], whose findings join the report.
//!
//! ```
//! use lvs_import::{Importer, Source};
//!
//! let text = "
//! virtual_server 192.0.2.10 80 {
//!     delay_loop 5
//!     lb_algo wrr
//!     lb_kind DR
//!     protocol TCP
//!     real_server 10.0.0.1 80 {
//!         weight 3
//!         HTTP_GET {
//!             url {
//!                 path /health
//!                 status_code 200
//!             }
//!             connect_timeout 2
//!         }
//!     }
//! }
//! ";
//! let imported = Importer::new(Source::Keepalived).import_text("keepalived.conf", text)?;
//! let service = &imported.config.virtual_services[0];
//! assert_eq!(service.scheduler, lvs_cf::Scheduler::Wrr);
//! assert_eq!(service.servers[0].weight, 3);
//! assert_eq!(service.checks[0].path.as_deref(), Some("/health"));
//!
//! let text = "virtual=192.0.2.10:80\n\treal=10.0.0.1:80 gate 3\n\tservice=http\n\trequest=\"health\"\n";
//! let imported = Importer::new(Source::Ldirectord).import_text("ldirectord.cf", text)?;
//! assert_eq!(imported.config.virtual_services[0].checks[0].path.as_deref(), Some("/health"));
//! let text = lvs_cf::write(&imported.config);
//! assert!(lvs_cf::parse(&text).is_ok());
//! println!("{}", imported.report);
//! # Ok::<(), lvs_import::ImportError>(())
//! ```
//!
//! # Non-features
//!
//! - It does not touch the system: it reads the file it is given (and
//!   what keepalived's `include` names) and returns a model. Comparing it with the running IPVS table is the
//!   director's job.
//! - It does not resolve host names: a name stays a name, as lvs.cf keeps
//!   it (a range of addresses must be written with addresses).
//! - It does not guess what the source does not say. ldirectord leaves the
//!   routers and their VIPs to a cluster manager, and keepalived over
//!   multicast does not name its partner, so the routers' addresses are the
//!   operator's to give ([`Importer::primary`], [`Importer::backup`]);
//!   `lvs --check`'s findings say what is still missing.
//! - keepalived's several VRRP instances become pulse's one set of VIPs:
//!   lvs.cf has no VIP groups yet, and the report says so.
//! - Comments are not carried over: lvs-cf writes the canonical layout.

mod error;
pub mod keepalived;
pub mod ldirectord;
mod report;

use std::path::{Path, PathBuf};

pub use error::{ImportError, Position};
pub use report::{Entry, Fate, Report};

/// The deepest keepalived `include` nesting read (keepalived has no limit
/// of its own; this one stops a runaway before the stack does).
pub const MAX_INCLUDE_DEPTH: usize = 16;

/// Which tool's configuration is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Source {
    /// keepalived.conf(5), keepalived 2.4.
    Keepalived,
    /// ldirectord.cf, as ldirectord(8) of resource-agents reads it.
    Ldirectord,
}

impl std::str::FromStr for Source {
    type Err = String;

    fn from_str(name: &str) -> Result<Source, String> {
        match name {
            "keepalived" => Ok(Source::Keepalived),
            "ldirectord" => Ok(Source::Ldirectord),
            other => Err(format!("unknown source {other:?}: keepalived or ldirectord")),
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
    config_id: Option<String>,
    includes: bool,
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
            config_id: None,
            includes: true,
        }
    }

    /// Whether keepalived's `include` lines are read (the default); without,
    /// an include is an error. A tool that imports text a user sends (the
    /// web tool) reads no file of the host on the user's word.
    pub fn read_includes(mut self, read: bool) -> Importer {
        self.includes = read;
        self
    }

    /// keepalived's configuration id (its `-i`): lines marked `@ID` are read
    /// and lines marked `@^ID` are skipped. Without one, the host name up to
    /// its first dot, as keepalived does.
    pub fn config_id(mut self, id: impl Into<String>) -> Importer {
        self.config_id = Some(id.into());
        self
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

    /// Imports the file at `path` (and, for keepalived, what it includes).
    pub fn import_file(&self, path: &Path) -> Result<Imported, ImportError> {
        let text = std::fs::read(path).map_err(|source| ImportError::Read {
            file: path.to_owned(),
            source,
        })?;
        let text = String::from_utf8(text).map_err(|e| ImportError::Syntax {
            at: utf8_position(path, e.as_bytes(), e.utf8_error().valid_up_to()),
            message: "not UTF-8 text".into(),
        })?;
        self.import(path, &text, true)
    }

    /// Imports `text` as the file `name` (the name is what the report and
    /// errors call it); keepalived's includes, when
    /// [`read_includes`](Importer::read_includes) is on, are read relative
    /// to the current directory.
    pub fn import_text(&self, name: impl Into<PathBuf>, text: &str) -> Result<Imported, ImportError> {
        self.import(&name.into(), text, false)
    }

    fn import(&self, name: &Path, text: &str, on_disk: bool) -> Result<Imported, ImportError> {
        let (config, mut report) = match self.source {
            Source::Keepalived => {
                let id = self.config_id.clone().unwrap_or_else(short_host_name);
                keepalived::import(name, text, (on_disk, self.includes), &id, &self.routers)?
            }
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

/// The host name up to its first dot: keepalived's default configuration id.
fn short_host_name() -> String {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    name.trim().split('.').next().unwrap_or_default().to_owned()
}

/// Makes the most common forwarding method of `config`'s servers the file's
/// `network` (`preferred` on a tie, and with no servers: the source tool's
/// default), and drops the service and server settings that then say the
/// same as what they inherit.
pub(crate) fn settle_network(config: &mut lvs_cf::Config, preferred: lvs_cf::Network) {
    use lvs_cf::Network;
    let mut counts: std::collections::HashMap<Network, usize> = std::collections::HashMap::new();
    for service in &config.virtual_services {
        for server in &service.servers {
            if let Some(network) = server.options.network.or(service.server_options.network) {
                *counts.entry(network).or_default() += 1;
            }
        }
    }
    let count = |n: &Network| counts.get(n).copied().unwrap_or(0);
    let chosen = [Network::Direct, Network::Nat, Network::Tunnel]
        .into_iter()
        .max_by_key(|n| (count(n), *n == preferred))
        .filter(|n| count(n) > 0)
        .unwrap_or(preferred);
    config.network = chosen;
    for service in &mut config.virtual_services {
        if service.server_options.network == Some(chosen) {
            service.server_options.network = None;
        }
        let inherited = service.server_options.network.unwrap_or(chosen);
        for server in &mut service.servers {
            if server.options.network == Some(inherited) {
                server.options.network = None;
            }
        }
        if service.sorry_network == Some(inherited) {
            service.sorry_network = None;
        }
    }
}
