//! Conditional writes: how every sidecar changes an object other writers share.
//!
//! A change is sent as a JSON merge patch (RFC 7386) of only what changed, carrying the
//! `metadata.resourceVersion` of the copy it was decided on. The API server applies it only
//! while the object is still at that version and answers 409 Conflict otherwise, so a decision
//! made on a stale cache is made again on a fresh read instead of undoing a newer change (a
//! finalizer another controller added, a status kubelet wrote). That is the guarantee a PUT
//! gives, with the `patch` verb upstream's RBAC grants: external-attacher, -resizer and
//! -provisioner hold no `update` on these objects, and external-resizer's `PatchClaim` adds the
//! resourceVersion to its patches the same way.
//!
//! - [`merge_diff`]: the merge patch turning one JSON value into another;
//! - [`patch_if_unchanged`]: sends a merge patch to an object or to its status subresource,
//!   conditional on the resourceVersion of the copy it came from;
//! - [`write_changes`]: both at once, for a locally edited copy of an object;
//! - [`write_status`]: the same for a new status of an object.

use std::fmt::Debug;

use kube::api::{Api, Patch, PatchParams};
use kube::core::object::HasStatus;
use kube::{Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

/// Which part of an object a write changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// Metadata and spec, through the object itself (the server keeps the status).
    Object,
    /// The `status` subresource (the server keeps everything else).
    Status,
}

/// The merge patch that turns `old` into `new`: changed and added fields set, removed ones
/// nulled, objects compared field by field so untouched siblings are not sent. Lists are
/// replaced whole (a merge patch cannot edit one), which the resourceVersion precondition
/// makes safe. `None` when the two are equal.
pub fn merge_diff(old: &Value, new: &Value) -> Option<Value> {
    let (Value::Object(old), Value::Object(new)) = (old, new) else {
        return (old != new).then(|| new.clone());
    };
    let mut patch = Map::new();
    for (key, value) in new {
        match old.get(key) {
            Some(before) => {
                if let Some(change) = merge_diff(before, value) {
                    patch.insert(key.clone(), change);
                }
            }
            None => {
                patch.insert(key.clone(), value.clone());
            }
        }
    }
    for key in old.keys().filter(|key| !new.contains_key(*key)) {
        patch.insert(key.clone(), Value::Null);
    }
    (!patch.is_empty()).then_some(Value::Object(patch))
}

/// Sends `patch` (a JSON object, a merge patch) to `part` of `current`, applied only if the
/// object is still at `current`'s resourceVersion; returns the object as stored.
///
/// # Errors
/// The API's: 409 Conflict when the object changed since `current` was read (re-read and
/// decide again), 404 when it is gone, 403 when RBAC lacks `patch` on that part.
pub async fn patch_if_unchanged<K>(
    api: &Api<K>,
    current: &K,
    part: Part,
    mut patch: Value,
) -> kube::Result<K>
where
    K: Resource + Clone + DeserializeOwned + Debug,
{
    if let (Value::Object(map), Some(version)) = (&mut patch, current.resource_version()) {
        let metadata = map
            .entry("metadata")
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(metadata) = metadata {
            metadata.insert("resourceVersion".to_owned(), Value::String(version));
        }
    }
    let name = current.name_any();
    let params = PatchParams::default();
    match part {
        Part::Object => api.patch(&name, &params, &Patch::Merge(&patch)).await,
        Part::Status => {
            api.patch_status(&name, &params, &Patch::Merge(&patch))
                .await
        }
    }
}

/// The merge patch of what `desired` changes in `part` of `current`; `None` if nothing.
///
/// # Errors
/// One of the objects does not serialize to JSON.
pub fn changes<K: Serialize>(
    current: &K,
    desired: &K,
    part: Part,
) -> Result<Option<Value>, serde_json::Error> {
    let mut current = serde_json::to_value(current)?;
    let mut desired = serde_json::to_value(desired)?;
    Ok(match part {
        Part::Status => {
            let before = current.get("status").unwrap_or(&Value::Null);
            let after = desired.get("status").unwrap_or(&Value::Null);
            merge_diff(before, after).map(|status| {
                let mut patch = Map::new();
                patch.insert("status".to_owned(), status);
                Value::Object(patch)
            })
        }
        Part::Object => {
            for object in [&mut current, &mut desired] {
                if let Value::Object(map) = object {
                    map.remove("status");
                }
            }
            merge_diff(&current, &desired)
        }
    })
}

/// Writes what `desired` (an edited copy of `current`) changes in `part`, conditional on
/// `current`'s resourceVersion. `Ok(None)` without a request when nothing changed.
///
/// # Errors
/// As [`patch_if_unchanged`].
pub async fn write_changes<K>(
    api: &Api<K>,
    current: &K,
    desired: &K,
    part: Part,
) -> kube::Result<Option<K>>
where
    K: Resource + Clone + DeserializeOwned + Serialize + Debug,
{
    let Some(patch) = changes(current, desired, part).map_err(kube::Error::SerdeError)? else {
        return Ok(None);
    };
    patch_if_unchanged(api, current, part, patch)
        .await
        .map(Some)
}

/// Writes `status` as `current`'s status: the fields that differ from the status it has,
/// conditional on `current`'s resourceVersion. `Ok(None)` without a request when none differs.
///
/// # Errors
/// As [`patch_if_unchanged`].
pub async fn write_status<K>(
    api: &Api<K>,
    current: &K,
    status: K::Status,
) -> kube::Result<Option<K>>
where
    K: Resource + HasStatus + Clone + DeserializeOwned + Serialize + Debug,
{
    let mut desired = current.clone();
    *desired.status_mut() = Some(status);
    write_changes(api, current, &desired, Part::Status).await
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::{PersistentVolumeClaim, PersistentVolumeClaimStatus};
    use kube::api::ObjectMeta;
    use serde_json::json;

    use super::*;

    #[test]
    fn merge_diff_sends_only_changes_and_nulls_removals() {
        let old = json!({"a": {"keep": 1, "change": 2, "drop": 3}, "list": [1, 2], "same": "x"});
        let new = json!({"a": {"keep": 1, "change": 9, "add": 4}, "list": [2], "same": "x"});
        assert_eq!(
            merge_diff(&old, &new),
            Some(json!({"a": {"change": 9, "add": 4, "drop": null}, "list": [2]}))
        );
        assert_eq!(merge_diff(&old, &old), None);
        assert_eq!(
            merge_diff(&Value::Null, &json!({"a": 1})),
            Some(json!({"a": 1}))
        );
        assert_eq!(
            merge_diff(&json!({"a": 1}), &Value::Null),
            Some(Value::Null)
        );
    }

    fn claim() -> PersistentVolumeClaim {
        PersistentVolumeClaim {
            metadata: ObjectMeta {
                name: Some("data".into()),
                resource_version: Some("7".into()),
                finalizers: Some(vec!["a".into()]),
                ..ObjectMeta::default()
            },
            status: Some(PersistentVolumeClaimStatus {
                phase: Some("Bound".into()),
                ..PersistentVolumeClaimStatus::default()
            }),
            ..PersistentVolumeClaim::default()
        }
    }

    #[test]
    fn changes_keep_object_and_status_apart() {
        let current = claim();
        let mut desired = current.clone();
        desired.metadata.finalizers = Some(vec!["a".into(), "b".into()]);
        desired.status.as_mut().unwrap().phase = Some("Lost".into());
        assert_eq!(
            changes(&current, &desired, Part::Object).unwrap(),
            Some(json!({"metadata": {"finalizers": ["a", "b"]}}))
        );
        assert_eq!(
            changes(&current, &desired, Part::Status).unwrap(),
            Some(json!({"status": {"phase": "Lost"}}))
        );
        assert_eq!(changes(&current, &current, Part::Object).unwrap(), None);
        let mut no_status = current.clone();
        no_status.status = None;
        assert_eq!(
            changes(&current, &no_status, Part::Status).unwrap(),
            Some(json!({"status": null}))
        );
    }

    /// Against the API stand-in: both parts are written with PATCH, never PUT; a write from a
    /// stale copy is refused with 409 and changes nothing.
    #[tokio::test]
    async fn writes_are_patches_and_a_stale_copy_gets_a_conflict() {
        use kube_standin::{StandIn, Verb};

        let standin = StandIn::start().await.unwrap();
        let api: Api<PersistentVolumeClaim> = Api::namespaced(standin.client().unwrap(), "ns");
        let mut fresh = claim();
        fresh.metadata.namespace = Some("ns".into());
        fresh.metadata.resource_version = None;
        let stored = standin.put(&fresh).unwrap();

        let mut desired = stored.clone();
        desired.metadata.finalizers = Some(vec!["a".into(), "b".into()]);
        let written = write_changes(&api, &stored, &desired, Part::Object)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(written.metadata.finalizers, desired.metadata.finalizers);
        let mut with_status = written.clone();
        with_status.status.as_mut().unwrap().phase = Some("Lost".into());
        let written = write_changes(&api, &written, &with_status, Part::Status)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(written.status.unwrap().phase.as_deref(), Some("Lost"));
        assert!(
            write_changes(&api, &stored, &stored, Part::Object)
                .await
                .unwrap()
                .is_none(),
            "nothing to write, nothing sent"
        );

        // `stored` is two versions old now.
        let mut stale = stored.clone();
        stale.metadata.finalizers = None;
        match write_changes(&api, &stored, &stale, Part::Object).await {
            Err(kube::Error::Api(status)) => assert_eq!(status.code, 409),
            other => panic!("want a conflict, got {other:?}"),
        }
        let now: PersistentVolumeClaim = standin.get("ns", "data").unwrap().unwrap();
        assert_eq!(now.metadata.finalizers, desired.metadata.finalizers);

        let writes: Vec<(Verb, Option<String>)> = standin
            .events()
            .into_iter()
            .filter(|e| e.name == "data" && e.verb != Verb::Direct)
            .map(|e| (e.verb, e.subresource))
            .collect();
        assert_eq!(
            writes,
            [
                (Verb::Patch, None),
                (Verb::Patch, Some("status".to_owned()))
            ]
        );
    }
}
