//! A log throttle: at most a burst of lines per window for one kind of
//! event, and a count of what was held back, so that a flood of bad
//! datagrams cannot flood the log.

use std::time::{Duration, Instant};

/// What to do with the line for an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Verdict {
    /// Log it; `suppressed` lines were held back in the window before.
    Log {
        /// Lines held back since the last one logged.
        suppressed: u64,
    },
    /// Hold it back (it is counted).
    Suppress,
}

/// Allows `burst` lines per `window`.
#[derive(Clone, Debug)]
pub struct Throttle {
    burst: u32,
    window: Duration,
    opened: Option<Instant>,
    logged: u32,
    suppressed: u64,
}

impl Throttle {
    /// At most `burst` lines in any `window` that starts with a logged line.
    pub fn new(burst: u32, window: Duration) -> Throttle {
        Throttle {
            burst,
            window,
            opened: None,
            logged: 0,
            suppressed: 0,
        }
    }

    /// The verdict for an event at `now`.
    pub fn check(&mut self, now: Instant) -> Verdict {
        let expired = self
            .opened
            .is_none_or(|opened| now.saturating_duration_since(opened) >= self.window);
        if expired {
            self.opened = Some(now);
            self.logged = 0;
        }
        if self.logged < self.burst {
            self.logged += 1;
            Verdict::Log {
                suppressed: std::mem::take(&mut self.suppressed),
            }
        } else {
            self.suppressed += 1;
            Verdict::Suppress
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_per_window_and_the_count_of_the_rest() {
        let start = Instant::now();
        let mut throttle = Throttle::new(3, Duration::from_secs(60));
        let verdicts: Vec<Verdict> = (0..200)
            .map(|i| throttle.check(start + Duration::from_millis(i)))
            .collect();
        assert_eq!(
            verdicts
                .iter()
                .filter(|v| matches!(v, Verdict::Log { .. }))
                .count(),
            3
        );
        assert_eq!(
            throttle.check(start + Duration::from_secs(61)),
            Verdict::Log { suppressed: 197 }
        );
        assert_eq!(
            throttle.check(start + Duration::from_secs(62)),
            Verdict::Log { suppressed: 0 }
        );
    }
}
