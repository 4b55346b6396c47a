//! The names Kubernetes, kubelet and kubectl read from the resizer, spelled exactly as
//! external-resizer and `k8s.io/api` spell them. They are a contract: kubelet decides whether
//! to call NodeExpandVolume from them, so they must never drift.

/// The resource key of a claim's size in `requests`, `capacity` and `allocatedResources`.
pub const STORAGE: &str = "storage";

/// `status.allocatedResourceStatuses.storage`: the controller step runs (or may still run).
pub const CONTROLLER_RESIZE_IN_PROGRESS: &str = "ControllerResizeInProgress";
/// `status.allocatedResourceStatuses.storage`: ControllerExpandVolume ended with a final error
/// (the API's "terminal error"; no call is running); the user may lower the request to
/// anything still above `status.capacity`.
pub const CONTROLLER_RESIZE_INFEASIBLE: &str = "ControllerResizeInfeasible";
/// `status.allocatedResourceStatuses.storage`: the controller step is done, kubelet's turn.
pub const NODE_RESIZE_PENDING: &str = "NodeResizePending";
/// Set by kubelet while NodeExpandVolume runs.
pub const NODE_RESIZE_IN_PROGRESS: &str = "NodeResizeInProgress";
/// Set by kubelet when NodeExpandVolume failed finally.
pub const NODE_RESIZE_INFEASIBLE: &str = "NodeResizeInfeasible";

/// PVC condition while the controller step runs.
pub const CONDITION_RESIZING: &str = "Resizing";
/// PVC condition once only the node step is left.
pub const CONDITION_FS_RESIZE_PENDING: &str = "FileSystemResizePending";
/// PVC condition carrying the last ControllerExpandVolume failure.
pub const CONDITION_CONTROLLER_RESIZE_ERROR: &str = "ControllerResizeError";
/// external-resizer's message on [`CONDITION_FS_RESIZE_PENDING`]; kubectl users search for it.
pub const FS_RESIZE_PENDING_MESSAGE: &str =
    "Waiting for user to (re-)start a pod to finish file system resize of volume on node.";

/// PVC annotation telling kubelet to skip NodeExpandVolume (driver said no node step).
pub const NODE_EXPANSION_NOT_REQUIRED: &str = "volume.kubernetes.io/node-expansion-not-required";
/// PV annotation with the capacity before a resize that still needs its node step, so
/// kubelet can finish the node step even when the claim is gone (AnnotateFsResize).
pub const PRE_RESIZE_CAPACITY: &str = "volume.alpha.kubernetes.io/pre-resize-capacity";

/// Event reasons on the claim, as upstream emits them.
pub mod reason {
    pub const RESIZING: &str = "Resizing";
    pub const VOLUME_RESIZE_FAILED: &str = "VolumeResizeFailed";
    pub const VOLUME_RESIZE_SUCCESSFUL: &str = "VolumeResizeSuccessful";
    pub const FILE_SYSTEM_RESIZE_REQUIRED: &str = "FileSystemResizeRequired";
}

/// The ControllerExpandVolume method name as metrics label it.
pub const CONTROLLER_EXPAND_METHOD: &str = "/csi.v1.Controller/ControllerExpandVolume";
