//! CreateVolume from content, through `fs subvolume snapshot clone` (a full copy the mgr makes
//! in the background):
//! - from a snapshot: clone `<parent>@csi-snap-<uuid>` into the new subvolume;
//! - from a volume (ceph-csi's order): snapshot the source under the new subvolume's name,
//!   clone from it, and once the clone is complete grow it and remove that snapshot.
//!
//! While the clone is pending or in progress the answer is ABORTED: the provisioner retries,
//! and each retry looks at `fs clone status`. A clone that failed (or was canceled) is removed
//! and started again. Every step is safe to repeat, so a crash anywhere is repaired by the
//! retry.

use controller::error::{Error, Result};
use controller::locks::{self, EntryLock, Local};
use journal::Entry;
use tracing::{info, warn};

use crate::driver::Driver;
use crate::failpoints::clone as points;
use crate::fs::Fs;
use crate::lookup::{self, Found};
use crate::mgr::CloneState;
use crate::secrets::Creds;
use crate::volume::clone_watch;
use crate::volume::request::CreateRequest;

/// A restore: clone the snapshot's subvolume snapshot.
pub async fn from_snapshot(
    driver: &Driver,
    req: &CreateRequest,
    fs: &Fs,
    entry: &Entry,
    snapshot_id: &str,
) -> Result<u64> {
    let state = &driver.state;
    let snapshot = lookup::find_snapshot(state, snapshot_id, Creds::Request(&req.secrets)).await?;
    same_fs(fs, &snapshot, "volume_content_source.snapshot.snapshot_id")?;
    let _shared = Local::shared(
        state,
        &locks::snapshot_key(snapshot_id),
        format!("snapshot {snapshot_id}"),
    )?
    .entry(
        state,
        &fs.snapshots,
        &snapshot.location(),
        EntryLock::Shared,
    )
    .await?
    .ok_or_else(|| Error::SnapshotNotFound {
        snapshot_id: snapshot_id.to_owned(),
        why: "it was deleted meanwhile".to_owned(),
    })?;
    let parent = parent_of(&snapshot)?;
    let snap = &snapshot.entry.image_name;
    let target = &entry.image_name;
    if fs.clone_status(target).await?.is_none() {
        fs.clone_snapshot(parent, snap, target, req.params.pool.as_deref())
            .await?;
        state.failpoint(points::AFTER_CLONE_STARTED).await?;
    }
    finish_clone(driver, req, fs, entry, parent, snap).await
}

/// A clone of a volume, through a snapshot of it named after the new subvolume.
pub async fn from_volume(
    driver: &Driver,
    req: &CreateRequest,
    fs: &Fs,
    entry: &Entry,
    volume_id: &str,
) -> Result<u64> {
    let state = &driver.state;
    let source = lookup::find_volume(state, volume_id, Creds::Request(&req.secrets)).await?;
    same_fs(fs, &source, "volume_content_source.volume.volume_id")?;
    let _shared = Local::shared(
        state,
        &locks::volume_key(volume_id),
        format!("volume {volume_id}"),
    )?
    .entry(state, &fs.volumes, &source.location(), EntryLock::Shared)
    .await?
    .ok_or_else(|| Error::VolumeNotFound {
        volume_id: volume_id.to_owned(),
        why: "it was deleted meanwhile".to_owned(),
    })?;
    let parent = &source.entry.image_name;
    let target = &entry.image_name;
    // The temporary snapshot is named after the clone, as ceph-csi names it.
    let temp = target;
    let outcome: Result<u64> = async {
        if fs.clone_status(target).await?.is_none() {
            fs.snapshot_create(parent, temp).await?;
            state.failpoint(points::AFTER_TEMP_SNAPSHOT).await?;
            fs.clone_snapshot(parent, temp, target, req.params.pool.as_deref())
                .await?;
            state.failpoint(points::AFTER_CLONE_STARTED).await?;
        }
        let size = finish_clone(driver, req, fs, entry, parent, temp).await?;
        if fs.snapshot_remove(parent, temp).await? {
            state.failpoint(points::AFTER_TEMP_SNAPSHOT_REMOVED).await?;
        }
        Ok(size)
    }
    .await;
    if let Err(e) = &outcome
        && e.should_roll_back()
    {
        // The caller removes the clone and the reservation; the snapshot is ours to remove.
        let _ = fs.clone_cancel(target).await;
        let _ = fs.remove(target, false, true).await;
        if let Err(e) = fs.snapshot_remove(parent, temp).await {
            warn!(snapshot = %format!("{}@{temp}", fs.spec(parent)), error = %e, "rollback: cannot remove the temporary snapshot");
        }
    }
    outcome
}

/// Answers by the clone's state, without waiting: complete → grown to the requested size (a
/// request smaller than the content removes the clone and its reservation: OUT_OF_RANGE);
/// pending or running → ABORTED; failed or canceled → removed, started again, ABORTED.
async fn finish_clone(
    driver: &Driver,
    req: &CreateRequest,
    fs: &Fs,
    entry: &Entry,
    parent: &str,
    snap: &str,
) -> Result<u64> {
    let target = &entry.image_name;
    let in_progress = |state: &str| Error::InProgress {
        what: format!(
            "clone {} of {}@{snap} ({state}; retry until it completes)",
            fs.spec(target),
            fs.spec(parent)
        ),
    };
    // The waiting claim hears when the clone ends (`sepia.cephfs-controller.volume.cloned`).
    let watch = || clone_watch::watch(driver, req, fs, target);
    match fs.clone_status(target).await? {
        Some(CloneState::Complete) => {}
        Some(CloneState::Pending) => {
            watch();
            return Err(in_progress("pending"));
        }
        Some(CloneState::InProgress) => {
            watch();
            return Err(in_progress("in progress"));
        }
        None => return Err(in_progress("not started")),
        Some(failed @ (CloneState::Failed(_) | CloneState::Canceled)) => {
            warn!(clone = %fs.spec(target), state = ?failed, "clone failed; removing it and starting again");
            fs.remove(target, false, true).await?;
            fs.clone_snapshot(parent, snap, target, req.params.pool.as_deref())
                .await?;
            watch();
            return Err(in_progress("started again after a failure"));
        }
    }
    let info = fs.info(target).await?.ok_or_else(|| Error::Internal {
        what: format!("clone {} is complete but has no info", fs.spec(target)),
    })?;
    let quota = info.quota().unwrap_or(0);
    let size = match req.capacity.content_volume_size(quota) {
        Ok(size) => size,
        Err(e) => {
            // The request cannot take the content: this clone is of no use to any retry.
            fs.remove(target, false, true).await?;
            fs.volumes.undo(&req.name, &entry.location).await?;
            return Err(e);
        }
    };
    if size > quota {
        fs.resize(target, size).await?;
        driver.state.failpoint(points::AFTER_RESIZE).await?;
    }
    info!(clone = %fs.spec(target), size, "clone complete");
    Ok(size)
}

/// Clones stay inside one filesystem of one cluster.
fn same_fs(fs: &Fs, source: &Found, field: &str) -> Result<()> {
    if source.fs.cluster.id != fs.cluster.id || source.fs.fscid != fs.fscid {
        return Err(Error::invalid(
            field,
            format!(
                "is in filesystem {:?} of cluster {:?}, the new volume in {:?} of {:?}; CephFS clones stay within one filesystem",
                source.fs.name, source.fs.cluster.id, fs.name, fs.cluster.id
            ),
        ));
    }
    Ok(())
}

/// The subvolume a snapshot was cut from (`csi.source`).
pub fn parent_of(snapshot: &Found) -> Result<&str> {
    snapshot
        .entry
        .source
        .as_deref()
        .ok_or_else(|| Error::Internal {
            what: format!("snapshot {} records no source subvolume", snapshot.id),
        })
}
