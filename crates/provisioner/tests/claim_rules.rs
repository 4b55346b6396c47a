//! Upstream's rules the provisioner must keep, end to end: WaitForFirstConsumer claims wait
//! for a node (and go back to the scheduler when that node is gone), claims with a selector
//! are refused, and an attached volume is never deleted.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::Duration;

use k8s_openapi::api::core::v1::{Node, PersistentVolume, PersistentVolumeClaim};
use k8s_openapi::api::storage::v1::VolumeAttachment;
use kube_standin::Gvr;
use serde_json::json;
use support::{CLASS, DRIVER, World};

const WAIT: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wait_for_first_consumer_claim_is_provisioned_only_once_a_node_is_selected() {
    let mut world = World::start(None).await;
    world.class_variant("late", |class| {
        class.volume_binding_mode = Some("WaitForFirstConsumer".into());
    });
    let p = world.provisioner(&[], &[]);
    world.claim("late", "32Mi", "late", None);
    // The provisioner's pass over the claim ends in this decision (its debug log line); only
    // after it is the absence of a volume worth checking.
    world
        .eventually("the provisioner decided to wait for a node", WAIT, || {
            p.log().lines().any(|line| {
                line.contains("claim decision")
                    && line.contains("default/late")
                    && line.contains("WaitForNode")
            })
        })
        .await;
    assert!(
        world.controller.images().is_empty(),
        "provisioned before the scheduler chose a node"
    );
    assert!(
        world
            .standin
            .list_json(&Gvr::of::<PersistentVolume>(), None)
            .is_empty()
    );

    // The scheduler picks a node.
    put_node(&world, "node-1");
    select_node(&world, "late", "node-1");
    world.wait_bound("late", WAIT).await;
    assert_eq!(world.controller.images().len(), 1);
}

fn put_node(world: &World, name: &str) {
    world
        .standin
        .put_object(
            &Gvr::of::<Node>(),
            json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}}),
        )
        .unwrap();
}

/// What the scheduler writes when it has chosen `node` for the claim's first pod.
fn select_node(world: &World, claim: &str, node: &str) {
    let mut object = world
        .standin
        .get_json(&Gvr::of::<PersistentVolumeClaim>(), "default", claim)
        .unwrap();
    object["metadata"]["annotations"]["volume.kubernetes.io/selected-node"] = json!(node);
    world
        .standin
        .put_object(&Gvr::of::<PersistentVolumeClaim>(), object)
        .unwrap();
}

fn selected_node(world: &World, claim: &str) -> Option<String> {
    world
        .get_claim(claim)?
        .metadata
        .annotations?
        .get("volume.kubernetes.io/selected-node")
        .cloned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wait_for_first_consumer_claim_whose_node_is_gone_goes_back_to_the_scheduler() {
    let mut world = World::start(None).await;
    world.class_variant("late", |class| {
        class.volume_binding_mode = Some("WaitForFirstConsumer".into());
    });
    let _p = world.provisioner(&[], &[]);
    world.claim("late", "32Mi", "late", None);
    // The scheduler chose a node that has left the cluster since.
    select_node(&world, "late", "gone-node");
    let bound = || {
        world
            .get_claim("late")
            .is_some_and(|c| c.spec.unwrap_or_default().volume_name.is_some())
    };
    world
        .eventually("the claim rescheduled or provisioned", WAIT, || {
            selected_node(&world, "late").is_none() || bound()
        })
        .await;
    assert!(!bound(), "provisioned for a node that does not exist");
    assert!(world.controller.images().is_empty());
    let failures = world.failure_notes("late");
    assert!(
        failures.iter().any(|n| n.contains("gone-node")),
        "{failures:?}"
    );

    // The scheduler picks a node that exists: provisioned.
    put_node(&world, "node-2");
    select_node(&world, "late", "node-2");
    world.wait_bound("late", WAIT).await;
    assert_eq!(world.controller.images().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_with_a_selector_is_refused_with_an_event() {
    let mut world = World::start(None).await;
    let _p = world.provisioner(&[], &[]);
    // Created with its selector in one write, so no provisioning can slip in before it.
    world
        .standin
        .put_object(
            &Gvr::of::<PersistentVolumeClaim>(),
            json!({
                "apiVersion": "v1", "kind": "PersistentVolumeClaim",
                "metadata": {"name": "picky", "namespace": "default",
                    "annotations": {"volume.kubernetes.io/storage-provisioner": DRIVER}},
                "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": CLASS,
                    "selector": {"matchLabels": {"tier": "gold"}},
                    "resources": {"requests": {"storage": "32Mi"}}},
            }),
        )
        .unwrap();
    world
        .eventually("ProvisioningFailed recorded", WAIT, || {
            world
                .event_reasons("picky")
                .contains(&"ProvisioningFailed".to_owned())
        })
        .await;
    assert!(world.controller.images().is_empty());
    assert!(
        world
            .standin
            .list_json(&Gvr::of::<PersistentVolume>(), None)
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_attached_volume_is_not_deleted_until_its_attachment_is_gone() {
    let mut world = World::start(None).await;
    let _p = world.provisioner(&[], &[]);
    world.claim("used", "32Mi", CLASS, None);
    let pv = world.wait_bound("used", WAIT).await;
    let pv_name = pv.metadata.name.clone().unwrap();
    let attachment: VolumeAttachment = serde_json::from_value(json!({
        "apiVersion": "storage.k8s.io/v1", "kind": "VolumeAttachment",
        "metadata": {"name": "csi-attach-1"},
        "spec": {"attacher": DRIVER, "nodeName": "node-1", "source": {"persistentVolumeName": pv_name}},
    }))
    .unwrap();
    world.standin.put(&attachment).unwrap();
    world.delete_claim("used");
    world
        .eventually("VolumeFailedDelete recorded", WAIT, || {
            world
                .event_reasons(&pv_name)
                .contains(&"VolumeFailedDelete".to_owned())
        })
        .await;
    assert_eq!(world.controller.images().len(), 1, "deleted while attached");
    assert!(world.get_pv(&pv_name).is_some());

    world
        .standin
        .delete_object(&Gvr::of::<VolumeAttachment>(), "", "csi-attach-1")
        .unwrap();
    world
        .wait_gone(&Gvr::of::<PersistentVolume>(), "", &pv_name, WAIT)
        .await;
    world
        .eventually("image deleted after detach", WAIT, || {
            world.controller.images().is_empty()
        })
        .await;
}
