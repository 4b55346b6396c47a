//! DeleteVolume: `fs subvolume rm`, with `--retain-snapshots` when the subvolume still has
//! snapshots (its VolumeSnapshots stay restorable; the last DeleteSnapshot removes what is
//! left), then the journal entry. A volume that is not there is deleted (CSI: OK).
//!
//! Order: subvolume first, entry last, so a crash in between leaves an entry whose retry finds
//! the subvolume gone and only removes the entry.

use controller::error::{Error, Result};
use controller::locks::{self, EntryLock, Local};
use csi::SecretMap;
use journal::Kind;
use tracing::info;

use crate::driver::Driver;
use crate::failpoints::delete as points;
use crate::fs::Fs;
use crate::lookup::{self, Lookup};
use crate::mgr::Removed;
use crate::secrets::Creds;

pub async fn delete_volume(driver: &Driver, volume_id: &str, secrets: &SecretMap) -> Result<()> {
    let state = &driver.state;
    let volume =
        match lookup::lookup(state, Kind::Volume, volume_id, Creds::Request(secrets)).await? {
            Lookup::Found(volume) => volume,
            Lookup::Gone { why } => {
                info!(volume_id, %why, "volume already gone");
                return Ok(());
            }
            Lookup::NoEntry { .. } => {
                info!(volume_id, "volume has no journal entry: already deleted");
                return Ok(());
            }
        };
    let Some(_lock) = Local::exclusive(
        state,
        &locks::volume_key(volume_id),
        format!("volume {volume_id}"),
    )?
    .entry(
        state,
        &volume.fs.volumes,
        &volume.location(),
        EntryLock::Exclusive,
    )
    .await?
    else {
        return Ok(());
    };
    let name = &volume.entry.image_name;
    remove_subvolume(&volume.fs, name).await?;
    state.failpoint(points::AFTER_SUBVOLUME_REMOVED).await?;
    volume.fs.volumes.delete(&volume.location()).await?;
    info!(volume_id, subvolume = %volume.fs.spec(name), "volume deleted");
    Ok(())
}

/// Removes a subvolume, keeping its snapshots when it has any; a clone still running is
/// canceled first.
pub async fn remove_subvolume(fs: &Fs, name: &str) -> Result<()> {
    let first = match fs.remove(name, false, false).await {
        Err(e) if errno(&e) == Some(libc::EAGAIN) => {
            // A clone that has not completed: cancel it, then it can go.
            fs.clone_cancel(name).await?;
            fs.remove(name, false, true).await
        }
        other => other,
    }?;
    match first {
        Removed::Removed | Removed::Absent => Ok(()),
        Removed::HasSnapshots => match fs.remove(name, true, false).await? {
            Removed::Removed | Removed::Absent => Ok(()),
            Removed::HasSnapshots => Err(Error::Internal {
                what: format!(
                    "subvolume {} still has snapshots after a removal that retains them",
                    fs.spec(name)
                ),
            }),
        },
    }
}

fn errno(e: &Error) -> Option<i32> {
    match e {
        Error::Ceph { source, .. } => source.errno(),
        _ => None,
    }
}
