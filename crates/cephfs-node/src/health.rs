//! Is a staged CephFS mount alive, and cutting it off when it is not.
//!
//! A ceph-fuse daemon that is stopped (SIGSTOP) leaves every `statfs`, `stat` and `umount(8)`
//! of its mount waiting in the kernel for good; one that was killed leaves a mount that
//! answers ENOTCONN. So the daemon's state is read from /proc first (no call into the mount at
//! all), and only a daemon that looks alive is asked, with a deadline; a call that misses it
//! is abandoned, not awaited. Teardown aborts the FUSE connection of a dead or stuck mount
//! ([`node::mount::fuse_connection`]) before unmounting, so nothing above it hangs.

use std::path::Path;
use std::time::Duration;

use node::NodeError;
use node::health::stats_gate::Usage;
use node::mount::fuse_connection::{self, Daemon};
use node::mount::mountinfo::MountEntry;
use node::syscall;

use crate::driver::CephfsNode;
use crate::mounter::Mounter;

/// The ceph-fuse program name, as it appears in `/proc/<pid>/cmdline`.
pub const CEPH_FUSE: &str = "ceph-fuse";

/// What `statfs` of a mount found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probe {
    /// Bytes and inodes.
    Answers(Usage, Usage),
    /// Why the mount is not usable.
    Abnormal(String),
}

/// The ceph-fuse daemons serving the mount at `mount_point`.
pub async fn daemons(mount_point: &Path) -> Result<Vec<Daemon>, NodeError> {
    fuse_connection::daemons_serving(CEPH_FUSE, mount_point).await
}

/// Why a ceph-fuse mount cannot answer, found without touching the mount; `None` when its
/// daemon is running.
pub async fn daemon_problem(mount_point: &Path) -> Result<Option<String>, NodeError> {
    let daemons = daemons(mount_point).await?;
    Ok(if daemons.is_empty() {
        Some("no ceph-fuse daemon serves it (killed or crashed)".into())
    } else if daemons.iter().any(Daemon::is_stopped_or_dead) {
        Some(format!("its ceph-fuse daemon is stopped ({daemons:?})"))
    } else {
        None
    })
}

/// The health and usage of the mount at `path` (a staged mount or a bind of one) made by
/// `mounter` at `mount_point`.
pub async fn probe(
    node: &CephfsNode,
    mounter: Mounter,
    mount_point: &Path,
    path: &Path,
) -> Result<Probe, NodeError> {
    if mounter == Mounter::Fuse
        && let Some(problem) = daemon_problem(mount_point).await?
    {
        return Ok(Probe::Abnormal(problem));
    }
    Ok(match statvfs(path, node.settings.deadlines.probe).await {
        Ok(Ok((bytes, inodes))) => Probe::Answers(bytes, inodes),
        Ok(Err(e)) => Probe::Abnormal(format!("statfs {}: {e}", path.display())),
        Err(NodeError::IoTimedOut { after, .. }) => Probe::Abnormal(format!(
            "the mount does not answer: statfs took longer than {after:?}"
        )),
        Err(e) => return Err(e),
    })
}

async fn statvfs(
    path: &Path,
    deadline: Duration,
) -> Result<std::io::Result<(Usage, Usage)>, NodeError> {
    let owned = path.to_path_buf();
    syscall::blocking_raw_within("statfs", path, deadline, move || {
        let s = rustix::fs::statvfs(&owned).map_err(std::io::Error::from)?;
        let bytes = Usage {
            total: s.f_blocks * s.f_frsize,
            available: s.f_bavail * s.f_frsize,
            used: s.f_blocks.saturating_sub(s.f_bfree) * s.f_frsize,
        };
        // ceph-fuse reports f_ffree as -1 (unknown): no inode is then counted as free.
        let free = if s.f_ffree > s.f_files { 0 } else { s.f_ffree };
        let inodes = Usage {
            total: s.f_files,
            available: free,
            used: s.f_files.saturating_sub(free),
        };
        Ok((bytes, inodes))
    })
    .await
}

/// Aborts the FUSE connection of `mount` (a ceph-fuse mount at `mount_point`) and kills its
/// daemon when the daemon is gone, stopped or does not answer; a healthy one is left alone.
pub async fn cut_off_if_stuck(
    node: &CephfsNode,
    mount: &MountEntry,
    mount_point: &Path,
) -> Result<(), NodeError> {
    if !mount.fs_type.starts_with("fuse") {
        return Ok(());
    }
    let why = match probe(node, Mounter::Fuse, mount_point, mount_point).await? {
        Probe::Answers(..) => return Ok(()),
        Probe::Abnormal(why) => why,
    };
    let daemons = daemons(mount_point).await?;
    tracing::warn!(mount = %mount_point.display(), %why, ?daemons, "cutting off the ceph-fuse mount");
    fuse_connection::abort(mount, &node.fusectl_dir(), node.settings.deadlines.command).await?;
    fuse_connection::kill(&daemons);
    Ok(())
}

/// Waits (within the unmount deadline) until no ceph-fuse serves `mount_point` any more — it
/// exits by itself once unmounted — and kills what is left after that.
pub async fn wait_daemons_gone(node: &CephfsNode, mount_point: &Path) -> Result<(), NodeError> {
    let give_up = tokio::time::Instant::now() + node.settings.deadlines.unmount;
    loop {
        let left = daemons(mount_point).await?;
        if left.is_empty() {
            return Ok(());
        }
        if tokio::time::Instant::now() >= give_up {
            tracing::warn!(mount = %mount_point.display(), daemons = ?left, "ceph-fuse still running after unmount; killing it");
            fuse_connection::kill(&left);
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
