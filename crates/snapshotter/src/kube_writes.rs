//! The writes both halves make, each shaped to be safe beside other writers:
//! - finalizer lists are replaced with a resourceVersion precondition (a list cannot be
//!   merged, so a concurrent change — another controller's finalizer — must fail, not be
//!   overwritten; the caller re-reads and decides again);
//! - annotations are merged key by key (no precondition needed);
//! - status is written as a merge patch of only the fields that changed (null for removed
//!   ones), on the status subresource, also with a resourceVersion precondition: a decision
//!   made on a stale read must not undo a newer status, nor announce a change (an Event, a
//!   metric) a second time.

use std::fmt::Debug;

use kube::Resource;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

use crate::error::{Result, SnapshotterError};

fn describe<K: Resource<DynamicType = ()>>(object: &K) -> String {
    let meta = object.meta();
    match &meta.namespace {
        Some(ns) => format!(
            "{} {ns}/{}",
            K::kind(&()),
            meta.name.as_deref().unwrap_or_default()
        ),
        None => format!(
            "{} {}",
            K::kind(&()),
            meta.name.as_deref().unwrap_or_default()
        ),
    }
}

/// Replaces `object`'s finalizers with `finalizers`, if `object` is unchanged since read.
pub async fn set_finalizers<K>(api: &Api<K>, object: &K, finalizers: Vec<String>) -> Result<K>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug,
{
    let meta = object.meta();
    let name = meta.name.clone().unwrap_or_default();
    let patch = json!({
        "metadata": {
            "resourceVersion": meta.resource_version,
            "finalizers": finalizers,
        }
    });
    api.patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .map_err(|e| {
            SnapshotterError::kube(format!("updating finalizers of {}", describe(object)), e)
        })
}

/// `object`'s finalizers with `add` appended (when missing) and `remove` taken out.
pub fn finalizers_with<K: Resource>(object: &K, add: &[&str], remove: &[&str]) -> Vec<String> {
    let mut list: Vec<String> = object
        .meta()
        .finalizers
        .clone()
        .unwrap_or_default()
        .into_iter()
        .filter(|f| !remove.contains(&f.as_str()))
        .collect();
    for finalizer in add {
        if !list.iter().any(|f| f == finalizer) {
            list.push((*finalizer).to_owned());
        }
    }
    list
}

/// Sets (`Some`) or removes (`None`) one annotation.
pub async fn set_annotation<K>(
    api: &Api<K>,
    name: &str,
    key: &str,
    value: Option<&str>,
) -> Result<K>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug,
{
    let patch = json!({ "metadata": { "annotations": { key: value } } });
    api.patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .map_err(|e| {
            SnapshotterError::kube(
                format!("setting annotation {key} on {} {name}", K::kind(&())),
                e,
            )
        })
}

/// A merge patch to `spec` (or any top-level part), with a resourceVersion precondition.
pub async fn patch_guarded<K>(api: &Api<K>, object: &K, patch: Value, what: &str) -> Result<K>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug,
{
    let meta = object.meta();
    let mut patch = patch;
    if let Some(map) = patch.as_object_mut() {
        let metadata = map.entry("metadata").or_insert_with(|| json!({}));
        if let Some(metadata) = metadata.as_object_mut() {
            metadata.insert("resourceVersion".to_owned(), json!(meta.resource_version));
        }
    }
    api.patch(
        meta.name.as_deref().unwrap_or_default(),
        &PatchParams::default(),
        &Patch::Merge(&patch),
    )
    .await
    .map_err(|e| SnapshotterError::kube(format!("{what} on {}", describe(object)), e))
}

/// The merge patch turning `old` into `new` at the top level of a status: changed fields are
/// set, removed ones nulled. `None` when nothing changed.
pub fn status_diff<S: Serialize>(old: Option<&S>, new: &S) -> Option<Value> {
    let as_map = |value: Value| match value {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    let old = old
        .and_then(|o| serde_json::to_value(o).ok())
        .map(as_map)
        .unwrap_or_default();
    let new = serde_json::to_value(new).map(as_map).unwrap_or_default();
    let mut patch = Map::new();
    for (key, value) in &new {
        if old.get(key) != Some(value) {
            patch.insert(key.clone(), value.clone());
        }
    }
    for key in old.keys() {
        if !new.contains_key(key) {
            patch.insert(key.clone(), Value::Null);
        }
    }
    (!patch.is_empty()).then_some(Value::Object(patch))
}

/// Writes the status fields that differ between `old` and `new`, if `object` is unchanged
/// since read; `None` if no field differs.
pub async fn write_status<K, S>(
    api: &Api<K>,
    object: &K,
    old: Option<&S>,
    new: &S,
) -> Result<Option<K>>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug,
    S: Serialize,
{
    let Some(diff) = status_diff(old, new) else {
        return Ok(None);
    };
    let meta = object.meta();
    let name = meta.name.clone().unwrap_or_default();
    let patch = json!({
        "metadata": { "resourceVersion": meta.resource_version },
        "status": diff,
    });
    api.patch_status(&name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .map(Some)
        .map_err(|e| {
            SnapshotterError::kube(format!("writing the status of {}", describe(object)), e)
        })
}

/// Creates `object`; one that exists already counts as created (a retry of our own create).
pub async fn create_idempotent<K>(api: &Api<K>, object: &K) -> Result<()>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Serialize + Debug,
{
    match api.create(&PostParams::default(), object).await {
        Ok(_) => Ok(()),
        Err(e) => {
            let error = SnapshotterError::kube(format!("creating {}", describe(object)), e);
            if error.is_already_exists() {
                Ok(())
            } else {
                Err(error)
            }
        }
    }
}

/// Deletes the named object; one already gone counts as deleted.
pub async fn delete_idempotent<K>(api: &Api<K>, name: &str) -> Result<()>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug,
{
    match api.delete(name, &DeleteParams::default()).await {
        Ok(_) => Ok(()),
        Err(e) => {
            let error = SnapshotterError::kube(format!("deleting {} {name}", K::kind(&())), e);
            if error.is_not_found() {
                Ok(())
            } else {
                Err(error)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use snapshot_api::VolumeSnapshotContentStatus;

    use super::*;
    use crate::test_fixtures::*;

    #[test]
    fn status_diff_sets_changes_and_nulls_removals() {
        let old = VolumeSnapshotContentStatus {
            snapshot_handle: Some("s".into()),
            ready_to_use: Some(false),
            error: Some(snapshot_api::VolumeSnapshotError::new(time(1), "x")),
            ..Default::default()
        };
        let new = VolumeSnapshotContentStatus {
            snapshot_handle: Some("s".into()),
            ready_to_use: Some(true),
            restore_size: Some(5),
            ..Default::default()
        };
        assert_eq!(
            status_diff(Some(&old), &new).unwrap(),
            json!({"readyToUse": true, "restoreSize": 5, "error": null})
        );
        assert_eq!(status_diff(Some(&new), &new), None);
        assert_eq!(
            status_diff(None, &new).unwrap(),
            json!({"snapshotHandle": "s", "readyToUse": true, "restoreSize": 5})
        );
    }

    #[test]
    fn finalizer_lists_keep_others_in_order() {
        let c = content("c").finalized();
        let mut with_other = c.clone();
        with_other
            .metadata
            .finalizers
            .as_mut()
            .unwrap()
            .insert(0, "other/x".into());
        assert_eq!(
            finalizers_with(
                &with_other,
                &[],
                &[snapshot_api::keys::CONTENT_BOUND_FINALIZER]
            ),
            ["other/x"]
        );
        assert_eq!(
            finalizers_with(
                &with_other,
                &[snapshot_api::keys::CONTENT_BOUND_FINALIZER, "new/y"],
                &[]
            ),
            [
                "other/x",
                snapshot_api::keys::CONTENT_BOUND_FINALIZER,
                "new/y"
            ]
        );
    }
}
