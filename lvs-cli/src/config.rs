//! Reading lvs.cf the way the daemons do: parsed and validated, with the
//! first error as the programs print it.

use std::path::Path;

use lvs_cf::{Config, LoadError, ParseOptions};

/// Reads and checks lvs.cf, with the error as the programs print it.
pub fn load_config(path: &Path) -> Result<Config, String> {
    match lvs_cf::parse_file(path, &ParseOptions::default()) {
        Ok(parsed) => {
            let errors: Vec<String> = parsed
                .diagnostics()
                .into_iter()
                .filter(lvs_cf::Diagnostic::is_error)
                .map(|d| d.to_string())
                .collect();
            if errors.is_empty() {
                Ok(parsed.config)
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
