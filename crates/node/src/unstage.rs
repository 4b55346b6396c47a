//! NodeUnstageVolume, and the teardown NodeStage runs when it fails: unmount the staging
//! target, remove it, unmap what the stash records, remove the stash. Each step treats "already
//! gone" as done, so running it again after a crash anywhere in between finishes the job.

use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::access::staged_target;
use crate::driver::NodeDriver;
use crate::error::NodeError;
use crate::mapper::Mapping;
use crate::mount;
use crate::stash::{self, Stash};
use crate::target;

#[derive(Debug)]
pub struct UnstageRequest {
    pub volume_id: String,
    pub staging_path: PathBuf,
}

#[tracing::instrument(skip_all, fields(volume_id = %request.volume_id))]
pub async fn unstage(driver: &NodeDriver, request: UnstageRequest) -> Result<(), NodeError> {
    let _guard = driver.locks.lock_volume(&request.volume_id)?;
    let target = staged_target(&request.staging_path, &request.volume_id)?;
    let stash_path = stash::path(&request.staging_path);
    let stash = stash::read(&stash_path).await?;
    let started = Instant::now();
    teardown(driver, &request.volume_id, &target, &stash_path, stash).await?;
    tracing::info!(took = ?started.elapsed(), "volume unstaged");
    Ok(())
}

/// Undoes a stage, complete or not, as far as `stash` records it.
pub async fn teardown(
    driver: &NodeDriver,
    volume_id: &str,
    target: &Path,
    stash_path: &Path,
    stash: Option<Stash>,
) -> Result<(), NodeError> {
    if let Some(stash) = &stash
        && stash.volume_id != volume_id
    {
        // Never unmap another volume's image because its stash sits where ours should.
        return Err(NodeError::StashOfOtherVolume {
            volume_id: volume_id.to_string(),
            other: stash.volume_id.clone(),
            path: stash_path.to_path_buf(),
        });
    }
    let deadlines = &driver.settings.deadlines;
    mount::unmount(target, deadlines.command).await?;
    target::remove(target).await?;
    let Some(stash) = stash else {
        return Ok(());
    };
    let mapping = Mapping {
        image: stash.image_spec(),
        device: stash.device.clone(),
        fuse_mount_dir: stash.fuse_mount_dir.clone(),
    };
    driver.mappers.unmap(stash.mapper, &mapping).await?;
    stash::remove(stash_path).await
}
