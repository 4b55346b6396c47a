//! NodeGetVolumeStats: capacity and inodes of a mounted volume (statvfs), the size of a block
//! volume, and a VolumeCondition that turns abnormal when the mount or the device behind it
//! is dead, so kubelet can report it on the pod. Only for a path that is this volume's own
//! ([`crate::ownership`]): anything else is NOT_FOUND, never `stat`ed or reported on.

use std::path::{Path, PathBuf};

use crate::device::{self, PathKind};
use crate::driver::NodeDriver;
use crate::error::NodeError;
use crate::health;
use crate::ownership;
use crate::syscall;

#[derive(Debug)]
pub struct StatsRequest {
    pub volume_id: String,
    pub volume_path: PathBuf,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Usage {
    pub total: u64,
    pub available: u64,
    pub used: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VolumeStats {
    /// Bytes; for a block volume only `total` is known (no file system to ask).
    pub bytes: Option<Usage>,
    pub inodes: Option<Usage>,
    /// `Some(message)` when the volume is not healthy.
    pub abnormal: Option<String>,
}

impl VolumeStats {
    fn abnormal(message: String) -> Self {
        Self {
            abnormal: Some(message),
            ..Self::default()
        }
    }
}

#[tracing::instrument(skip_all, fields(volume_id = %request.volume_id, path = %request.volume_path.display()))]
pub async fn stats(driver: &NodeDriver, request: StatsRequest) -> Result<VolumeStats, NodeError> {
    let path = &request.volume_path;
    // Only this volume's own mounts are reported on (found from the mount table, so a dead
    // mount of ours is still recognised, and reported abnormal below).
    ownership::find(driver, &request.volume_id, path).await?;
    let kind = match device::inspect(path).await? {
        Ok(kind) => kind,
        // ENOTCONN, EIO, ESTALE: the path is there, the volume behind it is not.
        Err(e) => return Ok(VolumeStats::abnormal(format!("{}: {e}", path.display()))),
    };
    let stats = match kind {
        PathKind::BlockDevice(dev) => {
            let total = dev.size().await?;
            VolumeStats {
                bytes: Some(Usage {
                    total,
                    ..Usage::default()
                }),
                inodes: None,
                abnormal: health::device_problem(dev).await?,
            }
        }
        PathKind::OnFilesystem(dev) => {
            let (bytes, inodes) = match statvfs(path).await? {
                Ok(usage) => usage,
                Err(e) => {
                    return Ok(VolumeStats::abnormal(format!(
                        "statfs {}: {e}",
                        path.display()
                    )));
                }
            };
            VolumeStats {
                bytes: Some(bytes),
                inodes: Some(inodes),
                abnormal: health::device_problem(dev).await?,
            }
        }
    };
    Ok(with_recovery(driver, &request.volume_id, stats))
}

/// A volume start-up recovery could not bring back is abnormal until it is unstaged, even
/// where the device still looks alive (an nbd device waits quietly for a daemon).
fn with_recovery(driver: &NodeDriver, volume_id: &str, mut stats: VolumeStats) -> VolumeStats {
    if stats.abnormal.is_none()
        && let Some(why) = driver.recovery.lost(volume_id)
    {
        stats.abnormal = Some(format!("not recovered when the plugin restarted: {why}"));
    }
    stats
}

async fn statvfs(path: &Path) -> Result<std::io::Result<(Usage, Usage)>, NodeError> {
    let owned = path.to_path_buf();
    syscall::blocking_raw("statfs", path, move || {
        let s = rustix::fs::statvfs(&owned).map_err(std::io::Error::from)?;
        let bytes = Usage {
            total: s.f_blocks * s.f_frsize,
            available: s.f_bavail * s.f_frsize,
            used: s.f_blocks.saturating_sub(s.f_bfree) * s.f_frsize,
        };
        let inodes = Usage {
            total: s.f_files,
            available: s.f_ffree,
            used: s.f_files.saturating_sub(s.f_ffree),
        };
        Ok((bytes, inodes))
    })
    .await
}
