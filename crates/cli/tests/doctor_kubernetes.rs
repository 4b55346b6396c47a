//! `sepia doctor --kubeconfig` against the API stand-in: a consistent set of CSIDrivers,
//! StorageClasses (RBD and CephFS) and Secrets passes; each misconfiguration users make fails
//! its own check only, with a fix, and the command exits non-zero.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeMap;

use common::doctor::fails_only;
use common::{CLUSTER_ID, Fixture, bed};
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube_standin::StandIn;
use serde_json::{Value, json};

const RBD: &str = "rbd.csi.sepia.io";
const CEPHFS: &str = "cephfs.csi.sepia.io";

fn csi_driver(name: &str) -> Value {
    json!({"apiVersion": "storage.k8s.io/v1", "kind": "CSIDriver", "metadata": {"name": name},
        "spec": {"attachRequired": true}})
}

fn secret(name: &str, keys: &[&str]) -> Value {
    let data = keys
        .iter()
        .map(|k| ((*k).to_owned(), ByteString(b"value".to_vec())))
        .collect();
    let secret = Secret {
        metadata: kube::api::ObjectMeta {
            name: Some(name.to_owned()),
            namespace: Some("ceph".to_owned()),
            ..Default::default()
        },
        data: Some(data),
        ..Default::default()
    };
    let mut value = serde_json::to_value(secret).unwrap();
    value["apiVersion"] = json!("v1");
    value["kind"] = json!("Secret");
    value
}

fn class(name: &str, driver: &str, params: &[(&str, &str)]) -> Value {
    let params: BTreeMap<&str, &str> = params.iter().copied().collect();
    json!({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": name},
        "provisioner": driver, "parameters": params, "allowVolumeExpansion": true})
}

fn secret_params<'a>(provisioner: &'a str, node: &'a str) -> Vec<(&'static str, &'a str)> {
    vec![
        ("csi.storage.k8s.io/provisioner-secret-name", provisioner),
        ("csi.storage.k8s.io/provisioner-secret-namespace", "ceph"),
        (
            "csi.storage.k8s.io/controller-expand-secret-name",
            provisioner,
        ),
        (
            "csi.storage.k8s.io/controller-expand-secret-namespace",
            "ceph",
        ),
        ("csi.storage.k8s.io/node-stage-secret-name", node),
        ("csi.storage.k8s.io/node-stage-secret-namespace", "ceph"),
    ]
}

/// A consistent setup: both drivers, a class of each, their Secrets.
fn consistent() -> BTreeMap<String, Value> {
    let mut rbd = vec![("clusterID", CLUSTER_ID), ("pool", bed().pool.as_str())];
    rbd.extend(secret_params("rbd-provisioner", "rbd-node"));
    let mut fs = vec![("clusterID", CLUSTER_ID), ("fsName", bed().fs.as_str())];
    fs.extend(secret_params("fs-provisioner", "fs-node"));
    [
        ("csidriver rbd", csi_driver(RBD)),
        ("csidriver cephfs", csi_driver(CEPHFS)),
        (
            "secret rbd-provisioner",
            secret("rbd-provisioner", &["userID", "userKey"]),
        ),
        (
            "secret rbd-node",
            secret("rbd-node", &["userID", "userKey"]),
        ),
        (
            "secret fs-provisioner",
            secret("fs-provisioner", &["adminID", "adminKey"]),
        ),
        ("secret fs-node", secret("fs-node", &["userID", "userKey"])),
        ("class fast", class("fast", RBD, &rbd)),
        ("class shared", class("shared", CEPHFS, &fs)),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

/// Runs doctor against a stand-in holding `objects`: (exit ok, check name → check).
async fn doctor(
    fx: &Fixture,
    objects: &BTreeMap<String, Value>,
) -> (bool, BTreeMap<String, Value>) {
    let standin = StandIn::start().await.unwrap();
    for object in objects.values() {
        standin.put_any(object.clone()).unwrap();
    }
    let kubeconfig = fx
        .dir()
        .join(format!("kubeconfig-{}", uuid::Uuid::new_v4()));
    standin.write_kubeconfig(&kubeconfig).unwrap();
    let args = [
        "doctor",
        "-o",
        "json",
        "--pool",
        &bed().pool,
        "--kubeconfig",
        kubeconfig.to_str().unwrap(),
    ];
    let out = fx.sepia(&args).await;
    common::doctor::checks(&out)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_with_a_kubeconfig_passes_a_consistent_setup() {
    Fixture::run(|fx| async move {
        let (ok, checks) = doctor(&fx, &consistent()).await;
        assert!(ok, "{checks:#?}");
        for name in [
            "kubernetes",
            "csidriver rbd.csi.sepia.io",
            "csidriver cephfs.csi.sepia.io",
            "storageclass fast: clusterID",
            "storageclass fast: pool",
            "storageclass fast: provisioner secret",
            "storageclass fast: controller-expand secret",
            "storageclass fast: node-stage secret",
            "storageclass shared: clusterID",
            "storageclass shared: pool",
            "storageclass shared: provisioner secret",
            "storageclass shared: node-stage secret",
        ] {
            assert_eq!(checks[name]["ok"], true, "{name}: {checks:#?}");
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_with_a_kubeconfig_fails_each_misconfiguration_with_its_fix() {
    Fixture::run(|fx| async move {
        let mut setup = consistent();
        setup.remove("csidriver rbd");
        let (ok, checks) = doctor(&fx, &setup).await;
        fails_only(ok, &checks, "csidriver rbd.csi.sepia.io", "csidriver.yaml");

        // A CephFS class without the CephFS CSIDriver.
        let mut setup = consistent();
        setup.remove("csidriver cephfs");
        let (ok, checks) = doctor(&fx, &setup).await;
        fails_only(
            ok,
            &checks,
            "csidriver cephfs.csi.sepia.io",
            "cephfs/csidriver.yaml",
        );

        let mut setup = consistent();
        setup.get_mut("class fast").unwrap()["parameters"]["clusterID"] = json!("elsewhere");
        let (ok, checks) = doctor(&fx, &setup).await;
        fails_only(
            ok,
            &checks,
            "storageclass fast: clusterID",
            "ceph-csi-config",
        );
        assert!(
            checks["storageclass fast: clusterID"]["detail"]
                .as_str()
                .unwrap()
                .contains("\"elsewhere\" is not in config.json")
        );

        let mut setup = consistent();
        setup.get_mut("class fast").unwrap()["parameters"]["pool"] = json!("no-such-pool-xyz");
        let (ok, checks) = doctor(&fx, &setup).await;
        fails_only(
            ok,
            &checks,
            "storageclass fast: pool",
            "ceph osd pool create",
        );

        let mut setup = consistent();
        setup.get_mut("class shared").unwrap()["parameters"]["fsName"] = json!("no-such-fs");
        let (ok, checks) = doctor(&fx, &setup).await;
        fails_only(
            ok,
            &checks,
            "storageclass shared: pool",
            "ceph fs volume create",
        );

        // The node-stage Secret is missing; the provisioner's is there.
        let mut setup = consistent();
        setup.remove("secret rbd-node");
        let (ok, checks) = doctor(&fx, &setup).await;
        fails_only(
            ok,
            &checks,
            "storageclass fast: node-stage secret",
            "create secret generic rbd-node",
        );

        // A Secret without the key.
        let mut setup = consistent();
        setup.insert(
            "secret rbd-node".to_owned(),
            secret("rbd-node", &["userID", "userkey"]),
        );
        let (ok, checks) = doctor(&fx, &setup).await;
        fails_only(
            ok,
            &checks,
            "storageclass fast: node-stage secret",
            "userKey",
        );

        // CephFS's provisioner reads adminID/adminKey: a user Secret does not do.
        let mut setup = consistent();
        setup.insert(
            "secret fs-provisioner".to_owned(),
            secret("fs-provisioner", &["userID", "userKey"]),
        );
        let (ok, checks) = doctor(&fx, &setup).await;
        assert!(!ok);
        let failed: Vec<&str> = checks
            .iter()
            .filter(|(_, c)| c["ok"] == false)
            .map(|(n, _)| n.as_str())
            .collect();
        assert_eq!(
            failed,
            [
                "storageclass shared: controller-expand secret",
                "storageclass shared: provisioner secret"
            ],
            "{checks:#?}"
        );
        assert!(
            checks["storageclass shared: provisioner secret"]["fix"]
                .as_str()
                .unwrap()
                .contains("adminKey")
        );

        // A class without secret parameters.
        let mut setup = consistent();
        let params = setup.get_mut("class fast").unwrap()["parameters"]
            .as_object_mut()
            .unwrap();
        params.remove("csi.storage.k8s.io/provisioner-secret-name");
        params.remove("csi.storage.k8s.io/provisioner-secret-namespace");
        let (ok, checks) = doctor(&fx, &setup).await;
        fails_only(
            ok,
            &checks,
            "storageclass fast: provisioner secret",
            "provisioner-secret-name",
        );
    })
    .await;
}
