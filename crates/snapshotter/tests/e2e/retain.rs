//! deletionPolicy Retain: deleting the VolumeSnapshot releases the content and keeps the Ceph
//! snapshot; deleting the released content later still keeps it.

use snapshot_api::{DeletionPolicy, VolumeSnapshot, VolumeSnapshotContent, keys};

use crate::harness::*;

const MIB: i64 = 1 << 20;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn retain_keeps_the_ceph_snapshot_after_the_volumesnapshot_and_the_content_are_deleted() {
    let mut env = Env::start("retain").await;
    env.start_snapshotter("snapshotter", &[]);
    let volume_id = env.create_volume("pvc-retain-source", 32 * MIB).await;
    env.put_bound_claim("apps", "data", &volume_id, "32Mi");
    env.put_class("rbd-retain", DeletionPolicy::Retain, false);
    let snapshot = env.put_snapshot("apps", "kept", "data", Some("rbd-retain"));
    let ready = env.wait_ready("apps", "kept").await;
    let content = env.content_of(&ready);
    assert_eq!(content.spec.deletion_policy, DeletionPolicy::Retain);
    assert!(
        !ready
            .metadata
            .finalizers
            .clone()
            .unwrap_or_default()
            .iter()
            .any(|f| f == keys::SNAPSHOT_BOUND_FINALIZER),
        "no bound finalizer with Retain"
    );
    let handle = content.status_snapshot_handle().unwrap().to_owned();
    let content_name = content.metadata.name.clone().unwrap();
    let with_snapshot = env.wait_image_count(2).await;

    // The VolumeSnapshot goes at once; the content is released, not deleted.
    env.delete::<VolumeSnapshot>("apps", "kept");
    env.wait_gone::<VolumeSnapshot>("apps", "kept", "VolumeSnapshot gone")
        .await;
    let released = env
        .wait::<VolumeSnapshotContent>("", &content_name, "content released", |c| {
            c.is_some_and(|c| {
                c.metadata
                    .annotations
                    .clone()
                    .unwrap_or_default()
                    .contains_key(keys::BEING_DELETED_ANNOTATION)
            })
        })
        .await
        .unwrap();
    assert!(
        released.metadata.deletion_timestamp.is_none(),
        "a Retain content is not deleted"
    );
    assert_eq!(released.spec.volume_snapshot_ref.uid, snapshot.metadata.uid);
    assert_eq!(env.images(), with_snapshot, "Ceph keeps the snapshot");
    assert!(
        env.driver_snapshot(&handle)
            .await
            .is_some_and(|s| s.ready_to_use)
    );

    // An admin deletes the released content: the object goes, the Ceph snapshot stays.
    env.delete::<VolumeSnapshotContent>("", &content_name);
    env.wait_gone::<VolumeSnapshotContent>("", &content_name, "content gone")
        .await;
    assert_eq!(
        env.images(),
        with_snapshot,
        "Retain: the backend snapshot outlives its objects"
    );
    assert!(env.driver_snapshot(&handle).await.is_some());

    env.delete_csi_snapshot(&handle).await;
    env.delete_volume(&volume_id).await;
    env.wait_images(&[]).await;
}
