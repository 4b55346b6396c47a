//! The one mapping from [`NodeError`] to a gRPC status, grouped by code, with why each variant
//! lands where it does (CSI spec, "Error Scheme" of each Node RPC).

use tonic::{Code, Status};

use crate::error::NodeError;

impl From<NodeError> for Status {
    fn from(error: NodeError) -> Self {
        let code = match &error {
            // The request is malformed: a required field is missing or breaks a rule. The CO
            // must not retry it unchanged.
            NodeError::MissingField { .. } | NodeError::InvalidField { .. } => Code::InvalidArgument,

            // "Volume does not exist" for this node: nothing staged/published where the
            // request points, or no such image. csi-sanity expects NOT_FOUND for stats and
            // expand on an unknown path. A path holding something that is not this volume
            // (a foreign mount, another volume's stage) is the same answer: for this volume
            // there is nothing there, and the plugin leaves it alone.
            NodeError::NotStaged { .. }
            | NodeError::PathNotFound { .. }
            | NodeError::NotOurs { .. }
            | NodeError::ImageNotFound { .. } => Code::NotFound,

            // NodeExpandVolume's "exceeds capabilities": the device is smaller than asked.
            NodeError::BeyondDevice { .. } => Code::OutOfRange,

            // "Volume published/staged but is incompatible" with the request's capability.
            NodeError::StagedDifferently { .. } | NodeError::PublishedDifferently { .. } => Code::AlreadyExists,

            // "Operation pending for volume": the CO backs off and retries.
            NodeError::OperationInProgress { .. } => Code::Aborted,

            // The node is not set up for this volume (unknown cluster, no usable mapper, a
            // device holding a different file system, a foreign stash): retrying will not help
            // until an operator changes something.
            NodeError::Cluster { .. }
            // The spec's own entry for NodePublish: "Staging target path not set".
            | NodeError::StagingPathNotSet
            | NodeError::MapperUnavailable { .. }
            | NodeError::MissingPrivilege { .. }
            | NodeError::FilesystemMismatch { .. }
            | NodeError::StashOfOtherVolume { .. } => Code::FailedPrecondition,

            // Our own deadline on a child or a kernel call passed; the step was killed or
            // abandoned and a retry may succeed.
            NodeError::CommandTimedOut { .. } | NodeError::IoTimedOut { .. } => Code::DeadlineExceeded,

            // A tool or the kernel failed: the message says which command and why.
            NodeError::CommandSpawn { .. }
            | NodeError::CommandFailed { .. }
            | NodeError::Io { .. }
            | NodeError::BadStash { .. }
            | NodeError::Device { .. } => Code::Internal,

            // Not request errors (background registration, serving); mapped for completeness.
            NodeError::Registry { .. } | NodeError::Serve { .. } | NodeError::RegistrationRejected { .. } => {
                Code::Unavailable
            }
        };
        Status::new(code, error.to_string())
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    #[test]
    fn codes_follow_the_spec() {
        let cases = [
            (
                NodeError::MissingField { field: "volume_id" },
                Code::InvalidArgument,
            ),
            (
                NodeError::PathNotFound {
                    volume_id: "v".into(),
                    path: PathBuf::from("some/path"),
                },
                Code::NotFound,
            ),
            (
                NodeError::StagedDifferently {
                    volume_id: "v".into(),
                    path: PathBuf::from("/s"),
                    reason: "block".into(),
                },
                Code::AlreadyExists,
            ),
            (
                NodeError::OperationInProgress {
                    volume_id: "v".into(),
                },
                Code::Aborted,
            ),
            (
                NodeError::CommandTimedOut {
                    command: "rbd map".into(),
                    after: std::time::Duration::from_secs(1),
                },
                Code::DeadlineExceeded,
            ),
        ];
        for (error, code) in cases {
            let message = error.to_string();
            let status = Status::from(error);
            assert_eq!(status.code(), code, "{message}");
            assert_eq!(status.message(), message);
        }
    }

    #[test]
    fn missing_field_message_names_the_field() {
        let status = Status::from(NodeError::MissingField {
            field: "staging_target_path",
        });
        assert_eq!(status.message(), "staging_target_path is required");
    }
}
