//! NodePublishVolume / NodeUnpublishVolume: bind the staged volume into the pod's target path
//! (read-only when asked) and take it away again.

use std::path::PathBuf;

use crate::access::{Access, staged_target};
use crate::driver::NodeDriver;
use crate::error::NodeError;
use crate::mount;
use crate::mountinfo;
use crate::target;

#[derive(Debug)]
pub struct PublishRequest {
    pub volume_id: String,
    pub staging_path: PathBuf,
    pub target_path: PathBuf,
    pub access: Access,
    pub read_only: bool,
}

#[derive(Debug)]
pub struct UnpublishRequest {
    pub volume_id: String,
    pub target_path: PathBuf,
}

#[tracing::instrument(skip_all, fields(volume_id = %request.volume_id, target = %request.target_path.display()))]
pub async fn publish(driver: &NodeDriver, request: PublishRequest) -> Result<(), NodeError> {
    // Per volume *and* target: two pods may publish one volume at once, one target may not.
    let _guard = driver.locks.try_lock(
        &request.volume_id,
        format!("{}@{}", request.volume_id, request.target_path.display()),
    )?;
    let source = staged_target(&request.staging_path, &request.volume_id)?;
    let Some(staged) = mountinfo::mount_at(&source).await? else {
        return Err(NodeError::NotStaged {
            volume_id: request.volume_id.clone(),
            path: source,
        });
    };
    if let Some(existing) = mountinfo::mount_at(&request.target_path).await? {
        let differently = |reason: String| NodeError::PublishedDifferently {
            volume_id: request.volume_id.clone(),
            path: request.target_path.clone(),
            reason,
        };
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
        let _ = mount::unmount(&request.target_path, command).await;
        let _ = target::remove(&request.target_path).await;
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
    if !target::exists(&request.target_path).await?
        && !mountinfo::is_mount_point(&request.target_path).await?
    {
        return Ok(());
    }
    mount::unmount(&request.target_path, driver.settings.deadlines.command).await?;
    target::remove(&request.target_path).await?;
    tracing::info!("volume unpublished");
    Ok(())
}
