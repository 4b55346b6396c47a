//! VolumeSnapshots for restore tests: the snapshot cut through the real controller, its
//! Kubernetes objects put into the stand-in as the snapshotter would.

use std::collections::HashMap;
use std::time::Duration;

use csi::v1::CreateSnapshotRequest;
use csi::v1::controller_client::ControllerClient;
use kube_standin::Gvr;
use sepia_testbed::Bed;
use serde_json::json;

use super::{CLUSTER_ID, DRIVER, World};

/// Plays the snapshotter: cuts a snapshot of `origin_id` in Ceph, then describes it in
/// Kubernetes as VolumeSnapshot `namespace/name` bound to content `<name>-content`, whose
/// `sourceVolumeMode` is Filesystem (the origin's). Returns the content's name.
pub async fn put_ready_snapshot(
    world: &World,
    namespace: &str,
    name: &str,
    origin_id: &str,
) -> String {
    put_snapshot(world, namespace, name, origin_id, &[]).await
}

/// [`put_ready_snapshot`] with `extra` CreateSnapshot parameters (the snapshotter's
/// `--extra-create-metadata` keys, say).
pub async fn put_snapshot(
    world: &World,
    namespace: &str,
    name: &str,
    origin_id: &str,
    extra: &[(&str, &str)],
) -> String {
    let bed = Bed::get();
    let channel = csi::client::connect(&world.controller.endpoint(), Duration::from_secs(10))
        .await
        .unwrap();
    let mut controller = ControllerClient::new(channel);
    let request = CreateSnapshotRequest {
        source_volume_id: origin_id.to_owned(),
        name: format!("snapshot-{namespace}-{name}"),
        secrets: HashMap::from([
            ("userID".into(), bed.user.clone()),
            ("userKey".into(), bed.key.clone()),
        ]),
        parameters: [("clusterID", CLUSTER_ID)]
            .iter()
            .chain(extra)
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    };
    let snapshot = loop {
        let s = controller
            .create_snapshot(request.clone())
            .await
            .unwrap()
            .into_inner()
            .snapshot
            .unwrap();
        if s.ready_to_use {
            break s;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let content = format!("{name}-content");
    let vs = world
        .standin
        .put_object(
            &snapshots(),
            json!({
                "apiVersion": "snapshot.storage.k8s.io/v1", "kind": "VolumeSnapshot",
                "metadata": {"name": name, "namespace": namespace},
                "spec": {"source": {"persistentVolumeClaimName": "origin"}},
                "status": {"boundVolumeSnapshotContentName": content, "readyToUse": true, "restoreSize": "128Mi"},
            }),
        )
        .unwrap();
    world
        .standin
        .put_object(
            &contents(),
            json!({
                "apiVersion": "snapshot.storage.k8s.io/v1", "kind": "VolumeSnapshotContent",
                "metadata": {"name": content},
                "spec": {
                    "driver": DRIVER, "deletionPolicy": "Delete",
                    "source": {"volumeHandle": origin_id},
                    "sourceVolumeMode": "Filesystem",
                    "volumeSnapshotRef": {"name": name, "namespace": namespace, "uid": vs["metadata"]["uid"]},
                },
                "status": {"snapshotHandle": snapshot.snapshot_id, "readyToUse": true, "restoreSize": snapshot.size_bytes},
            }),
        )
        .unwrap();
    content
}

pub fn snapshots() -> Gvr {
    Gvr::new("snapshot.storage.k8s.io", "v1", "volumesnapshots")
}

pub fn contents() -> Gvr {
    Gvr::new("snapshot.storage.k8s.io", "v1", "volumesnapshotcontents")
}
