//! The retry policy all sidecars share: what a gRPC code from the driver means for the next
//! attempt, and how long to wait before it.
//!
//! The classification is csi-lib-utils' "final vs in progress": a code that says the call may
//! still be running on the driver obliges us to repeat *the same call* until it gives a final
//! answer — even if the Kubernetes object was deleted meanwhile — or a volume can be created
//! behind our back and never deleted.

use std::time::Duration;

use tonic::Code;

/// What one failed call tells the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// The driver may still be working on it (or the call never reached it): repeat the same
    /// call with the same name until a final answer.
    InProgress,
    /// Nothing is running any more; retry with backoff while the object still asks for it.
    Final,
    /// Final, and retrying the same request cannot help until the object changes
    /// (INVALID_ARGUMENT): retry at the slowest rate.
    Infeasible,
}

/// csi-lib-utils' table. RESOURCE_EXHAUSTED is final here; the provisioner turns it into a
/// reschedule when topology allows.
pub fn classify(code: Code) -> Progress {
    match code {
        Code::Cancelled | Code::DeadlineExceeded | Code::Unavailable | Code::Aborted => {
            Progress::InProgress
        }
        Code::InvalidArgument => Progress::Infeasible,
        _ => Progress::Final,
    }
}

/// Per-object exponential backoff (`--retry-interval-start` doubling up to
/// `--retry-interval-max`), retried forever.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub start: Duration,
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            start: Duration::from_secs(1),
            max: Duration::from_secs(300),
        }
    }
}

impl Backoff {
    /// Delay after the `failures`-th consecutive failure (1-based): `start · 2^(failures-1)`,
    /// capped at `max`.
    pub fn delay(&self, failures: u32) -> Duration {
        let doublings = failures.saturating_sub(1).min(32);
        self.start
            .checked_mul(1u32 << doublings.min(31))
            .unwrap_or(self.max)
            .min(self.max)
    }

    /// Delay for a failure of the given kind: infeasible ones wait the maximum.
    pub fn delay_for(&self, progress: Progress, failures: u32) -> Duration {
        match progress {
            Progress::Infeasible => self.max,
            Progress::InProgress | Progress::Final => self.delay(failures),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_that_may_still_be_running_are_in_progress() {
        let all = [
            (Code::Ok, Progress::Final),
            (Code::Cancelled, Progress::InProgress),
            (Code::Unknown, Progress::Final),
            (Code::InvalidArgument, Progress::Infeasible),
            (Code::DeadlineExceeded, Progress::InProgress),
            (Code::NotFound, Progress::Final),
            (Code::AlreadyExists, Progress::Final),
            (Code::PermissionDenied, Progress::Final),
            (Code::ResourceExhausted, Progress::Final),
            (Code::FailedPrecondition, Progress::Final),
            (Code::Aborted, Progress::InProgress),
            (Code::OutOfRange, Progress::Final),
            (Code::Unimplemented, Progress::Final),
            (Code::Internal, Progress::Final),
            (Code::Unavailable, Progress::InProgress),
            (Code::DataLoss, Progress::Final),
            (Code::Unauthenticated, Progress::Final),
        ];
        for (code, want) in all {
            assert_eq!(classify(code), want, "{code:?}");
        }
    }

    #[test]
    fn backoff_doubles_from_one_second_to_five_minutes() {
        let backoff = Backoff::default();
        let delays: Vec<u64> = (1..=11).map(|n| backoff.delay(n).as_secs()).collect();
        assert_eq!(delays, [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300]);
        assert_eq!(backoff.delay(u32::MAX), Duration::from_secs(300));
        assert_eq!(backoff.delay(0), Duration::from_secs(1));
    }

    #[test]
    fn infeasible_failures_wait_the_maximum() {
        let backoff = Backoff::default();
        assert_eq!(
            backoff.delay_for(Progress::Infeasible, 1),
            Duration::from_secs(300)
        );
        assert_eq!(
            backoff.delay_for(Progress::InProgress, 2),
            Duration::from_secs(2)
        );
    }
}
