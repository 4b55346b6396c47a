//! DeleteSnapshot: the subvolume snapshot, then (when its subvolume was deleted with its
//! snapshots retained and this was the last one) what is left of the subvolume, then the
//! journal entry. A snapshot with clones in progress is in use (FAILED_PRECONDITION).

use controller::error::Result;
use controller::locks::{self, EntryLock, Local};
use csi::SecretMap;
use journal::Kind;
use tracing::info;

use crate::driver::Driver;
use crate::failpoints::delete_snapshot as points;
use crate::lookup::{self, Lookup};
use crate::secrets::Creds;
use crate::volume::clone::parent_of;

pub async fn delete_snapshot(
    driver: &Driver,
    snapshot_id: &str,
    secrets: &SecretMap,
) -> Result<()> {
    let state = &driver.state;
    let snapshot =
        match lookup::lookup(state, Kind::Snapshot, snapshot_id, Creds::Request(secrets)).await? {
            Lookup::Found(snapshot) => snapshot,
            Lookup::Gone { .. } | Lookup::NoEntry { .. } => {
                info!(snapshot_id, "snapshot already gone");
                return Ok(());
            }
        };
    let Some(_lock) = Local::exclusive(
        state,
        &locks::snapshot_key(snapshot_id),
        format!("snapshot {snapshot_id}"),
    )?
    .entry(
        state,
        &snapshot.fs.snapshots,
        &snapshot.location(),
        EntryLock::Exclusive,
    )
    .await?
    else {
        return Ok(());
    };
    let fs = &snapshot.fs;
    let parent = parent_of(&snapshot)?;
    let snap = &snapshot.entry.image_name;
    if fs.snapshot_remove(parent, snap).await? {
        state.failpoint(points::AFTER_SNAPSHOT_REMOVED).await?;
    }
    // The mgr removes a retained subvolume with its last snapshot; make sure of it.
    if let Some(info) = fs.info(parent).await?
        && info.is_retained()
        && fs.snapshots_of(parent).await?.is_empty()
    {
        fs.remove(parent, false, true).await?;
    }
    fs.snapshots.delete(&snapshot.location()).await?;
    info!(snapshot_id, "snapshot deleted");
    Ok(())
}
