//! `pvc-as-source-protection`: a PVC keeps it while a snapshot of it may still be cut.
//!
//! Decided per PVC, not per snapshot, so the finalizer goes even when the last snapshot that
//! needed it vanished in the same instant (upstream decides it while syncing a snapshot, and
//! parallel deletes leave it behind: external-snapshotter#764). A snapshot needs the volume
//! while it is not ready — except once it is being deleted, unless a CreateSnapshot for it may
//! still be running on the driver (its content is marked being-created).

use k8s_openapi::api::core::v1::PersistentVolumeClaim;
use snapshot_api::{VolumeSnapshot, VolumeSnapshotContent, keys};

/// Whether some snapshot still needs the PVC named `claim` (in the snapshots' namespace).
pub fn claim_in_use<'a>(
    claim: &str,
    snapshots: impl IntoIterator<Item = &'a VolumeSnapshot>,
    content_of: impl Fn(&VolumeSnapshot) -> Option<VolumeSnapshotContent>,
) -> bool {
    snapshots.into_iter().any(|snapshot| {
        snapshot.spec.source.persistent_volume_claim_name.as_deref() == Some(claim)
            && !snapshot.is_ready()
            && (snapshot.metadata.deletion_timestamp.is_none()
                || content_of(snapshot).is_some_and(|content| {
                    content
                        .metadata
                        .annotations
                        .as_ref()
                        .is_some_and(|a| a.contains_key(keys::BEING_CREATED_ANNOTATION))
                }))
    })
}

/// `claim` is waiting to be restored from the snapshot `snapshot_name` (same namespace): a
/// Pending PVC whose dataSource names it. A PVC being deleted no longer waits for anything
/// (counting it would hold a namespace deletion on the snapshot until the PVC is gone; the
/// provisioner protects a restore it has started with its own finalizer).
pub fn restores_from(claim: &PersistentVolumeClaim, snapshot_name: &str) -> bool {
    let pending = claim.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Pending");
    let source = claim.spec.as_ref().and_then(|s| {
        s.data_source_ref
            .as_ref()
            .map(|r| (r.api_group.as_deref(), r.kind.as_str(), r.name.as_str()))
            .or_else(|| {
                s.data_source
                    .as_ref()
                    .map(|r| (r.api_group.as_deref(), r.kind.as_str(), r.name.as_str()))
            })
    });
    pending
        && claim.metadata.deletion_timestamp.is_none()
        && source == Some((Some(keys::GROUP), keys::VOLUME_SNAPSHOT_KIND, snapshot_name))
}

/// The PVC's finalizer may be removed: it has it and nothing needs it.
pub fn should_release(claim: &PersistentVolumeClaim, in_use: bool) -> bool {
    !in_use
        && claim
            .metadata
            .finalizers
            .as_ref()
            .is_some_and(|f| f.iter().any(|x| x == keys::PVC_AS_SOURCE_FINALIZER))
}

#[cfg(test)]
mod tests {
    use snapshot_api::keys::BEING_CREATED_ANNOTATION;

    use super::*;
    use crate::test_fixtures::*;

    #[test]
    fn which_snapshots_hold_the_claim() {
        let creating = content("c")
            .dynamic("v")
            .bound_to("ns", "vs", UID)
            .annotated(BEING_CREATED_ANNOTATION);
        let idle = content("c").dynamic("v").bound_to("ns", "vs", UID);
        let cases: Vec<(&str, VolumeSnapshot, Option<VolumeSnapshotContent>, bool)> = vec![
            (
                "not ready",
                snapshot("ns", "vs").of_claim("data"),
                None,
                true,
            ),
            (
                "ready",
                snapshot("ns", "vs").of_claim("data").bound("c", true),
                None,
                false,
            ),
            (
                "another claim",
                snapshot("ns", "vs").of_claim("other"),
                None,
                false,
            ),
            (
                "pre-provisioned",
                snapshot("ns", "vs").of_content("c"),
                None,
                false,
            ),
            (
                "deleted before any call",
                snapshot("ns", "vs").of_claim("data").deleting(),
                None,
                false,
            ),
            (
                "deleted, call may run",
                snapshot("ns", "vs").of_claim("data").deleting(),
                Some(creating),
                true,
            ),
            (
                "deleted, call finished",
                snapshot("ns", "vs").of_claim("data").deleting(),
                Some(idle),
                false,
            ),
        ];
        for (what, snapshot, content, want) in cases {
            let got = claim_in_use("data", [&snapshot], |_| content.clone());
            assert_eq!(got, want, "{what}");
        }
    }

    #[test]
    fn pending_restores_hold_the_snapshot() {
        let restoring = claim("ns", "copy").restoring_from("vs");
        assert!(restores_from(&restoring, "vs"));
        assert!(!restores_from(&restoring, "other"));
        assert!(
            !restores_from(&restoring.clone().bound_to("pv"), "vs"),
            "bound: restore done"
        );
        assert!(
            !restores_from(&restoring.deleting(), "vs"),
            "deleted: nothing waits"
        );
        assert!(!restores_from(&claim("ns", "plain"), "vs"));
    }

    #[test]
    fn release_needs_the_finalizer_and_no_user() {
        let protected = claim("ns", "data").finalizer(keys::PVC_AS_SOURCE_FINALIZER);
        assert!(should_release(&protected, false));
        assert!(!should_release(&protected, true));
        assert!(!should_release(&claim("ns", "data"), false));
    }
}
