//! Login throttling: failed logins slow down further attempts from the same
//! source and for the same user, doubling the wait with each failure, so
//! that guessing costs hours instead of seconds. A browser in which a user
//! has logged in before carries a device token (a cookie of its own), and
//! an attempt with a token trusted for that user is held back by nothing:
//! a flood of guesses, from elsewhere or from the same address (an SSH
//! tunnel or a proxy makes everyone 127.0.0.1), does not lock the real user
//! out.
//!
//! Pure: every call takes `now`, so tests run on simulated time.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// Failures allowed before any wait.
const FREE_FAILURES: u32 = 3;
/// The first wait; each further failure doubles it.
const FIRST_WAIT: Duration = Duration::from_secs(1);
/// The longest wait.
const LONGEST_WAIT: Duration = Duration::from_secs(15 * 60);
/// How many sources and users are tracked; the oldest records go first.
const TRACKED: usize = 10_000;

#[derive(Clone, Copy, Debug)]
struct Record {
    failures: u32,
    /// No attempt before this.
    until: Option<Instant>,
    last: Instant,
}

impl Record {
    fn wait(&self, now: Instant) -> Option<Duration> {
        self.until
            .and_then(|until| until.checked_duration_since(now))
            .filter(|d| !d.is_zero())
    }

    fn fail(&mut self, now: Instant) {
        self.failures += 1;
        self.last = now;
        if let Some(extra) = self.failures.checked_sub(FREE_FAILURES + 1) {
            let wait = FIRST_WAIT
                .checked_mul(1u32 << extra.min(20))
                .map_or(LONGEST_WAIT, |w| w.min(LONGEST_WAIT));
            self.until = Some(now + wait);
        }
    }
}

/// Why an attempt is refused before its password is checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Too many failures from this address.
    Source(Duration),
    /// Too many failures for this user.
    User(Duration),
}

impl Refusal {
    /// How long until an attempt is taken again.
    pub fn wait(self) -> Duration {
        match self {
            Refusal::Source(wait) | Refusal::User(wait) => wait,
        }
    }
}

/// The failures of each source and each user.
#[derive(Debug, Default)]
pub struct LoginThrottle {
    sources: HashMap<IpAddr, Record>,
    users: HashMap<String, Record>,
    /// (user, device token) pairs that have logged in: exempt from every wait.
    trusted: HashSet<(String, String)>,
}

/// The longest user name tracked as it is; longer ones are tracked by their
/// first this many bytes (what an attacker sends cannot grow the records).
const TRACKED_NAME: usize = 64;

fn tracked(user: &str) -> String {
    user.char_indices()
        .take_while(|(i, _)| *i < TRACKED_NAME)
        .map(|(_, c)| c)
        .collect()
}

impl LoginThrottle {
    /// Whether an attempt as `user` from `source`, from a browser with
    /// `device` token if any, may be checked now.
    pub fn check(
        &self,
        user: &str,
        source: IpAddr,
        device: Option<&str>,
        now: Instant,
    ) -> Result<(), Refusal> {
        if device.is_some_and(|token| self.trusted.contains(&(tracked(user), token.to_owned()))) {
            return Ok(());
        }
        if let Some(wait) = self.sources.get(&source).and_then(|r| r.wait(now)) {
            return Err(Refusal::Source(wait));
        }
        if let Some(wait) = self.users.get(&tracked(user)).and_then(|r| r.wait(now)) {
            return Err(Refusal::User(wait));
        }
        Ok(())
    }

    /// Records a failed attempt.
    pub fn failed(&mut self, user: &str, source: IpAddr, now: Instant) {
        let fresh = Record {
            failures: 0,
            until: None,
            last: now,
        };
        self.sources.entry(source).or_insert(fresh).fail(now);
        // Unknown users are tracked too: they cost as much as known ones.
        self.users.entry(tracked(user)).or_insert(fresh).fail(now);
        self.forget_oldest();
    }

    /// Records a login from a browser given `device` as its token: the
    /// source's failures are forgiven and the token trusted for the user.
    pub fn succeeded(&mut self, user: &str, source: IpAddr, device: &str) {
        self.sources.remove(&source);
        if self.trusted.len() < TRACKED {
            self.trusted.insert((tracked(user), device.to_owned()));
        }
    }

    fn forget_oldest(&mut self) {
        fn trim<K: Clone + Eq + std::hash::Hash>(map: &mut HashMap<K, Record>) {
            if map.len() > TRACKED {
                if let Some(oldest) = map.iter().min_by_key(|(_, r)| r.last).map(|(k, _)| k.clone()) {
                    map.remove(&oldest);
                }
            }
        }
        trim(&mut self.sources);
        trim(&mut self.users);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("literal")
    }

    #[test]
    fn failures_from_a_source_double_its_wait() {
        let mut throttle = LoginThrottle::default();
        let start = Instant::now();
        let attacker = ip("192.0.2.66");
        for _ in 0..FREE_FAILURES {
            assert_eq!(throttle.check("piranha", attacker, None, start), Ok(()));
            throttle.failed("piranha", attacker, start);
        }
        assert_eq!(throttle.check("piranha", attacker, None, start), Ok(()));
        throttle.failed("piranha", attacker, start);
        assert_eq!(
            throttle.check("admin", attacker, None, start),
            Err(Refusal::Source(FIRST_WAIT)),
            "another user name does not help"
        );
        let later = start + FIRST_WAIT;
        assert_eq!(throttle.check("admin", attacker, None, later), Ok(()));
        throttle.failed("admin", attacker, later);
        assert_eq!(
            throttle.check("admin", attacker, None, later),
            Err(Refusal::Source(FIRST_WAIT * 2))
        );
        // Guessing for an hour: a dozen or so attempts, not 230,000.
        let mut now = later;
        let mut attempts = 0;
        while now < start + Duration::from_secs(3600) {
            match throttle.check("admin", attacker, None, now) {
                Ok(()) => {
                    attempts += 1;
                    throttle.failed("admin", attacker, now);
                }
                Err(refusal) => now += refusal.wait(),
            }
        }
        assert!(attempts < 20, "{attempts} attempts in an hour");
    }

    #[test]
    fn failures_hold_back_everyone_but_a_browser_the_user_logged_in_from() {
        let mut throttle = LoginThrottle::default();
        let now = Instant::now();
        // Everyone comes through the same tunnel.
        let tunnel = ip("127.0.0.1");
        throttle.succeeded("piranha", tunnel, "token-of-the-admins-browser");
        for i in 0..50u8 {
            throttle.failed("piranha", tunnel, now);
            throttle.failed("piranha", IpAddr::from([198, 51, 100, i]), now);
        }
        assert!(matches!(
            throttle.check("piranha", tunnel, None, now),
            Err(Refusal::Source(_))
        ));
        assert!(matches!(
            throttle.check("piranha", ip("203.0.113.7"), Some("a guessed token"), now),
            Err(Refusal::User(_))
        ));
        assert_eq!(
            throttle.check("piranha", tunnel, Some("token-of-the-admins-browser"), now),
            Ok(()),
            "the real user still gets in"
        );
        assert!(
            throttle
                .check("admin", tunnel, Some("token-of-the-admins-browser"), now)
                .is_err(),
            "a token is trusted for its user only"
        );
        // A huge user name is tracked by its start.
        throttle.failed(&"x".repeat(1 << 20), tunnel, now);
        assert!(throttle.users.keys().all(|name| name.len() <= TRACKED_NAME + 4));
    }
}
