//! Snapshots: cut, idempotency, the journal as ceph-csi writes it, and DeleteVolume of a volume
//! that still has snapshots (retained, still restorable, gone with its last snapshot).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use tonic::Code;

#[tokio::test]
async fn a_snapshot_is_ready_at_once_and_recorded_as_ceph_csi_records_it() {
    Fixture::run(|fx| async move {
        let volume = fx.create_volume("pvc-src", 8 * MIB).await;
        let sub = subvolume_of(&volume.volume_id);
        let snapshot = fx.create_snapshot("snap-one", &volume.volume_id).await;
        assert!(snapshot.ready_to_use);
        assert_eq!(snapshot.size_bytes, 8 * MIB);
        assert_eq!(snapshot.source_volume_id, volume.volume_id);
        assert!(snapshot.creation_time.is_some());
        let again = fx.create_snapshot("snap-one", &volume.volume_id).await;
        assert_eq!(again.snapshot_id, snapshot.snapshot_id);
        assert_eq!(again.creation_time, snapshot.creation_time);
        let snap = snap_of(&snapshot.snapshot_id);
        assert_eq!(fx.snapshots_of(&sub), vec![snap.clone()]);
        // The snapshot ID carries the FSCID like the volume's.
        let v = journal::CompositeId::decode(&volume.volume_id).unwrap();
        let s = journal::CompositeId::decode(&snapshot.snapshot_id).unwrap();
        assert_eq!(v.location_id(), s.location_id());
        // ceph-csi's snapshot journal.
        let dir = fx.omap("csi.snaps.default");
        assert_eq!(
            dir.get("csi.snap.snap-one"),
            Some(&uuid_of(&snapshot.snapshot_id))
        );
        let entry = fx.omap(&format!("csi.snap.{}", uuid_of(&snapshot.snapshot_id)));
        assert_eq!(
            entry.get("csi.snapname").map(String::as_str),
            Some("snap-one")
        );
        assert_eq!(entry.get("csi.imagename"), Some(&snap));
        assert_eq!(entry.get("csi.source"), Some(&sub));

        // The same name for another volume is taken.
        let other = fx.create_volume("pvc-other", 4 * MIB).await;
        let s = status(
            fx.client()
                .create_snapshot(fx.snapshot_request("snap-one", &other.volume_id))
                .await,
        );
        assert_eq!(s.code(), Code::AlreadyExists, "{}", s.message());

        fx.delete_snapshot(&snapshot.snapshot_id).await;
        assert!(fx.snapshots_of(&sub).is_empty());
        assert!(fx.omap("csi.snaps.default").is_empty());
        fx.delete_snapshot(&snapshot.snapshot_id).await;
        fx.delete_volume(&volume.volume_id).await;
        fx.delete_volume(&other.volume_id).await;
        assert!(fx.subvolumes().is_empty());
        let objects = fx.journal_objects();
        assert!(
            objects
                .iter()
                .all(|o| o == "csi.volumes.default" || o == "csi.snaps.default"),
            "{objects:?}"
        );
    })
    .await;
}

#[tokio::test]
async fn a_deleted_volume_keeps_its_snapshots_until_the_last_goes() {
    Fixture::run(|fx| async move {
        let volume = fx.create_volume("pvc-retained", 4 * MIB).await;
        let sub = subvolume_of(&volume.volume_id);
        let first = fx.create_snapshot("snap-a", &volume.volume_id).await;
        let second = fx.create_snapshot("snap-b", &volume.volume_id).await;
        fx.delete_volume(&volume.volume_id).await;
        // Retained: the subvolume is listed with both snapshots, its journal entry is gone.
        assert_eq!(fx.info(&sub).unwrap()["state"], "snapshot-retained");
        assert_eq!(fx.snapshots_of(&sub).len(), 2);
        assert!(fx.omap("csi.volumes.default").is_empty());
        // Still restorable.
        let restored = create(
            fx.client(),
            fx.restore_request("pvc-restored", 4 * MIB, &first.snapshot_id),
        )
        .await;
        assert_eq!(
            fx.clone_state(&subvolume_of(&restored.volume_id)),
            "complete"
        );
        fx.delete_snapshot(&first.snapshot_id).await;
        assert_eq!(fx.info(&sub).unwrap()["state"], "snapshot-retained");
        fx.delete_snapshot(&second.snapshot_id).await;
        // The last snapshot took the rest of the subvolume with it.
        assert!(fx.info(&sub).is_none());
        assert_eq!(fx.subvolumes(), vec![subvolume_of(&restored.volume_id)]);
        fx.delete_volume(&restored.volume_id).await;
        assert!(fx.subvolumes().is_empty());
        assert!(fx.omap("csi.snaps.default").is_empty());
        assert!(fx.omap("csi.volumes.default").is_empty());
    })
    .await;
}
