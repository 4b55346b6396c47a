//! A VolumeSnapshot being deleted (upstream's `processSnapshotWithDeletionTimestamp`).
//!
//! Only a content that points back with this snapshot's uid is touched: a content that names
//! another snapshot, or a pre-provisioned one never bound, is left alone (deleting it could
//! destroy someone else's snapshot). The content is told about the deletion whatever its
//! policy (the CSI half needs the mark to act), deleted when its policy is Delete, and the
//! bound finalizer stays until it is gone, so the user's delete completes only after the
//! backend snapshot is.

use sidecar::Progress;
use snapshot_api::{DeletionPolicy, keys};

use super::{EventType, Planner, SnapshotAction, SnapshotPlan};

pub(super) fn plan(mut plan: Planner<'_>) -> SnapshotPlan {
    let ours = [
        keys::SNAPSHOT_AS_SOURCE_FINALIZER,
        keys::SNAPSHOT_BOUND_FINALIZER,
    ];
    if !ours.iter().any(|f| plan.has_finalizer(f)) {
        return plan.done();
    }
    let content = plan
        .world
        .content
        .filter(|content| plan.points_back(content, true));
    if content.is_some() && plan.world.restoring {
        plan.event(
            EventType::Warning,
            "SnapshotDeletePending",
            "Snapshot is being used to restore a PVC".to_owned(),
        );
        // A PVC change (it binds) requeues the snapshot; the backoff is the safety net.
        return plan.retry(Progress::Final);
    }
    let mut content_deleted_with_us = false;
    if let Some(content) = content {
        let name = content.metadata.name.clone().unwrap_or_default();
        let released = content
            .metadata
            .annotations
            .as_ref()
            .is_some_and(|a| a.contains_key(keys::BEING_DELETED_ANNOTATION));
        if !released {
            plan.push(SnapshotAction::MarkContentBeingDeleted {
                content: name.clone(),
            });
        }
        if content.spec.deletion_policy == DeletionPolicy::Delete {
            content_deleted_with_us = true;
            if content.metadata.deletion_timestamp.is_none() {
                plan.push(SnapshotAction::DeleteContent { content: name });
            }
        }
    }
    let mut remove = Vec::new();
    if plan.has_finalizer(keys::SNAPSHOT_AS_SOURCE_FINALIZER) {
        remove.push(keys::SNAPSHOT_AS_SOURCE_FINALIZER);
    }
    if !content_deleted_with_us && plan.has_finalizer(keys::SNAPSHOT_BOUND_FINALIZER) {
        remove.push(keys::SNAPSHOT_BOUND_FINALIZER);
    }
    if !remove.is_empty() {
        plan.push(SnapshotAction::RemoveFinalizers(remove));
    }
    plan.done()
}
