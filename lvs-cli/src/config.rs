//! Reading lvs.cf the way the daemons do: parsed and validated, with the
//! first error as the programs print it.

use std::path::Path;

use lvs_cf::{Config, LoadError, ParseOptions, Reparser};

/// Reads and checks lvs.cf, with the error as the programs print it.
/// A `reparser` remembers the file between reloads, so that reading it
/// again after a small change costs little (a daemon with large files).
pub fn load_config(path: &Path, reparser: Option<&mut Reparser>) -> Result<Config, String> {
    load_config_with(path, reparser, |_| ()).map(|(config, ())| config)
}

/// [`load_config`], running `also` on the model while it is validated (on
/// another thread: a daemon's reload derives its plan meanwhile). `also`'s
/// result is returned only for a valid file.
pub fn load_config_with<T: Send>(
    path: &Path,
    reparser: Option<&mut Reparser>,
    also: impl FnOnce(&Config) -> T + Send,
) -> Result<(Config, T), String> {
    let options = ParseOptions::default();
    let parsed = match reparser {
        Some(reparser) => reparser.parse_file(path, &options),
        None => lvs_cf::parse_file(path, &options),
    };
    match parsed {
        Ok(parsed) => {
            let (errors, derived) = std::thread::scope(|scope| {
                let errors = scope.spawn(|| {
                    parsed
                        .diagnostics()
                        .into_iter()
                        .filter(lvs_cf::Diagnostic::is_error)
                        .map(|d| d.to_string())
                        .collect::<Vec<String>>()
                });
                let derived = also(&parsed.config);
                (errors.join(), derived)
            });
            let errors = errors.map_err(|_| format!("{}: validation failed", path.display()))?;
            if errors.is_empty() {
                Ok((parsed.config, derived))
            } else {
                Err(format!("{}: {}", path.display(), errors.join("; ")))
            }
        }
        Err(LoadError::Parse { path, error }) => Err(format!(
            "error parsing {} at line {}: {}",
            path.display(),
            error.line,
            error.kind
        )),
        Err(error) => Err(error.to_string()),
    }
}
