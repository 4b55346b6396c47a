//! How soon a snapshot the driver called not-ready is asked about again.
//!
//! Upstream requeues it on the error backoff (1 s doubling to 5 min), so a snapshot that needs
//! a few seconds is noticed late and one that needs minutes up to five minutes late. We poll
//! on our own short schedule first — `start` doubling up to a small `cap`, then `cap` for
//! [`FAST_POLLS`] polls — so readyToUse of the usual snapshot shows within `cap` (plus one API
//! round trip) of the driver saying so. A snapshot still not ready after that is a slow one (a
//! driver copying data, or one stuck): from there the delay doubles again, up to `ceiling`
//! (`--retry-interval-max`), so a stuck snapshot costs one call per ceiling, not one per `cap`
//! forever.

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

/// Polls at `cap` before the delay grows again: about 30 s at the default 500 ms.
pub const FAST_POLLS: u32 = 60;

/// The whole schedule: the fast phase the flags shape, then the backoff up to `ceiling`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PollSchedule {
    pub fast: ReadyPoll,
    /// The longest delay (`--retry-interval-max`; never below `fast.cap`).
    pub ceiling: Duration,
}

impl PollSchedule {
    /// Delay before poll number `polls` (1-based) of one snapshot.
    pub fn delay(&self, polls: u32) -> Duration {
        let fast = self.fast.delay(polls);
        let Some(slow) = polls.checked_sub(FAST_POLLS).filter(|n| *n > 0) else {
            return fast;
        };
        let ceiling = self.ceiling.max(self.fast.cap);
        self.fast
            .cap
            .checked_mul(1u32 << slow.min(20))
            .unwrap_or(ceiling)
            .clamp(fast, ceiling)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_for_a_while_then_backing_off_to_the_ceiling() {
        let schedule = PollSchedule {
            fast: ReadyPoll::default(),
            ceiling: Duration::from_secs(300),
        };
        let ms = |n| schedule.delay(n).as_millis();
        assert_eq!([1, 2, 3, 4].map(ms), [100, 200, 400, 500]);
        assert_eq!(ms(FAST_POLLS), 500, "still fast");
        let slow: Vec<u128> = (1..=11).map(|k| ms(FAST_POLLS + k)).collect();
        assert_eq!(
            slow,
            [
                1000, 2000, 4000, 8000, 16_000, 32_000, 64_000, 128_000, 256_000, 300_000, 300_000
            ]
        );
        assert_eq!(ms(u32::MAX), 300_000, "no overflow, the ceiling holds");
        let fast_fraction: Duration = (1..=FAST_POLLS).map(|n| schedule.delay(n)).sum();
        assert!(
            fast_fraction < Duration::from_secs(31),
            "the fast phase is about half a minute: {fast_fraction:?}"
        );
        let low_ceiling = PollSchedule {
            fast: ReadyPoll::default(),
            ceiling: Duration::from_millis(1),
        };
        assert_eq!(
            low_ceiling.delay(FAST_POLLS + 5),
            Duration::from_millis(500),
            "a ceiling below the cap does not speed polls up"
        );
    }

    #[test]
    fn doubles_to_the_cap_and_stays_there() {
        let poll = ReadyPoll::default();
        let delays: Vec<u128> = (1..=8).map(|n| poll.delay(n).as_millis()).collect();
        assert_eq!(delays, [100, 200, 400, 500, 500, 500, 500, 500]);
        assert_eq!(poll.delay(u32::MAX), Duration::from_millis(500));
        assert_eq!(poll.delay(0), Duration::from_millis(100));
    }
}
