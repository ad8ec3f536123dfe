//! Reading lvs.cf the way the daemons do: parsed and validated, with the
//! first error as the programs print it.

use std::path::Path;

use lvs_cf::{Config, LoadError, ParseOptions, Reparser};

/// Reads and checks lvs.cf, with the error as the programs print it.
pub fn load_config(path: &Path) -> Result<Config, String> {
    let parsed = lvs_cf::parse_file(path, &ParseOptions::default()).map_err(load_error)?;
    let errors = validation_errors(&parsed);
    settled(path, errors).map(|()| parsed.config)
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
) -> Result<(Config, T), String> {
    let parsed = reparser
        .parse_file(path, &ParseOptions::default())
        .map_err(load_error)?;
    let (errors, derived) = std::thread::scope(|scope| {
        let errors = scope.spawn(|| validation_errors(&parsed));
        let derived = also(&parsed.config);
        (errors.join(), derived)
    });
    let errors = errors.map_err(|_| format!("{}: validation failed", path.display()))?;
    settled(path, errors).map(|()| (parsed.config, derived))
}

fn validation_errors(parsed: &lvs_cf::Parsed) -> Vec<String> {
    parsed
        .diagnostics()
        .into_iter()
        .filter(lvs_cf::Diagnostic::is_error)
        .map(|d| d.to_string())
        .collect()
}

/// The file's errors as the programs print them, if it has any.
fn settled(path: &Path, errors: Vec<String>) -> Result<(), String> {
    if errors.is_empty() {
        Ok(())
    } else {
        Err(format!("{}: {}", path.display(), errors.join("; ")))
    }
}

fn load_error(error: LoadError) -> String {
    match error {
        LoadError::Parse { path, error } => format!(
            "error parsing {} at line {}: {}",
            path.display(),
            error.line,
            error.kind
        ),
        error => error.to_string(),
    }
}
