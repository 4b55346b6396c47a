//! The demo's flags.

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

/// Walks a CSI controller and node plugin through a user's story — a PVC mounted in a pod,
/// files written, a snapshot, a restore mounted beside it, a clone, an expansion while
/// mounted, then unmounts and deletes — and shows what Ceph holds and what the node has
/// mounted. Works in an RBD namespace of its own.
#[derive(Debug, Clone, Parser)]
#[command(name = "sepia-demo", version)]
pub struct Options {
    /// CSI endpoint of the running controller (`unix:///path`).
    #[arg(long)]
    pub endpoint: String,
    /// CSI endpoint of the running node plugin (`unix:///path`), on this machine: the demo
    /// reads and writes the volumes it mounts.
    #[arg(long)]
    pub node_endpoint: String,
    /// Stands for kubelet's root directory (`/var/lib/kubelet`): staging and target paths are
    /// made below it in kubelet's layout.
    #[arg(long)]
    pub kubelet_dir: PathBuf,
    /// The node ID the node plugin must answer in NodeGetInfo [default: whatever it answers].
    #[arg(long)]
    pub node_id: Option<String>,
    /// clusterID the controller's config.json names.
    #[arg(long, default_value = "demo")]
    pub cluster_id: String,
    #[arg(long, default_value = "rbd")]
    pub pool: String,
    /// RBD namespace the controller's config.json names for the cluster; the demo creates it
    /// (it must not exist) and removes it at the end.
    #[arg(long)]
    pub namespace: String,
    /// The bed's env file (monitors and cephx identity) [default:
    /// ${SEPIA_BED_DIR:-/tmp/sepia-bed}/env].
    #[arg(long)]
    pub bed_env: Option<PathBuf>,
    /// Deadline of every RPC.
    #[arg(long, default_value = "120s", value_parser = humantime::parse_duration)]
    pub rpc_timeout: Duration,
    /// How long the mgr may take to purge the trash after the deletes.
    #[arg(long, default_value = "300s", value_parser = humantime::parse_duration)]
    pub purge_timeout: Duration,
    /// CSI endpoint of the running CephFS controller (`sepia-cephfs-controller`): with the
    /// three flags after it, the story goes on with a CephFS volume shared by two pods.
    #[arg(long, requires_all = ["cephfs_node_endpoint", "fs_name", "subvolume_group"])]
    pub cephfs_endpoint: Option<String>,
    /// CSI endpoint of the running CephFS node plugin (`sepia-cephfs-node`), on this machine.
    #[arg(long, requires = "cephfs_endpoint")]
    pub cephfs_node_endpoint: Option<String>,
    /// The CephFS file system (the StorageClass's `fsName`).
    #[arg(long, requires = "cephfs_endpoint")]
    pub fs_name: Option<String>,
    /// Subvolume group, and journal RADOS namespace in the metadata pool, that the
    /// controller's config.json names for the cluster (`cephFS.subvolumeGroup` and
    /// `cephFS.radosNamespace`); it must not exist, and the demo removes it at the end.
    #[arg(long, requires = "cephfs_endpoint")]
    pub subvolume_group: Option<String>,
}

/// The CephFS half's flags, all given.
#[derive(Debug, Clone)]
pub struct CephfsOptions {
    pub endpoint: String,
    pub node_endpoint: String,
    pub fs_name: String,
    /// Also the journal's RADOS namespace.
    pub group: String,
}

impl Options {
    /// The CephFS half's flags, when it is asked for.
    pub fn cephfs(&self) -> Option<CephfsOptions> {
        Some(CephfsOptions {
            endpoint: self.cephfs_endpoint.clone()?,
            node_endpoint: self.cephfs_node_endpoint.clone()?,
            fs_name: self.fs_name.clone()?,
            group: self.subvolume_group.clone()?,
        })
    }
}
