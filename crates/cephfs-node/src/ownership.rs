//! Proof that a path is this plugin's, for this volume, before anything is done to it.
//!
//! The plugin runs as root and sees the host's mounts. A path counts as this volume's stage
//! only when a stage record for its staging path names this volume and the mount at
//! `<staging>/<volume-id>` is of the recorded kind (`fuse.ceph-fuse`, or `ceph` with the
//! recorded subvolume path as its source). A published path is a bind of such a stage (same
//! device and root). Anything else is NOT_FOUND (`NodeError::NotOurs`) and left alone. Only
//! the mount table and the records are read; no mount is `stat`ed, so a dead ceph-fuse cannot
//! hang the proof.

use std::path::Path;

use node::NodeError;
use node::mount::mountinfo::{self, MountEntry};
use node::ownership::not_ours;

use crate::driver::CephfsNode;
use crate::mounter::Mounter;
use crate::record::StageRecord;

/// A volume staged by this plugin, as found on the node.
#[derive(Debug, Clone)]
pub struct Staged {
    pub record: StageRecord,
    /// The mount at the record's mount point.
    pub mount: MountEntry,
}

/// Whether `mount` is the mount `record` describes.
pub fn is_recorded_mount(mount: &MountEntry, record: &StageRecord) -> bool {
    mount.mount_point == record.mount_point
        && mount.fs_type == record.mounter.fs_type()
        && match record.mounter {
            Mounter::Fuse => mount.source == "ceph-fuse",
            Mounter::Kernel => mount.source.ends_with(&record.subvolume_path),
        }
}

/// The record of `staging_path` if it is `volume_id`'s; another volume's is `Err(other id)`.
pub async fn record_at(
    node: &CephfsNode,
    volume_id: &str,
    staging_path: &Path,
) -> Result<Result<Option<StageRecord>, String>, NodeError> {
    Ok(match node.records.read(staging_path).await? {
        Some(record) if record.volume_id != volume_id => Err(record.volume_id),
        found => Ok(found),
    })
}

/// `volume_id`'s stage at `staging_path`, mounted and proven; NOT_FOUND (NotStaged/NotOurs)
/// otherwise.
pub async fn staged_at(
    node: &CephfsNode,
    volume_id: &str,
    staging_path: &Path,
) -> Result<Staged, NodeError> {
    let record = match record_at(node, volume_id, staging_path).await? {
        Ok(Some(record)) => record,
        Ok(None) => {
            return Err(NodeError::NotStaged {
                volume_id: volume_id.to_string(),
                path: staging_path.to_path_buf(),
            });
        }
        Err(other) => {
            return Err(not_ours(
                volume_id,
                staging_path,
                format!("it holds the stage of volume {}", csi::quote::quote(&other)),
            ));
        }
    };
    match mountinfo::mount_at(&record.mount_point).await? {
        Some(mount) if is_recorded_mount(&mount, &record) => Ok(Staged { record, mount }),
        Some(mount) => Err(not_ours(
            volume_id,
            &record.mount_point,
            format!(
                "{} ({}) is mounted there, not its stage",
                mount.source, mount.fs_type
            ),
        )),
        None => Err(NodeError::NotStaged {
            volume_id: volume_id.to_string(),
            path: staging_path.to_path_buf(),
        }),
    }
}

/// Proves `path` is one of `volume_id`'s staged mounts or a bind of one (a published target)
/// and returns that stage with the mount at `path`. NOT_FOUND otherwise.
pub async fn find(
    node: &CephfsNode,
    volume_id: &str,
    path: &Path,
) -> Result<(Staged, MountEntry), NodeError> {
    let entries = mountinfo::read().await?;
    let Some(at) = mountinfo::find(&entries, path).cloned() else {
        return Err(NodeError::PathNotFound {
            volume_id: volume_id.to_string(),
            path: path.to_path_buf(),
        });
    };
    for record in node.records.of_volume(volume_id).await? {
        let Some(staged) = mountinfo::find(&entries, &record.mount_point) else {
            continue;
        };
        if is_recorded_mount(staged, &record)
            && (staged.major, staged.minor, &staged.root) == (at.major, at.minor, &at.root)
        {
            let staged = Staged {
                mount: staged.clone(),
                record,
            };
            return Ok((staged, at));
        }
    }
    Err(not_ours(
        volume_id,
        path,
        format!(
            "{} ({}) is mounted there, and no stage of this volume is",
            at.source, at.fs_type
        ),
    ))
}
