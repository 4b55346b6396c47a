//! What the story could leave on the node: mounts under the demo's kubelet directory or of
//! its volumes (the rbd-fuse mounts are named by volume ID), loop devices over its volumes'
//! images, and rbd-fuse processes serving them. Empty means the node is as before the story.

use std::path::Path;
use std::time::Duration;

use crate::error::Result;
use crate::on_node::mounted::{loop_devices, mount_table, rbd_fuse_processes};
use crate::world::Attachment;

/// How long an rbd-fuse daemon may take to exit after its mount is gone.
const FUSE_EXIT_GRACE: Duration = Duration::from_secs(10);
const POLL: Duration = Duration::from_millis(200);

/// Everything found, one line each, by kind.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodeLeftovers {
    pub mounts: Vec<String>,
    pub loop_devices: Vec<String>,
    pub rbd_fuse: Vec<String>,
}

impl NodeLeftovers {
    pub fn is_empty(&self) -> bool {
        self.mounts.is_empty() && self.loop_devices.is_empty() && self.rbd_fuse.is_empty()
    }

    /// Every leftover, one line each.
    pub fn lines(&self) -> Vec<String> {
        self.mounts
            .iter()
            .map(|m| format!("mount: {m}"))
            .chain(
                self.loop_devices
                    .iter()
                    .map(|l| format!("loop device: {l}")),
            )
            .chain(self.rbd_fuse.iter().map(|p| format!("rbd-fuse: {p}")))
            .collect()
    }
}

/// Looks once for what `attachments` could have left, under `kubelet_root` and anywhere.
pub(crate) async fn scan(kubelet_root: &Path, attachments: &[Attachment]) -> Result<NodeLeftovers> {
    let ours = |text: &str| {
        attachments.iter().any(|a| {
            text.contains(&a.volume_id)
                || (!a.image_name().is_empty() && text.contains(a.image_name()))
        })
    };
    let mounts = mount_table()
        .await?
        .into_iter()
        .filter(|m| {
            m.mount_point.starts_with(kubelet_root) || ours(&m.mount_point.to_string_lossy())
        })
        .map(|m| {
            format!(
                "{} on {} type {}",
                m.source,
                m.mount_point.display(),
                m.fs_type
            )
        })
        .collect();
    let loop_devices = loop_devices()
        .await?
        .into_iter()
        .filter(|l| ours(&l.backing_file.to_string_lossy()))
        .map(|l| format!("{} ← {}", l.device, l.backing_file.display()))
        .collect();
    let rbd_fuse = rbd_fuse_processes()
        .await?
        .into_iter()
        .filter(|p| ours(&p.image) || ours(&p.mount_point))
        .map(|p| format!("pid {} serving {}", p.pid, p.image))
        .collect();
    Ok(NodeLeftovers {
        mounts,
        loop_devices,
        rbd_fuse,
    })
}

/// [`scan`], repeated for a short while when only exiting rbd-fuse daemons are left (they go
/// a moment after their mount).
pub(crate) async fn scan_settled(
    kubelet_root: &Path,
    attachments: &[Attachment],
) -> Result<NodeLeftovers> {
    let give_up = tokio::time::Instant::now() + FUSE_EXIT_GRACE;
    loop {
        let found = scan(kubelet_root, attachments).await?;
        let only_exiting = found.mounts.is_empty() && found.loop_devices.is_empty();
        if found.is_empty() || !only_exiting || tokio::time::Instant::now() >= give_up {
            return Ok(found);
        }
        tokio::time::sleep(POLL).await;
    }
}
