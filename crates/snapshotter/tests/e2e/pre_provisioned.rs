//! A pre-provisioned VolumeSnapshotContent (`source.snapshotHandle`: a snapshot taken
//! elsewhere — another cluster, a backup) and a VolumeSnapshot naming it: bound, readiness and
//! size from ListSnapshots, and with policy Delete the Ceph snapshot goes with the objects.

use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use snapshot_api::{
    DeletionPolicy, VolumeSnapshot, VolumeSnapshotContent, VolumeSnapshotContentSource,
    VolumeSnapshotContentSpec, VolumeSnapshotSource, VolumeSnapshotSpec, keys,
};

use crate::harness::*;

const MIB: i64 = 1 << 20;

pub fn imported_content(
    name: &str,
    handle: &str,
    namespace: &str,
    snapshot: &str,
    policy: DeletionPolicy,
) -> VolumeSnapshotContent {
    VolumeSnapshotContent {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            // How ceph-csi documents importing a snapshot: the Secret for DeleteSnapshot is
            // named on the content (no VolumeSnapshot resolved it).
            annotations: Some(
                [
                    (
                        keys::DELETION_SECRET_NAME_ANNOTATION.to_owned(),
                        SECRET_NAME.to_owned(),
                    ),
                    (
                        keys::DELETION_SECRET_NAMESPACE_ANNOTATION.to_owned(),
                        SECRET_NAMESPACE.to_owned(),
                    ),
                ]
                .into(),
            ),
            ..ObjectMeta::default()
        },
        spec: VolumeSnapshotContentSpec {
            volume_snapshot_ref: ObjectReference {
                name: Some(snapshot.to_owned()),
                namespace: Some(namespace.to_owned()),
                ..ObjectReference::default()
            },
            deletion_policy: policy,
            driver: DRIVER.to_owned(),
            volume_snapshot_class_name: None,
            source: VolumeSnapshotContentSource {
                volume_handle: None,
                snapshot_handle: Some(handle.to_owned()),
            },
            source_volume_mode: None,
        },
        status: None,
    }
}

pub fn snapshot_of_content(namespace: &str, name: &str, content: &str) -> VolumeSnapshot {
    VolumeSnapshot {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            namespace: Some(namespace.to_owned()),
            ..ObjectMeta::default()
        },
        spec: VolumeSnapshotSpec {
            source: VolumeSnapshotSource {
                persistent_volume_claim_name: None,
                volume_snapshot_content_name: Some(content.to_owned()),
            },
            volume_snapshot_class_name: None,
        },
        status: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_pre_provisioned_content_binds_fills_from_list_snapshots_and_deletes_with_policy_delete()
{
    let mut env = Env::start("import").await;
    env.start_snapshotter("snapshotter", &[]);
    let volume_id = env.create_volume("pvc-import-source", 48 * MIB).await;
    let seed = env
        .create_csi_snapshot("seed-from-elsewhere", &volume_id)
        .await;

    env.standin
        .put(&imported_content(
            "imported-seed",
            &seed.snapshot_id,
            "restore",
            "seed",
            DeletionPolicy::Delete,
        ))
        .unwrap();
    let snapshot = env
        .standin
        .put(&snapshot_of_content("restore", "seed", "imported-seed"))
        .unwrap();
    // Imported right after the cut: ListSnapshots may call it not ready until the driver
    // has built its image, so readiness comes from the snapshotter's poll of ListSnapshots —
    // shown only once the driver (asked independently here) says so.
    let ready = env.wait_ready("restore", "seed").await;
    assert!(
        env.driver_snapshot(&seed.snapshot_id)
            .await
            .is_some_and(|s| s.ready_to_use),
        "readyToUse shown before the driver said so"
    );
    let status = ready.status.clone().unwrap();
    assert_eq!(
        status.bound_volume_snapshot_content_name.as_deref(),
        Some("imported-seed")
    );
    assert_eq!(status.restore_size.map(|q| q.0).as_deref(), Some("48Mi"));
    assert!(status.creation_time.is_some());
    assert!(
        ready
            .metadata
            .finalizers
            .clone()
            .unwrap_or_default()
            .iter()
            .any(|f| f == keys::SNAPSHOT_BOUND_FINALIZER)
    );

    let content: VolumeSnapshotContent = env.get("", "imported-seed").unwrap();
    assert_eq!(
        content.spec.volume_snapshot_ref.uid, snapshot.metadata.uid,
        "bound by uid"
    );
    let content_status = content.status.unwrap();
    assert_eq!(
        content_status.snapshot_handle.as_deref(),
        Some(seed.snapshot_id.as_str())
    );
    assert_eq!(content_status.restore_size, Some(48 * MIB));
    assert_eq!(content_status.ready_to_use, Some(true));
    let seed_ns = seed
        .creation_time
        .map(|t| t.seconds * 1_000_000_000 + i64::from(t.nanos));
    assert_eq!(
        content_status.creation_time, seed_ns,
        "the driver's creation time"
    );
    env.wait_events("restore", "seed", &["SnapshotCreated", "SnapshotReady"])
        .await;

    // Policy Delete: the imported snapshot is deleted with its objects.
    env.wait_image_count(2).await;
    env.delete::<VolumeSnapshot>("restore", "seed");
    env.wait_gone::<VolumeSnapshot>("restore", "seed", "VolumeSnapshot gone")
        .await;
    env.wait_gone::<VolumeSnapshotContent>("", "imported-seed", "content gone")
        .await;
    assert!(env.driver_snapshot(&seed.snapshot_id).await.is_none());
    env.delete_volume(&volume_id).await;
    env.wait_images(&[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_content_naming_another_snapshot_is_refused_and_left_alone() {
    let mut env = Env::start("misbound").await;
    env.start_snapshotter("snapshotter", &[]);
    let volume_id = env.create_volume("pvc-misbound-source", 16 * MIB).await;
    let seed = env.create_csi_snapshot("seed-misbound", &volume_id).await;
    env.standin
        .put(&imported_content(
            "theirs",
            &seed.snapshot_id,
            "restore",
            "someone-else",
            DeletionPolicy::Delete,
        ))
        .unwrap();
    env.standin
        .put(&snapshot_of_content("restore", "mine", "theirs"))
        .unwrap();
    let refused = env
        .wait::<VolumeSnapshot>("restore", "mine", "misbound error", |s| {
            s.and_then(|s| s.status.as_ref()?.error.as_ref()?.message.clone())
                .is_some_and(|m| m.contains("bound to a different snapshot"))
        })
        .await
        .unwrap();
    assert!(!refused.is_ready());
    env.wait_events("restore", "mine", &["SnapshotContentMisbound"])
        .await;
    // Deleting the refused snapshot must not touch the content it never owned.
    env.delete::<VolumeSnapshot>("restore", "mine");
    env.wait_gone::<VolumeSnapshot>("restore", "mine", "VolumeSnapshot gone")
        .await;
    let content: VolumeSnapshotContent = env.get("", "theirs").expect("content kept");
    assert!(content.metadata.deletion_timestamp.is_none());
    assert!(content.spec.volume_snapshot_ref.uid.is_none());
    assert!(
        env.driver_snapshot(&seed.snapshot_id).await.is_some(),
        "the snapshot is kept"
    );
    env.delete_csi_snapshot(&seed.snapshot_id).await;
    env.delete_volume(&volume_id).await;
    env.wait_images(&[]).await;
}
