//! The writes both halves make. Every change to an existing object is a merge patch conditional
//! on the resourceVersion of the copy it was decided on (`sidecar::patch`), so a decision made
//! on a stale read fails with 409 — the caller re-reads and decides again — instead of undoing
//! a newer change (another controller's finalizer, a newer status) or announcing a change (an
//! Event, a metric) a second time:
//! - finalizer lists are replaced whole (a merge patch cannot edit a list);
//! - annotations are set or removed key by key;
//! - status is written as the fields that changed (null for removed ones), on the status
//!   subresource.

use std::fmt::Debug;

use kube::Resource;
use kube::api::{Api, DeleteParams, PostParams};
use kube::core::object::HasStatus;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use sidecar::patch::{self, Part};

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
    let patch = json!({ "metadata": { "finalizers": finalizers } });
    patch::patch_if_unchanged(api, object, Part::Object, patch)
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

/// Sets (`Some`) or removes (`None`) one annotation, if `object` is unchanged since read.
pub async fn set_annotation<K>(
    api: &Api<K>,
    object: &K,
    key: &str,
    value: Option<&str>,
) -> Result<K>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug,
{
    let patch = json!({ "metadata": { "annotations": { key: value } } });
    patch::patch_if_unchanged(api, object, Part::Object, patch)
        .await
        .map_err(|e| {
            SnapshotterError::kube(
                format!("setting annotation {key} on {}", describe(object)),
                e,
            )
        })
}

/// A merge patch to `spec` (or any top-level part), if `object` is unchanged since read.
pub async fn patch_guarded<K>(api: &Api<K>, object: &K, patch: Value, what: &str) -> Result<K>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug,
{
    patch::patch_if_unchanged(api, object, Part::Object, patch)
        .await
        .map_err(|e| SnapshotterError::kube(format!("{what} on {}", describe(object)), e))
}

/// Writes the status fields that differ between `object`'s status and `new`, if `object` is
/// unchanged since read (`sidecar::patch::write_status`); `None` if no field differs.
pub async fn write_status<K>(api: &Api<K>, object: &K, new: &K::Status) -> Result<Option<K>>
where
    K: Resource<DynamicType = ()> + HasStatus + Clone + Serialize + DeserializeOwned + Debug,
    K::Status: Clone,
{
    patch::write_status(api, object, new.clone())
        .await
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
    use super::*;
    use crate::test_fixtures::*;

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
