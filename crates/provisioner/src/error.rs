//! The provisioner's one error type, and what each failure means for the retry: whether a
//! CreateVolume may still be running ([`ProvisionerError::progress`]). With it, [`SourceError`]:
//! both halves of `source` (its pure rules and its fetches) report it, so it sits below them.

use sidecar::Progress;

use crate::plan::PlanError;
use crate::plan::capabilities::CapabilityError;

/// Why a claim's data source cannot be used (yet). Retried with backoff and reported as ProvisioningFailed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("data source {kind} {name:?}: {rule}")]
pub struct SourceError {
    pub kind: &'static str,
    pub name: String,
    pub rule: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ProvisionerError {
    /// The claim or class cannot be turned into a request.
    #[error(transparent)]
    Plan(#[from] PlanError),

    #[error(transparent)]
    Capability(#[from] CapabilityError),

    /// The data source is not usable (yet).
    #[error(transparent)]
    Source(#[from] SourceError),

    /// A claim the provisioner must not act on for a reason only a change can fix.
    #[error("{0}")]
    Claim(String),

    /// A Secret named by the class cannot be read.
    #[error("secret {namespace}/{name}: {reason}")]
    Secret {
        namespace: String,
        name: String,
        reason: String,
    },

    /// The driver answered a CSI call with an error. The message is the driver's (drivers must
    /// not put secrets in messages; Sepia's controller does not).
    #[error("{method}: {code:?}: {message}")]
    Csi {
        method: &'static str,
        code: tonic::Code,
        message: String,
    },

    /// CreateVolume answered with less than was asked for.
    #[error("CreateVolume returned {got} bytes, less than the {wanted} requested")]
    TooSmall { got: u64, wanted: u64 },

    /// CreateVolume was given a data source but answered without one: the volume would be
    /// blank instead of a restore or clone, so it was deleted again (upstream does the same).
    #[error(
        "CreateVolume returned volume {volume_id} without the requested content source; \
         deleted it rather than bind a blank volume"
    )]
    SourceIgnored { volume_id: String },

    /// The volume is still attached somewhere, so it must not be deleted.
    #[error("persistentvolume {pv} is still attached to node {node}")]
    StillAttached { pv: String, node: String },

    /// A Kubernetes API call failed.
    #[error("{op}: {source}")]
    Kube {
        op: String,
        #[source]
        source: kube::Error,
    },
}

impl ProvisionerError {
    pub fn csi(method: &'static str, status: &tonic::Status) -> Self {
        ProvisionerError::Csi {
            method,
            code: status.code(),
            message: status.message().to_owned(),
        }
    }

    pub fn kube(op: impl Into<String>, source: kube::Error) -> Self {
        ProvisionerError::Kube {
            op: op.into(),
            source,
        }
    }

    /// How the next attempt should be paced. Only a CSI error can mean "still running";
    /// everything else failed before or after the call.
    pub fn progress(&self) -> Progress {
        match self {
            ProvisionerError::Csi { code, .. } => sidecar::classify(*code),
            ProvisionerError::Plan(_) | ProvisionerError::Capability(_) => Progress::Infeasible,
            _ => Progress::Final,
        }
    }

    /// Whether this is the driver's final answer to a CreateVolume that therefore made
    /// nothing: a CSI error that cannot mean "still running" and is not ALREADY_EXISTS (a
    /// volume of that name exists, with other parameters). After it, no call is in flight
    /// and no volume is left to find, so the in-flight record may go (upstream forgets the
    /// claim from `claimsInProgress` on the same answers).
    pub fn created_nothing(&self) -> bool {
        matches!(self, ProvisionerError::Csi { code, .. }
            if *code != tonic::Code::AlreadyExists && self.progress() != Progress::InProgress)
    }

    /// The gRPC code name for events and metrics (`Internal` for non-CSI failures).
    pub fn code_name(&self) -> &'static str {
        match self {
            ProvisionerError::Csi { code, .. } => telemetry::grpc_code_name(*code),
            _ => "Internal",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_final_csi_answer_created_nothing() {
        let csi = |code| ProvisionerError::Csi {
            method: "CreateVolume",
            code,
            message: String::new(),
        };
        let rows = [
            (csi(tonic::Code::InvalidArgument), true),
            (csi(tonic::Code::NotFound), true),
            (csi(tonic::Code::Internal), true),
            (csi(tonic::Code::ResourceExhausted), true),
            (csi(tonic::Code::AlreadyExists), false),
            (csi(tonic::Code::DeadlineExceeded), false),
            (csi(tonic::Code::Unavailable), false),
            (csi(tonic::Code::Aborted), false),
            (csi(tonic::Code::Cancelled), false),
            (ProvisionerError::Claim("gone".into()), false),
            (ProvisionerError::TooSmall { got: 1, wanted: 2 }, false),
        ];
        for (error, want) in rows {
            assert_eq!(error.created_nothing(), want, "{error}");
        }
    }
}
