//! How soon a snapshot the driver called not-ready is asked about again.
//!
//! Upstream requeues it on the error backoff (1 s doubling to 5 min), so a snapshot that needs
//! a few seconds is noticed late and one that needs minutes up to five minutes late. We poll
//! on our own short schedule — `start` doubling up to a small `cap` — so readyToUse shows
//! within `cap` (plus one API round trip) of the driver saying so, whatever the snapshot's
//! age. The cost is one cheap idempotent call per not-ready snapshot per `cap`.

use std::time::Duration;

/// The poll schedule (`--ready-poll-start`, `--ready-poll-max`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadyPoll {
    pub start: Duration,
    pub cap: Duration,
}

impl Default for ReadyPoll {
    fn default() -> Self {
        Self {
            start: Duration::from_millis(100),
            cap: Duration::from_millis(500),
        }
    }
}

impl ReadyPoll {
    /// Delay before poll number `polls` (1-based) of one snapshot.
    pub fn delay(&self, polls: u32) -> Duration {
        let doublings = polls.saturating_sub(1).min(20);
        self.start
            .checked_mul(1u32 << doublings)
            .unwrap_or(self.cap)
            .min(self.cap)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_to_the_cap_and_stays_there() {
        let poll = ReadyPoll::default();
        let delays: Vec<u128> = (1..=8).map(|n| poll.delay(n).as_millis()).collect();
        assert_eq!(delays, [100, 200, 400, 500, 500, 500, 500, 500]);
        assert_eq!(poll.delay(u32::MAX), Duration::from_millis(500));
        assert_eq!(poll.delay(0), Duration::from_millis(100));
    }
}
