//! Who may use the web tool: a password file with Argon2id hashes, sessions
//! in random cookies, and a CSRF token per session that every change must
//! carry. Piranha's tool guarded only GET (CVE-2013-6492); here every path
//! and method but the login page goes through [`Sessions::find`].

use std::collections::HashMap;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};

/// Where `lvs-web` keeps its password, next to lvs.cf.
pub const DEFAULT_PASSWORD_FILE: &str = "/etc/sysconfig/ha/conf/lvs-web.passwd";

/// The user Piranha's tool asked for; the password file may name another.
pub const DEFAULT_USER: &str = "piranha";

/// How long a session lasts without a request.
pub const SESSION_IDLE: Duration = Duration::from_secs(30 * 60);
/// How long a session lasts at most, however busy: then the user logs in again.
pub const SESSION_LIFETIME: Duration = Duration::from_secs(12 * 60 * 60);

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "lvs_web_session";

#[derive(Debug, thiserror::Error)]
/// Why a password or session operation failed.
#[non_exhaustive]
pub enum AuthError {
    #[error("{path}: {source}")]
    /// The password file cannot be read or written.
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    #[error("{path}: line {line}: expected USER:ARGON2-HASH")]
    /// A line of the password file is not `USER:HASH`.
    Malformed {
        /// The file.
        path: PathBuf,
        /// Its number.
        line: usize,
    },
    #[error("cannot hash the password: {0}")]
    /// The password could not be hashed.
    Hash(String),
    #[error("cannot read random bytes: {0}")]
    /// No randomness for a session id or salt.
    Random(std::io::Error),
}

/// `n` random bytes from the kernel, as lowercase hex.
pub fn random_hex(n: usize) -> Result<String, AuthError> {
    let mut bytes = vec![0u8; n];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(AuthError::Random)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// An Argon2id hash of `password` in PHC form, with `params` (the crate's
/// defaults, OWASP's minimum, when `None`).
pub fn hash_password(password: &str, params: Option<Params>) -> Result<String, AuthError> {
    let hasher = match params {
        Some(params) => Argon2::new(Algorithm::Argon2id, Version::V0x13, params),
        None => Argon2::default(),
    };
    hasher
        .hash_password(password.as_bytes())
        .map(|hash| hash.to_string())
        .map_err(|e| AuthError::Hash(e.to_string()))
}

/// The users and their hashes, as read from the password file.
#[derive(Clone, Debug, Default)]
pub struct Passwords {
    users: Vec<(String, String)>,
    /// Verified against for unknown users: their check costs what a known
    /// user's does.
    decoy: String,
}

impl Passwords {
    /// Reads `USER:HASH` lines; blank lines and `#` comments are skipped.
    pub fn load(path: &Path) -> Result<Passwords, AuthError> {
        let text = std::fs::read_to_string(path).map_err(|source| AuthError::Io {
            path: path.to_owned(),
            source,
        })?;
        let mut users = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            match line.split_once(':') {
                Some((user, hash)) if !user.is_empty() && PasswordHash::new(hash).is_ok() => {
                    users.push((user.to_owned(), hash.to_owned()))
                }
                _ => {
                    return Err(AuthError::Malformed {
                        path: path.to_owned(),
                        line: i + 1,
                    })
                }
            }
        }
        let decoy = users.first().map(|(_, hash)| hash.clone()).unwrap_or_default();
        Ok(Passwords { users, decoy })
    }

    /// Whether `user` exists and `password` is theirs. Unknown users cost a
    /// hash too, so timing does not tell which users exist.
    pub fn verify(&self, user: &str, password: &str) -> bool {
        let stored = self
            .users
            .iter()
            .find(|(name, _)| name == user)
            .map(|(_, hash)| hash.as_str());
        // An unknown user is checked against a real hash too; the result
        // is thrown away below.
        let hash = stored.unwrap_or(&self.decoy);
        let matches = PasswordHash::new(hash)
            .map(|parsed| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok()
            })
            .unwrap_or(false);
        matches && stored.is_some()
    }

    /// Whether there are no users.
    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }
}

/// Sets `user`'s password in the file at `path`, creating it (mode 0600) or
/// replacing the user's line; the file is replaced atomically.
pub fn set_password(path: &Path, user: &str, password: &str) -> Result<(), AuthError> {
    let io = |source| AuthError::Io {
        path: path.to_owned(),
        source,
    };
    let existing = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(io(e)),
    };
    let hash = hash_password(password, None)?;
    let mut text: String = existing
        .lines()
        .filter(|line| line.split_once(':').map(|(u, _)| u) != Some(user))
        .map(|line| format!("{line}\n"))
        .collect();
    text.push_str(&format!("{user}:{hash}\n"));
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    lvs_daemon::files::replace_atomically(path, text.as_bytes(), 0o600)
        .map_err(|(path, source)| AuthError::Io { path, source })
}

#[derive(Clone, Debug)]
struct Session {
    csrf: String,
    user: String,
    opened: Instant,
    last_seen: Instant,
    limits: Limits,
}

impl Session {
    fn live(&self) -> bool {
        self.last_seen.elapsed() < self.limits.idle && self.opened.elapsed() < self.limits.lifetime
    }
}

/// How long sessions last.
#[derive(Clone, Copy, Debug)]
struct Limits {
    idle: Duration,
    lifetime: Duration,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            idle: SESSION_IDLE,
            lifetime: SESSION_LIFETIME,
        }
    }
}

/// A live session, as a request sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionInfo {
    /// The cookie's value.
    pub id: String,
    /// The token every change must carry.
    pub csrf: String,
    /// Who logged in.
    pub user: String,
}

/// The sessions of logged-in users, in memory (a restart logs everyone out).
#[derive(Debug, Default)]
pub struct Sessions {
    live: Mutex<HashMap<String, Session>>,
    limits: Limits,
}

impl Sessions {
    /// Sessions that end after `idle` without a request, or `lifetime`
    /// after they opened ([`SESSION_IDLE`] and [`SESSION_LIFETIME`] by default).
    pub fn with_limits(idle: Duration, lifetime: Duration) -> Sessions {
        Sessions {
            live: Mutex::default(),
            limits: Limits { idle, lifetime },
        }
    }

    /// A new session for `user`.
    pub fn open(&self, user: &str) -> Result<SessionInfo, AuthError> {
        let info = SessionInfo {
            id: random_hex(32)?,
            csrf: random_hex(32)?,
            user: user.to_owned(),
        };
        if let Ok(mut live) = self.live.lock() {
            live.retain(|_, s| s.live());
            live.insert(
                info.id.clone(),
                Session {
                    csrf: info.csrf.clone(),
                    user: info.user.clone(),
                    opened: Instant::now(),
                    last_seen: Instant::now(),
                    limits: self.limits,
                },
            );
        }
        Ok(info)
    }

    /// The session with this id, if it is live (its idle time restarts).
    pub fn find(&self, id: &str) -> Option<SessionInfo> {
        let mut live = self.live.lock().ok()?;
        let session = live.get_mut(id)?;
        if !session.live() {
            live.remove(id);
            return None;
        }
        session.last_seen = Instant::now();
        Some(SessionInfo {
            id: id.to_owned(),
            csrf: session.csrf.clone(),
            user: session.user.clone(),
        })
    }

    /// Ends the session `id`.
    pub fn close(&self, id: &str) {
        if let Ok(mut live) = self.live.lock() {
            live.remove(id);
        }
    }
}

/// Compares secrets in time that does not depend on where they differ.
pub fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The session id in a `Cookie` header.
pub fn session_cookie(header: &str) -> Option<&str> {
    cookie(header, SESSION_COOKIE)
}

/// The device token in a `Cookie` header (see [`crate::throttle`]).
pub fn device_cookie(header: &str) -> Option<&str> {
    cookie(header, DEVICE_COOKIE).filter(|token| token.len() == 64)
}

fn cookie<'h>(header: &'h str, wanted: &str) -> Option<&'h str> {
    header
        .split(';')
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == wanted)
        .map(|(_, value)| value)
}

/// The device cookie's name: a browser a user has logged in from.
pub const DEVICE_COOKIE: &str = "lvs_web_device";

/// The `Set-Cookie` value for a browser's device token: a year, sent only
/// to the login page.
pub fn set_device_cookie(token: &str) -> String {
    format!("{DEVICE_COOKIE}={token}; Path=/login; Max-Age=31536000; HttpOnly; Secure; SameSite=Strict")
}

/// The `Set-Cookie` value for a session (or, with `None`, one that ends it).
/// HttpOnly keeps it from scripts, SameSite=Strict from other sites' forms,
/// Secure from plain HTTP other than to this machine (browsers treat
/// loopback addresses as secure).
pub fn set_cookie(id: Option<&str>) -> String {
    match id {
        Some(id) => format!("{SESSION_COOKIE}={id}; Path=/; HttpOnly; Secure; SameSite=Strict"),
        None => format!("{SESSION_COOKIE}=; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age=0"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cheap() -> Option<Params> {
        Params::new(256, 1, 1, None).ok()
    }

    #[test]
    fn a_password_verifies_and_others_do_not() {
        let hash = hash_password("s3cret", cheap()).expect("hash");
        assert!(hash.starts_with("$argon2id$"));
        let passwords = Passwords {
            users: vec![("piranha".into(), hash.clone())],
            decoy: hash,
        };
        assert!(passwords.verify("piranha", "s3cret"));
        assert!(!passwords.verify("piranha", "s3cret "));
        assert!(!passwords.verify("root", "s3cret"));
    }

    #[test]
    fn the_password_file_is_replaced_with_mode_0600() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = testkit::TempDir::new("web-passwd");
        let path = dir.path().join("conf/lvs-web.passwd");
        set_password(&path, "piranha", "one").expect("set");
        set_password(&path, "admin", "two").expect("set");
        set_password(&path, "piranha", "three").expect("set");
        let mode = std::fs::metadata(&path).expect("file").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let passwords = Passwords::load(&path).expect("load");
        assert!(passwords.verify("piranha", "three"));
        assert!(!passwords.verify("piranha", "one"));
        assert!(passwords.verify("admin", "two"));
        std::fs::write(&path, "piranha:plain\n").expect("write");
        let error = Passwords::load(&path).expect_err("not a hash");
        assert!(error.to_string().contains("line 1"), "{error}");
    }

    #[test]
    fn a_busy_session_still_ends_at_its_lifetime() {
        let sessions = Sessions::with_limits(Duration::from_secs(60), Duration::from_millis(200));
        let info = sessions.open("piranha").expect("session");
        let opened = Instant::now();
        while opened.elapsed() < Duration::from_millis(150) {
            assert!(sessions.find(&info.id).is_some(), "in use, within its lifetime");
            std::thread::sleep(Duration::from_millis(10));
        }
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(sessions.find(&info.id), None, "past its lifetime, however busy");
    }

    #[test]
    fn sessions_and_cookies() {
        let sessions = Sessions::default();
        let info = sessions.open("piranha").expect("session");
        assert_eq!(info.id.len(), 64);
        assert_ne!(info.id, info.csrf);
        assert_eq!(sessions.find(&info.id), Some(info.clone()));
        let header = format!("theme=dark; {SESSION_COOKIE}={}", info.id);
        assert_eq!(session_cookie(&header), Some(info.id.as_str()));
        sessions.close(&info.id);
        assert_eq!(sessions.find(&info.id), None);
        assert!(same_secret("abc", "abc"));
        assert!(!same_secret("abc", "abd"));
        assert!(!same_secret("abc", "ab"));
        assert!(set_cookie(Some("x")).contains("HttpOnly; Secure; SameSite=Strict"));
    }
}
