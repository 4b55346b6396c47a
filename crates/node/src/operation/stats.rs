//! NodeGetVolumeStats: capacity and inodes of a mounted volume (statvfs), the size of a block
//! volume, and a VolumeCondition that turns abnormal when the mount or the device behind it
//! is dead, so kubelet can report it on the pod. Only for a path that is this volume's own
//! ([`crate::ownership`]): anything else is NOT_FOUND, never `stat`ed or reported on.
//!
//! The measurement (every call that can block in the kernel on a dead mount) runs as one
//! blocking task, at most one per volume at a time ([`crate::health::stats_gate`]): a call that finds
//! one still in the kernel, or whose own misses the deadline, answers from the last
//! measurement that came back, abnormal.

use std::path::{Path, PathBuf};

use crate::device::{self, PathKind};
use crate::driver::NodeDriver;
use crate::error::NodeError;
use crate::health;
use crate::health::stats_gate::{Admission, Hung, Ticket, Usage, VolumeStats};
use crate::ownership;
use crate::syscall;

#[derive(Debug)]
pub struct StatsRequest {
    pub volume_id: String,
    pub volume_path: PathBuf,
}

#[tracing::instrument(skip_all, fields(volume_id = %request.volume_id, path = %request.volume_path.display()))]
pub async fn stats(driver: &NodeDriver, request: StatsRequest) -> Result<VolumeStats, NodeError> {
    let path = &request.volume_path;
    let volume_id = &request.volume_id;
    // Only this volume's own mounts are reported on (found from the mount table, so a dead
    // mount of ours is still recognised, and reported abnormal below).
    ownership::find(driver, volume_id, path).await?;
    let stats = match driver.stats_gate.admit(volume_id) {
        Admission::Busy(hung) => hung.answer(path),
        Admission::Measure(ticket) => {
            let since = ticket.since();
            let owned = path.clone();
            let measured = syscall::blocking_raw_within(
                "statfs",
                path,
                driver.settings.deadlines.command,
                move || Ok(measure(&owned, ticket)),
            )
            .await;
            match measured {
                Ok(Ok(result)) => result?,
                Ok(Err(e)) => return Err(NodeError::io("statfs", path, &e)),
                // Still in the kernel, holding the volume's slot.
                Err(NodeError::IoTimedOut { .. }) => Hung {
                    since,
                    last: driver.stats_gate.last(volume_id),
                }
                .answer(path),
                Err(e) => return Err(e),
            }
        }
    };
    Ok(with_recovery(driver, volume_id, stats))
}

/// Measures the volume at `path` on this (blocking) thread and keeps the result as the
/// volume's last; `ticket` holds the volume's slot until this returns.
fn measure(path: &Path, ticket: Ticket) -> Result<VolumeStats, NodeError> {
    let kind = match device::inspect_now(path) {
        Ok(kind) => kind,
        // ENOTCONN, EIO, ESTALE: the path is there, the volume behind it is not.
        Err(e) => return Ok(VolumeStats::abnormal(format!("{}: {e}", path.display()))),
    };
    let stats = match kind {
        PathKind::BlockDevice(dev) => VolumeStats {
            bytes: Some(Usage {
                total: dev.size_now()?,
                ..Usage::default()
            }),
            inodes: None,
            abnormal: health::device_problem(dev)?,
        },
        PathKind::OnFilesystem(dev) => match statvfs(path) {
            Ok((bytes, inodes)) => VolumeStats {
                bytes: Some(bytes),
                inodes: Some(inodes),
                abnormal: health::device_problem(dev)?,
            },
            Err(e) => VolumeStats::abnormal(format!("statfs {}: {e}", path.display())),
        },
    };
    ticket.record(&stats);
    Ok(stats)
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

fn statvfs(path: &Path) -> std::io::Result<(Usage, Usage)> {
    let s = rustix::fs::statvfs(path).map_err(std::io::Error::from)?;
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
}
