//! Proof that a path is this plugin's, for this volume, before anything is done to it.
//!
//! The node plugin runs as root and sees the host's mounts. NodeUnstage, NodeUnpublish,
//! NodeExpandVolume and NodeGetVolumeStats name a path and a volume ID, and without a proof they
//! would unmount, grow or report whatever is mounted there. So each of them first establishes:
//! - the stage record (stash) beside `<staging>/<volume_id>` is this volume's, and well-formed;
//! - the mount at `<staging>/<volume_id>` is the device that record names (a file system on it,
//!   or a bind of the device node for block access);
//! - a published path is a bind of that staged mount (same device, same root in it).
//!
//! Anything else is NOT_FOUND (`NodeError::NotOurs`): for this volume there is nothing there,
//! and the plugin leaves it alone. The proof reads the mount table and the stash only; it
//! `stat`s nothing but device nodes and bind-mounted device nodes, so a dead FUSE mount
//! cannot hang it.

use std::path::{Path, PathBuf};

use crate::access::AccessKind;
use crate::access::staged_target;
use crate::checks::map_options;
use crate::checks::names;
use crate::device::{self, DeviceNumber, PathKind};
use crate::driver::NodeDriver;
use crate::error::NodeError;
use crate::mapper::ImageSpec;
use crate::mapper_kind::MapperKind;
use crate::mount::mountinfo::{self, MountEntry};
use crate::stash::ceph_csi::{self, CephCsiStash};
use crate::stash::{self, Record, Stash};
use crate::syscall;

/// A volume this plugin staged, as found on the node.
#[derive(Debug, Clone)]
pub struct Staged {
    pub staging_path: PathBuf,
    pub stash: Stash,
    /// The mount at `<staging>/<volume_id>`, proven to be the stash's device.
    pub mount: MountEntry,
}

impl Staged {
    /// The device the volume is mapped to.
    pub async fn device(&self) -> Result<DeviceNumber, NodeError> {
        device_number(self.stash.device.as_deref().unwrap_or_default()).await
    }
}

/// The stash at `staging_path`, checked: `None` when there is none, [`NodeError::BadStash`]
/// when it is malformed or names what this plugin never writes (a foreign pool name, a device
/// that is not a mapped one, an rbd-fuse directory of another volume, options outside the
/// allowlists), and [`NodeError::StashOfOtherVolume`] when it is another volume's. A record
/// ceph-csi wrote is read against the node ([`take_over`]) and checked the same way.
pub async fn read_stash(
    driver: &NodeDriver,
    volume_id: &str,
    staging_path: &Path,
) -> Result<Option<Stash>, NodeError> {
    let path = stash::path(staging_path);
    let stash = match stash::read(&path).await? {
        None => return Ok(None),
        Some(Record::Sepia(stash)) => stash,
        Some(Record::CephCsi(record)) => {
            take_over(driver, volume_id, staging_path, &path, &record).await?
        }
    };
    if stash.volume_id != volume_id {
        return Err(NodeError::StashOfOtherVolume {
            volume_id: volume_id.to_string(),
            other: stash.volume_id,
            path,
        });
    }
    let bad = |message: String| NodeError::BadStash {
        path: path.clone(),
        message,
    };
    names::check_rbd_name("pool", &stash.pool).map_err(|e| bad(e.to_string()))?;
    names::check_namespace("radosNamespace", &stash.rados_namespace)
        .map_err(|e| bad(e.to_string()))?;
    names::check_rbd_name("image", &stash.image).map_err(|e| bad(e.to_string()))?;
    if let Some(device) = &stash.device
        && !is_mapped_device_path(device)
    {
        return Err(bad(format!("device {device:?} is not a mapped device")));
    }
    map_options::check_recorded(stash.mapper, &stash.map_options, &stash.unmap_options)
        .map_err(bad)?;
    let planned = driver
        .mappers
        .plan(stash.mapper, volume_id, &stash.image_spec())
        .fuse_mount_dir;
    if stash.fuse_mount_dir != planned {
        return Err(bad(format!(
            "rbd-fuse directory {:?} is not this volume's",
            stash.fuse_mount_dir
        )));
    }
    Ok(Some(stash))
}

/// ceph-csi's record at `path` as `volume_id`'s stage. The record does not name its volume:
/// it is the volume mounted at `<staging>/<volume-id>`; with nothing mounted there, the
/// volume kubelet's staging path itself names. A mount beside the record for another volume
/// makes it that volume's ([`NodeError::StashOfOtherVolume`]); a record tied to no volume is
/// not this one's ([`NodeError::NotOurs`]).
async fn take_over(
    driver: &NodeDriver,
    volume_id: &str,
    staging_path: &Path,
    path: &Path,
    record: &CephCsiStash,
) -> Result<Stash, NodeError> {
    let bad = |message: String| NodeError::BadStash {
        path: path.to_path_buf(),
        message,
    };
    let entries = mountinfo::read().await?;
    let staged = mountinfo::under(&entries, staging_path);
    let target = staged_target(staging_path, volume_id)?;
    let mount = mountinfo::find(&entries, &target).cloned();
    if mount.is_none() {
        if let Some(other) = staged
            .iter()
            .filter(|e| e.mount_point.parent() == Some(staging_path))
            .find_map(|e| e.mount_point.file_name())
        {
            return Err(NodeError::StashOfOtherVolume {
                volume_id: volume_id.to_string(),
                other: other.to_string_lossy().into_owned(),
                path: path.to_path_buf(),
            });
        }
        let (staging, id) = (staging_path.to_path_buf(), volume_id.to_string());
        let named = syscall::blocking("read kubelet's record in", staging_path, move || {
            ceph_csi::staging_path_names(&staging, &id)
        })
        .await?;
        if !named {
            return Err(not_ours(
                volume_id,
                staging_path,
                "it holds ceph-csi's stage record, with no volume mounted beside it, and \
                 kubelet's staging path names another volume"
                    .into(),
            ));
        }
    }
    let device = match record.mapper() {
        // ceph-csi records no krbd device: the kernel's list says where the image is mapped.
        MapperKind::Krbd if record.device.is_empty() => {
            driver.mappers.krbd_device(&image_spec(record)).await?
        }
        _ => Some(record.device.clone()),
    };
    let mut stash = record
        .to_stash(volume_id, device, mount.as_ref())
        .map_err(bad)?;
    stash.fuse_mount_dir = driver
        .mappers
        .plan(stash.mapper, volume_id, &stash.image_spec())
        .fuse_mount_dir;
    Ok(stash)
}

fn image_spec(record: &CephCsiStash) -> ImageSpec {
    ImageSpec {
        pool: record.pool.clone(),
        namespace: record.rados_namespace.clone(),
        image: record.image.clone(),
    }
}

/// `/dev/rbdN`, `/dev/nbdN` or `/dev/loopN`: what the mappers hand out.
fn is_mapped_device_path(device: &str) -> bool {
    ["/dev/rbd", "/dev/nbd", "/dev/loop"].iter().any(|prefix| {
        device
            .strip_prefix(prefix)
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
    })
}

/// Whether `mount` (at `<staging>/<volume_id>`) is the device `stash` records.
pub async fn is_stash_device(mount: &MountEntry, stash: &Stash) -> Result<bool, NodeError> {
    let Some(device) = &stash.device else {
        return Ok(false);
    };
    let Ok(number) = device_number(device).await else {
        return Ok(false);
    };
    Ok(match stash.access_type {
        AccessKind::Mount => {
            (mount.major, mount.minor) == (number.major, number.minor) && mount.root == "/"
        }
        // A bind of the device node: the node itself says which device it is. Only a plain
        // file system can hold a device node; a FUSE mount is never stat'ed.
        AccessKind::Block => {
            !mount.fs_type.starts_with("fuse")
                && matches!(
                    device::inspect(&mount.mount_point).await?,
                    Ok(PathKind::BlockDevice(d)) if d == number
                )
        }
    })
}

/// The device number of a mapped device path (a block device node).
async fn device_number(device: &str) -> Result<DeviceNumber, NodeError> {
    match device::inspect(Path::new(device)).await? {
        Ok(PathKind::BlockDevice(number)) => Ok(number),
        Ok(PathKind::OnFilesystem(_)) => Err(NodeError::Device {
            step: "device",
            message: format!("{device} is not a block device"),
        }),
        Err(e) => Err(NodeError::io("stat", device, &e)),
    }
}

/// The volume staged at `staging_path` by this plugin, if it is there and mounted.
/// Another volume's stash is NOT_FOUND for this one; a mount at the staged target that is not
/// the recorded device is NOT_FOUND too.
pub async fn staged_at(
    driver: &NodeDriver,
    volume_id: &str,
    staging_path: &Path,
) -> Result<Option<Staged>, NodeError> {
    let target = staged_target(staging_path, volume_id)?;
    let stash = match read_stash(driver, volume_id, staging_path).await {
        Ok(Some(stash)) => stash,
        Ok(None) => return Ok(None),
        Err(NodeError::StashOfOtherVolume { other, .. }) => {
            return Err(not_ours(
                volume_id,
                staging_path,
                format!("staged there is volume {}", csi::quote::quote(&other)),
            ));
        }
        Err(e) => return Err(e),
    };
    let Some(mount) = mountinfo::mount_at(&target).await? else {
        return Ok(None);
    };
    if !is_stash_device(&mount, &stash).await? {
        return Err(not_ours(
            volume_id,
            &target,
            format!("{} is mounted there, not its device", mount.source),
        ));
    }
    Ok(Some(Staged {
        staging_path: staging_path.to_path_buf(),
        stash,
        mount,
    }))
}

/// Proves `path` is `volume_id`'s staged mount or a bind of it (a published target), and
/// returns the stage. `path` may also be the staging directory itself. NOT_FOUND otherwise.
pub async fn find(driver: &NodeDriver, volume_id: &str, path: &Path) -> Result<Staged, NodeError> {
    let entries = mountinfo::read().await?;
    let Some(at) = mountinfo::find(&entries, path) else {
        // The staging directory: the volume is mounted below it.
        if let Some(staged) = staged_at(driver, volume_id, path).await? {
            return Ok(staged);
        }
        return Err(NodeError::PathNotFound {
            volume_id: volume_id.to_string(),
            path: path.to_path_buf(),
        });
    };
    // Every mount of this volume's staged target that shows the same device and root as
    // `path`: a bind shares both with what it binds.
    let candidates = entries.iter().filter(|e| {
        e.mount_point.file_name().is_some_and(|n| n == volume_id)
            && (e.major, e.minor, &e.root) == (at.major, at.minor, &at.root)
            && mountinfo::find(&entries, &e.mount_point).is_some_and(|top| std::ptr::eq(top, *e))
    });
    for candidate in candidates {
        let Some(staging) = candidate.mount_point.parent() else {
            continue;
        };
        match staged_at(driver, volume_id, staging).await {
            Ok(Some(staged)) => return Ok(staged),
            Ok(None) | Err(NodeError::NotOurs { .. } | NodeError::BadStash { .. }) => continue,
            Err(e) => return Err(e),
        }
    }
    Err(not_ours(
        volume_id,
        path,
        format!(
            "{} ({}) is mounted there, and no stage of this volume is",
            at.source, at.fs_type
        ),
    ))
}

pub fn not_ours(volume_id: &str, path: &Path, reason: String) -> NodeError {
    NodeError::NotOurs {
        volume_id: volume_id.to_string(),
        path: path.to_path_buf(),
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_mapped_device_paths_pass() {
        for good in ["/dev/loop3", "/dev/rbd0", "/dev/nbd12"] {
            assert!(is_mapped_device_path(good), "{good}");
        }
        for bad in [
            "/dev/sda",
            "/dev/loop",
            "/dev/loop1/../sda",
            "/etc/shadow",
            "/dev/rbd0p1",
        ] {
            assert!(!is_mapped_device_path(bad), "{bad}");
        }
    }
}
