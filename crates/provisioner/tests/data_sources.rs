//! Claims with a data source against the real controller: restore from a VolumeSnapshot and
//! clone of a PVC, each ending with a bound PV whose RBD image is a clone, and the source's
//! protection finalizer gone again; upstream's safety rules (no volume mode change without the
//! content's consent, `dataSourceRef` honoured, never a blank volume instead).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::Duration;

use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim};
use kube_standin::{Gvr, Verb};
use provisioner::keys::ANN_ALLOW_VOLUME_MODE_CHANGE;
use provisioner::keys::{FINALIZER_CLONING_PROTECTION, FINALIZER_SNAPSHOT_SOURCE_PROTECTION};
use serde_json::json;
use sidecar_testkit::observed::writes_by;
use support::snapshots::{contents, put_ready_snapshot, snapshots};
use support::{CLASS, DRIVER, World};

const WAIT: Duration = Duration::from_secs(90);

fn image_of(pv: &PersistentVolume) -> String {
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

fn volume_id(pv: &PersistentVolume) -> String {
    pv.spec
        .as_ref()
        .unwrap()
        .csi
        .as_ref()
        .unwrap()
        .volume_handle
        .clone()
}

/// A claim annotated for our driver, as kube-controller-manager leaves it, with `spec` merged
/// into a 128Mi ReadWriteOnce claim of the test class.
fn put_claim(world: &World, namespace: &str, name: &str, spec: serde_json::Value) {
    let mut object = json!({
        "apiVersion": "v1", "kind": "PersistentVolumeClaim",
        "metadata": {"name": name, "namespace": namespace,
            "annotations": {"volume.kubernetes.io/storage-provisioner": DRIVER}},
        "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": CLASS,
            "resources": {"requests": {"storage": "128Mi"}}},
    });
    for (key, value) in spec.as_object().unwrap() {
        object["spec"][key] = value.clone();
    }
    world
        .standin
        .put_object(&Gvr::of::<PersistentVolumeClaim>(), object)
        .unwrap();
}

/// Waits until claim `namespace/name` is either bound or refused with a ProvisioningFailed
/// event whose message names `rule`; true if refused (and still unbound).
async fn refused(world: &World, namespace: &str, claim: &str, rule: &str) -> bool {
    let refused = || world.failure_notes(claim).iter().any(|n| n.contains(rule));
    let bound = || {
        world
            .standin
            .get::<PersistentVolumeClaim>(namespace, claim)
            .unwrap()
            .is_some_and(|c| c.spec.unwrap_or_default().volume_name.is_some())
    };
    world
        .eventually(&format!("{claim} bound or refused"), WAIT, || {
            refused() || bound()
        })
        .await;
    !bound()
}

/// PVs provisioned for claim `name` (of any namespace).
fn volumes_of(world: &World, name: &str) -> usize {
    world
        .standin
        .list_json(&Gvr::of::<PersistentVolume>(), None)
        .iter()
        .filter(|pv| pv["spec"]["claimRef"]["name"] == name)
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_restores_from_a_ready_volume_snapshot() {
    let mut world = World::start(None).await;
    let _p = world.provisioner(&[], &[]);
    world.claim("origin", "128Mi", CLASS, None);
    let origin = world.wait_bound("origin", WAIT).await;
    put_ready_snapshot(&world, "default", "snap", &volume_id(&origin)).await;
    let snapshots = snapshots();

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restore_into_another_volume_mode_waits_for_the_contents_consent() {
    let mut world = World::start(None).await;
    let _p = world.provisioner(&[], &[]);
    world.claim("origin", "128Mi", CLASS, None);
    let origin = world.wait_bound("origin", WAIT).await;
    let content = put_ready_snapshot(&world, "default", "snap", &volume_id(&origin)).await;

    // A raw block device from a filesystem's snapshot: refused by default.
    put_claim(
        &world,
        "default",
        "raw",
        json!({"volumeMode": "Block",
            "dataSource": {"apiGroup": "snapshot.storage.k8s.io", "kind": "VolumeSnapshot", "name": "snap"}}),
    );
    assert!(
        refused(&world, "default", "raw", "volume mode").await,
        "a Block restore of a Filesystem snapshot was provisioned without consent"
    );
    assert_eq!(volumes_of(&world, "raw"), 0);

    // The content's owner consents: the same claim is provisioned.
    let mut object = world.standin.get_json(&contents(), "", &content).unwrap();
    object["metadata"]["annotations"] = json!({ANN_ALLOW_VOLUME_MODE_CHANGE: "true"});
    world.standin.put_object(&contents(), object).unwrap();
    let raw = world.wait_bound("raw", WAIT).await;
    assert_eq!(
        raw.spec.as_ref().unwrap().volume_mode.as_deref(),
        Some("Block")
    );
    assert!(
        world.controller.parent(&image_of(&raw)).is_some(),
        "a restore"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_data_source_ref_is_honoured_never_turned_into_a_blank_volume() {
    let mut world = World::start(None).await;
    let _p = world.provisioner(&[], &[]);
    world.claim("origin", "128Mi", CLASS, None);
    let origin = world.wait_bound("origin", WAIT).await;
    put_ready_snapshot(&world, "default", "snap", &volume_id(&origin)).await;

    // Only dataSourceRef, in the claim's namespace: a restore.
    put_claim(
        &world,
        "default",
        "by-ref",
        json!({"dataSourceRef": {"apiGroup": "snapshot.storage.k8s.io", "kind": "VolumeSnapshot", "name": "snap"}}),
    );
    let by_ref = world.wait_bound("by-ref", WAIT).await;
    assert!(
        world.controller.parent(&image_of(&by_ref)).is_some(),
        "dataSourceRef was ignored: a blank volume"
    );

    // A snapshot in another namespace, with the CrossNamespaceVolumeDataSource gate off (the
    // default): refused with the reason, no volume made.
    put_claim(
        &world,
        "apps",
        "across",
        json!({"dataSourceRef": {"apiGroup": "snapshot.storage.k8s.io", "kind": "VolumeSnapshot",
            "name": "snap", "namespace": "default"}}),
    );
    assert!(
        refused(&world, "apps", "across", "CrossNamespaceVolumeDataSource").await,
        "a cross-namespace dataSourceRef became a blank volume"
    );
    assert_eq!(volumes_of(&world, "across"), 0);
}
