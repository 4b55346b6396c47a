//! The resizer binary against the API stand-in, a real `sepia-controller`, a real
//! `sepia-node` and the bed's Ceph: a mounted 1 GiB volume grows to 2 GiB in Ceph and, after
//! kubelet's NodeExpandVolume, in the filesystem; a raw block volume finishes without a node
//! step; a standby resizer takes over from a dead leader. Lease, metrics and NATS are real.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use csi::v1::node_client::NodeClient;
use csi::v1::{
    CapacityRange, NodeExpandVolumeRequest, NodePublishVolumeRequest, NodeStageVolumeRequest,
    NodeUnpublishVolumeRequest, NodeUnstageVolumeRequest,
};
use kube_standin::{StandIn, Verb};
use sepia_testbed::{NatsServer, Process, free_port, workspace_binary};
use serde_json::{Value, json};
use sidecar_testkit::controller::mount_capability;
use sidecar_testkit::nats::stored_json;
use sidecar_testkit::objects::{self, SECRET, gvr, put};
use sidecar_testkit::observed::{event_reasons, wait, writes_by};
use sidecar_testkit::{Controller, DRIVER, GI, csi_socket, http, replicas};
use support::MountGuard;

const LEASE: &str = "external-resizer-rbd-csi-sepia-io";

fn class() -> Value {
    json!({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": "sepia"},
        "provisioner": DRIVER, "allowVolumeExpansion": true})
}

/// The admin's part, done before any resizer runs, as in a real cluster. The resizer reads
/// claims and classes from separate watches: a class written in the same instant as a resize
/// request may not be in its cache yet when the request is decided, and the request is then
/// refused until the claim changes again.
fn given_a_class_and_its_secret(standin: &StandIn, ceph: &Controller) {
    put(standin, "storage.k8s.io", "storageclasses", class());
    put(standin, "", "secrets", objects::secret(ceph.bed));
}

/// A test's world before any resizer runs: the controller on its own RADOS namespace (with
/// `failpoints`), the API stand-in and its kubeconfig, a nats-server, the class and secret.
async fn world(
    prefix: &str,
    failpoints: Option<&str>,
) -> (Controller, StandIn, std::path::PathBuf, NatsServer) {
    let ceph = Controller::start(prefix, failpoints).await;
    let standin = StandIn::start().await.unwrap();
    let kubeconfig = ceph.dir.path().join("kubeconfig");
    standin.write_kubeconfig(&kubeconfig).unwrap();
    let nats = NatsServer::start().await;
    given_a_class_and_its_secret(&standin, &ceph);
    (ceph, standin, kubeconfig, nats)
}

/// Writes a bound PV/PVC pair as the provisioner and the PV controller leave them (the
/// claim first: the API server assigns the uid the PV's claimRef must carry).
fn bound_pair(
    standin: &StandIn,
    name: &str,
    volume_id: &str,
    context: &HashMap<String, String>,
    block: bool,
) {
    let mode = if block { "Block" } else { "Filesystem" };
    let pvc = json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}},
            "storageClassName": "sepia", "volumeName": format!("pv-{name}"), "volumeMode": mode},
        "status": {"phase": "Bound", "accessModes": ["ReadWriteOnce"], "capacity": {"storage": "1Gi"}}});
    let stored = standin
        .put_object(&gvr("", "persistentvolumeclaims"), pvc)
        .unwrap();
    let uid = stored["metadata"]["uid"].as_str().unwrap().to_owned();
    let pv = json!({"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": format!("pv-{name}")},
        "spec": {"accessModes": ["ReadWriteOnce"], "capacity": {"storage": "1Gi"}, "volumeMode": mode,
            "storageClassName": "sepia",
            "claimRef": {"kind": "PersistentVolumeClaim", "namespace": "default", "name": name, "uid": uid},
            "csi": {"driver": DRIVER, "volumeHandle": volume_id, "fsType": "ext4", "volumeAttributes": context,
                "controllerExpandSecretRef": {"name": SECRET, "namespace": "default"}}},
        "status": {"phase": "Bound"}});
    put(standin, "", "persistentvolumes", pv);
}

/// The user edits the claim's request.
fn request_size(standin: &StandIn, name: &str, size: &str) {
    let mut pvc = standin
        .get_json(&gvr("", "persistentvolumeclaims"), "default", name)
        .unwrap();
    pvc["spec"]["resources"]["requests"]["storage"] = json!(size);
    put(standin, "", "persistentvolumeclaims", pvc);
}

fn image_size(ceph: &Controller, context: &HashMap<String, String>) -> u64 {
    let spec = format!(
        "{}/{}/{}",
        ceph.bed.pool, ceph.namespace, context["imageName"]
    );
    let info: Value =
        serde_json::from_str(&ceph.rbd(&["info", "--format", "json", &spec])).unwrap();
    info["size"].as_u64().unwrap()
}

fn fs_size(path: &Path) -> u64 {
    let s = rustix::fs::statvfs(path).unwrap();
    s.f_blocks * s.f_frsize
}

fn resize_status(pvc: Option<&Value>) -> Option<String> {
    pvc?["status"]["allocatedResourceStatuses"]["storage"]
        .as_str()
        .map(str::to_owned)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mounted_volume_grows_in_ceph_and_after_node_expand_in_the_filesystem() {
    let (mut ceph, standin, kubeconfig, nats) = world("resize", None).await;
    let http_port = free_port();
    let bin = Path::new(env!("CARGO_BIN_EXE_sepia-resizer"));
    let resizer = Process::spawn(
        "resizer",
        bin,
        &replicas::flags(&ceph, &kubeconfig, http_port, &nats.url()),
        ceph.dir.path(),
    );

    // A volume staged and published on this machine by the real node plugin.
    let (volume_id, context) = ceph.create_volume("pvc-resize-1", GI).await;
    let root = std::fs::canonicalize(ceph.dir.path()).unwrap();
    let _unmount_on_failure = MountGuard(root.clone());
    let node_socket = root.join("node.sock");
    let node = Process::spawn(
        "sepia-node",
        &workspace_binary("sepia-node"),
        &[
            format!("--endpoint=unix://{}", node_socket.display()),
            "--node-id=node-a".into(),
            format!("--cluster-config={}", ceph.config_path.display()),
            "--no-kubelet-registration".into(),
            format!("--state-dir={}", root.join("node-state").display()),
            // The test's directory stands in for /var/lib/kubelet.
            format!("--kubelet-root={}", root.display()),
        ],
        &root,
    );
    let mut kubelet = NodeClient::new(csi_socket::connect(&node_socket, &node).await);
    let staging = root.join("staging/globalmount");
    let target = root.join("pods/p1/mount");
    let stage = NodeStageVolumeRequest {
        volume_id: volume_id.clone(),
        staging_target_path: staging.display().to_string(),
        volume_capability: Some(mount_capability()),
        secrets: ceph.secrets(),
        volume_context: context.clone(),
        ..Default::default()
    };
    let publish = NodePublishVolumeRequest {
        volume_id: volume_id.clone(),
        staging_target_path: staging.display().to_string(),
        target_path: target.display().to_string(),
        volume_capability: Some(mount_capability()),
        volume_context: context.clone(),
        ..Default::default()
    };
    kubelet
        .node_stage_volume(stage.clone())
        .await
        .unwrap_or_else(|e| panic!("NodeStage: {e}\n{}", node.log_tail()));
    kubelet.node_publish_volume(publish.clone()).await.unwrap();
    let before = fs_size(&target);
    assert!(before < GI, "a 1 GiB ext4 is below 1 GiB: {before}");

    bound_pair(&standin, "data", &volume_id, &context, false);

    // The user asks for 2 GiB.
    request_size(&standin, "data", "2Gi");
    let pvc = standin
        .wait_for(
            &gvr("", "persistentvolumeclaims"),
            "default",
            "data",
            |p| resize_status(p).as_deref() == Some("NodeResizePending"),
            Duration::from_secs(90),
        )
        .await
        .unwrap_or_else(|e| {
            panic!(
                "controller step done: {e}\n{:#?}\nresizer:\n{}",
                standin.get_json(&gvr("", "persistentvolumeclaims"), "default", "data"),
                resizer.log_tail()
            )
        })
        .unwrap();
    assert_eq!(pvc["status"]["allocatedResources"]["storage"], "2Gi");
    assert_eq!(
        pvc["status"]["capacity"]["storage"], "1Gi",
        "kubelet finishes the capacity"
    );
    let conditions: Vec<&str> = pvc["status"]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["type"].as_str().unwrap())
        .collect();
    assert_eq!(conditions, ["FileSystemResizePending"]);
    assert!(
        pvc["metadata"]["annotations"]
            .get("volume.kubernetes.io/node-expansion-not-required")
            .is_none()
    );
    let pv = standin
        .get_json(&gvr("", "persistentvolumes"), "", "pv-data")
        .unwrap();
    assert_eq!(pv["spec"]["capacity"]["storage"], "2Gi");
    assert_eq!(
        pv["metadata"]["annotations"]["volume.alpha.kubernetes.io/pre-resize-capacity"],
        "1Gi"
    );
    assert_eq!(
        image_size(&ceph, &context),
        2 * GI,
        "the RBD image is 2 GiB"
    );
    assert!(
        fs_size(&target) < GI,
        "the filesystem waits for the node step"
    );

    // kubelet's part: NodeExpandVolume while mounted. Growing a mounted ext4 needs
    // CAP_SYS_RESOURCE; where the node plugin lacks it (this sandbox) it says so with
    // FAILED_PRECONDITION and grows the filesystem at the next NodeStage, kubelet's offline
    // path — taken here so the filesystem check runs either way.
    let expand = NodeExpandVolumeRequest {
        volume_id: volume_id.clone(),
        volume_path: target.display().to_string(),
        staging_target_path: staging.display().to_string(),
        capacity_range: Some(CapacityRange {
            required_bytes: (2 * GI) as i64,
            limit_bytes: 0,
        }),
        volume_capability: Some(mount_capability()),
        ..Default::default()
    };
    match kubelet.node_expand_volume(expand).await {
        Ok(_) => {}
        Err(status)
            if status.code() == tonic::Code::FailedPrecondition
                && status.message().contains("CAP_SYS_RESOURCE") =>
        {
            kubelet
                .node_unpublish_volume(NodeUnpublishVolumeRequest {
                    volume_id: volume_id.clone(),
                    target_path: target.display().to_string(),
                })
                .await
                .unwrap();
            kubelet
                .node_unstage_volume(NodeUnstageVolumeRequest {
                    volume_id: volume_id.clone(),
                    staging_target_path: staging.display().to_string(),
                })
                .await
                .unwrap();
            kubelet
                .node_stage_volume(stage.clone())
                .await
                .unwrap_or_else(|e| panic!("re-stage: {e}\n{}", node.log_tail()));
            kubelet.node_publish_volume(publish.clone()).await.unwrap();
        }
        Err(status) => panic!("NodeExpandVolume: {status}\n{}", node.log_tail()),
    }
    let after = fs_size(&target);
    assert!(
        after > GI + GI / 2 && after <= 2 * GI,
        "filesystem grew from {before} to {after}"
    );

    // Events on the claim, metrics, NATS.
    let mut reasons = Vec::new();
    for _ in 0..50 {
        reasons = event_reasons(&standin, "data");
        if reasons.iter().any(|r| r == "FileSystemResizeRequired") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(reasons.iter().any(|r| r == "Resizing"), "{reasons:?}");
    assert!(
        reasons.iter().any(|r| r == "FileSystemResizeRequired"),
        "{reasons:?}"
    );
    let (status, metrics) = http::get(http_port, "/metrics").await;
    assert_eq!(status, 200, "{metrics}");
    // At least one call; a pass on a claim cache that has not seen our own status write yet
    // repeats the (idempotent) call, as upstream's informer-based resizer may.
    let needle = "csi_sidecar_operations_seconds_count{driver_name=\"rbd.csi.sepia.io\",method_name=\"/csi.v1.Controller/ControllerExpandVolume\",grpc_status_code=\"OK\"}";
    assert!(metrics.contains(needle), "missing {needle} in:\n{metrics}");
    let mut events = Vec::new();
    for _ in 0..50 {
        events = stored_json(&nats, "sepia.resizer.>").await;
        if !events.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["subject"], "sepia.resizer.expansion.expanded");
    assert_eq!(events[0]["sizeBytes"], json!(2 * GI));
    assert_eq!(events[0]["csi"]["volumeId"], json!(volume_id));
    assert!(
        standin
            .get_json(
                &kube_standin::Gvr::new("coordination.k8s.io", "v1", "leases"),
                "default",
                LEASE
            )
            .is_some_and(|l| l["spec"]["holderIdentity"].is_string())
    );

    kubelet
        .node_unpublish_volume(NodeUnpublishVolumeRequest {
            volume_id: volume_id.clone(),
            target_path: target.display().to_string(),
        })
        .await
        .unwrap();
    kubelet
        .node_unstage_volume(NodeUnstageVolumeRequest {
            volume_id: volume_id.clone(),
            staging_target_path: staging.display().to_string(),
        })
        .await
        .unwrap();
    drop(node);
    ceph.delete_volume(&volume_id).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_standby_resizer_takes_over_and_a_block_volume_needs_no_node_step() {
    let (mut ceph, standin, kubeconfig, nats) = world("resize-le", None).await;
    let bin = Path::new(env!("CARGO_BIN_EXE_sepia-resizer"));
    let mut first = Process::spawn(
        "resizer-1",
        bin,
        &replicas::flags(&ceph, &kubeconfig, free_port(), &nats.url()),
        ceph.dir.path(),
    );
    let second_port = free_port();
    let (_second, _) = replicas::standby_takes_over(&standin, LEASE, &mut first, || {
        Process::spawn(
            "resizer-2",
            bin,
            &replicas::flags(&ceph, &kubeconfig, second_port, &nats.url()),
            ceph.dir.path(),
        )
    })
    .await;

    let (volume_id, context) = ceph.create_volume("pvc-resize-block", GI).await;
    bound_pair(&standin, "raw", &volume_id, &context, true);
    request_size(&standin, "raw", "3Gi");
    let pvc = wait(
        &standin,
        "",
        "persistentvolumeclaims",
        "default",
        "raw",
        "resize finished by the new leader",
        |p| p.is_some_and(|p| p["status"]["capacity"]["storage"] == "3Gi"),
    )
    .await
    .unwrap();
    assert_eq!(
        pvc["metadata"]["annotations"]["volume.kubernetes.io/node-expansion-not-required"],
        "true"
    );
    assert!(
        pvc["status"].get("allocatedResourceStatuses").is_none(),
        "{pvc:#}"
    );
    assert!(pvc["status"].get("conditions").is_none(), "{pvc:#}");
    assert_eq!(image_size(&ceph, &context), 3 * GI);
    let pv = standin
        .get_json(&gvr("", "persistentvolumes"), "", "pv-raw")
        .unwrap();
    assert_eq!(pv["spec"]["capacity"]["storage"], "3Gi");
    // Claim status, claim annotation and PV capacity were patched, never replaced: the shipped
    // ClusterRole (like upstream's) grants no `update`.
    let claims = writes_by(&standin, "sepia-resizer", "persistentvolumeclaims");
    assert!(
        claims.contains(&(Verb::Patch, Some("status".to_owned()))),
        "{claims:?}"
    );
    assert!(claims.contains(&(Verb::Patch, None)), "{claims:?}");
    let volumes = writes_by(&standin, "sepia-resizer", "persistentvolumes");
    assert!(!volumes.is_empty());
    for (verb, _) in claims.iter().chain(&volumes) {
        assert_eq!(*verb, Verb::Patch, "{claims:?} {volumes:?}");
    }
    let (status, metrics) = http::get(second_port, "/metrics").await;
    assert_eq!(status, 200, "{metrics}");
    assert!(
        metrics.contains(
            "method_name=\"/csi.v1.Controller/ControllerExpandVolume\",grpc_status_code=\"OK\"}"
        ),
        "{metrics}"
    );
    ceph.delete_volume(&volume_id).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_final_expansion_failure_a_lowered_request_wins() {
    // The first ControllerExpandVolume that grows an image answers INTERNAL (final: no call is
    // left running); later ones succeed.
    let (mut ceph, standin, kubeconfig, nats) = world(
        "resize-recover",
        Some("controller.expand.after_resize=fail(1)"),
    )
    .await;
    // No retry of the failed size within the test: only the user's change may move it.
    let mut flags: Vec<String> = replicas::flags(&ceph, &kubeconfig, free_port(), &nats.url())
        .into_iter()
        .filter(|f| !f.starts_with("--retry-interval-"))
        .collect();
    flags.extend([
        "--retry-interval-start=1h".into(),
        "--retry-interval-max=1h".into(),
    ]);
    let bin = Path::new(env!("CARGO_BIN_EXE_sepia-resizer"));
    let resizer = Process::spawn("resizer", bin, &flags, ceph.dir.path());

    let (volume_id, context) = ceph.create_volume("pvc-resize-recover", GI).await;
    bound_pair(&standin, "raw", &volume_id, &context, true);
    request_size(&standin, "raw", "3Gi");
    let failed = wait(
        &standin,
        "",
        "persistentvolumeclaims",
        "default",
        "raw",
        "the final failure recorded",
        |p| {
            p.and_then(|p| p["status"]["conditions"].as_array().cloned())
                .is_some_and(|c| c.iter().any(|c| c["type"] == "ControllerResizeError"))
        },
    )
    .await
    .unwrap();
    assert_eq!(failed["status"]["allocatedResources"]["storage"], "3Gi");
    assert_eq!(failed["status"]["capacity"]["storage"], "1Gi");
    // A final error means the call changed nothing; Sepia's failpoint fires after the resize,
    // so the test puts the image back as such a backend would have left it.
    let spec = format!(
        "{}/{}/{}",
        ceph.bed.pool, ceph.namespace, context["imageName"]
    );
    ceph.rbd(&["resize", "--allow-shrink", "--size", "1G", &spec]);
    assert_eq!(image_size(&ceph, &context), GI);

    // The user settles for less: the lowered request wins.
    request_size(&standin, "raw", "2Gi");
    let pvc = wait(
        &standin,
        "",
        "persistentvolumeclaims",
        "default",
        "raw",
        "expanded to the lowered request",
        |p| p.is_some_and(|p| p["status"]["capacity"]["storage"] != "1Gi"),
    )
    .await
    .unwrap_or_else(|| panic!("claim gone\n{}", resizer.log_tail()));
    assert_eq!(
        pvc["status"]["capacity"]["storage"], "2Gi",
        "the failed 3Gi target held: {pvc:#}"
    );
    assert_eq!(pvc["status"]["allocatedResources"]["storage"], "2Gi");
    assert!(
        pvc["status"].get("allocatedResourceStatuses").is_none(),
        "{pvc:#}"
    );
    assert_eq!(image_size(&ceph, &context), 2 * GI);
    ceph.delete_volume(&volume_id).await;
}
