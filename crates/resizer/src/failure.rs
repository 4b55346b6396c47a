//! What a failed ControllerExpandVolume means for the claim — external-resizer's table
//! (`IsFinalError`, `IsInfeasibleError`): besides INVALID_ARGUMENT, OUT_OF_RANGE (size beyond
//! what the backend allows) and NOT_FOUND (the volume is gone) cannot succeed by repeating the
//! same size, so they are "infeasible" (retried slowly); RESOURCE_EXHAUSTED may still be
//! running for the resizer (unlike the provisioner), so it keeps the target locked. Everything
//! else is the shared sidecar classification.

use sidecar::Progress;
use tonic::Code;

pub fn classify(code: Code) -> Progress {
    match code {
        Code::OutOfRange | Code::NotFound => Progress::Infeasible,
        Code::ResourceExhausted => Progress::InProgress,
        other => sidecar::classify(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn infeasible_codes_are_the_resizers_three() {
        let rows = [
            (Code::InvalidArgument, Progress::Infeasible),
            (Code::OutOfRange, Progress::Infeasible),
            (Code::NotFound, Progress::Infeasible),
            (Code::DeadlineExceeded, Progress::InProgress),
            (Code::Unavailable, Progress::InProgress),
            (Code::Aborted, Progress::InProgress),
            (Code::Cancelled, Progress::InProgress),
            (Code::Internal, Progress::Final),
            (Code::FailedPrecondition, Progress::Final),
            (Code::ResourceExhausted, Progress::InProgress),
            (Code::PermissionDenied, Progress::Final),
        ];
        for (code, want) in rows {
            assert_eq!(classify(code), want, "{code:?}");
        }
    }
}
