//! Reading and writing lvs.cf for the web tool: a save is validated, counts
//! `serial_no` up, keeps the previous file as `lvs.cf.bak` and replaces the
//! file atomically (a temporary file in the same directory, then a rename),
//! with the old file's mode and owner.

use std::io::Write as _;
use std::os::unix::fs::{MetadataExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use lvs_cf::{Config, ParseOptions};

use lvs_cf::edit::{Document, Problem};

#[derive(Debug, thiserror::Error)]
/// Why lvs.cf cannot be loaded or saved.
#[non_exhaustive]
pub enum StoreError {
    #[error("{path}: {source}")]
    /// The file cannot be read or written.
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    #[error("{path} does not parse: {message}")]
    /// The file cannot be parsed.
    Unreadable {
        /// The file.
        path: PathBuf,
        /// The parser's error.
        message: String,
    },
    #[error("the configuration has errors")]
    /// The edited file has errors: nothing was written.
    Invalid(Vec<Problem>),
}

/// The file's document, or a default one when the file does not exist yet.
pub fn load(path: &Path) -> Result<Document, StoreError> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Document::of(&Config::default())),
        Err(source) => {
            return Err(StoreError::Io {
                path: path.to_owned(),
                source,
            })
        }
    };
    lvs_cf::parse_bytes(&bytes, &ParseOptions::default())
        .map(|parsed| Document::of(&parsed.config))
        .map_err(|e| StoreError::Unreadable {
            path: path.to_owned(),
            message: e.to_string(),
        })
}

/// The backup a save leaves: the file as it was before.
pub fn backup_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_owned();
    name.push(".bak");
    path.with_file_name(name)
}

/// Validates `document` and, if it is valid, writes it with the next
/// `serial_no`. Returns the model written.
pub fn save(path: &Path, document: &Document) -> Result<Config, StoreError> {
    let mut config = document.check().map_err(StoreError::Invalid)?;
    config.serial_no = config.serial_no.saturating_add(1);
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| StoreError::Io { path, source }
    };
    let old = std::fs::metadata(path).ok();
    if old.is_some() {
        replace(
            &backup_path(path),
            &std::fs::read(path).map_err(io(path))?,
            old.as_ref(),
        )?;
    }
    replace(path, lvs_cf::write(&config).as_bytes(), old.as_ref())?;
    Ok(config)
}

/// Writes `bytes` to a temporary file beside `path` and renames it over
/// `path`, so readers see the old file or the new one, never a part.
fn replace(path: &Path, bytes: &[u8], like: Option<&std::fs::Metadata>) -> Result<(), StoreError> {
    let mut name = path.file_name().unwrap_or_default().to_owned();
    name.push(format!(".tmp-{}", std::process::id()));
    let temporary = path.with_file_name(name);
    let io = |source| StoreError::Io {
        path: temporary.clone(),
        source,
    };
    let mode = like.map_or(0o644, |m| m.permissions().mode() & 0o7777);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(&temporary)
        .map_err(io)?;
    let written = file
        .write_all(bytes)
        .and_then(|()| file.set_permissions(std::fs::Permissions::from_mode(mode)))
        .and_then(|()| match like {
            // Only root may give a file away; others keep their own.
            Some(m) if unsafe { libc::geteuid() } == 0 => {
                std::os::unix::fs::fchown(&file, Some(m.uid()), Some(m.gid()))
            }
            _ => Ok(()),
        })
        .and_then(|()| file.sync_all());
    if let Err(e) = written {
        let _ = std::fs::remove_file(&temporary);
        return Err(io(e));
    }
    std::fs::rename(&temporary, path).map_err(|source| {
        let _ = std::fs::remove_file(&temporary);
        StoreError::Io {
            path: path.to_owned(),
            source,
        }
    })?;
    // The rename reaches the disk with its directory.
    let directory = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::File::open(directory)
        .and_then(|d| d.sync_all())
        .map_err(|source| StoreError::Io {
            path: directory.to_owned(),
            source,
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use lvs_cf::edit::set;

    const VALID: &str = "serial_no = 7\nprimary = 192.0.2.1\nservice = lvs\n\
        virtual web {\n active = 1\n address = 192.0.2.100 eth0:1\n port = 80\n\
        server a {\n address = 10.0.0.1\n active = 1\n }\n}\n";

    #[test]
    fn a_save_counts_up_keeps_a_backup_and_the_mode() {
        let dir = testkit::TempDir::new("web-store");
        let path = dir.path().join("lvs.cf");
        std::fs::write(&path, VALID).expect("write");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).expect("chmod");
        let mut document = load(&path).expect("load");
        set(&mut document.globals, "primary", Some("192.0.2.2".into()));
        let config = save(&path, &document).expect("save");
        assert_eq!(config.serial_no, 8);
        let text = std::fs::read_to_string(&path).expect("read");
        assert!(
            text.contains("serial_no = 8") && text.contains("primary = 192.0.2.2"),
            "{text}"
        );
        let backup = std::fs::read_to_string(backup_path(&path)).expect("backup");
        assert!(backup.contains("serial_no = 7"));
        let mode = std::fs::metadata(&path).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode, 0o640);
        // Nothing but the file and its backup is left in the directory.
        assert_eq!(std::fs::read_dir(dir.path()).expect("dir").count(), 2);
    }

    #[test]
    fn an_invalid_document_changes_nothing() {
        let dir = testkit::TempDir::new("web-store-invalid");
        let path = dir.path().join("lvs.cf");
        std::fs::write(&path, "serial_no = 7\nprimary = 192.0.2.1\nservice = lvs\n").expect("write");
        let mut document = load(&path).expect("load");
        set(&mut document.globals, "keepalive", Some("soon".into()));
        assert!(matches!(save(&path, &document), Err(StoreError::Invalid(_))));
        assert!(std::fs::read_to_string(&path)
            .expect("read")
            .contains("serial_no = 7"));
        assert!(!backup_path(&path).exists());
    }
}
