//! Files that hold secrets or that root acts on (the heartbeat key, the web
//! tool's passwords, lvs.cf): whether other users can read or change them,
//! and replacing them atomically with a mode that does not depend on the
//! umask.

use std::io::Write as _;
use std::os::unix::fs::{MetadataExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

/// A warning when users other than the owner can read (`secret`) or
/// change the file: its path, its mode and what to do. `None` when the
/// file is private or cannot be read (the caller reports that).
pub fn exposure_warning(path: &Path, what: &str, secret: bool) -> Option<String> {
    let mode = std::fs::metadata(path).ok()?.permissions().mode() & 0o7777;
    let writable = mode & 0o022 != 0;
    let readable = secret && mode & 0o044 != 0;
    let who = match (writable, readable) {
        (true, true) => "other users can read and change it",
        (true, false) => "other users can change it",
        (false, true) => "other users can read it",
        (false, false) => return None,
    };
    Some(format!(
        "WARNING: {what} {} has mode {mode:04o}: {who}; chmod 600 it",
        path.display()
    ))
}

/// Writes `bytes` to a new temporary file beside `path` and renames it over
/// `path`, so that readers see the old file or the new one, never a part.
/// The new file takes the old one's mode and (as root) owner; a file that
/// did not exist gets exactly `new_mode`, whatever the umask. Returns the
/// path of whatever failed with the error.
pub fn replace_atomically(path: &Path, bytes: &[u8], new_mode: u32) -> Result<(), (PathBuf, std::io::Error)> {
    let old = std::fs::metadata(path).ok();
    let mode = old.as_ref().map_or(new_mode, |m| m.permissions().mode() & 0o7777);
    let mut name = path.file_name().unwrap_or_default().to_owned();
    name.push(format!(".tmp-{}", std::process::id()));
    let temporary = path.with_file_name(name);
    let failed = |e| (temporary.clone(), e);
    // A leftover of a crashed run; create_new then refuses anything planted.
    let _ = std::fs::remove_file(&temporary);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode & 0o700)
        .open(&temporary)
        .map_err(failed)?;
    let written = file
        .write_all(bytes)
        .and_then(|()| match &old {
            // Only root may give a file away; others keep their own.
            // SAFETY: geteuid has no preconditions.
            Some(m) if unsafe { libc::geteuid() } == 0 => {
                std::os::unix::fs::fchown(&file, Some(m.uid()), Some(m.gid()))
            }
            _ => Ok(()),
        })
        // After the chown, which clears set-id bits; explicit, so the umask has no say.
        .and_then(|()| file.set_permissions(std::fs::Permissions::from_mode(mode)))
        .and_then(|()| file.sync_all());
    if let Err(e) = written {
        let _ = std::fs::remove_file(&temporary);
        return Err(failed(e));
    }
    if let Err(e) = std::fs::rename(&temporary, path) {
        let _ = std::fs::remove_file(&temporary);
        return Err((path.to_owned(), e));
    }
    // The rename reaches the disk with its directory.
    let directory = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::File::open(directory)
        .and_then(|d| d.sync_all())
        .map_err(|e| (directory.to_owned(), e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_files_get_their_mode_whatever_the_umask_and_old_ones_keep_theirs() {
        let dir = testkit::TempDir::new("files-mode");
        let path = dir.path().join("secret");
        // SAFETY: umask has no preconditions; the tests in this module do not race on it.
        let before = unsafe { libc::umask(0o000) };
        let result = replace_atomically(&path, b"one", 0o600);
        unsafe { libc::umask(before) };
        result.expect("write");
        let mode = |p: &Path| std::fs::metadata(p).expect("meta").permissions().mode() & 0o7777;
        assert_eq!(mode(&path), 0o600);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).expect("chmod");
        replace_atomically(&path, b"two", 0o600).expect("write");
        assert_eq!(mode(&path), 0o640);
        assert_eq!(std::fs::read(&path).expect("read"), b"two");
        assert_eq!(std::fs::read_dir(dir.path()).expect("dir").count(), 1);
    }

    #[test]
    fn files_others_can_read_or_change_are_named() {
        let dir = testkit::TempDir::new("files-exposure");
        let path = dir.path().join("key");
        std::fs::write(&path, "k").expect("write");
        let chmod = |m| std::fs::set_permissions(&path, std::fs::Permissions::from_mode(m)).expect("chmod");
        chmod(0o600);
        assert_eq!(exposure_warning(&path, "heartbeat key", true), None);
        chmod(0o644);
        let warning = exposure_warning(&path, "heartbeat key", true).expect("warned");
        assert!(
            warning.contains("mode 0644: other users can read it"),
            "{warning}"
        );
        assert_eq!(exposure_warning(&path, "lvs.cf", false), None);
        chmod(0o666);
        assert!(exposure_warning(&path, "password file", true)
            .expect("warned")
            .contains("other users can read and change it"));
    }
}
