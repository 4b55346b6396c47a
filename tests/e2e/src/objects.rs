//! The objects a user applies, as JSON (as they would write YAML), and typed-enough handles on
//! the collections the scenarios read.

use kube::Api;
use kube::api::{ApiResource, DynamicObject, GroupVersionKind};
use serde_json::{Value, json};

/// The kinds the scenarios touch.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    Pvc,
    Pv,
    VolumeSnapshot,
    VolumeSnapshotContent,
    VolumeSnapshotClass,
    VolumeAttachment,
    StorageClass,
    Secret,
    Namespace,
    CsiNode,
    CsiDriver,
    Node,
    Pod,
}

impl Kind {
    fn resource(self) -> (ApiResource, bool) {
        let (group, version, kind, plural, namespaced) = match self {
            Kind::Pvc => (
                "",
                "v1",
                "PersistentVolumeClaim",
                "persistentvolumeclaims",
                true,
            ),
            Kind::Pv => ("", "v1", "PersistentVolume", "persistentvolumes", false),
            Kind::Secret => ("", "v1", "Secret", "secrets", true),
            Kind::Namespace => ("", "v1", "Namespace", "namespaces", false),
            Kind::Node => ("", "v1", "Node", "nodes", false),
            Kind::Pod => ("", "v1", "Pod", "pods", true),
            Kind::StorageClass => (
                "storage.k8s.io",
                "v1",
                "StorageClass",
                "storageclasses",
                false,
            ),
            Kind::CsiNode => ("storage.k8s.io", "v1", "CSINode", "csinodes", false),
            Kind::CsiDriver => ("storage.k8s.io", "v1", "CSIDriver", "csidrivers", false),
            Kind::VolumeAttachment => (
                "storage.k8s.io",
                "v1",
                "VolumeAttachment",
                "volumeattachments",
                false,
            ),
            Kind::VolumeSnapshot => (
                "snapshot.storage.k8s.io",
                "v1",
                "VolumeSnapshot",
                "volumesnapshots",
                true,
            ),
            Kind::VolumeSnapshotClass => (
                "snapshot.storage.k8s.io",
                "v1",
                "VolumeSnapshotClass",
                "volumesnapshotclasses",
                false,
            ),
            Kind::VolumeSnapshotContent => (
                "snapshot.storage.k8s.io",
                "v1",
                "VolumeSnapshotContent",
                "volumesnapshotcontents",
                false,
            ),
        };
        let gvk = GroupVersionKind::gvk(group, version, kind);
        (ApiResource::from_gvk_with_plural(&gvk, plural), namespaced)
    }

    /// The collection, in `namespace` for namespaced kinds.
    /// The kind's API in `namespace`; an empty namespace means every namespace for a namespaced
    /// kind (a list across the cluster, as `kubectl get -A`).
    pub fn api(self, client: &kube::Client, namespace: &str) -> Api<DynamicObject> {
        let (resource, namespaced) = self.resource();
        if namespaced && !namespace.is_empty() {
            Api::namespaced_with(client.clone(), namespace, &resource)
        } else {
            Api::all_with(client.clone(), &resource)
        }
    }
}

/// A ReadWriteOnce filesystem claim, optionally restored from a snapshot or cloned from a PVC.
pub fn pvc(name: &str, class: &str, size: &str, source: Option<Value>) -> Value {
    claim(name, "ReadWriteOnce", class, size, source)
}

/// A ReadWriteMany filesystem claim (a shared CephFS volume), optionally from a source.
pub fn shared_pvc(name: &str, class: &str, size: &str, source: Option<Value>) -> Value {
    claim(name, "ReadWriteMany", class, size, source)
}

fn claim(name: &str, mode: &str, class: &str, size: &str, source: Option<Value>) -> Value {
    let mut claim = json!({
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": name},
        "spec": {
            "accessModes": [mode],
            "storageClassName": class,
            "volumeMode": "Filesystem",
            "resources": {"requests": {"storage": size}}
        }
    });
    if let Some(source) = source {
        claim["spec"]["dataSource"] = source.clone();
        claim["spec"]["dataSourceRef"] = source;
    }
    claim
}

/// `dataSource` naming a VolumeSnapshot.
pub fn snapshot_source(snapshot: &str) -> Value {
    json!({"apiGroup": "snapshot.storage.k8s.io", "kind": "VolumeSnapshot", "name": snapshot})
}

/// `dataSource` naming a PVC in the same namespace.
pub fn pvc_source(pvc: &str) -> Value {
    json!({"kind": "PersistentVolumeClaim", "name": pvc})
}

/// A VolumeSnapshot of `pvc`.
pub fn volume_snapshot(name: &str, pvc: &str, class: &str) -> Value {
    json!({
        "apiVersion": "snapshot.storage.k8s.io/v1",
        "kind": "VolumeSnapshot",
        "metadata": {"name": name},
        "spec": {
            "volumeSnapshotClassName": class,
            "source": {"persistentVolumeClaimName": pvc}
        }
    })
}

/// Parses a Kubernetes quantity of bytes (`1Gi`, `1073741824`, `2G`).
pub fn quantity_bytes(quantity: &str) -> Option<u64> {
    let units: [(&str, u64); 8] = [
        ("Ki", 1 << 10),
        ("Mi", 1 << 20),
        ("Gi", 1 << 30),
        ("Ti", 1 << 40),
        ("k", 1_000),
        ("M", 1_000_000),
        ("G", 1_000_000_000),
        ("T", 1_000_000_000_000),
    ];
    for (suffix, factor) in units {
        if let Some(number) = quantity.strip_suffix(suffix) {
            return number.parse::<u64>().ok()?.checked_mul(factor);
        }
    }
    quantity.parse().ok()
}

/// Image names in `rbd trash ls --format json` output: deleted images wait there until the
/// mgr purges them, and they still hold data.
pub fn trash_names(json: &str) -> anyhow::Result<Vec<String>> {
    if json.trim().is_empty() {
        return Ok(Vec::new());
    }
    let entries: Vec<Value> = serde_json::from_str(json)
        .map_err(|e| anyhow::anyhow!("unreadable `rbd trash ls --format json` output: {e}"))?;
    entries
        .iter()
        .map(|e| {
            e["name"]
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| anyhow::anyhow!("a trash entry without a name: {e}"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::{quantity_bytes, trash_names};

    #[test]
    fn quantities_in_binary_and_decimal_units_parse_to_bytes() {
        assert_eq!(quantity_bytes("1Gi"), Some(1 << 30));
        assert_eq!(quantity_bytes("2G"), Some(2_000_000_000));
        assert_eq!(quantity_bytes("1073741824"), Some(1 << 30));
        assert_eq!(quantity_bytes("1.5Gi"), None);
    }

    #[test]
    fn trash_listings_give_image_names_and_reject_garbage() {
        let names = trash_names(r#"[{"id":"10f8d09fd6d8","name":"csi-vol-1"}]"#).unwrap();
        assert_eq!(names, ["csi-vol-1"]);
        assert!(trash_names("").unwrap().is_empty());
        assert!(trash_names("not json").is_err());
        assert!(trash_names(r#"[{"id":"1"}]"#).is_err());
    }
}
