//! `VolumeSnapshotContent` (cluster-scoped): the snapshot on the storage system. Created by
//! the snapshot controller for a dynamic VolumeSnapshot (`source.volumeHandle`) or by an admin
//! for one that already exists (`source.snapshotHandle`); its status is written by the CSI
//! half. Units differ from the VolumeSnapshot's on purpose (upstream's choice): creationTime is
//! Unix nanoseconds and restoreSize bytes, both int64.

use k8s_openapi::api::core::v1::ObjectReference;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::common::{DeletionPolicy, VolumeSnapshotError};

/// The snapshot and its binding.
// clippy reads the repeated `printcolumn(type_ = ..)` keys as duplicated attributes.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "snapshot.storage.k8s.io",
    version = "v1",
    kind = "VolumeSnapshotContent",
    status = "VolumeSnapshotContentStatus",
    derive = "PartialEq",
    shortname = "vsc",
    shortname = "vscs",
    doc = "VolumeSnapshotContent represents the actual \"on-disk\" snapshot object in the underlying storage system",
    annotation(
        "api-approved.kubernetes.io",
        "https://github.com/kubernetes-csi/external-snapshotter/pull/955"
    ),
    printcolumn(
        name = "ReadyToUse",
        type_ = "boolean",
        json_path = ".status.readyToUse",
        description = "Indicates if the snapshot is ready to be used to restore a volume."
    ),
    printcolumn(
        name = "RestoreSize",
        type_ = "integer",
        json_path = ".status.restoreSize",
        description = "Represents the complete size of the snapshot in bytes"
    ),
    printcolumn(
        name = "DeletionPolicy",
        type_ = "string",
        json_path = ".spec.deletionPolicy",
        description = "Determines whether this VolumeSnapshotContent and its physical snapshot on the underlying storage system should be deleted when its bound VolumeSnapshot is deleted."
    ),
    printcolumn(
        name = "Driver",
        type_ = "string",
        json_path = ".spec.driver",
        description = "Name of the CSI driver used to create the physical snapshot on the underlying storage system."
    ),
    printcolumn(
        name = "VolumeSnapshotClass",
        type_ = "string",
        json_path = ".spec.volumeSnapshotClassName",
        description = "Name of the VolumeSnapshotClass to which this snapshot belongs."
    ),
    printcolumn(
        name = "VolumeSnapshot",
        type_ = "string",
        json_path = ".spec.volumeSnapshotRef.name",
        description = "Name of the VolumeSnapshot object to which this VolumeSnapshotContent object is bound."
    ),
    printcolumn(
        name = "VolumeSnapshotNamespace",
        type_ = "string",
        json_path = ".spec.volumeSnapshotRef.namespace",
        description = "Namespace of the VolumeSnapshot object to which this VolumeSnapshotContent object is bound."
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [
    {"rule": "!has(oldSelf.sourceVolumeMode) || has(self.sourceVolumeMode)", "message": "sourceVolumeMode is required once set"}
]))]
pub struct VolumeSnapshotContentSpec {
    /// The VolumeSnapshot this content is bound to. A pre-provisioned content names it
    /// without `uid`; binding fills the uid in.
    #[schemars(extend(
        "x-kubernetes-map-type" = "atomic",
        "x-kubernetes-validations" = [
            {"rule": "has(self.name) && has(self.__namespace__)", "message": "both spec.volumeSnapshotRef.name and spec.volumeSnapshotRef.namespace must be set"}
        ]
    ))]
    pub volume_snapshot_ref: ObjectReference,
    /// Delete or keep the backend snapshot when the VolumeSnapshot is deleted.
    pub deletion_policy: DeletionPolicy,
    /// The CSI driver (GetPluginInfo name) that owns the snapshot.
    pub driver: String,
    /// The class it was (or will be) created with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume_snapshot_class_name: Option<String>,
    /// Dynamic (`volumeHandle`) or pre-provisioned (`snapshotHandle`); immutable.
    pub source: VolumeSnapshotContentSource,
    /// `Filesystem` or `Block`: the mode of the volume that was snapshotted, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("x-kubernetes-validations" = [
        {"rule": "self == oldSelf", "message": "sourceVolumeMode is immutable"}
    ]))]
    pub source_volume_mode: Option<String>,
}

/// Exactly one of the two.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [
    {"rule": "!has(oldSelf.volumeHandle) || has(self.volumeHandle)", "message": "volumeHandle is required once set"},
    {"rule": "!has(oldSelf.snapshotHandle) || has(self.snapshotHandle)", "message": "snapshotHandle is required once set"},
    {"rule": "(has(self.volumeHandle) && !has(self.snapshotHandle)) || (!has(self.volumeHandle) && has(self.snapshotHandle))", "message": "exactly one of volumeHandle and snapshotHandle must be set"}
]))]
pub struct VolumeSnapshotContentSource {
    /// CSI `volume_id` to snapshot (dynamic).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("x-kubernetes-validations" = [
        {"rule": "self == oldSelf", "message": "volumeHandle is immutable"}
    ]))]
    pub volume_handle: Option<String>,
    /// CSI `snapshot_id` of a snapshot that already exists (pre-provisioned).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("x-kubernetes-validations" = [
        {"rule": "self == oldSelf", "message": "snapshotHandle is immutable"}
    ]))]
    pub snapshot_handle: Option<String>,
}

/// Written by the CSI half from CreateSnapshot or ListSnapshots.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VolumeSnapshotContentStatus {
    /// The CSI `snapshot_id`; absent while creation has not succeeded yet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot_handle: Option<String>,
    /// When the snapshot was cut, in Unix nanoseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creation_time: Option<i64>,
    /// Size of the snapshot in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub restore_size: Option<i64>,
    /// Whether a volume can be restored from it now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready_to_use: Option<bool>,
    /// The last error while creating it; cleared on success.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<VolumeSnapshotError>,
    /// CSI `group_snapshot_id` when the snapshot is a group member.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume_group_snapshot_handle: Option<String>,
}

impl VolumeSnapshotContent {
    /// `status.readyToUse == true`.
    pub fn is_ready(&self) -> bool {
        self.status
            .as_ref()
            .and_then(|s| s.ready_to_use)
            .unwrap_or(false)
    }

    /// `status.snapshotHandle`, when set and not empty.
    pub fn status_snapshot_handle(&self) -> Option<&str> {
        self.status
            .as_ref()
            .and_then(|s| s.snapshot_handle.as_deref())
            .filter(|h| !h.is_empty())
    }

    /// Pre-provisioned: the snapshot existed before this object (`source.snapshotHandle`).
    pub fn is_pre_provisioned(&self) -> bool {
        self.spec.source.snapshot_handle.is_some()
    }

    /// `spec.volumeSnapshotRef.uid`, when set and not empty (a pre-provisioned content is
    /// unbound until the snapshot controller fills it in).
    pub fn bound_snapshot_uid(&self) -> Option<&str> {
        self.spec
            .volume_snapshot_ref
            .uid
            .as_deref()
            .filter(|uid| !uid.is_empty())
    }
}
