//! What the director keeps of operators' holds outside its memory: the
//! record of `lvs --drain` and `--disable` (so that a restart keeps them)
//! and the maintenance directory's files (see [`lvs_core::admin`]).
//!
//! The record is JSON, written atomically beside the status socket
//! (`/var/run/lvs.holds` by default): like the table, it lasts until a
//! reboot. A hold meant to outlive a reboot is a file in lvs.cf's
//! `maintenance_dir`.

use std::path::{Path, PathBuf};

use lvs_core::admin::HoldRecord;

/// The record's format, and its version.
#[derive(serde::Serialize, serde::Deserialize)]
struct Record {
    /// What the file is.
    lvs_rs_holds: u32,
    /// The holds, by the servers' names.
    holds: Vec<HoldRecord>,
}

/// Why the record cannot be read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HoldsError {
    /// It cannot be read.
    #[error("cannot read the record of held servers {}: {source}", path.display())]
    Read {
        /// The record.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// It is not a record of holds.
    #[error("{} is not a record of held servers: {source}", path.display())]
    Invalid {
        /// The record.
        path: PathBuf,
        /// Why.
        #[source]
        source: serde_json::Error,
    },
    /// It cannot be written.
    #[error("cannot write the record of held servers {}: {source}", path.display())]
    Write {
        /// The file that could not be written.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// The holds recorded at `path`; none when there is no record.
pub fn read(path: &Path) -> Result<Vec<HoldRecord>, HoldsError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(HoldsError::Read {
                path: path.to_owned(),
                source,
            })
        }
    };
    let record: Record = serde_json::from_str(&text).map_err(|source| HoldsError::Invalid {
        path: path.to_owned(),
        source,
    })?;
    Ok(record.holds)
}

/// Records `holds` at `path` (atomically, mode 0600); no holds, no file.
pub fn write(path: &Path, holds: Vec<HoldRecord>) -> Result<(), HoldsError> {
    if holds.is_empty() {
        return match std::fs::remove_file(path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(HoldsError::Write {
                path: path.to_owned(),
                source: e,
            }),
            _ => Ok(()),
        };
    }
    let record = Record {
        lvs_rs_holds: 1,
        holds,
    };
    let text = serde_json::to_string_pretty(&record).map_err(|e| HoldsError::Write {
        path: path.to_owned(),
        source: std::io::Error::other(e),
    })? + "\n";
    crate::files::replace_atomically(path, text.as_bytes(), 0o600)
        .map_err(|(path, source)| HoldsError::Write { path, source })
}

/// The names of the files in the maintenance directory `dir` (each a
/// server's address, see [`lvs_core::admin::maintenance_matches`]); a
/// directory that cannot be read is an error, for the caller to log.
pub fn maintenance_files(dir: &Path) -> std::io::Result<Vec<String>> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if let Some(name) = entry.file_name().to_str() {
            if !name.starts_with('.') {
                names.push(name.to_owned());
            }
        }
    }
    names.sort();
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_reads_back_and_goes_with_its_last_hold() {
        let dir = std::env::temp_dir().join(format!("lvs-holds-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir(&dir).expect("a folder of its own");
        let path = dir.join("lvs.holds");
        assert!(read(&path).expect("no record").is_empty());
        let holds = vec![HoldRecord {
            service: "web site".into(),
            server: "a".into(),
            drain_seconds: Some(30),
        }];
        write(&path, holds.clone()).expect("written");
        assert_eq!(read(&path).expect("read back"), holds);
        write(&path, Vec::new()).expect("emptied");
        assert!(!path.exists());
        std::fs::write(&path, "tcp 10.0.0.1 80\n").expect("foreign file");
        assert!(matches!(read(&path), Err(HoldsError::Invalid { .. })));
        std::fs::write(dir.join("10.0.0.1"), "").expect("maintenance file");
        std::fs::write(dir.join(".hidden"), "").expect("hidden file");
        let names = maintenance_files(&dir).expect("listed");
        assert_eq!(names, vec!["10.0.0.1".to_owned(), "lvs.holds".to_owned()]);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
