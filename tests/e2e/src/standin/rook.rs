//! What is in place before the overlay is applied, in a real cluster next to Rook: the
//! namespaces, the node, the CA ConfigMap kube-controller-manager publishes into every
//! namespace, and what Rook's operator writes for CSI drivers (its cephx users' Secrets and the
//! CSI cluster config), here pointing at the local Ceph bed. The names are Rook's, as the
//! overlay's kustomization documents them.

use anyhow::{Context, Result};
use kube_standin::StandIn;
use sepia_testbed::Bed;
use serde_json::{Value, json};

use super::manifests::Rendered;

/// Rook's CSI Secrets and the keys of their cephx user: the RBD ones and the CephFS node's
/// carry `userID`/`userKey`, the CephFS provisioner's `adminID`/`adminKey`. All hold the bed's
/// user here.
const SECRETS: &[(&str, [&str; 2])] = &[
    ("rook-csi-rbd-provisioner", ["userID", "userKey"]),
    ("rook-csi-rbd-node", ["userID", "userKey"]),
    ("rook-csi-cephfs-provisioner", ["adminID", "adminKey"]),
    ("rook-csi-cephfs-node", ["userID", "userKey"]),
];
/// Rook's CSI cluster config: ConfigMap and key.
const CSI_CONFIG: (&str, &str) = ("rook-ceph-csi-config", "csi-cluster-config-json");

fn bytes(text: &str) -> Value {
    serde_json::to_value(k8s_openapi::ByteString(text.as_bytes().to_vec())).unwrap_or_default()
}

/// Creates everything above, for the workloads' namespaces and `user_namespace`.
pub fn provide(
    standin: &StandIn,
    rendered: &Rendered,
    bed: &Bed,
    user_namespace: &str,
    node: &str,
    cluster_config: &Value,
) -> Result<()> {
    let driver_namespaces = rendered.namespaces();
    let mut objects = vec![json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": node}})];
    for namespace in driver_namespaces
        .iter()
        .map(String::as_str)
        .chain([user_namespace])
    {
        objects.push(
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}),
        );
        // The stand-in serves plain HTTP: there is no CA to publish, only the object.
        objects.push(json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "kube-root-ca.crt", "namespace": namespace},
            "data": {"ca.crt": ""}
        }));
    }
    for namespace in &driver_namespaces {
        for (name, [id, key]) in SECRETS {
            objects.push(json!({
                "apiVersion": "v1", "kind": "Secret",
                "metadata": {"name": name, "namespace": namespace},
                "data": {*id: bytes(&bed.user), *key: bytes(&bed.key)}
            }));
        }
        objects.push(json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": CSI_CONFIG.0, "namespace": namespace},
            "data": {CSI_CONFIG.1: cluster_config.to_string()}
        }));
    }
    for object in objects {
        let what = format!("{} {}", object["kind"], object["metadata"]["name"]);
        standin
            .put_any(object)
            .with_context(|| format!("creating {what}"))?;
    }
    Ok(())
}
