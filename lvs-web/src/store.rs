//! Reading and writing lvs.cf for the web tool: a save is validated, counts
//! `serial_no` up, keeps the previous file as `lvs.cf.bak` and replaces the
//! file atomically (a temporary file in the same directory, then a rename),
//! with the old file's mode and owner; a new file is created 0600, whatever
//! the umask.

use std::path::{Path, PathBuf};

use lvs_cf::{Config, ParseOptions};

use lvs_cf::edit::{Document, Problem};

/// The mode of an lvs.cf the tool creates: its commands run as root.
pub const NEW_FILE_MODE: u32 = 0o600;

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

/// What a page's forms carry to say which file they were made from: the
/// `serial_no` and a digest of the whole text, so that the check holds
/// whatever the serial does (one that can count no higher, one edited by
/// hand, one set back).
pub fn version(document: &Document) -> String {
    use std::hash::{Hash as _, Hasher as _};
    // SipHash with fixed keys: the same text gives the same digest in any
    // run; guessing one buys nothing, as the CSRF token guards the form.
    let mut hasher = std::hash::DefaultHasher::new();
    document.text().0.hash(&mut hasher);
    format!(
        "{}-{:016x}",
        lvs_cf::edit::value_of(&document.globals, "serial_no").unwrap_or("0"),
        hasher.finish()
    )
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
    let config = prepare(path, document)?;
    write_prepared(path, &config)?;
    Ok(config)
}

/// What a save of `document` to `path` would write (validated, with the
/// next `serial_no`), writing nothing: the model a plan is asked for.
pub fn prepare(path: &Path, document: &Document) -> Result<Config, StoreError> {
    let mut config = document.check().map_err(StoreError::Invalid)?;
    let problems = new_refusals(path, &config);
    if !problems.is_empty() {
        return Err(StoreError::Invalid(problems));
    }
    config.serial_no = config.serial_no.saturating_add(1);
    Ok(config)
}

/// Where the file a plan is asked for is put, beside lvs.cf (mode 0600).
pub fn plan_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_owned();
    name.push(".plan");
    path.with_file_name(name)
}

/// What the lvs daemon answering at `socket` would do on a reload to
/// `config` (written for it beside `path`, read by the daemon, removed
/// again); `None` when no daemon answers there, so there is no plan to show.
pub fn plan(path: &Path, socket: &Path, config: &Config) -> Option<lvs_core::preview::PlanAnswer> {
    use lvs_daemon::status::AskError;
    if !socket.exists() {
        return None;
    }
    let candidate = std::path::absolute(plan_path(path)).ok()?;
    if let Err(e) = replace(&candidate, lvs_cf::write(config).as_bytes()) {
        return Some(lvs_core::preview::PlanAnswer::Refused(e.to_string()));
    }
    let answer = lvs_daemon::status::plan(socket, &candidate);
    let _ = std::fs::remove_file(&candidate);
    match answer {
        Ok((answer, _)) => Some(answer),
        Err(AskError::Unreachable { .. }) => None,
        Err(e) => Some(lvs_core::preview::PlanAnswer::Refused(e.to_string())),
    }
}

/// Writes `config`, as [`prepare`] made it, keeping the old file as the backup.
pub fn write_prepared(path: &Path, config: &Config) -> Result<(), StoreError> {
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| StoreError::Io { path, source }
    };
    if path.exists() {
        replace(&backup_path(path), &std::fs::read(path).map_err(io(path))?)?;
    }
    replace(path, lvs_cf::write(config).as_bytes())?;
    Ok(())
}

/// What a daemon that takes the file as it is would refuse in `config`: a
/// save never takes a working router stack to one that cannot start. (A
/// file being built up from nothing may stay unready for a daemon that
/// was never ready for it.)
fn new_refusals(path: &Path, config: &Config) -> Vec<Problem> {
    use lvs_core::acceptance::refusals;
    let resolver = &lvs_daemon::director::system_resolver;
    let now = refusals(config, resolver);
    if now.is_empty() {
        return Vec::new();
    }
    let before = std::fs::read(path)
        .ok()
        .and_then(|bytes| lvs_cf::parse_bytes(&bytes, &ParseOptions::default()).ok())
        .map(|parsed| refusals(&parsed.config, resolver));
    let refused_before = |daemon| {
        before
            .as_ref()
            .is_none_or(|before| before.iter().any(|r| r.daemon == daemon))
    };
    now.into_iter()
        .filter(|r| !refused_before(r.daemon))
        .map(|r| Problem {
            place: None,
            key: None,
            message: format!("not saved: {r}"),
        })
        .collect()
}

/// Replaces `path` atomically; a new file is private to its owner (0600).
fn replace(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    lvs_daemon::files::replace_atomically(path, bytes, NEW_FILE_MODE)
        .map_err(|(path, source)| StoreError::Io { path, source })
}

#[cfg(test)]
mod tests {
    use super::*;
    use lvs_cf::edit::set;
    use std::os::unix::fs::PermissionsExt as _;

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
    fn a_new_file_is_private_whatever_the_umask() {
        let dir = testkit::TempDir::new("web-store-new");
        let path = dir.path().join("lvs.cf");
        std::fs::write(dir.path().join("seed.cf"), VALID).expect("write");
        let document = load(&dir.path().join("seed.cf")).expect("load");
        // SAFETY: umask has no preconditions.
        let before = unsafe { libc::umask(0o000) };
        let saved = save(&path, &document);
        unsafe { libc::umask(before) };
        saved.expect("save");
        let mode = std::fs::metadata(&path).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode, NEW_FILE_MODE);
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
