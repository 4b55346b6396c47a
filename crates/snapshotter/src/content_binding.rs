//! The binding half's side of a VolumeSnapshotContent (upstream's common-controller
//! `syncContent`): a bound content carries the bound finalizer, and learns through
//! `volumesnapshot-being-deleted` that its snapshot is going away.
//!
//! Only the deletion of the VolumeSnapshot it is bound to releases a content. A content whose
//! VolumeSnapshot does not exist (or exists under another uid) is never released, not even
//! when the content itself is deleted: like upstream, which refuses on purpose, because such
//! a content is typically YAML copied from another cluster, and releasing it would make the CSI
//! half delete a snapshot that cluster still uses. It stays Terminating and is reported
//! ([`ContentBindingAction::ReportOrphaned`]) with the two ways out: the being-deleted
//! annotation to delete the snapshot too, or removing the finalizer to keep it.

use snapshot_api::{VolumeSnapshot, VolumeSnapshotContent, keys};

/// A write the binding half owes the content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentBindingAction {
    /// Add `volumesnapshotcontent-bound-protection`.
    AddFinalizer,
    /// Set `volumesnapshot-being-deleted`.
    MarkBeingDeleted,
    /// The content is being deleted, but its VolumeSnapshot is gone: it is not released (the
    /// backend snapshot is kept); say so, and how to let it go, in a Warning Event.
    ReportOrphaned,
}

/// Event reason of [`ContentBindingAction::ReportOrphaned`] (Sepia's; upstream is silent).
pub const ORPHANED_REASON: &str = "SnapshotContentOrphaned";

/// The message of [`ContentBindingAction::ReportOrphaned`] for `content`.
pub fn orphaned_message(content: &VolumeSnapshotContent) -> String {
    let reference = &content.spec.volume_snapshot_ref;
    format!(
        "VolumeSnapshot {}/{} (uid {}) this content is bound to does not exist, so its snapshot \
         is kept in the storage backend: a content is only deleted with its VolumeSnapshot, as \
         upstream does, so that a copied content cannot destroy a snapshot in use elsewhere. To \
         delete the snapshot as well, annotate the content with {}=yes; to keep it, remove the \
         finalizer {}",
        reference.namespace.as_deref().unwrap_or_default(),
        reference.name.as_deref().unwrap_or_default(),
        reference.uid.as_deref().unwrap_or_default(),
        keys::BEING_DELETED_ANNOTATION,
        keys::CONTENT_BOUND_FINALIZER,
    )
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
    match named_snapshot.filter(|s| s.metadata.uid.as_deref() == Some(bound_uid)) {
        Some(snapshot) => {
            let release = snapshot.metadata.deletion_timestamp.is_some()
                && snapshot.metadata.finalizers.as_ref().is_some_and(|f| {
                    f.iter().any(|x| {
                        x == keys::SNAPSHOT_AS_SOURCE_FINALIZER
                            || x == keys::SNAPSHOT_BOUND_FINALIZER
                    })
                });
            if release {
                actions.push(ContentBindingAction::MarkBeingDeleted);
            }
        }
        None if deleting && has_finalizer => actions.push(ContentBindingAction::ReportOrphaned),
        None => {}
    }
    actions
}

#[cfg(test)]
mod tests {
    use snapshot_api::keys::{
        BEING_DELETED_ANNOTATION, SNAPSHOT_AS_SOURCE_FINALIZER, SNAPSHOT_BOUND_FINALIZER,
    };

    use snapshot_api::DeletionPolicy;

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
                "snapshot gone, content deleted by the user: kept, reported (no data loss)",
                bound().finalized().deleting(),
                None,
                vec![ReportOrphaned],
            ),
            (
                "a new snapshot under the old name does not count",
                bound().finalized().deleting(),
                Some(recreated),
                vec![ReportOrphaned],
            ),
            (
                "a Retain content is kept the same way",
                bound()
                    .policy(DeletionPolicy::Retain)
                    .finalized()
                    .deleting(),
                None,
                vec![ReportOrphaned],
            ),
            (
                "snapshot gone, content deleted, finalizer removed by the admin: nothing",
                bound().deleting(),
                None,
                vec![],
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
