//! NodeExpandVolume: after the controller grew the image, make the device show the new size
//! and grow the mounted file system online. Works from the published path alone (kubelet and
//! csi-sanity may not send the staging path): the path is proven to be this volume's stage or
//! a bind of it ([`crate::ownership`]), which also yields the stage record, so the mapper, the
//! device and the file system are the ones this plugin staged, never what happens to be
//! mounted at the path.
//!
//! The size is checked before anything is grown: asked for more than the device holds even
//! after a refresh (the image was not grown that far), the answer is OUT_OF_RANGE at once.

use std::path::PathBuf;
use std::time::Instant;

use crate::driver::NodeDriver;
use crate::error::NodeError;
use crate::filesystem::FsType;
use crate::ownership;

#[derive(Debug)]
pub struct ExpandRequest {
    pub volume_id: String,
    /// Resolved, below kubelet's root ([`crate::checks::kubelet_paths`]).
    pub volume_path: PathBuf,
    /// capacity_range.required_bytes, when the CO sent it.
    pub required_bytes: Option<u64>,
}

/// Returns the device's size after the expansion.
#[tracing::instrument(skip_all, fields(volume_id = %request.volume_id, path = %request.volume_path.display()))]
pub async fn expand(driver: &NodeDriver, request: ExpandRequest) -> Result<u64, NodeError> {
    let _guard = driver.locks.lock_volume(&request.volume_id)?;
    let started = Instant::now();
    let staged = ownership::find(driver, &request.volume_id, &request.volume_path).await?;
    let stash = &staged.stash;
    let dev = staged.device().await?;

    driver
        .mappers
        .refresh_size(stash.mapper, &stash.mapping(), request.required_bytes)
        .await?;
    let available = dev.size().await?;
    if let Some(required) = request.required_bytes
        && required > available
    {
        return Err(NodeError::BeyondDevice {
            volume_id: request.volume_id.clone(),
            required,
            available,
        });
    }
    let dev_path = dev.dev_path().await?;
    if let Some(fs_type) = stash.fs_type {
        // xfs_growfs takes a mount point: the staged mount, which the proof found.
        let grow = fs_type.grow_command(
            &dev_path,
            &staged.mount.mount_point,
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
