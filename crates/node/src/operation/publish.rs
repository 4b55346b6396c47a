//! NodePublishVolume / NodeUnpublishVolume: bind the staged volume into the pod's target path
//! (read-only when asked) and take it away again.
//!
//! Publish binds only a stage this plugin made for this volume; unpublish unmounts only a bind
//! of such a stage ([`crate::ownership`]). Anything else at the target is someone else's and
//! is left alone.

use std::path::PathBuf;

use crate::access::Access;
use crate::driver::NodeDriver;
use crate::error::NodeError;
use crate::mount;
use crate::mount::mountinfo;
use crate::mount::target::{self, Removal};
use crate::ownership;

#[derive(Debug)]
pub struct PublishRequest {
    pub volume_id: String,
    /// Resolved, below kubelet's root ([`crate::checks::kubelet_paths`]), as is `target_path`.
    pub staging_path: PathBuf,
    pub target_path: PathBuf,
    pub access: Access,
    pub read_only: bool,
}

#[derive(Debug)]
pub struct UnpublishRequest {
    pub volume_id: String,
    /// Resolved, below kubelet's root ([`crate::checks::kubelet_paths`]).
    pub target_path: PathBuf,
}

#[tracing::instrument(skip_all, fields(volume_id = %request.volume_id, target = %request.target_path.display()))]
pub async fn publish(driver: &NodeDriver, request: PublishRequest) -> Result<(), NodeError> {
    // Per volume *and* target: two pods may publish one volume at once, one target may not.
    let _guard = driver.locks.try_lock(
        &request.volume_id,
        format!("{}@{}", request.volume_id, request.target_path.display()),
    )?;
    let Some(staged) =
        ownership::staged_at(driver, &request.volume_id, &request.staging_path).await?
    else {
        return Err(NodeError::NotStaged {
            volume_id: request.volume_id.clone(),
            path: request.staging_path.clone(),
        });
    };
    let source = staged.mount.mount_point.clone();
    if let Some(existing) = mountinfo::mount_at(&request.target_path).await? {
        let differently = |reason: String| NodeError::PublishedDifferently {
            volume_id: request.volume_id.clone(),
            path: request.target_path.clone(),
            reason,
        };
        let staged = &staged.mount;
        if (existing.major, existing.minor, &existing.root)
            != (staged.major, staged.minor, &staged.root)
        {
            return Err(differently(format!("{} is mounted there", existing.source)));
        }
        if existing.read_only() != request.read_only {
            return Err(differently(format!(
                "mounted {}",
                if existing.read_only() {
                    "read-only"
                } else {
                    "read-write"
                }
            )));
        }
        return Ok(());
    }
    let command = driver.settings.deadlines.command;
    let created = !target::exists(&request.target_path).await?;
    target::create(&request.target_path, request.access.kind()).await?;
    if let Err(e) = mount::bind(
        &source,
        &request.target_path,
        request.read_only,
        request.access.flags(),
        command,
    )
    .await
    {
        // `bind` leaves nothing mounted on failure; a target that was there before is kept.
        if created {
            let _ = target::remove(&request.target_path).await;
        }
        return Err(e);
    }
    tracing::info!("volume published");
    Ok(())
}

#[tracing::instrument(skip_all, fields(volume_id = %request.volume_id, target = %request.target_path.display()))]
pub async fn unpublish(driver: &NodeDriver, request: UnpublishRequest) -> Result<(), NodeError> {
    let _guard = driver.locks.try_lock(
        &request.volume_id,
        format!("{}@{}", request.volume_id, request.target_path.display()),
    )?;
    let target = &request.target_path;
    if mountinfo::is_mount_point(target).await? {
        // Only a bind of this volume's own stage is unmounted.
        ownership::find(driver, &request.volume_id, target).await?;
        mount::unmount(target, driver.settings.deadlines.command).await?;
    }
    match target::remove(target).await? {
        Removal::Gone => {
            tracing::info!("volume unpublished");
            Ok(())
        }
        Removal::NotEmpty => Err(ownership::not_ours(
            &request.volume_id,
            target,
            "nothing is mounted there and it is not empty".into(),
        )),
    }
}
