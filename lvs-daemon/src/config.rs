//! Reading lvs.cf the way the daemons do: parsed and validated, with the
//! first error as the programs print it.

use std::path::{Path, PathBuf};

use lvs_cf::{Config, LoadError, ParseOptions, Reparser};

/// Why lvs.cf cannot be run. `Display` is what the programs print.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file cannot be read.
    #[error(transparent)]
    Read(LoadError),
    /// The file does not parse: Piranha's words.
    #[error("error parsing {} at line {}: {}", path.display(), error.line, error.kind)]
    Parse {
        /// The file.
        path: PathBuf,
        /// Where and why.
        #[source]
        error: lvs_cf::ParseError,
    },
    /// The file parses but has errors.
    #[error("{}: {}", path.display(), errors.join("; "))]
    Invalid {
        /// The file.
        path: PathBuf,
        /// Each error, as `lvs --check` prints it.
        errors: Vec<String>,
    },
    /// Validation could not run.
    #[error("{}: validation failed", path.display())]
    Validation {
        /// The file.
        path: PathBuf,
    },
}

impl From<LoadError> for ConfigError {
    fn from(error: LoadError) -> ConfigError {
        match error {
            LoadError::Parse { path, error } => ConfigError::Parse { path, error },
            other => ConfigError::Read(other),
        }
    }
}

/// Reads and checks lvs.cf.
pub fn load_config(path: &Path) -> Result<Config, ConfigError> {
    let parsed = lvs_cf::parse_file(path, &ParseOptions::default())?;
    settled(path, validation_errors(&parsed)).map(|()| parsed.config)
}

/// [`load_config`] for a daemon that reloads: `reparser` remembers the file
/// between reloads, so that reading it again after a small change costs
/// little, and `also` runs on the model while it is validated (on another
/// thread: the reload derives its plan meanwhile). `also`'s result is
/// returned only for a valid file.
pub fn load_config_with<T: Send>(
    path: &Path,
    reparser: &mut Reparser,
    also: impl FnOnce(&Config) -> T + Send,
) -> Result<(Config, T), ConfigError> {
    let parsed = reparser.parse_file(path, &ParseOptions::default())?;
    let (errors, derived) = std::thread::scope(|scope| {
        let errors = scope.spawn(|| validation_errors(&parsed));
        let derived = also(&parsed.config);
        (errors.join(), derived)
    });
    let errors = errors.map_err(|_| ConfigError::Validation {
        path: path.to_owned(),
    })?;
    settled(path, errors).map(|()| (parsed.config, derived))
}

/// Every finding the daemons act on: the parser's and validation's, and
/// those about the files the check blocks name (read here: lvs-cf reads
/// no file), in the file's order. `lvs --check` prints these.
pub fn diagnostics(parsed: &lvs_cf::Parsed) -> Vec<lvs_cf::Diagnostic> {
    let mut all = parsed.warnings.clone();
    all.extend(lvs_cf::validate(&parsed.config, Some(&parsed.source_map)));
    all.extend(lvs_health::tls::file_problems(&parsed.config, &parsed.source_map));
    // In reading order (included files in place), then each on its own
    // file's line.
    all.sort_by_key(|d| d.line.unwrap_or(0));
    all.into_iter().map(|d| parsed.locate(d)).collect()
}

fn validation_errors(parsed: &lvs_cf::Parsed) -> Vec<String> {
    diagnostics(parsed)
        .into_iter()
        .filter(lvs_cf::Diagnostic::is_error)
        .map(|d| d.to_string())
        .collect()
}

/// The file's errors, if it has any.
fn settled(path: &Path, errors: Vec<String>) -> Result<(), ConfigError> {
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ConfigError::Invalid {
            path: path.to_owned(),
            errors,
        })
    }
}
