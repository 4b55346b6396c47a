//! A namespace's worth of snapshots and PVCs deleted in one go (what the namespace controller
//! does), with snapshots in every state — ready, still being cut, never looked at: no finalizer
//! is left behind, every object goes, and Ceph holds no snapshot afterwards.

use k8s_openapi::api::core::v1::PersistentVolumeClaim;
use snapshot_api::{DeletionPolicy, VolumeSnapshot, VolumeSnapshotContent};

use crate::harness::*;

const MIB: i64 = 1 << 20;
const NAMESPACE: &str = "doomed";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn deleting_every_snapshot_and_pvc_at_once_leaves_nothing_behind() {
    let mut env = Env::start("nsdel").await;
    env.start_snapshotter("snapshotter", &[]);
    env.put_class("rbd-default", DeletionPolicy::Delete, true);
    let mut volumes = Vec::new();
    for i in 0..6 {
        let volume_id = env.create_volume(&format!("pvc-nsdel-{i}"), 16 * MIB).await;
        env.put_bound_claim(NAMESPACE, &format!("data-{i}"), &volume_id, "16Mi");
        volumes.push(volume_id);
    }
    let volume_images = env.images();

    // 0..3: ready. 3..6: contents made, cuts possibly still pending. 6: just created.
    for i in 0..3 {
        env.put_snapshot(NAMESPACE, &format!("snap-{i}"), &format!("data-{i}"), None);
    }
    for i in 0..3 {
        env.wait_ready(NAMESPACE, &format!("snap-{i}")).await;
    }
    for i in 3..6 {
        env.put_snapshot(NAMESPACE, &format!("snap-{i}"), &format!("data-{i}"), None);
    }
    for i in 3..6 {
        env.wait::<VolumeSnapshot>(NAMESPACE, &format!("snap-{i}"), "bound", |s| {
            s.is_some_and(|s| s.bound_content_name().is_some())
        })
        .await;
    }
    env.put_snapshot(NAMESPACE, "snap-late", "data-0", None);
    let contents: Vec<String> = env
        .standin
        .list_json(&kube_standin::Gvr::of::<VolumeSnapshotContent>(), None)
        .iter()
        .filter_map(|c| c["metadata"]["name"].as_str().map(str::to_owned))
        .collect();
    assert!(contents.len() >= 6, "{contents:?}");

    for i in 0..6 {
        env.delete::<VolumeSnapshot>(NAMESPACE, &format!("snap-{i}"));
        env.delete::<PersistentVolumeClaim>(NAMESPACE, &format!("data-{i}"));
    }
    env.delete::<VolumeSnapshot>(NAMESPACE, "snap-late");

    for i in 0..6 {
        env.wait_gone::<VolumeSnapshot>(NAMESPACE, &format!("snap-{i}"), &format!("snap-{i} gone"))
            .await;
        env.wait_gone::<PersistentVolumeClaim>(
            NAMESPACE,
            &format!("data-{i}"),
            &format!("data-{i} gone"),
        )
        .await;
    }
    env.wait_gone::<VolumeSnapshot>(NAMESPACE, "snap-late", "snap-late gone")
        .await;
    for content in &contents {
        env.wait_gone::<VolumeSnapshotContent>("", content, &format!("{content} gone"))
            .await;
    }
    // Only the volumes remain (no provisioner runs here to delete their PVs).
    env.wait_images(&volume_images).await;
    for volume_id in &volumes {
        env.delete_volume(volume_id).await;
    }
    env.wait_images(&[]).await;
}
