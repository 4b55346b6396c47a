//! Claims with a data source against the real controller: restore from a VolumeSnapshot and
//! clone of a PVC, each ending with a bound PV whose RBD image is a clone, and the source's
//! protection finalizer gone again.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::collections::HashMap;
use std::time::Duration;

use csi::v1::CreateSnapshotRequest;
use csi::v1::controller_client::ControllerClient;
use kube_standin::{Gvr, Verb};
use provisioner::keys::{FINALIZER_CLONING_PROTECTION, FINALIZER_SNAPSHOT_SOURCE_PROTECTION};
use sepia_testbed::Bed;
use serde_json::json;
use sidecar_testkit::observed::writes_by;
use support::{CLASS, CLUSTER_ID, DRIVER, World};

const WAIT: Duration = Duration::from_secs(90);

fn image_of(pv: &k8s_openapi::api::core::v1::PersistentVolume) -> String {
    pv.spec
        .as_ref()
        .unwrap()
        .csi
        .as_ref()
        .unwrap()
        .volume_attributes
        .as_ref()
        .unwrap()["imageName"]
        .clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_restores_from_a_ready_volume_snapshot() {
    let mut world = World::start(None).await;
    let _p = world.provisioner(&[], &[]);
    world.claim("origin", "128Mi", CLASS, None);
    let origin = world.wait_bound("origin", WAIT).await;
    let origin_id = origin
        .spec
        .as_ref()
        .unwrap()
        .csi
        .as_ref()
        .unwrap()
        .volume_handle
        .clone();

    // Play the snapshotter: cut the snapshot in Ceph, then describe it in Kubernetes.
    let bed = Bed::get();
    let channel = csi::client::connect(&world.controller.endpoint(), Duration::from_secs(10))
        .await
        .unwrap();
    let mut controller = ControllerClient::new(channel);
    let request = CreateSnapshotRequest {
        source_volume_id: origin_id,
        name: "snapshot-restore-test".into(),
        secrets: HashMap::from([
            ("userID".into(), bed.user.clone()),
            ("userKey".into(), bed.key.clone()),
        ]),
        parameters: HashMap::from([("clusterID".into(), CLUSTER_ID.into())]),
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
    let snapshots = Gvr::new("snapshot.storage.k8s.io", "v1", "volumesnapshots");
    let contents = Gvr::new("snapshot.storage.k8s.io", "v1", "volumesnapshotcontents");
    let vs = world
        .standin
        .put_object(
            &snapshots,
            json!({
                "apiVersion": "snapshot.storage.k8s.io/v1", "kind": "VolumeSnapshot",
                "metadata": {"name": "snap", "namespace": "default"},
                "spec": {"source": {"persistentVolumeClaimName": "origin"}},
                "status": {"boundVolumeSnapshotContentName": "content", "readyToUse": true, "restoreSize": "128Mi"},
            }),
        )
        .unwrap();
    world
        .standin
        .put_object(
            &contents,
            json!({
                "apiVersion": "snapshot.storage.k8s.io/v1", "kind": "VolumeSnapshotContent",
                "metadata": {"name": "content"},
                "spec": {
                    "driver": DRIVER, "deletionPolicy": "Delete",
                    "source": {"volumeHandle": "x"},
                    "volumeSnapshotRef": {"name": "snap", "namespace": "default", "uid": vs["metadata"]["uid"]},
                },
                "status": {"snapshotHandle": snapshot.snapshot_id, "readyToUse": true, "restoreSize": snapshot.size_bytes},
            }),
        )
        .unwrap();

    world.claim(
        "restored",
        "256Mi",
        CLASS,
        Some(json!({"apiGroup": "snapshot.storage.k8s.io", "kind": "VolumeSnapshot", "name": "snap"})),
    );
    let restored = world.wait_bound("restored", WAIT).await;
    assert_eq!(
        restored.spec.as_ref().unwrap().capacity.as_ref().unwrap()["storage"].0,
        "256Mi"
    );
    let image = image_of(&restored);
    assert!(world.controller.images().contains(&image));
    let parent = world
        .controller
        .parent(&image)
        .expect("a restored image is a clone");
    assert!(parent.starts_with("csi-snap-"), "parent {parent}");
    world
        .eventually("snapshot protection released", WAIT, || {
            world
                .standin
                .get_json(&snapshots, "default", "snap")
                .is_some_and(|s| {
                    !s["metadata"]["finalizers"].as_array().is_some_and(|f| {
                        f.iter().any(|f| f == FINALIZER_SNAPSHOT_SOURCE_PROTECTION)
                    })
                })
        })
        .await;
    // The protection came and went by PATCH (RBAC has no `update` on VolumeSnapshots).
    let writes = writes_by(&world.standin, "sepia-provisioner", "volumesnapshots");
    assert!(
        writes.len() >= 2 && writes.iter().all(|w| *w == (Verb::Patch, None)),
        "{writes:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_clones_a_bound_claim_of_the_same_driver() {
    let mut world = World::start(None).await;
    let _p = world.provisioner(&[], &[]);
    world.claim("source", "128Mi", CLASS, None);
    let source = world.wait_bound("source", WAIT).await;
    world.claim(
        "copy",
        "128Mi",
        CLASS,
        Some(json!({"kind": "PersistentVolumeClaim", "name": "source"})),
    );
    let copy = world.wait_bound("copy", WAIT).await;
    let image = image_of(&copy);
    assert_ne!(image, image_of(&source));
    assert!(world.controller.images().contains(&image));
    assert!(
        world.controller.parent(&image).is_some(),
        "a cloned image has a parent"
    );
    world
        .eventually("cloning protection released", WAIT, || {
            world.get_claim("source").is_some_and(|c| {
                !c.metadata
                    .finalizers
                    .unwrap_or_default()
                    .contains(&FINALIZER_CLONING_PROTECTION.to_owned())
            })
        })
        .await;
    let writes = writes_by(
        &world.standin,
        "sepia-provisioner",
        "persistentvolumeclaims",
    );
    assert!(
        writes.iter().all(|w| *w == (Verb::Patch, None)),
        "{writes:?}"
    );
    // A smaller clone than its source is refused with an event, not provisioned.
    world.claim(
        "too-small",
        "64Mi",
        CLASS,
        Some(json!({"kind": "PersistentVolumeClaim", "name": "source"})),
    );
    world
        .eventually("ProvisioningFailed recorded", WAIT, || {
            world
                .event_reasons("too-small")
                .contains(&"ProvisioningFailed".to_owned())
        })
        .await;
    assert!(
        world
            .get_claim("too-small")
            .unwrap()
            .spec
            .unwrap()
            .volume_name
            .is_none()
    );
}
