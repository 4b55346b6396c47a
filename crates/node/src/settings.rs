//! The node plugin's configuration as a value (built by `main` from flags, by tests directly).
//! [`flags`]: the flags both node plugins share.

pub mod flags;

use std::path::PathBuf;
use std::time::Duration;

use crate::mapper_kind::MapperChoice;

/// How long each kind of child may run before it is killed.
#[derive(Debug, Clone)]
pub struct Deadlines {
    /// `rbd map`, `rbd-nbd map`, `rbd-fuse` (connecting to the cluster included).
    pub map: Duration,
    /// How long the Ceph tools themselves try to connect and authenticate
    /// (`client_mount_timeout`); below `map`, so a wrong key or dead monitors come back as the
    /// tool's own error rather than a kill.
    /// Also how long `list-mapped` is watched after a killed rbd-nbd map
    /// ([`crate::mapper::nbd`]).
    pub connect: Duration,
    /// `rbd unmap`, `rbd-nbd unmap`, unmounting rbd-fuse, detaching a loop device.
    pub unmap: Duration,
    /// `mkfs.*`: lazy init keeps it short, but a slow cluster makes every write slow.
    pub mkfs: Duration,
    /// `resize2fs` / `xfs_growfs`.
    pub resize: Duration,
    /// Everything quick: mount, umount, blkid, losetup; and a stats measurement
    /// ([`crate::health::stats_gate`]).
    pub command: Duration,
    /// rbd-nbd's `--reattach-timeout`: how long the kernel keeps an nbd device whose daemon
    /// died waiting for a new one (I/O waits meanwhile instead of failing). A restarted plugin
    /// re-attaches within it ([`crate::recovery`]); past it the device is torn down and the
    /// file system on it fails.
    pub nbd_reattach: Duration,
}

impl Default for Deadlines {
    fn default() -> Self {
        Self {
            map: Duration::from_secs(60),
            connect: Duration::from_secs(45),
            unmap: Duration::from_secs(60),
            mkfs: Duration::from_secs(120),
            resize: Duration::from_secs(120),
            command: Duration::from_secs(30),
            nbd_reattach: Duration::from_secs(300),
        }
    }
}

#[derive(Debug, Clone)]
pub struct NodeSettings {
    /// The name this node has in Kubernetes (NodeGetInfo, registration record).
    pub node_id: String,
    pub driver_name: String,
    /// Node-private directory: rbd-fuse mount points, short-lived key files.
    pub state_dir: PathBuf,
    /// kubelet's root directory (`/var/lib/kubelet`): every staging and target path a request
    /// names must resolve to a place below it.
    pub kubelet_root: PathBuf,
    /// ceph.conf handed to the Ceph tools; `None` = `/dev/null`, so a stray host file cannot
    /// change what the plugin does (monitors and keys come from the cluster config and secrets).
    pub ceph_conf: Option<PathBuf>,
    pub mapper: MapperChoice,
    /// NodeGetInfo's max_volumes_per_node; 0 = no limit announced.
    pub max_volumes_per_node: i64,
    pub deadlines: Deadlines,
}
