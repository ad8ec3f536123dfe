//! The IPVS sysctls lvs.cf manages (`expire_nodest_conn` and the others of
//! [`IpvsSysctls`]): written under `/proc/sys/net/ipv4/vs/` of the daemon's
//! network namespace at start and on each reload, and put back as they were
//! found when the daemon stops or a reload stops setting one.
//!
//! What they were is kept in memory only: after a crash the values stay as
//! lvs.cf set them until the next clean stop of a run that sets them.

use std::collections::BTreeMap;
use std::path::PathBuf;

use lvs_cf::IpvsSysctls;

/// Where the IPVS sysctls of the running namespace are.
pub const IPVS_SYSCTL_DIR: &str = "/proc/sys/net/ipv4/vs";

/// The sysctls one director set, and what each was before.
#[derive(Debug)]
pub struct ManagedSysctls {
    dir: PathBuf,
    /// Each sysctl set, with the value found before the first write.
    found: BTreeMap<&'static str, String>,
}

impl Default for ManagedSysctls {
    fn default() -> Self {
        ManagedSysctls::in_dir(IPVS_SYSCTL_DIR)
    }
}

impl ManagedSysctls {
    /// Sysctls kept as files in `dir` (tests give a folder of their own).
    pub fn in_dir(dir: impl Into<PathBuf>) -> ManagedSysctls {
        ManagedSysctls {
            dir: dir.into(),
            found: BTreeMap::new(),
        }
    }

    /// Writes what `wanted` sets, and puts back those it no longer sets.
    /// Returns one line per change made and per failure, the failures as
    /// `Err`, for the log.
    pub fn apply(&mut self, wanted: &IpvsSysctls) -> Vec<Result<String, String>> {
        let entries = wanted.entries();
        let mut lines = Vec::new();
        let dropped: Vec<&'static str> = self
            .found
            .keys()
            .copied()
            .filter(|name| !entries.iter().any(|(wanted, _)| wanted == name))
            .collect();
        for name in dropped {
            if let Some(before) = self.found.get(name).cloned() {
                let put_back = self.write(name, &before);
                if put_back.is_ok() {
                    self.found.remove(name);
                }
                // A put-back that failed is tried again at the stop.
                lines.push(put_back.map(|()| format!("{name} put back to {before}")));
            }
        }
        for (name, value) in entries {
            let current = match self.read(name) {
                Ok(current) => current,
                Err(e) => {
                    lines.push(Err(e));
                    continue;
                }
            };
            if current == value {
                self.found.entry(name).or_insert(current);
                continue;
            }
            let written = self.write(name, &value);
            // Only a value that was changed is one to put back.
            if written.is_ok() {
                self.found.entry(name).or_insert_with(|| current.clone());
            }
            lines.push(written.map(|()| format!("{name} set to {value} (was {current})")));
        }
        lines
    }

    /// Puts every sysctl back as it was found; the same lines as
    /// [`ManagedSysctls::apply`].
    pub fn restore(&mut self) -> Vec<Result<String, String>> {
        std::mem::take(&mut self.found)
            .into_iter()
            .map(|(name, before)| {
                self.write(name, &before)
                    .map(|()| format!("{name} put back to {before}"))
            })
            .collect()
    }

    fn read(&self, name: &str) -> Result<String, String> {
        let path = self.dir.join(name);
        std::fs::read_to_string(&path)
            .map(|text| text.trim().to_owned())
            .map_err(|e| format!("cannot read {}: {e}", path.display()))
    }

    fn write(&self, name: &str, value: &str) -> Result<(), String> {
        let path = self.dir.join(name);
        std::fs::write(&path, format!("{value}\n")).map_err(|e| format!("cannot set {}: {e}", path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sets_what_is_asked_and_puts_back_what_it_found() {
        let dir = std::env::temp_dir().join(format!("lvs-sysctl-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        for (name, value) in [
            ("expire_nodest_conn", "0\n"),
            ("conn_reuse_mode", "1\n"),
            ("sloppy_tcp", "0\n"),
        ] {
            std::fs::write(dir.join(name), value).expect("write");
        }
        let read = |name: &str| std::fs::read_to_string(dir.join(name)).expect("read");
        let mut sysctls = ManagedSysctls::in_dir(&dir);
        let mut wanted = IpvsSysctls::default();
        wanted.expire_nodest_conn = Some(true);
        wanted.conn_reuse_mode = Some(0);
        wanted.sloppy_tcp = Some(false);
        let lines = sysctls.apply(&wanted);
        assert_eq!(
            lines,
            [
                Ok("expire_nodest_conn set to 1 (was 0)".to_owned()),
                Ok("conn_reuse_mode set to 0 (was 1)".to_owned()),
            ]
        );
        assert_eq!(
            (read("expire_nodest_conn"), read("conn_reuse_mode")),
            ("1\n".into(), "0\n".into())
        );
        // A reload that no longer sets conn_reuse_mode puts it back.
        wanted.conn_reuse_mode = None;
        assert_eq!(
            sysctls.apply(&wanted),
            [Ok("conn_reuse_mode put back to 1".to_owned())]
        );
        assert_eq!(read("conn_reuse_mode"), "1\n");
        // A sysctl the kernel lacks is a failure of its own.
        wanted.expire_quiescent_template = Some(true);
        let lines = sysctls.apply(&wanted);
        assert!(
            matches!(lines.as_slice(), [Err(e)] if e.contains("expire_quiescent_template")),
            "{lines:?}"
        );
        // The stop puts back what was found, and says so.
        assert_eq!(
            sysctls.restore(),
            [
                Ok("expire_nodest_conn put back to 0".to_owned()),
                Ok("sloppy_tcp put back to 0".to_owned()),
            ]
        );
        assert_eq!(read("expire_nodest_conn"), "0\n");
        assert_eq!(read("sloppy_tcp"), "0\n");
        std::fs::remove_dir_all(&dir).expect("clean up");
    }
}
