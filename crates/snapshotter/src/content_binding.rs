//! The snapshot controller's side of a VolumeSnapshotContent (upstream's common-controller
//! `syncContent`): a bound content carries the bound finalizer, and learns through
//! `volumesnapshot-being-deleted` that its snapshot is going away.
//!
//! One repair over upstream: a bound content that is itself being deleted while its snapshot
//! no longer exists is marked too. Upstream leaves such a content Terminating forever (the
//! mark only ever comes from the snapshot's deletion, which already happened without it, e.g.
//! after its finalizers were stripped); the content's own deletion is the user's explicit
//! request, so acting on it cannot lose data that was meant to stay.

use snapshot_api::{VolumeSnapshot, VolumeSnapshotContent, keys};

/// A write the controller half owes the content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentBindingAction {
    /// Add `volumesnapshotcontent-bound-protection`.
    AddFinalizer,
    /// Set `volumesnapshot-being-deleted`.
    MarkBeingDeleted,
}

/// What `content` needs, given the VolumeSnapshot its reference names (if that exists).
pub fn plan_content_binding(
    content: &VolumeSnapshotContent,
    named_snapshot: Option<&VolumeSnapshot>,
) -> Vec<ContentBindingAction> {
    let Some(bound_uid) = content.bound_snapshot_uid() else {
        // Pre-provisioned and not bound yet: its VolumeSnapshot's sync binds it.
        return Vec::new();
    };
    let mut actions = Vec::new();
    let deleting = content.metadata.deletion_timestamp.is_some();
    let has_finalizer = content
        .metadata
        .finalizers
        .as_ref()
        .is_some_and(|f| f.iter().any(|x| x == keys::CONTENT_BOUND_FINALIZER));
    if !deleting && !has_finalizer {
        actions.push(ContentBindingAction::AddFinalizer);
    }
    let released = content
        .metadata
        .annotations
        .as_ref()
        .is_some_and(|a| a.contains_key(keys::BEING_DELETED_ANNOTATION));
    if released {
        return actions;
    }
    // Same name but another uid: the snapshot it was bound to is gone.
    let snapshot = named_snapshot.filter(|s| s.metadata.uid.as_deref() == Some(bound_uid));
    let release = match snapshot {
        Some(snapshot) => {
            snapshot.metadata.deletion_timestamp.is_some()
                && snapshot.metadata.finalizers.as_ref().is_some_and(|f| {
                    f.iter().any(|x| {
                        x == keys::SNAPSHOT_AS_SOURCE_FINALIZER
                            || x == keys::SNAPSHOT_BOUND_FINALIZER
                    })
                })
        }
        None => deleting,
    };
    if release {
        actions.push(ContentBindingAction::MarkBeingDeleted);
    }
    actions
}

#[cfg(test)]
mod tests {
    use snapshot_api::keys::{
        BEING_DELETED_ANNOTATION, SNAPSHOT_AS_SOURCE_FINALIZER, SNAPSHOT_BOUND_FINALIZER,
    };

    use super::*;
    use crate::test_fixtures::*;
    use ContentBindingAction::*;

    #[test]
    fn decision_table() {
        let bound = || content("c").dynamic("v").bound_to("ns", "vs", UID);
        let live = snapshot("ns", "vs").finalizer(SNAPSHOT_AS_SOURCE_FINALIZER);
        let deleting = snapshot("ns", "vs")
            .finalizer(SNAPSHOT_BOUND_FINALIZER)
            .deleting();
        let recreated = snapshot("ns", "vs")
            .uid("another-uid")
            .deleting()
            .finalizer(SNAPSHOT_BOUND_FINALIZER);
        let cases: Vec<(
            &str,
            VolumeSnapshotContent,
            Option<VolumeSnapshot>,
            Vec<ContentBindingAction>,
        )> = vec![
            (
                "unbound pre-provisioned: nothing",
                content("c").pre_provisioned("s").bound_to("ns", "vs", ""),
                Some(live.clone()),
                vec![],
            ),
            (
                "bound without finalizer",
                bound(),
                Some(live.clone()),
                vec![AddFinalizer],
            ),
            (
                "bound with finalizer, snapshot live",
                bound().finalized(),
                Some(live.clone()),
                vec![],
            ),
            (
                "snapshot being deleted: release",
                bound().finalized(),
                Some(deleting.clone()),
                vec![MarkBeingDeleted],
            ),
            (
                "already released",
                bound().finalized().annotated(BEING_DELETED_ANNOTATION),
                Some(deleting),
                vec![],
            ),
            (
                "snapshot deleting without our finalizers: not ours to release",
                bound().finalized(),
                Some(snapshot("ns", "vs").deleting().finalizer("x/y")),
                vec![],
            ),
            (
                "snapshot gone, content kept: leave it (no data loss)",
                bound().finalized(),
                None,
                vec![],
            ),
            (
                "snapshot gone, content deleted by the user: release",
                bound().finalized().deleting(),
                None,
                vec![MarkBeingDeleted],
            ),
            (
                "a new snapshot under the old name does not count",
                bound().finalized().deleting(),
                Some(recreated),
                vec![MarkBeingDeleted],
            ),
            (
                "deleting: no finalizer is added back",
                bound().deleting().annotated(BEING_DELETED_ANNOTATION),
                None,
                vec![],
            ),
        ];
        for (what, content, snapshot, want) in cases {
            assert_eq!(
                plan_content_binding(&content, snapshot.as_ref()),
                want,
                "{what}"
            );
        }
    }
}
