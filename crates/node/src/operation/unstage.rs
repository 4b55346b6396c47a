//! NodeUnstageVolume, and the teardown NodeStage runs when it fails: unmount the staging
//! target, remove it, unmap what the stash records, remove the stash. Each step treats "already
//! gone" as done, so running it again after a crash anywhere in between finishes the job.
//!
//! NodeUnstage touches only a stage this plugin made for this volume ([`crate::ownership`]):
//! no stash means nothing of ours is there (the stash is written before anything else and
//! removed last), so a mount found without one is someone else's and answers NOT_FOUND.

use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::access::staged_target;
use crate::driver::NodeDriver;
use crate::error::NodeError;
use crate::mount;
use crate::mount::mountinfo;
use crate::mount::target::{self, Removal};
use crate::ownership;
use crate::stash::{self, Stash};

#[derive(Debug)]
pub struct UnstageRequest {
    pub volume_id: String,
    /// Resolved, below kubelet's root ([`crate::checks::kubelet_paths`]).
    pub staging_path: PathBuf,
}

#[tracing::instrument(skip_all, fields(volume_id = %request.volume_id))]
pub async fn unstage(driver: &NodeDriver, request: UnstageRequest) -> Result<(), NodeError> {
    let _guard = driver.locks.lock_volume(&request.volume_id)?;
    let volume_id = &request.volume_id;
    let target = staged_target(&request.staging_path, volume_id)?;
    let stash_path = stash::path(&request.staging_path);
    let mounted = mountinfo::mount_at(&target).await?;
    let stash = match ownership::read_stash(driver, volume_id, &request.staging_path).await {
        Ok(Some(stash)) => stash,
        Ok(None) => {
            return match mounted {
                // Already unstaged (or never staged): done, and nothing is touched.
                None => Ok(()),
                Some(mount) => Err(ownership::not_ours(
                    volume_id,
                    &target,
                    format!(
                        "{} is mounted there, but this plugin staged nothing",
                        mount.source
                    ),
                )),
            };
        }
        Err(NodeError::StashOfOtherVolume { other, .. }) => {
            return Err(ownership::not_ours(
                volume_id,
                &request.staging_path,
                format!("it holds the stage of volume {}", csi::quote::quote(&other)),
            ));
        }
        Err(e) => return Err(e),
    };
    if let Some(mount) = &mounted
        && !ownership::is_stash_device(mount, &stash).await?
    {
        return Err(ownership::not_ours(
            volume_id,
            &target,
            format!(
                "{} is mounted there, not the device it was staged on",
                mount.source
            ),
        ));
    }
    let started = Instant::now();
    teardown(driver, volume_id, &target, &stash_path, Some(stash)).await?;
    driver.recovery.forget(volume_id);
    driver.stats_gate.forget(volume_id);
    tracing::info!(took = ?started.elapsed(), "volume unstaged");
    Ok(())
}

/// Undoes a stage, complete or not, as far as `stash` records it. The caller has made sure
/// what is at `target` is that stage's.
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
    if let Some(stash) = &stash {
        // A stuck rbd-fuse under the file system would hang its unmount: cut it off first.
        driver
            .mappers
            .cut_off_if_stuck(stash.mapper, &stash.mapping())
            .await?;
    }
    mount::unmount(target, deadlines.command).await?;
    if target::remove(target).await? == Removal::NotEmpty {
        tracing::warn!(target = %target.display(), "staging target left in place: it is not empty");
    }
    let Some(stash) = stash else {
        return Ok(());
    };
    driver.mappers.unmap(stash.mapper, &stash.mapping()).await?;
    stash::remove(stash_path).await
}
