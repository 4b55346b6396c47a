//! NodePublishVolume / NodeUnpublishVolume: bind the staged subvolume into the pod's target
//! path (read-only when asked, with the capability's mount flags) and take it away again.
//! Many pods on one node share one stage: each gets its own bind of it.
//!
//! Publish binds only a stage this plugin recorded for this volume; unpublish unmounts only a
//! bind of such a stage ([`crate::ownership`]). Anything else at the target is left alone.

use std::path::PathBuf;

use node::NodeError;
use node::access::AccessKind;
use node::mount;
use node::mount::mountinfo;
use node::mount::target::{self, Removal};
use node::ownership::not_ours;

use crate::driver::CephfsNode;
use crate::health;
use crate::mounter::rw;
use crate::ownership;

#[derive(Debug)]
pub struct PublishRequest {
    pub volume_id: String,
    /// Resolved, below kubelet's root, as is `target_path`.
    pub staging_path: PathBuf,
    pub target_path: PathBuf,
    pub read_only: bool,
    /// Checked mount flags of the capability.
    pub flags: Vec<String>,
}

#[derive(Debug)]
pub struct UnpublishRequest {
    pub volume_id: String,
    pub target_path: PathBuf,
}

#[tracing::instrument(skip_all, fields(volume_id = %request.volume_id, target = %request.target_path.display()))]
pub async fn publish(node: &CephfsNode, request: PublishRequest) -> Result<(), NodeError> {
    let key = format!("{}\0{}", request.volume_id, request.target_path.display());
    let _guard = node.locks.try_lock(&request.volume_id, key)?;
    let staged = ownership::staged_at(node, &request.volume_id, &request.staging_path).await?;
    let target = &request.target_path;
    if let Some(at) = mountinfo::mount_at(target).await? {
        let differently = |reason: String| NodeError::PublishedDifferently {
            volume_id: request.volume_id.clone(),
            path: target.clone(),
            reason,
        };
        if (at.major, at.minor, &at.root)
            != (staged.mount.major, staged.mount.minor, &staged.mount.root)
        {
            return Err(differently(format!(
                "{} ({}) is mounted there, not this volume's stage",
                at.source, at.fs_type
            )));
        }
        if at.read_only() != request.read_only {
            return Err(differently(format!(
                "published {}, asked for {}",
                rw(at.read_only()),
                rw(request.read_only),
            )));
        }
        return Ok(());
    }
    target::create(target, AccessKind::Mount).await?;
    mount::bind(
        &staged.record.mount_point,
        target,
        request.read_only,
        &request.flags,
        node.settings.deadlines.command,
    )
    .await?;
    tracing::info!("volume published");
    Ok(())
}

#[tracing::instrument(skip_all, fields(volume_id = %request.volume_id, target = %request.target_path.display()))]
pub async fn unpublish(node: &CephfsNode, request: UnpublishRequest) -> Result<(), NodeError> {
    let key = format!("{}\0{}", request.volume_id, request.target_path.display());
    let _guard = node.locks.try_lock(&request.volume_id, key)?;
    let target = &request.target_path;
    if mountinfo::mount_at(target).await?.is_some() {
        let (staged, at) = ownership::find(node, &request.volume_id, target).await?;
        if at.mount_point == staged.record.mount_point {
            return Err(not_ours(
                &request.volume_id,
                target,
                "it is the volume's staging mount, not a published one".into(),
            ));
        }
        // A stopped ceph-fuse would hang the unmount of the bind: cut it off first.
        health::cut_off_if_stuck(node, &staged.mount, &staged.record.mount_point).await?;
        mount::unmount(target, node.settings.deadlines.command).await?;
    }
    match target::remove(target).await? {
        Removal::Gone => Ok(()),
        Removal::NotEmpty => Err(not_ours(
            &request.volume_id,
            target,
            "nothing is mounted there and it is not empty".into(),
        )),
    }
}
