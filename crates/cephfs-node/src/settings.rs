//! The CephFS node plugin's configuration as a value (built by `main` from flags, by tests
//! directly).

use std::path::PathBuf;
use std::time::Duration;

use crate::mounter::MounterChoice;

/// How long each kind of child may run before it is killed.
#[derive(Debug, Clone)]
pub struct Deadlines {
    /// `ceph-fuse` or `mount -t ceph`, connecting to the cluster included.
    pub mount: Duration,
    /// How long ceph-fuse itself tries to reach the monitors and authenticate
    /// (`client_mount_timeout`); below `mount`, so a wrong key or dead monitors come back as
    /// ceph-fuse's own error rather than a kill.
    pub connect: Duration,
    /// Unmounting a CephFS mount and waiting for its ceph-fuse daemon to exit.
    pub unmount: Duration,
    /// Everything quick: bind mounts, umount of a bind, fusectl.
    pub command: Duration,
    /// How long a `statfs` of a live mount may take before the mount is reported abnormal
    /// (a stopped ceph-fuse never answers; the call is abandoned, never awaited).
    pub probe: Duration,
}

impl Default for Deadlines {
    fn default() -> Self {
        Self {
            mount: Duration::from_secs(60),
            connect: Duration::from_secs(45),
            unmount: Duration::from_secs(60),
            command: Duration::from_secs(30),
            probe: Duration::from_secs(10),
        }
    }
}

#[derive(Debug, Clone)]
pub struct CephfsNodeSettings {
    /// The name this node has in Kubernetes (NodeGetInfo).
    pub node_id: String,
    pub driver_name: String,
    /// Node-private directory: stage records, short-lived key files, the fusectl mount point.
    pub state_dir: PathBuf,
    /// kubelet's root directory: every staging and target path must resolve below it.
    pub kubelet_root: PathBuf,
    /// ceph.conf handed to ceph-fuse; `None` = `/dev/null`, so a stray host file cannot change
    /// what the plugin does (monitors come from the cluster config, keys from secrets).
    pub ceph_conf: Option<PathBuf>,
    /// The mounter when the volume context names none.
    pub mounter: MounterChoice,
    /// NodeGetInfo's max_volumes_per_node; 0 = no limit announced.
    pub max_volumes_per_node: i64,
    pub deadlines: Deadlines,
}

impl CephfsNodeSettings {
    /// `-c` of ceph-fuse.
    pub fn conf_arg(&self) -> PathBuf {
        self.ceph_conf
            .clone()
            .unwrap_or_else(|| PathBuf::from("/dev/null"))
    }
}
