//! The CSI half's decision for one VolumeSnapshotContent of our driver: which CSI call (if
//! any) it needs now, from the object alone — everything that must survive a restart lives on
//! the object (the being-created annotation is the persisted "a call may be in flight").
//!
//! Upstream's rules (`sidecar-controller/snapshot_controller.go`), plus one repair:
//! - deletion goes ahead for an unbound pre-provisioned content, or once the binding half
//!   (or upstream's snapshot-controller) set `volumesnapshot-being-deleted` — but never while a CreateSnapshot may still
//!   be running (being-created): that call is repeated until it answers finally, or the
//!   snapshot it makes would leak;
//! - Delete policy → DeleteSnapshot, then the status is cleared and the finalizer removed;
//!   Retain → the finalizer is removed, the backend snapshot kept;
//! - a dynamic content that is not ready → CreateSnapshot with the same name (the CSI way to
//!   ask "is it ready yet"), marked being-created only until the driver has named the
//!   snapshot; a pre-provisioned one → ListSnapshots by id;
//! - repair: a ready content still carrying being-created (a crash between the status write
//!   and the annotation removal) gets the annotation removed, or its deletion would wait
//!   forever.

use snapshot_api::{DeletionPolicy, VolumeSnapshotContent, keys};

/// What the content needs next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContentPlan {
    /// Not ours, or nothing to do until it changes.
    Nothing,
    /// CreateSnapshot (again): create it, learn readiness, or finish a call that may be in
    /// flight. `mark_being_created`: the annotation must be written before the call.
    CreateSnapshot { mark_being_created: bool },
    /// ListSnapshots for this id to learn readiness, size and time (pre-provisioned).
    CheckSnapshot { snapshot_id: String },
    /// DeleteSnapshot, then clear the status and remove the finalizer.
    DeleteSnapshot { snapshot_id: String },
    /// Remove the bound finalizer (Retain, nothing on the backend, or a group member).
    RemoveFinalizer,
    /// Remove a stale being-created annotation from a ready content.
    ClearBeingCreated,
}

/// Decides for `content` as seen by the CSI half of `driver`.
pub fn plan_content(content: &VolumeSnapshotContent, driver: &str) -> ContentPlan {
    if content.spec.driver != driver {
        return ContentPlan::Nothing;
    }
    let being_created = has_annotation(content, keys::BEING_CREATED_ANNOTATION);
    let dynamic = content.spec.source.volume_handle.is_some();
    let pre_provisioned = content.spec.source.snapshot_handle.is_some();
    if dynamic == pre_provisioned {
        // Neither or both: the CRD forbids it; the binding half reports it.
        return if content.metadata.deletion_timestamp.is_some() {
            remove_finalizer_if_present(content)
        } else {
            ContentPlan::Nothing
        };
    }
    let group_member = is_group_member(content);

    if content.metadata.deletion_timestamp.is_some() {
        let unbound_pre_provisioned = pre_provisioned && content.bound_snapshot_uid().is_none();
        let released = has_annotation(content, keys::BEING_DELETED_ANNOTATION);
        let should_delete = unbound_pre_provisioned || (!being_created && released);
        if !should_delete {
            return if being_created && dynamic && !group_member {
                ContentPlan::CreateSnapshot {
                    mark_being_created: false,
                }
            } else {
                ContentPlan::Nothing
            };
        }
        if content.spec.deletion_policy == DeletionPolicy::Delete && !group_member {
            let handle = content
                .spec
                .source
                .snapshot_handle
                .as_deref()
                .filter(|h| !h.is_empty())
                .or_else(|| content.status_snapshot_handle());
            if let Some(snapshot_id) = handle {
                // A pre-provisioned content's handle is in its spec; only once it was
                // deleted (status cleared) is there nothing left to do. The status is cleared
                // after a successful DeleteSnapshot, which is the mark for a dynamic one.
                let already_deleted = pre_provisioned && status_cleared_after_delete(content);
                if !already_deleted {
                    return ContentPlan::DeleteSnapshot {
                        snapshot_id: snapshot_id.to_owned(),
                    };
                }
            }
        }
        return remove_finalizer_if_present(content);
    }

    if group_member {
        return ContentPlan::Nothing;
    }
    if content.is_ready() {
        return if being_created {
            ContentPlan::ClearBeingCreated
        } else {
            ContentPlan::Nothing
        };
    }
    match &content.spec.source.snapshot_handle {
        Some(snapshot_id) => ContentPlan::CheckSnapshot {
            snapshot_id: snapshot_id.clone(),
        },
        // Once the driver has named the snapshot, repeating the call cannot create another
        // one (and a delete knows what to remove), so polls need no mark — and writing one
        // per poll would wake every watcher twice per poll.
        None => ContentPlan::CreateSnapshot {
            mark_being_created: !being_created && content.status_snapshot_handle().is_none(),
        },
    }
}

fn remove_finalizer_if_present(content: &VolumeSnapshotContent) -> ContentPlan {
    let has = content
        .metadata
        .finalizers
        .as_ref()
        .is_some_and(|f| f.iter().any(|x| x == keys::CONTENT_BOUND_FINALIZER));
    if has {
        ContentPlan::RemoveFinalizer
    } else {
        ContentPlan::Nothing
    }
}

fn has_annotation(content: &VolumeSnapshotContent, key: &str) -> bool {
    content
        .metadata
        .annotations
        .as_ref()
        .is_some_and(|a| a.contains_key(key))
}

/// Members of a VolumeGroupSnapshot are created and deleted only through their group.
pub fn is_group_member(content: &VolumeSnapshotContent) -> bool {
    has_annotation(content, keys::GROUP_SNAPSHOT_HANDLE_ANNOTATION)
        || content
            .status
            .as_ref()
            .is_some_and(|s| s.volume_group_snapshot_handle.is_some())
}

/// Our DeleteSnapshot success leaves a status with neither handle nor readiness (upstream's
/// `clearVolumeContentStatus`); a pre-provisioned content never reaches that otherwise,
/// because ListSnapshots always fills both.
fn status_cleared_after_delete(content: &VolumeSnapshotContent) -> bool {
    content.status.as_ref().is_some_and(|s| {
        s.snapshot_handle.is_none() && s.ready_to_use.is_none() && s.creation_time.is_none()
    })
}

#[cfg(test)]
mod tests;
