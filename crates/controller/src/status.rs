//! THE mapping from [`Error`] to `tonic::Status`: one match, grouped by code, with the reason
//! each variant lands where it does. Handlers never build a `Status` themselves.
//!
//! Every message is prefixed with the RPC and the object it was about (`CreateVolume pvc-1: …`)
//! so a user reading a PVC event knows which volume failed and at which step.

use tonic::{Code, Status};

use crate::error::Error;

/// Converts `err` into the status the CSI spec asks for; `subject` names the RPC and object.
pub fn to_status(err: &Error, subject: &str) -> Status {
    Status::new(code(err), format!("{subject}: {err}"))
}

/// The gRPC code of an error.
pub fn code(err: &Error) -> Code {
    match err {
        // The request is wrong; retrying it unchanged cannot succeed.
        Error::Missing { .. }
        | Error::Invalid { .. }
        | Error::InvalidParameter { .. }
        | Error::MissingSecret { .. }
        | Error::InvalidSecret { .. } => Code::InvalidArgument,

        // The spec's answer for a volume, snapshot or node that is not there.
        Error::VolumeNotFound { .. }
        | Error::SnapshotNotFound { .. }
        | Error::NodeNotFound { .. } => Code::NotFound,

        // Same name (or same node) with incompatible parameters: spec-mandated ALREADY_EXISTS.
        Error::NameConflict(_) | Error::VolumeConflict { .. } | Error::PublishConflict { .. } => {
            Code::AlreadyExists
        }

        // Something is in flight for this name/id (CSI: "operation pending"), this request lost
        // its lock to another, a flatten must finish first, or the spec's code for an invalid
        // starting_token.
        Error::InProgress { .. }
        | Error::LockLost(_)
        | Error::FlattenPending { .. }
        | Error::InvalidToken { .. } => Code::Aborted,

        // The system is not in a state that allows the call: in use, published elsewhere, or
        // the controller lacks configuration an operator must add. An image still watched is
        // the spec's "Volume in use" / "Snapshot in use" (FAILED_PRECONDITION, which the CO
        // retries with back-off once nothing uses it): a crashed client's watch goes by itself.
        Error::InUse { .. }
        | Error::TrashedImageWatched { .. }
        | Error::NoLayering { .. }
        | Error::PublishedElsewhere { .. }
        | Error::NoStandingCredentials { .. }
        | Error::StandingCredentials { .. }
        | Error::UnknownCluster { .. } => Code::FailedPrecondition,

        Error::OutOfRange { .. } => Code::OutOfRange,

        // cephx said no: the identity in the secrets lacks rights (spec: PERMISSION_DENIED).
        // Not INVALID_ARGUMENT: the request is well-formed, the cluster refused it.
        Error::CredentialsRejected { .. } | Error::AuthenticationTimedOut { .. } => {
            Code::PermissionDenied
        }

        // The cluster is down or unreachable, or too many connects are in flight; the CO
        // retries later with back-off. Not RESOURCE_EXHAUSTED: CSI gives that code to "no
        // capacity" (CreateVolume in a topology, CreateSnapshot out of space), and
        // external-provisioner answers it by rescheduling the pod.
        Error::ClusterUnreachable { .. } | Error::ConnectsBusy { .. } => Code::Unavailable,

        Error::Deadline { .. } => Code::DeadlineExceeded,

        // The spec's answer for an RPC outside the advertised capabilities.
        Error::AlphaOff { .. } => Code::Unimplemented,

        Error::Ceph { source, .. } => ceph_code(source),
        Error::Journal(e) => journal_code(e),

        // A simulated crash or a broken invariant: nothing the caller did.
        Error::Injected(_) | Error::Internal { .. } => Code::Internal,
    }
}

/// Codes for Ceph errors that reach the caller unhandled.
fn ceph_code(e: &ceph::Error) -> Code {
    match e {
        ceph::Error::TimedOut { .. } => Code::DeadlineExceeded,
        ceph::Error::PermissionDenied { .. } => Code::PermissionDenied,
        // Ceph refused a value the request supplied (data pool, striping, features).
        ceph::Error::InvalidArgument { .. } => Code::InvalidArgument,
        ceph::Error::Busy { .. } => Code::FailedPrecondition,
        // A fenced write whose lock is gone: another request owns the object now; retry.
        ceph::Error::NotLocked { .. } => Code::Aborted,
        ceph::Error::Ceph { errno, .. } | ceph::Error::Command { errno, .. } => match *errno {
            libc::ENOSPC | libc::EDQUOT => Code::ResourceExhausted,
            libc::ESHUTDOWN | libc::ENOTCONN | libc::ECONNREFUSED | libc::EHOSTUNREACH => {
                Code::Unavailable
            }
            _ => Code::Internal,
        },
        _ => Code::Internal,
    }
}

fn journal_code(e: &journal::Error) -> Code {
    match e {
        journal::Error::InvalidArgument { .. } | journal::Error::InvalidId { .. } => {
            Code::InvalidArgument
        }
        journal::Error::NameConflict { .. } => Code::AlreadyExists,
        journal::Error::InProgress { .. } => Code::Aborted,
        journal::Error::NotFound { .. } => Code::NotFound,
        journal::Error::Ceph { source, .. } => ceph_code(source),
        _ => Code::Internal,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_names_the_subject_and_the_step() {
        let err = Error::InUse {
            what: "volume 0001-0004-test-0000000000000001-x".into(),
            image: "rbd/ns/csi-vol-x".into(),
            watchers: 2,
        };
        let status = to_status(&err, "DeleteVolume 0001-0004-test-0000000000000001-x");
        assert_eq!(status.code(), Code::FailedPrecondition);
        assert!(status.message().starts_with("DeleteVolume 0001"));
        assert!(
            status.message().contains("2 watcher(s)"),
            "{}",
            status.message()
        );
    }

    #[test]
    fn ceph_errors_keep_their_meaning() {
        let timed_out = Error::ceph(
            "rbd create",
            "rbd/ns/csi-vol-1",
            ceph::Error::TimedOut {
                op: "create".into(),
                after: std::time::Duration::from_secs(1),
            },
        );
        assert_eq!(code(&timed_out), Code::DeadlineExceeded);
        let full = Error::ceph(
            "rbd create",
            "rbd/ns/csi-vol-1",
            ceph::Error::Ceph {
                op: "create".into(),
                errno: libc::ENOSPC,
                message: "No space left on device".into(),
            },
        );
        assert_eq!(code(&full), Code::ResourceExhausted);
    }
}
