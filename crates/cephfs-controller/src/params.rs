//! CephFS StorageClass and VolumeSnapshotClass parameters, with ceph-csi's names.
//!
//! As on the RBD side, unknown keys are refused by name and keys under `csi.storage.k8s.io/`
//! belong to Kubernetes. The mount keys only pass through to the volume context (the node
//! plugin reads them).

use std::collections::HashMap;

use controller::error::{Error, Result};
use controller::params::{K8S_PREFIX, PVC_NAME, PVC_NAMESPACE};
use csi::quote::quote;

/// Mounters the node plugin knows (ceph-csi's names).
const MOUNTERS: [&str; 2] = ["kernel", "fuse"];

/// ceph-csi CephFS parameters Sepia does not implement: refused with that reason.
const UNSUPPORTED_KEYS: [&str; 5] = [
    "backingSnapshot",
    "encrypted",
    "encryptionKMSID",
    "subvolumeGroup",
    "provisionVolume",
];

/// Parameters of a CephFS StorageClass.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VolumeParams {
    pub cluster_id: String,
    pub fs_name: String,
    /// Data pool of the subvolume (`--pool_layout`).
    pub pool: Option<String>,
    pub mounter: Option<String>,
    pub kernel_mount_options: Option<String>,
    pub fuse_mount_options: Option<String>,
    pub volume_name_prefix: Option<String>,
    /// PVC namespace (`csi.volume.owner`), from the provisioner's extra metadata.
    pub owner: Option<String>,
    /// PVC name, from the same metadata: the claim a clone's end is announced to.
    pub claim_name: Option<String>,
}

impl VolumeParams {
    pub fn parse(params: &HashMap<String, String>) -> Result<VolumeParams> {
        let mut out = VolumeParams::default();
        for (key, value) in params {
            match key.as_str() {
                "clusterID" => out.cluster_id = non_empty(key, value)?,
                "fsName" => out.fs_name = non_empty(key, value)?,
                "pool" => out.pool = Some(non_empty(key, value)?),
                "mounter" => {
                    if !MOUNTERS.contains(&value.as_str()) {
                        return Err(Error::parameter(
                            key,
                            format!("{} is not kernel or fuse", quote(value)),
                        ));
                    }
                    out.mounter = Some(value.clone());
                }
                "kernelMountOptions" => out.kernel_mount_options = Some(value.clone()),
                "fuseMountOptions" => out.fuse_mount_options = Some(value.clone()),
                "volumeNamePrefix" => out.volume_name_prefix = Some(name_prefix(key, value)?),
                PVC_NAMESPACE => out.owner = Some(value.clone()).filter(|v| !v.is_empty()),
                PVC_NAME => out.claim_name = Some(value.clone()).filter(|v| !v.is_empty()),
                k if k.starts_with(K8S_PREFIX) => {}
                k => return Err(refused(k)),
            }
        }
        require(&out.cluster_id, "clusterID")?;
        require(&out.fs_name, "fsName")?;
        Ok(out)
    }
}

/// Parameters of a CephFS VolumeSnapshotClass.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SnapshotParams {
    pub cluster_id: Option<String>,
    pub fs_name: Option<String>,
    pub snapshot_name_prefix: Option<String>,
}

impl SnapshotParams {
    pub fn parse(params: &HashMap<String, String>) -> Result<SnapshotParams> {
        let mut out = SnapshotParams::default();
        for (key, value) in params {
            match key.as_str() {
                "clusterID" => out.cluster_id = Some(non_empty(key, value)?),
                "fsName" => out.fs_name = Some(non_empty(key, value)?),
                "snapshotNamePrefix" => out.snapshot_name_prefix = Some(name_prefix(key, value)?),
                k if k.starts_with(K8S_PREFIX) => {}
                k => return Err(refused(k)),
            }
        }
        Ok(out)
    }
}

/// GetCapacity's parameters: the StorageClass's (mount keys and prefixes are ignored there).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CapacityParams {
    pub cluster_id: String,
    pub fs_name: String,
    pub pool: Option<String>,
}

impl CapacityParams {
    pub fn parse(params: &HashMap<String, String>) -> Result<CapacityParams> {
        let volume = VolumeParams::parse(params)?;
        Ok(CapacityParams {
            cluster_id: volume.cluster_id,
            fs_name: volume.fs_name,
            pool: volume.pool,
        })
    }
}

fn require(value: &str, key: &'static str) -> Result<()> {
    if value.is_empty() {
        return Err(Error::parameter(key, "is required"));
    }
    Ok(())
}

fn non_empty(key: &str, value: &str) -> Result<String> {
    if value.is_empty() || value.contains('\0') {
        return Err(Error::parameter(
            key,
            "must be a non-empty string without NUL",
        ));
    }
    Ok(value.to_owned())
}

/// Subvolume and snapshot names must stay one path component.
fn name_prefix(key: &str, value: &str) -> Result<String> {
    if value.is_empty() || value.contains(['/', '\0']) || value.starts_with('.') {
        return Err(Error::parameter(
            key,
            "must be non-empty, free of '/' and NUL, and not start with '.'",
        ));
    }
    Ok(value.to_owned())
}

fn refused(key: &str) -> Error {
    if UNSUPPORTED_KEYS.contains(&key) {
        Error::parameter(
            key,
            "is a ceph-csi parameter Sepia's CephFS driver does not support",
        )
    } else {
        Error::parameter(key, "is not a CephFS parameter")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn fs_name_and_cluster_are_required_by_name() {
        let e = VolumeParams::parse(&map(&[("clusterID", "c")])).unwrap_err();
        assert!(e.to_string().contains("fsName"), "{e}");
        let e = VolumeParams::parse(&map(&[("fsName", "cephfs")])).unwrap_err();
        assert!(e.to_string().contains("clusterID"), "{e}");
    }

    #[test]
    fn mount_keys_pass_and_unknown_keys_are_refused() {
        let p = VolumeParams::parse(&map(&[
            ("clusterID", "c"),
            ("fsName", "cephfs"),
            ("pool", "cephfs_data"),
            ("mounter", "fuse"),
            ("fuseMountOptions", "debug"),
            ("csi.storage.k8s.io/pvc/namespace", "team"),
            ("csi.storage.k8s.io/provisioner-secret-name", "x"),
        ]))
        .unwrap();
        assert_eq!(p.pool.as_deref(), Some("cephfs_data"));
        assert_eq!(p.owner.as_deref(), Some("team"));
        let e = VolumeParams::parse(&map(&[
            ("clusterID", "c"),
            ("fsName", "f"),
            ("fsname", "f"),
        ]))
        .unwrap_err();
        assert!(e.to_string().contains("fsname"), "{e}");
        let e = VolumeParams::parse(&map(&[
            ("clusterID", "c"),
            ("fsName", "f"),
            ("mounter", "nfs"),
        ]))
        .unwrap_err();
        assert!(e.to_string().contains("mounter"), "{e}");
        let e = VolumeParams::parse(&map(&[
            ("clusterID", "c"),
            ("fsName", "f"),
            ("volumeNamePrefix", "a/b"),
        ]))
        .unwrap_err();
        assert!(e.to_string().contains("volumeNamePrefix"), "{e}");
    }
}
