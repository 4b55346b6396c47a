//! A Delete-policy content whose VolumeSnapshot does not exist — YAML copied from another
//! cluster that still uses the snapshot — deleted by the user: the snapshot stays in Ceph (as
//! upstream keeps it), the content stays Terminating with an Event saying why and how to let it
//! go, and the being-deleted annotation the Event names does delete it.

use std::time::{Duration, Instant};

use snapshot_api::{DeletionPolicy, VolumeSnapshotContent, keys};

use crate::harness::*;
use crate::pre_provisioned::imported_content;

const MIB: i64 = 1 << 20;
const ORPHANED: &str = "SnapshotContentOrphaned";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_deleted_content_whose_snapshot_is_gone_keeps_the_backend_snapshot() {
    let mut env = Env::start("orphan").await;
    env.start_snapshotter("snapshotter", &[]);
    let volume_id = env.create_volume("pvc-orphan-source", 16 * MIB).await;
    let elsewhere = env
        .create_csi_snapshot("in-use-elsewhere", &volume_id)
        .await;

    // Copied as it was bound in the other cluster: the VolumeSnapshot's uid is set, but no
    // such VolumeSnapshot exists here.
    let mut copied = imported_content(
        "copied",
        &elsewhere.snapshot_id,
        "apps",
        "gone",
        DeletionPolicy::Delete,
    );
    copied.spec.volume_snapshot_ref.uid = Some("uid-in-another-cluster".to_owned());
    env.standin.put(&copied).unwrap();
    // Both halves have seen it: the controller put its finalizer on, the CSI half checked the
    // snapshot with ListSnapshots.
    env.wait::<VolumeSnapshotContent>("", "copied", "content finalized and checked", |c| {
        c.is_some_and(|c| {
            c.is_ready()
                && c.metadata
                    .finalizers
                    .as_ref()
                    .is_some_and(|f| f.iter().any(|f| f == keys::CONTENT_BOUND_FINALIZER))
        })
    })
    .await;

    // The user cleans up the "unused" content.
    assert!(!env.delete::<VolumeSnapshotContent>("", "copied"));
    // Until the snapshotter has decided: the Event of a kept orphan, or the content gone.
    let start = Instant::now();
    while env.get::<VolumeSnapshotContent>("", "copied").is_some()
        && !env
            .event_reasons("default", "copied")
            .iter()
            .any(|r| r == ORPHANED)
    {
        if start.elapsed() > WAIT {
            env.dump_logs();
            panic!("no decision about the deleted content");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        env.driver_snapshot(&elsewhere.snapshot_id).await.is_some(),
        "the snapshot another cluster uses was deleted"
    );
    let kept = env
        .get::<VolumeSnapshotContent>("", "copied")
        .expect("the content stays Terminating");
    assert!(kept.metadata.deletion_timestamp.is_some());
    assert!(
        !kept
            .metadata
            .annotations
            .unwrap_or_default()
            .contains_key(keys::BEING_DELETED_ANNOTATION),
        "not released"
    );

    // The way out the Event names: the admin releases it explicitly; then it goes, with the
    // snapshot (policy Delete).
    let mut released = env
        .standin
        .get_json(
            &kube_standin::Gvr::of::<VolumeSnapshotContent>(),
            "",
            "copied",
        )
        .unwrap();
    released["metadata"]["annotations"][keys::BEING_DELETED_ANNOTATION] = "yes".into();
    env.standin
        .put_object(&kube_standin::Gvr::of::<VolumeSnapshotContent>(), released)
        .unwrap();
    env.wait_gone::<VolumeSnapshotContent>("", "copied", "released content gone")
        .await;
    assert!(env.driver_snapshot(&elsewhere.snapshot_id).await.is_none());

    env.delete_volume(&volume_id).await;
    env.wait_images(&[]).await;
}
