//! The volume context CreateVolume returns: the contract with the node plugin, with
//! ceph-csi's keys.

use std::collections::HashMap;

use crate::fs::Fs;
use crate::params::VolumeParams;

pub const CLUSTER_ID: &str = "clusterID";
pub const FS_NAME: &str = "fsName";
pub const SUBVOLUME_NAME: &str = "subvolumeName";
pub const SUBVOLUME_PATH: &str = "subvolumePath";
pub const MOUNTER: &str = "mounter";
pub const KERNEL_MOUNT_OPTIONS: &str = "kernelMountOptions";
pub const FUSE_MOUNT_OPTIONS: &str = "fuseMountOptions";

pub fn volume_context(
    params: &VolumeParams,
    fs: &Fs,
    subvolume: &str,
    path: &str,
) -> HashMap<String, String> {
    let mut context = HashMap::from([
        (CLUSTER_ID.to_owned(), fs.cluster.id.clone()),
        (FS_NAME.to_owned(), fs.name.clone()),
        (SUBVOLUME_NAME.to_owned(), subvolume.to_owned()),
        (SUBVOLUME_PATH.to_owned(), path.to_owned()),
    ]);
    let optional = [
        (MOUNTER, &params.mounter),
        (KERNEL_MOUNT_OPTIONS, &params.kernel_mount_options),
        (FUSE_MOUNT_OPTIONS, &params.fuse_mount_options),
    ];
    for (key, value) in optional {
        if let Some(value) = value {
            context.insert(key.to_owned(), value.clone());
        }
    }
    context
}
