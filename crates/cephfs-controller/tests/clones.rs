//! Volumes from content: restore from a snapshot, clone of a volume (with ceph-csi's temporary
//! snapshot, gone once the clone completes), and the ABORTED answer while the mgr has not
//! finished the clone.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use tonic::Code;

#[tokio::test]
async fn restore_from_a_snapshot_grows_to_the_request() {
    Fixture::run(|fx| async move {
        let volume = fx.create_volume("pvc-src", 4 * MIB).await;
        let snapshot = fx.create_snapshot("snap-src", &volume.volume_id).await;
        let req = fx.restore_request("pvc-restore", 12 * MIB, &snapshot.snapshot_id);
        let restored = create(fx.client(), req.clone()).await;
        let target = subvolume_of(&restored.volume_id);
        assert_eq!(restored.capacity_bytes, 12 * MIB);
        assert_eq!(fx.quota(&target), 12 << 20);
        assert_eq!(fx.clone_state(&target), "complete");
        assert_eq!(restored.volume_context["subvolumeName"], target);
        assert!(restored.volume_context["subvolumePath"].contains(&target));
        let again = create(fx.client(), req).await;
        assert_eq!(again.volume_id, restored.volume_id);
        // Only the source's own snapshot is left; nothing temporary.
        assert_eq!(
            fx.snapshots_of(&subvolume_of(&volume.volume_id)),
            vec![snap_of(&snapshot.snapshot_id)]
        );
        // Smaller than the snapshot: OUT_OF_RANGE, and no clone stays.
        let small = fx.restore_request("pvc-small", MIB, &snapshot.snapshot_id);
        let s = create_result(fx.client(), small).await.unwrap_err();
        assert_eq!(s.code(), Code::OutOfRange, "{}", s.message());
        assert_eq!(fx.subvolumes().len(), 2, "{:?}", fx.subvolumes());
        assert!(
            !fx.omap("csi.volumes.default")
                .contains_key("csi.volume.pvc-small")
        );
        // An unknown snapshot: NOT_FOUND.
        let s = status(
            fx.client()
                .create_volume(fx.restore_request(
                    "pvc-none",
                    MIB,
                    "0001-0003-bed-0000000000000001-00000000-0000-0000-0000-000000000000",
                ))
                .await,
        );
        assert_eq!(s.code(), Code::NotFound, "{}", s.message());
        fx.delete_volume(&restored.volume_id).await;
        fx.delete_snapshot(&snapshot.snapshot_id).await;
        fx.delete_volume(&volume.volume_id).await;
        assert!(fx.subvolumes().is_empty());
    })
    .await;
}

#[tokio::test]
async fn a_volume_clone_removes_its_temporary_snapshot() {
    Fixture::run(|fx| async move {
        let volume = fx.create_volume("pvc-parent", 4 * MIB).await;
        let parent = subvolume_of(&volume.volume_id);
        let cloned = create(
            fx.client(),
            fx.clone_request("pvc-child", 4 * MIB, &volume.volume_id),
        )
        .await;
        let child = subvolume_of(&cloned.volume_id);
        assert_eq!(fx.clone_state(&child), "complete");
        assert_eq!(fx.quota(&child), 4 << 20);
        assert!(
            fx.snapshots_of(&parent).is_empty(),
            "{:?}",
            fx.snapshots_of(&parent)
        );
        // The parent can go at once: nothing of the clone holds it.
        fx.delete_volume(&volume.volume_id).await;
        assert_eq!(fx.subvolumes(), vec![child.clone()]);
        fx.delete_volume(&cloned.volume_id).await;
        assert!(fx.subvolumes().is_empty());
        assert!(fx.omap("csi.volumes.default").is_empty());
    })
    .await;
}
