//! What a failed CreateSnapshot means for the being-created annotation and the next attempt.
//!
//! The sidecar runtime's table, with csi-snapshotter's one difference: RESOURCE_EXHAUSTED is
//! "not final" (a driver short of resources may still finish the cut), so the annotation stays
//! and the same call is repeated. An error that never reached the driver also counts as "may
//! be running": we cannot know whether an earlier attempt did.

use sidecar::Progress;
use tonic::Code;

/// Whether the call may still be running on the driver, for `code`.
pub fn create_snapshot_progress(code: Code) -> Progress {
    match code {
        Code::ResourceExhausted => Progress::InProgress,
        other => sidecar::classify(other),
    }
}

/// `true` when no CreateSnapshot with this name can still be running, so the being-created
/// annotation may be removed.
pub fn is_final(code: Code) -> bool {
    create_snapshot_progress(code) != Progress::InProgress
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_codes_that_prove_nothing_runs_are_final() {
        let cases = [
            (Code::Cancelled, false),
            (Code::DeadlineExceeded, false),
            (Code::Unavailable, false),
            (Code::ResourceExhausted, false),
            (Code::Aborted, false),
            (Code::InvalidArgument, true),
            (Code::NotFound, true),
            (Code::AlreadyExists, true),
            (Code::FailedPrecondition, true),
            (Code::Internal, true),
            (Code::Unknown, true),
            (Code::Unimplemented, true),
        ];
        for (code, want) in cases {
            assert_eq!(is_final(code), want, "{code:?}");
        }
        assert_eq!(
            create_snapshot_progress(Code::InvalidArgument),
            Progress::Infeasible
        );
    }
}
