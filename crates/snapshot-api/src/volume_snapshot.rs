//! `VolumeSnapshot` (namespaced): a user's request for a snapshot of a PVC, or for access to a
//! snapshot that already exists (a pre-provisioned VolumeSnapshotContent). Field names, JSON
//! shapes and CEL rules as upstream's `client/apis/volumesnapshot/v1/types.go`.

use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::common::VolumeSnapshotError;

/// What the user asked for.
// clippy reads the repeated `printcolumn(type_ = ..)` keys as duplicated attributes.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "snapshot.storage.k8s.io",
    version = "v1",
    kind = "VolumeSnapshot",
    namespaced,
    status = "VolumeSnapshotStatus",
    derive = "PartialEq",
    derive = "Default",
    shortname = "vs",
    doc = "VolumeSnapshot is a user's request for either creating a point-in-time snapshot of a persistent volume, or binding to a pre-existing snapshot.",
    annotation(
        "api-approved.kubernetes.io",
        "https://github.com/kubernetes-csi/external-snapshotter/pull/814"
    ),
    printcolumn(
        name = "ReadyToUse",
        type_ = "boolean",
        json_path = ".status.readyToUse",
        description = "Indicates if the snapshot is ready to be used to restore a volume."
    ),
    printcolumn(
        name = "SourcePVC",
        type_ = "string",
        json_path = ".spec.source.persistentVolumeClaimName",
        description = "If a new snapshot needs to be created, this contains the name of the source PVC from which this snapshot was (or will be) created."
    ),
    printcolumn(
        name = "SourceSnapshotContent",
        type_ = "string",
        json_path = ".spec.source.volumeSnapshotContentName",
        description = "If a snapshot already exists, this contains the name of the existing VolumeSnapshotContent object representing the existing snapshot."
    ),
    printcolumn(
        name = "RestoreSize",
        type_ = "string",
        json_path = ".status.restoreSize",
        description = "Represents the minimum size of volume required to rehydrate from this snapshot."
    ),
    printcolumn(
        name = "SnapshotClass",
        type_ = "string",
        json_path = ".spec.volumeSnapshotClassName",
        description = "The name of the VolumeSnapshotClass requested by the VolumeSnapshot."
    ),
    printcolumn(
        name = "SnapshotContent",
        type_ = "string",
        json_path = ".status.boundVolumeSnapshotContentName",
        description = "Name of the VolumeSnapshotContent object to which the VolumeSnapshot object intends to bind to. Please note that verification of binding actually requires checking both VolumeSnapshot and VolumeSnapshotContent to ensure both are pointing at each other. Binding MUST be verified prior to usage of this object."
    ),
    printcolumn(
        name = "CreationTime",
        type_ = "date",
        json_path = ".status.creationTime",
        description = "Timestamp when the point-in-time snapshot was taken by the underlying storage system."
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct VolumeSnapshotSpec {
    /// Where the snapshot comes from; immutable.
    pub source: VolumeSnapshotSource,
    /// The class to use; when absent, the default class of the source volume's driver is
    /// written here by the snapshot controller.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("x-kubernetes-validations" = [
        {"rule": "size(self) > 0", "message": "volumeSnapshotClassName must not be the empty string when set"}
    ]))]
    pub volume_snapshot_class_name: Option<String>,
}

/// Exactly one of the two: a PVC to snapshot (dynamic) or a content that already exists
/// (pre-provisioned).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [
    {"rule": "!has(oldSelf.persistentVolumeClaimName) || has(self.persistentVolumeClaimName)", "message": "persistentVolumeClaimName is required once set"},
    {"rule": "!has(oldSelf.volumeSnapshotContentName) || has(self.volumeSnapshotContentName)", "message": "volumeSnapshotContentName is required once set"},
    {"rule": "(has(self.volumeSnapshotContentName) && !has(self.persistentVolumeClaimName)) || (!has(self.volumeSnapshotContentName) && has(self.persistentVolumeClaimName))", "message": "exactly one of volumeSnapshotContentName and persistentVolumeClaimName must be set"}
]))]
pub struct VolumeSnapshotSource {
    /// A PVC in the VolumeSnapshot's namespace to snapshot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("x-kubernetes-validations" = [
        {"rule": "self == oldSelf", "message": "persistentVolumeClaimName is immutable"}
    ]))]
    pub persistent_volume_claim_name: Option<String>,
    /// A pre-provisioned VolumeSnapshotContent to bind to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("x-kubernetes-validations" = [
        {"rule": "self == oldSelf", "message": "volumeSnapshotContentName is immutable"}
    ]))]
    pub volume_snapshot_content_name: Option<String>,
}

/// Mirrored from the bound content by the snapshot controller (users cannot read contents).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VolumeSnapshotStatus {
    /// The content this snapshot is bound to; consumers must check the content points back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bound_volume_snapshot_content_name: Option<String>,
    /// When the storage system cut the snapshot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creation_time: Option<Time>,
    /// Whether a volume can be restored from it now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready_to_use: Option<bool>,
    /// The minimum size of a volume restored from it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restore_size: Option<Quantity>,
    /// The last error while creating it; cleared once ready.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<VolumeSnapshotError>,
    /// The VolumeGroupSnapshot it belongs to, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume_group_snapshot_name: Option<String>,
}

impl VolumeSnapshot {
    /// `status.readyToUse == true`.
    pub fn is_ready(&self) -> bool {
        self.status
            .as_ref()
            .and_then(|s| s.ready_to_use)
            .unwrap_or(false)
    }

    /// `status.boundVolumeSnapshotContentName`, when set and not empty.
    pub fn bound_content_name(&self) -> Option<&str> {
        self.status
            .as_ref()
            .and_then(|s| s.bound_volume_snapshot_content_name.as_deref())
            .filter(|name| !name.is_empty())
    }
}
