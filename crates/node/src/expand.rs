//! NodeExpandVolume: after the controller grew the image, make the device show the new size
//! and grow the mounted file system online. Works from the published path alone (kubelet and
//! csi-sanity may not send the staging path): the device is found from the mount, and a loop
//! device's rbd-fuse mount from sysfs.

use std::path::PathBuf;
use std::time::Instant;

use crate::device::{self, DeviceNumber, PathKind};
use crate::driver::NodeDriver;
use crate::error::NodeError;
use crate::filesystem::FsType;
use crate::health;
use crate::mapper::{ImageSpec, MapperKind, Mapping};
use crate::mountinfo;
use crate::stash;

#[derive(Debug)]
pub struct ExpandRequest {
    pub volume_id: String,
    pub volume_path: PathBuf,
    pub staging_path: Option<PathBuf>,
    /// capacity_range.required_bytes, when the CO sent it.
    pub required_bytes: Option<u64>,
}

/// Returns the device's size after the expansion.
#[tracing::instrument(skip_all, fields(volume_id = %request.volume_id, path = %request.volume_path.display()))]
pub async fn expand(driver: &NodeDriver, request: ExpandRequest) -> Result<u64, NodeError> {
    let _guard = driver.locks.lock_volume(&request.volume_id)?;
    let started = Instant::now();
    let not_found = || NodeError::PathNotFound {
        volume_id: request.volume_id.clone(),
        path: request.volume_path.clone(),
    };
    let kind = match device::inspect(&request.volume_path).await? {
        Ok(kind) => kind,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(not_found()),
        Err(e) => return Err(NodeError::io("stat", &request.volume_path, &e)),
    };
    let (dev, filesystem) = match kind {
        PathKind::BlockDevice(dev) => (dev, None),
        PathKind::OnFilesystem(_) => {
            let Some(mount) = mountinfo::mount_at(&request.volume_path).await? else {
                return Err(NodeError::NotStaged {
                    volume_id: request.volume_id.clone(),
                    path: request.volume_path.clone(),
                });
            };
            let dev = DeviceNumber {
                major: mount.major,
                minor: mount.minor,
            };
            (
                dev,
                Some(
                    FsType::parse(&mount.fs_type).map_err(|_| NodeError::Device {
                        step: "expand",
                        message: format!("cannot grow a {} file system", mount.fs_type),
                    })?,
                ),
            )
        }
    };

    refresh_device(driver, &request, dev).await?;
    let dev_path = dev.dev_path().await?;
    if let Some(fs_type) = filesystem {
        let grow = fs_type.grow_command(
            &dev_path,
            &request.volume_path,
            driver.settings.deadlines.resize,
        );
        let output = grow.output().await?;
        if !output.status.success() {
            // The kernel refuses online ext4 growth without CAP_SYS_RESOURCE (EPERM); say so
            // instead of passing on resize2fs' bare "Permission denied".
            if fs_type == FsType::Ext4 && !has_cap_sys_resource() {
                return Err(NodeError::MissingPrivilege {
                    step: "grow a mounted ext4",
                    capability: "CAP_SYS_RESOURCE",
                    detail: format!(
                        "{} (it is grown at the next stage instead)",
                        grow.failed(&output)
                    ),
                });
            }
            return Err(grow.failed(&output));
        }
    }
    let size = dev.size().await?;
    tracing::info!(%dev_path, size, took = ?started.elapsed(), "volume expanded");
    Ok(size)
}

/// CAP_SYS_RESOURCE (bit 24) in this process' effective set.
fn has_cap_sys_resource() -> bool {
    const CAP_SYS_RESOURCE: u32 = 24;
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("CapEff:"))
                .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
        })
        .is_some_and(|caps| caps & (1 << CAP_SYS_RESOURCE) != 0)
}

/// Has the mapper make the device follow the image's size. The stash says which mapper when
/// the staging path is known; without it, a loop device is recognised from sysfs (krbd and
/// rbd-nbd follow resizes on their own).
async fn refresh_device(
    driver: &NodeDriver,
    request: &ExpandRequest,
    dev: DeviceNumber,
) -> Result<(), NodeError> {
    if let Some(staging) = &request.staging_path
        && let Some(stash) = stash::read(&stash::path(staging)).await?
        && stash.volume_id == request.volume_id
    {
        let mapping = Mapping {
            image: stash.image_spec(),
            device: stash.device.clone(),
            fuse_mount_dir: stash.fuse_mount_dir.clone(),
        };
        return driver
            .mappers
            .refresh_size(stash.mapper, &mapping, request.required_bytes)
            .await;
    }
    let Some((dev_path, file)) = health::loop_backing_file(dev).await? else {
        return Ok(());
    };
    let (Some(dir), Some(image)) = (file.parent(), file.file_name()) else {
        return Ok(());
    };
    let mapping = Mapping {
        image: ImageSpec {
            pool: String::new(),
            namespace: String::new(),
            image: image.to_string_lossy().into_owned(),
        },
        device: Some(dev_path),
        fuse_mount_dir: Some(dir.to_path_buf()),
    };
    driver
        .mappers
        .refresh_size(MapperKind::Fuse, &mapping, request.required_bytes)
        .await
}
