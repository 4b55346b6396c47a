//! The file system on a freshly mapped device, before NodeStage mounts it: create one only on
//! a blank device, refuse a device holding something else, and grow an ext4 whose device grew
//! while the volume was not staged.

use std::path::Path;
use std::time::Instant;

use crate::driver::NodeDriver;
use crate::error::NodeError;
use crate::filesystem::{self, Content, FsType};

/// mkfs only on a device with no signature at all; a device holding something else than the
/// capability asks for is refused rather than reformatted. `read_only` and `mkfs_options` are
/// the stage request's (its `mkfsOptions`, checked).
pub async fn prepare_filesystem(
    driver: &NodeDriver,
    device: &str,
    fs_type: FsType,
    read_only: bool,
    mkfs_options: Option<&[String]>,
) -> Result<(), NodeError> {
    let deadlines = &driver.settings.deadlines;
    match filesystem::probe(device, deadlines.command).await? {
        Content::Blank if read_only => Err(NodeError::FilesystemMismatch {
            device: device.to_string(),
            found: "nothing (a blank device cannot be formatted read-only)".into(),
            wanted: fs_type.name().into(),
        }),
        Content::Blank => {
            let started = Instant::now();
            fs_type
                .mkfs_command(device, mkfs_options, deadlines.mkfs)
                .run()
                .await?;
            tracing::info!(%device, fs_type = fs_type.name(), took = ?started.elapsed(), "file system created");
            Ok(())
        }
        Content::Filesystem(found) if found == fs_type.name() => {
            if fs_type == FsType::Ext4 && !read_only {
                grow_ext4_offline(driver, device).await?;
            }
            Ok(())
        }
        Content::Filesystem(found) => Err(NodeError::FilesystemMismatch {
            device: device.to_string(),
            found,
            wanted: fs_type.name().into(),
        }),
        Content::PartitionTable(table) => Err(NodeError::FilesystemMismatch {
            device: device.to_string(),
            found: format!("a partition table ({table})"),
            wanted: fs_type.name().into(),
        }),
    }
}

/// Below this, a device larger than its ext4 is not worth a full fsck at every stage (resize2fs
/// may leave a tail too small for a block group unused, and the check would then repeat).
const OFFLINE_GROW_THRESHOLD: u64 = 4 << 20;

/// Grows an ext4 whose device became larger while it was not staged (an offline expansion).
/// Before mounting, resize2fs needs no privilege beyond the device: online growth needs
/// CAP_SYS_RESOURCE, which restricted nodes do not grant. ceph-csi grows at stage too.
async fn grow_ext4_offline(driver: &NodeDriver, device: &str) -> Result<(), NodeError> {
    let deadlines = &driver.settings.deadlines;
    let fs_size = filesystem::ext4_size(device, deadlines.command).await?;
    let device_size = crate::device::size_of_device(device).await?;
    if device_size < fs_size + OFFLINE_GROW_THRESHOLD {
        return Ok(());
    }
    let started = Instant::now();
    let fsck = filesystem::fsck_command(device, deadlines.resize);
    let output = fsck.output().await?;
    // e2fsck: 0 = clean, 1 = errors corrected; anything else needs a human.
    if !matches!(output.code(), Some(0 | 1)) {
        return Err(fsck.failed(&output));
    }
    FsType::Ext4
        .grow_command(device, Path::new(device), deadlines.resize)
        .run()
        .await?;
    tracing::info!(%device, fs_size, device_size, took = ?started.elapsed(), "ext4 grown to its device before mounting");
    Ok(())
}
