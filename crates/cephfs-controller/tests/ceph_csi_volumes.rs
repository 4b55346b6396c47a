//! ceph-csi compatibility the other way round: a volume and a snapshot as ceph-csi's cephfs
//! driver leaves them (subvolume `csi-vol-<uuid>` in the group, its journal written with
//! ceph-csi's keys and nothing else) are found by name, answered with the ID ceph-csi composed,
//! snapshotted, restored and deleted by Sepia.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;

/// What ceph-csi writes for a volume: directory key → uuid, entry with its keys.
fn write_ceph_csi_volume(fx: &Fixture, request_name: &str, uuid: &str) -> String {
    let sub = format!("csi-vol-{uuid}");
    ceph(&["fs", "subvolumegroup", "create", &bed().fs, &fx.group]);
    ceph(&[
        "fs",
        "subvolume",
        "create",
        &bed().fs,
        &sub,
        "--group_name",
        &fx.group,
        "--size",
        &(6 << 20).to_string(),
    ]);
    let rados = |args: &[&str]| {
        let mut all = vec!["-p", METADATA_POOL, "-N", &fx.namespace];
        all.extend_from_slice(args);
        bed().cli("rados", &all)
    };
    let entry = format!("csi.volume.{uuid}");
    rados(&["create", &entry]);
    rados(&["setomapval", &entry, "csi.volname", request_name]);
    rados(&["setomapval", &entry, "csi.imagename", &sub]);
    rados(&[
        "setomapval",
        "csi.volumes.default",
        &format!("csi.volume.{request_name}"),
        uuid,
    ]);
    sub
}

#[tokio::test]
async fn a_ceph_csi_volume_is_found_snapshotted_restored_and_deleted() {
    Fixture::run(|fx| async move {
        let uuid = "0c9f4a0e-6a55-4f3a-9a7e-1d2b3c4d5e6f";
        let sub = write_ceph_csi_volume(&fx, "pvc-from-ceph-csi", uuid);
        // CreateVolume of the same name answers the existing volume (its quota, its ID).
        let volume = fx.create_volume("pvc-from-ceph-csi", 4 * MIB).await;
        assert_eq!(uuid_of(&volume.volume_id), uuid);
        assert_eq!(volume.capacity_bytes, 6 * MIB);
        assert_eq!(volume.volume_context["subvolumeName"], sub);
        assert_eq!(fx.subvolumes(), vec![sub.clone()]);
        // Its entry is unchanged: Sepia adds no key ceph-csi does not write.
        let entry = fx.omap(&format!("csi.volume.{uuid}"));
        assert_eq!(
            entry.keys().collect::<Vec<_>>(),
            vec!["csi.imagename", "csi.volname"]
        );

        let snapshot = fx
            .create_snapshot("snap-of-ceph-csi", &volume.volume_id)
            .await;
        assert_eq!(snapshot.size_bytes, 6 * MIB);
        let restored = create(
            fx.client(),
            fx.restore_request("pvc-restored", 6 * MIB, &snapshot.snapshot_id),
        )
        .await;
        assert_eq!(
            fx.clone_state(&subvolume_of(&restored.volume_id)),
            "complete"
        );
        fx.delete_volume(&restored.volume_id).await;
        fx.delete_snapshot(&snapshot.snapshot_id).await;
        fx.delete_volume(&volume.volume_id).await;
        assert!(fx.subvolumes().is_empty());
        assert!(fx.omap("csi.volumes.default").is_empty());
        assert!(fx.omap("csi.snaps.default").is_empty());
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
