//! The few VolumeSnapshot / VolumeSnapshotContent fields a restore needs, read from dynamic
//! objects. Kept in this one module so the snapshotter's typed CRDs (issue 7) can replace it.

use kube::api::{ApiResource, DynamicObject, GroupVersionKind};
use serde_json::Value;

use crate::keys::{ANN_ALLOW_VOLUME_MODE_CHANGE, SNAPSHOT_GROUP};

pub fn volume_snapshot_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk(SNAPSHOT_GROUP, "v1", "VolumeSnapshot"),
        "volumesnapshots",
    )
}

pub fn volume_snapshot_content_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk(SNAPSHOT_GROUP, "v1", "VolumeSnapshotContent"),
        "volumesnapshotcontents",
    )
}

/// A VolumeSnapshot as the provisioner sees it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SnapshotView {
    pub name: String,
    pub namespace: String,
    pub uid: String,
    pub deleting: bool,
    pub finalizers: Vec<String>,
    pub bound_content_name: Option<String>,
    pub ready_to_use: bool,
    /// `status.restoreSize`, a Quantity string.
    pub restore_size: Option<String>,
}

/// A VolumeSnapshotContent as the provisioner sees it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContentView {
    pub name: String,
    pub driver: String,
    pub snapshot_handle: Option<String>,
    pub ready_to_use: bool,
    /// `status.restoreSize`, bytes.
    pub restore_size: Option<i64>,
    pub snapshot_ref_name: Option<String>,
    pub snapshot_ref_namespace: Option<String>,
    pub snapshot_ref_uid: Option<String>,
    /// `spec.sourceVolumeMode`: the mode of the volume the snapshot was taken of.
    pub source_volume_mode: Option<String>,
    /// The [`ANN_ALLOW_VOLUME_MODE_CHANGE`] annotation, as written.
    pub allow_volume_mode_change: Option<String>,
}

fn str_at(v: &Value, path: &[&str]) -> Option<String> {
    path.iter()
        .try_fold(v, |v, key| v.get(key))
        .and_then(Value::as_str)
        .map(str::to_owned)
}

fn bool_at(v: &Value, path: &[&str]) -> bool {
    path.iter()
        .try_fold(v, |v, key| v.get(key))
        .and_then(Value::as_bool)
        .unwrap_or(false)
}

impl SnapshotView {
    pub fn from_object(object: &DynamicObject) -> Self {
        let data = &object.data;
        Self {
            name: object.metadata.name.clone().unwrap_or_default(),
            namespace: object.metadata.namespace.clone().unwrap_or_default(),
            uid: object.metadata.uid.clone().unwrap_or_default(),
            deleting: object.metadata.deletion_timestamp.is_some(),
            finalizers: object.metadata.finalizers.clone().unwrap_or_default(),
            bound_content_name: str_at(data, &["status", "boundVolumeSnapshotContentName"]),
            ready_to_use: bool_at(data, &["status", "readyToUse"]),
            restore_size: data
                .get("status")
                .and_then(|s| s.get("restoreSize"))
                .and_then(|v| match v {
                    Value::String(s) => Some(s.clone()),
                    Value::Number(n) => Some(n.to_string()),
                    _ => None,
                }),
        }
    }
}

impl ContentView {
    pub fn from_object(object: &DynamicObject) -> Self {
        let data = &object.data;
        Self {
            name: object.metadata.name.clone().unwrap_or_default(),
            driver: str_at(data, &["spec", "driver"]).unwrap_or_default(),
            snapshot_handle: str_at(data, &["status", "snapshotHandle"]),
            ready_to_use: bool_at(data, &["status", "readyToUse"]),
            restore_size: data
                .get("status")
                .and_then(|s| s.get("restoreSize"))
                .and_then(Value::as_i64),
            snapshot_ref_name: str_at(data, &["spec", "volumeSnapshotRef", "name"]),
            snapshot_ref_namespace: str_at(data, &["spec", "volumeSnapshotRef", "namespace"]),
            snapshot_ref_uid: str_at(data, &["spec", "volumeSnapshotRef", "uid"]),
            source_volume_mode: str_at(data, &["spec", "sourceVolumeMode"]),
            allow_volume_mode_change: object
                .metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get(ANN_ALLOW_VOLUME_MODE_CHANGE))
                .cloned(),
        }
    }
}
