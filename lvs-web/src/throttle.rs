//! Login throttling: failed logins slow down further attempts from the same
//! source and for the same user, doubling the wait with each failure, so
//! that guessing costs hours instead of seconds. A source from which a user
//! has logged in before is not held back by failures for that user made
//! elsewhere: a flood of guesses does not lock the real user out.
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
    /// (user, source) pairs that have logged in: exempt from the user's wait.
    trusted: HashSet<(String, IpAddr)>,
}

impl LoginThrottle {
    /// Whether an attempt as `user` from `source` may be checked now.
    pub fn check(&self, user: &str, source: IpAddr, now: Instant) -> Result<(), Refusal> {
        if let Some(wait) = self.sources.get(&source).and_then(|r| r.wait(now)) {
            return Err(Refusal::Source(wait));
        }
        if !self.trusted.contains(&(user.to_owned(), source)) {
            if let Some(wait) = self.users.get(user).and_then(|r| r.wait(now)) {
                return Err(Refusal::User(wait));
            }
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
        self.users.entry(user.to_owned()).or_insert(fresh).fail(now);
        self.forget_oldest();
    }

    /// Records a login: the source's failures are forgiven and the pair trusted.
    pub fn succeeded(&mut self, user: &str, source: IpAddr) {
        self.sources.remove(&source);
        if self.trusted.len() < TRACKED {
            self.trusted.insert((user.to_owned(), source));
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
            assert_eq!(throttle.check("piranha", attacker, start), Ok(()));
            throttle.failed("piranha", attacker, start);
        }
        assert_eq!(throttle.check("piranha", attacker, start), Ok(()));
        throttle.failed("piranha", attacker, start);
        assert_eq!(
            throttle.check("admin", attacker, start),
            Err(Refusal::Source(FIRST_WAIT)),
            "another user name does not help"
        );
        let later = start + FIRST_WAIT;
        assert_eq!(throttle.check("admin", attacker, later), Ok(()));
        throttle.failed("admin", attacker, later);
        assert_eq!(
            throttle.check("admin", attacker, later),
            Err(Refusal::Source(FIRST_WAIT * 2))
        );
        // Guessing for an hour: a dozen or so attempts, not 230,000.
        let mut now = later;
        let mut attempts = 0;
        while now < start + Duration::from_secs(3600) {
            match throttle.check("admin", attacker, now) {
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
    fn failures_for_a_user_hold_back_new_sources_but_not_the_users_own() {
        let mut throttle = LoginThrottle::default();
        let now = Instant::now();
        let home = ip("192.0.2.10");
        throttle.succeeded("piranha", home);
        for i in 0..50u8 {
            throttle.failed("piranha", IpAddr::from([198, 51, 100, i]), now);
        }
        assert!(matches!(
            throttle.check("piranha", ip("203.0.113.7"), now),
            Err(Refusal::User(_))
        ));
        assert_eq!(
            throttle.check("piranha", home, now),
            Ok(()),
            "the real user still gets in"
        );
    }
}
