//! One entry of config.json, with ceph-csi's field names.

use serde::{Deserialize, Deserializer};

/// Pool that holds node registrations when a cluster's `sepia` section names none: `rbd` is the
/// pool every RBD installation has, and the node needs no pool of its own.
pub const DEFAULT_NODE_REGISTRY_POOL: &str = "rbd";

/// One Ceph cluster as ceph-csi and Rook describe it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterEntry {
    /// The key StorageClasses and volume IDs use to name this cluster.
    #[serde(rename = "clusterID", default, deserialize_with = "null_as_default")]
    pub cluster_id: String,
    /// Monitor addresses (`host:port`, or `v2:`/`v1:` forms) as librados and the CLIs take them.
    #[serde(default, deserialize_with = "null_as_default")]
    pub monitors: Vec<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub rbd: RbdSettings,
    #[serde(rename = "cephFS", default, deserialize_with = "null_as_default")]
    pub ceph_fs: CephFsSettings,
    /// Sepia's own settings; absent in files written for ceph-csi.
    #[serde(default, deserialize_with = "null_as_default")]
    pub sepia: SepiaSettings,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RbdSettings {
    /// RADOS namespace of this cluster's RBD images and journal ("" = the default namespace).
    #[serde(default, deserialize_with = "null_as_default")]
    pub rados_namespace: String,
    #[serde(default)]
    pub mirror_daemon_count: Option<u32>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub net_namespace_file_path: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CephFsSettings {
    /// Subvolume group of this cluster's CephFS volumes ("" = Sepia's default, `csi`).
    #[serde(default, deserialize_with = "null_as_default")]
    pub subvolume_group: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub rados_namespace: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub kernel_mount_options: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub fuse_mount_options: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub net_namespace_file_path: String,
}

/// Settings only Sepia reads, kept in their own section so ceph-csi ignores them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SepiaSettings {
    #[serde(default)]
    pub node_registry_pool: Option<String>,
    #[serde(default)]
    pub node_registry_namespace: Option<String>,
}

/// Where node plugins register themselves in one cluster (pool + RADOS namespace).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeRegistry {
    pub pool: String,
    pub namespace: String,
}

impl ClusterEntry {
    /// Monitors joined the way `-m` and librados' `mon_host` take a list.
    pub fn monitors_arg(&self) -> String {
        self.monitors.join(",")
    }

    /// The registry location: the `sepia` section when set, else pool `rbd` and the cluster's
    /// RBD RADOS namespace, which is where the controller of that cluster looks by default too.
    pub fn node_registry(&self) -> NodeRegistry {
        let pool = non_empty(self.sepia.node_registry_pool.as_deref())
            .unwrap_or(DEFAULT_NODE_REGISTRY_POOL)
            .to_string();
        let namespace = self
            .sepia
            .node_registry_namespace
            .clone()
            .unwrap_or_else(|| self.rbd.rados_namespace.clone());
        NodeRegistry { pool, namespace }
    }
}

fn non_empty(s: Option<&str>) -> Option<&str> {
    s.filter(|s| !s.is_empty())
}

/// Rook writes `null` for unset lists and sections (`"crushLocationLabels": null`); treat it
/// like an absent field instead of rejecting the whole file.
fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}
