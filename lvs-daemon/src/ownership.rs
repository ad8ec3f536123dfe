//! The director's record of the virtual services it owns, kept beside the
//! kernel's table so that a director killed at any moment (mid-reload,
//! mid-start) knows on its next start which services a previous run made,
//! and takes away those the file no longer names, without touching any
//! service it never made.
//!
//! The record is written (atomically, and synced) before the table gains a
//! service, and names every service that may be in the table from this
//! daemon: during a reload the old file's and the new file's. It lives in
//! `/var/run` by default (beside the status socket), which a reboot empties
//! with the table itself.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use lvs_ipvs::{Family, Protocol, ServiceKey};

/// The file's first line: what it is, and its format's version.
const HEADER: &str = "# lvs-rs: virtual services owned by the lvs daemon (v1)";

/// One line of the record.
fn encode(key: &ServiceKey) -> String {
    match *key {
        ServiceKey::Addr { protocol, addr, port } => {
            let protocol = match protocol {
                Protocol::Tcp => "tcp",
                Protocol::Udp => "udp",
                Protocol::Sctp => "sctp",
            };
            format!("{protocol} {addr} {port}")
        }
        ServiceKey::Fwmark { family, mark } => {
            let family = match family {
                Family::Inet => "inet",
                Family::Inet6 => "inet6",
            };
            format!("fwmark {family} {mark}")
        }
    }
}

fn decode(line: &str) -> Option<ServiceKey> {
    let words: Vec<&str> = line.split_whitespace().collect();
    match words.as_slice() {
        ["fwmark", family, mark] => Some(ServiceKey::Fwmark {
            family: match *family {
                "inet" => Family::Inet,
                "inet6" => Family::Inet6,
                _ => return None,
            },
            mark: mark.parse().ok()?,
        }),
        [protocol, addr, port] => Some(ServiceKey::Addr {
            protocol: match *protocol {
                "tcp" => Protocol::Tcp,
                "udp" => Protocol::Udp,
                "sctp" => Protocol::Sctp,
                _ => return None,
            },
            addr: addr.parse::<IpAddr>().ok()?,
            port: port.parse().ok()?,
        }),
        _ => None,
    }
}

/// Why the record cannot be read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OwnershipError {
    /// The file cannot be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Someone else owns the file, or others can change it: it is not trusted.
    #[error("{}: not owned by this user, or writable by others; the file is left alone", path.display())]
    Untrusted {
        /// The file.
        path: PathBuf,
    },
    /// A line is not a service key: the file is not this daemon's record.
    #[error("{}: line {line} is not a virtual service; the file is left alone", path.display())]
    Malformed {
        /// The file.
        path: PathBuf,
        /// Its number.
        line: usize,
    },
}

/// The services recorded at `path`: none when there is no record.
pub fn read(path: &Path) -> Result<BTreeSet<ServiceKey>, OwnershipError> {
    use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
    match std::fs::symlink_metadata(path) {
        Ok(metadata) => {
            // SAFETY: geteuid has no preconditions.
            let ours = metadata.uid() == unsafe { libc::geteuid() };
            if !metadata.is_file() || !ours || metadata.permissions().mode() & 0o022 != 0 {
                return Err(OwnershipError::Untrusted {
                    path: path.to_owned(),
                });
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeSet::new()),
        Err(source) => {
            return Err(OwnershipError::Io {
                path: path.to_owned(),
                source,
            })
        }
    }
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeSet::new()),
        Err(source) => {
            return Err(OwnershipError::Io {
                path: path.to_owned(),
                source,
            })
        }
    };
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty() && !line.starts_with('#'))
        .map(|(i, line)| {
            decode(line).ok_or(OwnershipError::Malformed {
                path: path.to_owned(),
                line: i + 1,
            })
        })
        .collect()
}

/// Records `keys` at `path`, replacing the record atomically and syncing it
/// before it returns.
pub fn write<'k>(path: &Path, keys: impl IntoIterator<Item = &'k ServiceKey>) -> Result<(), OwnershipError> {
    let mut text = format!("{HEADER}\n");
    for key in keys {
        text.push_str(&encode(key));
        text.push('\n');
    }
    crate::files::replace_atomically(path, text.as_bytes(), 0o600)
        .map_err(|(path, source)| OwnershipError::Io { path, source })
}

/// Removes the record: nothing of this daemon is left in the table.
pub fn remove(path: &Path) -> Result<(), OwnershipError> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(OwnershipError::Io {
            path: path.to_owned(),
            source: e,
        }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_reads_back_and_a_foreign_file_is_refused() {
        let dir = testkit::TempDir::new("ownership");
        let path = dir.path().join("lvs.owned");
        assert_eq!(read(&path).expect("no record"), BTreeSet::new());
        let keys: BTreeSet<ServiceKey> = [
            ServiceKey::Addr {
                protocol: Protocol::Tcp,
                addr: "192.0.2.1".parse().expect("literal"),
                port: 80,
            },
            ServiceKey::Addr {
                protocol: Protocol::Udp,
                addr: "2001:db8::1".parse().expect("literal"),
                port: 53,
            },
            ServiceKey::Fwmark {
                family: Family::Inet6,
                mark: 4_294_967_295,
            },
        ]
        .into_iter()
        .collect();
        write(&path, &keys).expect("write");
        assert_eq!(read(&path).expect("read"), keys);
        remove(&path).expect("remove");
        assert!(!path.exists());
        std::fs::write(&path, "something else\n").expect("write");
        assert!(matches!(
            read(&path),
            Err(OwnershipError::Malformed { line: 1, .. })
        ));
    }
}
