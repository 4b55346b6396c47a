//! The attacher binary against the API stand-in, a real `sepia-controller` and the bed's Ceph:
//! an RWO volume attaches to one node at a time, moves after a detach, is released when its
//! node is gone; its Lease, metrics and NATS events are real.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::path::Path;
use std::time::Duration;

use kube_standin::{StandIn, Verb};
use sepia_testbed::{NatsServer, Process, free_port};
use serde_json::{Value, json};
use sidecar_testkit::nats::stored_json;
use sidecar_testkit::observed::{lease_holder, wait, writes_by};
use sidecar_testkit::{Controller, DRIVER, GI, http, replicas};
use support::objects::{self, SECRET, gvr, put};

const STORAGE: &str = "storage.k8s.io";
const FINALIZER: &str = "external-attacher/rbd-csi-sepia-io";
const LEASE: &str = "external-attacher-leader-rbd-csi-sepia-io";

fn finalizers(object: &Value) -> Vec<String> {
    serde_json::from_value(object["metadata"]["finalizers"].clone()).unwrap_or_default()
}

fn pv(name: &str, volume_id: &str, context: &std::collections::HashMap<String, String>) -> Value {
    json!({"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": name},
        "spec": {"accessModes": ["ReadWriteOnce"], "capacity": {"storage": "1Gi"},
            "persistentVolumeReclaimPolicy": "Delete",
            "csi": {"driver": DRIVER, "volumeHandle": volume_id, "fsType": "ext4",
                "volumeAttributes": context,
                "controllerPublishSecretRef": {"name": SECRET, "namespace": "default"}}}})
}

fn attached(va: Option<&Value>) -> bool {
    va.is_some_and(|v| v["status"]["attached"] == json!(true))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rwo_volume_attaches_to_one_node_at_a_time_and_is_released_from_a_gone_node() {
    let mut ceph = Controller::start("attach", None).await;
    let standin = StandIn::start().await.unwrap();
    let kubeconfig = ceph.dir.path().join("kubeconfig");
    standin.write_kubeconfig(&kubeconfig).unwrap();
    let nats = NatsServer::start().await;
    let http_port = free_port();
    let attacher_bin = Path::new(env!("CARGO_BIN_EXE_sepia-attacher"));
    let attacher = Process::spawn(
        "attacher",
        attacher_bin,
        &replicas::flags(&ceph, &kubeconfig, http_port, &nats.url()),
        ceph.dir.path(),
    );

    let (volume_id, context) = ceph.create_volume("pvc-attach-1", GI).await;
    put(&standin, "", "secrets", objects::secret(ceph.bed));
    put(
        &standin,
        "",
        "persistentvolumes",
        pv("pv-attach", &volume_id, &context),
    );
    for (node, id) in [("node-a", "node-a-id"), ("node-b", "node-b-id")] {
        put(&standin, "", "nodes", objects::node(node));
        put(&standin, STORAGE, "csinodes", objects::csinode(node, id));
        ceph.register_node(id);
    }

    // kube-controller-manager asks for the volume on node A.
    put(
        &standin,
        STORAGE,
        "volumeattachments",
        objects::volume_attachment("va-a", "node-a", "pv-attach"),
    );
    let va_a = wait(
        &standin,
        STORAGE,
        "volumeattachments",
        "",
        "va-a",
        "VA for node A attached",
        attached,
    )
    .await
    .unwrap();
    assert_eq!(finalizers(&va_a), [FINALIZER]);
    assert_eq!(
        va_a["metadata"]["annotations"]["csi.alpha.kubernetes.io/node-id"],
        "node-a-id"
    );
    assert!(va_a["status"].get("attachError").is_none(), "{va_a:#}");
    let pv_now = standin
        .get_json(&gvr("", "persistentvolumes"), "", "pv-attach")
        .unwrap();
    assert_eq!(finalizers(&pv_now), [FINALIZER]);
    assert_eq!(
        ceph.published_nodes(&volume_id),
        ["node-a-id"],
        "Ceph records the holder"
    );

    // A second node for the same RWO volume is refused by the controller, visibly.
    put(
        &standin,
        STORAGE,
        "volumeattachments",
        objects::volume_attachment("va-b", "node-b", "pv-attach"),
    );
    let va_b = wait(
        &standin,
        STORAGE,
        "volumeattachments",
        "",
        "va-b",
        "attach error on node B",
        |va| va.is_some_and(|v| v["status"]["attachError"].is_object()),
    )
    .await
    .unwrap();
    assert_eq!(va_b["status"]["attached"], json!(false), "{va_b:#}");
    assert_eq!(
        va_b["status"]["attachError"]["errorCode"],
        json!(9),
        "FAILED_PRECONDITION: {va_b:#}"
    );
    assert!(va_b["status"]["attachError"]["time"].is_string());
    assert_eq!(ceph.published_nodes(&volume_id), ["node-a-id"]);

    // Detaching A (KCM deletes its VA) lets B attach.
    assert!(
        !standin
            .delete_object(&gvr(STORAGE, "volumeattachments"), "", "va-a")
            .unwrap()
    );
    wait(
        &standin,
        STORAGE,
        "volumeattachments",
        "",
        "va-a",
        "VA A released",
        |va| va.is_none(),
    )
    .await;
    let va_b = wait(
        &standin,
        STORAGE,
        "volumeattachments",
        "",
        "va-b",
        "VA for node B attached",
        attached,
    )
    .await
    .unwrap();
    assert!(
        va_b["status"].get("attachError").is_none(),
        "attach error cleared: {va_b:#}"
    );
    assert_eq!(ceph.published_nodes(&volume_id), ["node-b-id"]);

    // Node B leaves the cluster (Node and CSINode deleted), then its VA is deleted: released,
    // not stuck, and Ceph no longer records the node.
    standin
        .delete_object(&gvr("", "nodes"), "", "node-b")
        .unwrap();
    standin
        .delete_object(&gvr(STORAGE, "csinodes"), "", "node-b")
        .unwrap();
    assert!(
        !standin
            .delete_object(&gvr(STORAGE, "volumeattachments"), "", "va-b")
            .unwrap()
    );
    wait(
        &standin,
        STORAGE,
        "volumeattachments",
        "",
        "va-b",
        "VA of a gone node released",
        |va| va.is_none(),
    )
    .await;
    assert!(ceph.published_nodes(&volume_id).is_empty());

    // The PV's deletion waits for no VA; then our finalizer goes.
    standin
        .delete_object(&gvr("", "persistentvolumes"), "", "pv-attach")
        .unwrap();
    wait(
        &standin,
        "",
        "persistentvolumes",
        "",
        "pv-attach",
        "PV finalizer removed",
        |pv| pv.is_none_or(|p| !finalizers(p).contains(&FINALIZER.to_owned())),
    )
    .await;

    // Status and metadata of the VAs and the PV were patched, never replaced: the shipped
    // ClusterRole (like upstream's) grants `patch` on them and on volumeattachments/status only.
    let va_writes = writes_by(&standin, "sepia-attacher", "volumeattachments");
    assert!(
        va_writes.contains(&(Verb::Patch, Some("status".to_owned()))),
        "{va_writes:?}"
    );
    let pv_writes = writes_by(&standin, "sepia-attacher", "persistentvolumes");
    assert!(!pv_writes.is_empty());
    for (verb, _) in va_writes.iter().chain(&pv_writes) {
        assert_eq!(*verb, Verb::Patch, "{va_writes:?} {pv_writes:?}");
    }

    // Leadership, metrics and events are real.
    assert!(
        lease_holder(&standin, LEASE).is_some(),
        "Lease {LEASE} held"
    );
    let (status, metrics) = http::get(http_port, "/metrics").await;
    assert_eq!(status, 200, "{metrics}");
    for needle in [
        "csi_sidecar_operations_seconds_count{driver_name=\"rbd.csi.sepia.io\",method_name=\"/csi.v1.Controller/ControllerPublishVolume\",grpc_status_code=\"OK\"}",
        "method_name=\"/csi.v1.Controller/ControllerPublishVolume\",grpc_status_code=\"FailedPrecondition\"",
        "method_name=\"/csi.v1.Controller/ControllerUnpublishVolume\",grpc_status_code=\"OK\"",
    ] {
        assert!(metrics.contains(needle), "missing {needle} in:\n{metrics}");
    }
    let mut subjects: Vec<String> = Vec::new();
    for _ in 0..50 {
        subjects = stored_json(&nats, "sepia.attacher.>")
            .await
            .iter()
            .map(|e| e["subject"].as_str().unwrap().to_owned())
            .collect();
        if subjects
            .iter()
            .filter(|s| s.ends_with(".unpublished"))
            .count()
            >= 2
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let count = |suffix: &str| subjects.iter().filter(|s| s.ends_with(suffix)).count();
    assert_eq!(count("attachment.published"), 2, "{subjects:?}");
    assert!(count("attachment.failed") >= 1, "{subjects:?}");
    assert_eq!(count("attachment.unpublished"), 2, "{subjects:?}");

    drop(attacher);
    ceph.delete_volume(&volume_id).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_standby_attacher_takes_over_when_the_leader_dies() {
    let mut ceph = Controller::start("attach-le", None).await;
    let standin = StandIn::start().await.unwrap();
    let kubeconfig = ceph.dir.path().join("kubeconfig");
    standin.write_kubeconfig(&kubeconfig).unwrap();
    let nats = NatsServer::start().await;
    let bin = Path::new(env!("CARGO_BIN_EXE_sepia-attacher"));
    let mut first = Process::spawn(
        "attacher-1",
        bin,
        &replicas::flags(&ceph, &kubeconfig, free_port(), &nats.url()),
        ceph.dir.path(),
    );
    let (_second, standby) = replicas::standby_takes_over(&standin, LEASE, &mut first, || {
        Process::spawn(
            "attacher-2",
            bin,
            &replicas::flags(&ceph, &kubeconfig, free_port(), &nats.url()),
            ceph.dir.path(),
        )
    })
    .await;
    assert_eq!(standby["spec"]["leaseTransitions"], json!(1));

    // The new leader does the work.
    let (volume_id, context) = ceph.create_volume("pvc-attach-le", GI).await;
    put(&standin, "", "secrets", objects::secret(ceph.bed));
    put(
        &standin,
        "",
        "persistentvolumes",
        pv("pv-le", &volume_id, &context),
    );
    put(&standin, "", "nodes", objects::node("node-a"));
    put(
        &standin,
        STORAGE,
        "csinodes",
        objects::csinode("node-a", "node-a-id"),
    );
    ceph.register_node("node-a-id");
    put(
        &standin,
        STORAGE,
        "volumeattachments",
        objects::volume_attachment("va-le", "node-a", "pv-le"),
    );
    wait(
        &standin,
        STORAGE,
        "volumeattachments",
        "",
        "va-le",
        "attached by the new leader",
        attached,
    )
    .await;
    assert_eq!(ceph.published_nodes(&volume_id), ["node-a-id"]);
    assert!(
        !standin
            .delete_object(&gvr(STORAGE, "volumeattachments"), "", "va-le")
            .unwrap()
    );
    wait(
        &standin,
        STORAGE,
        "volumeattachments",
        "",
        "va-le",
        "released",
        |va| va.is_none(),
    )
    .await;
    ceph.delete_volume(&volume_id).await;
}
