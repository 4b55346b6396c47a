//! The provisioner's one error type, and what each failure means for the retry: whether a
//! CreateVolume may still be running ([`ProvisionerError::progress`]).

use sidecar::Progress;

use crate::capabilities::CapabilityError;
use crate::data_source::SourceError;
use crate::plan::PlanError;

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

    /// The gRPC code name for events and metrics (`Internal` for non-CSI failures).
    pub fn code_name(&self) -> &'static str {
        match self {
            ProvisionerError::Csi { code, .. } => telemetry::grpc_code_name(*code),
            _ => "Internal",
        }
    }
}
