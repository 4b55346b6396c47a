//! NodeUnstageVolume, and the teardown a failed NodeStage runs: cut off a dead or stuck
//! ceph-fuse, unmount, wait for the daemon to exit, remove the mount point, remove the record.
//! Each step treats "already gone" as done, so running it again after a crash anywhere in
//! between finishes the job. Only a stage this plugin recorded for this volume is touched.

use std::path::PathBuf;
use std::time::Instant;

use node::NodeError;
use node::access::staged_target;
use node::mount;
use node::mount::mountinfo;
use node::mount::target::{self, Removal};
use node::ownership::not_ours;

use crate::driver::CephfsNode;
use crate::health;
use crate::mounter::Mounter;
use crate::ownership::{self, is_recorded_mount};
use crate::record::StageRecord;

#[derive(Debug)]
pub struct UnstageRequest {
    pub volume_id: String,
    /// Resolved, below kubelet's root.
    pub staging_path: PathBuf,
}

#[tracing::instrument(skip_all, fields(volume_id = %request.volume_id))]
pub async fn unstage(node: &CephfsNode, request: UnstageRequest) -> Result<(), NodeError> {
    let _guard = node.locks.lock_volume(&request.volume_id)?;
    let volume_id = &request.volume_id;
    let mount_point = staged_target(&request.staging_path, volume_id)?;
    let mounted = mountinfo::mount_at(&mount_point).await?;
    let record = match ownership::record_at(node, volume_id, &request.staging_path).await? {
        Ok(Some(record)) => record,
        // Nothing of this volume was staged here (or it is unstaged already; another
        // volume's record does not make this one staged).
        Ok(None) | Err(_) => {
            return match mounted {
                None => Ok(()),
                Some(mount) => Err(not_ours(
                    volume_id,
                    &mount_point,
                    format!(
                        "{} ({}) is mounted there, but this plugin staged nothing",
                        mount.source, mount.fs_type
                    ),
                )),
            };
        }
    };
    if let Some(mount) = &mounted
        && !is_recorded_mount(mount, &record)
    {
        return Err(not_ours(
            volume_id,
            &mount_point,
            format!(
                "{} ({}) is mounted there, not the stage it recorded",
                mount.source, mount.fs_type
            ),
        ));
    }
    let started = Instant::now();
    teardown(node, &record).await?;
    tracing::info!(took = ?started.elapsed(), "volume unstaged");
    Ok(())
}

/// Undoes the stage `record` describes, complete or not. The caller has made sure what is at
/// its mount point is that stage (or nothing).
pub async fn teardown(node: &CephfsNode, record: &StageRecord) -> Result<(), NodeError> {
    let deadlines = &node.settings.deadlines;
    let mount_point = &record.mount_point;
    if let Some(mount) = mountinfo::mount_at(mount_point).await? {
        health::cut_off_if_stuck(node, &mount, mount_point).await?;
        if let Err(error) = mount::unmount(mount_point, deadlines.unmount).await {
            tracing::warn!(%error, mount = %mount_point.display(), "the stage did not unmount; detaching it lazily");
            mount::unmount_lazy(mount_point, deadlines.command).await?;
        }
    }
    if record.mounter == Mounter::Fuse {
        health::wait_daemons_gone(node, mount_point).await?;
    }
    if target::remove(mount_point).await? == Removal::NotEmpty {
        tracing::warn!(mount = %mount_point.display(), "mount point left in place: it is not empty");
    }
    node.records.remove(&record.staging_path).await
}
