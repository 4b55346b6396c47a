//! The attacher's own test support: the objects kube-controller-manager and kubelet write for
//! it, next to the shared ones. The real parts every sidecar's tests share are in
//! `sepia-sidecar-testkit`.

/// Kubernetes objects as the test's other actors write them: the shared ones plus the
/// attacher's.
pub mod objects {
    use serde_json::{Value, json};
    use sidecar_testkit::DRIVER;
    pub use sidecar_testkit::objects::*;

    pub fn node(name: &str) -> Value {
        json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}})
    }

    /// What kubelet's plugin registration writes: our driver on `name` has node id `node_id`.
    pub fn csinode(name: &str, node_id: &str) -> Value {
        json!({"apiVersion": "storage.k8s.io/v1", "kind": "CSINode", "metadata": {"name": name},
            "spec": {"drivers": [{"name": DRIVER, "nodeID": node_id}]}})
    }

    /// What kube-controller-manager writes when a pod on `node` needs PV `pv`.
    pub fn volume_attachment(name: &str, node: &str, pv: &str) -> Value {
        json!({"apiVersion": "storage.k8s.io/v1", "kind": "VolumeAttachment", "metadata": {"name": name},
            "spec": {"attacher": DRIVER, "nodeName": node, "source": {"persistentVolumeName": pv}}})
    }
}
