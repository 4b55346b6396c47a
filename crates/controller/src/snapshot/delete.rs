//! DeleteSnapshot: refuse while someone else watches the `csi-snap-<u>` image (as DeleteVolume
//! does), remove the inner snapshot, trash and purge the image, delete the journal entry — plus,
//! for a snapshot whose preparation never ran, its cut on the source. Unknown and malformed IDs succeed (CSI: absent means deleted).

use journal::Kind;
use tracing::info;

use crate::error::Result;
use crate::failpoints::delete_snapshot as points;
use crate::locks::{self, EntryLock, Local};
use crate::pool::image;
use crate::pool::lookup::{self, Lookup};
use crate::pool::trash::{self, Doomed, PurgePoints};
use crate::secrets::Source;
use crate::state::State;

pub async fn delete_snapshot(
    state: &State,
    snapshot_id: &str,
    secrets: &csi::SecretMap,
) -> Result<()> {
    let Ok(composite) = lookup::decode(snapshot_id) else {
        info!(snapshot_id, "malformed snapshot id: nothing to delete");
        return Ok(());
    };
    let id = Local::exclusive(
        state,
        &locks::snapshot_key(snapshot_id),
        format!("snapshot {snapshot_id} (a restore from it is running)"),
    )?;
    // A snapshot is ready at its cut; its preparation may still run for a second. Wait for it
    // (within the RPC's budget) rather than refuse.
    let prepare = Local::name_waiting(
        state,
        &locks::prepare_key(&composite.uuid()),
        format!("the preparation of snapshot {snapshot_id}"),
    )
    .await;
    let snapshot =
        match lookup::lookup(state, Kind::Snapshot, snapshot_id, Source::Request(secrets)).await? {
            Lookup::Found(snapshot) => snapshot,
            Lookup::Gone { why } => {
                info!(snapshot_id, why, "nothing to delete");
                return Ok(());
            }
            Lookup::NoEntry {
                pool,
                journal,
                location,
                incomplete,
            } => {
                if incomplete {
                    journal.delete(&location).await?;
                } else {
                    trash::purge_leftovers_of_uuid(state, &pool, &location.uuid.to_string())
                        .await?;
                }
                return Ok(());
            }
        };
    let location = snapshot.location();
    let locked = async {
        let Some(id) = id
            .entry(state, &snapshot.journal, &location, EntryLock::Exclusive)
            .await?
        else {
            return Ok(None);
        };
        let prepared = prepare
            .entry_waiting(state, &snapshot.journal, &location, EntryLock::Prepare)
            .await?;
        Ok::<_, crate::Error>(prepared.map(|prepare| (id, prepare)))
    };
    let Some(_locks) = locked.await? else {
        info!(snapshot_id, "deleted meanwhile: nothing to delete");
        return Ok(());
    };
    // The preparation may have finished while we waited for it.
    let entry = &if snapshot.entry.image_id.is_none() {
        match snapshot.journal.entry(&location).await {
            Ok(entry) => entry,
            Err(journal::Error::NotFound { .. }) => return Ok(()),
            Err(e) => return Err(e.into()),
        }
    } else {
        snapshot.entry.clone()
    };
    let pool = &snapshot.pool;
    let name = entry.image_name.as_str();
    if entry.image_id.is_none()
        && let Some(source) = entry.source.as_deref()
        && let Some(src) = image::open(pool, source).await?
    {
        // Never prepared: the cut still sits on the source volume.
        let removed = image::with_closed(pool, src, |src| async move {
            image::remove_snapshot(pool, &src, name).await
        })
        .await?;
        if removed {
            state
                .failpoint(points::AFTER_SOURCE_SNAPSHOT_REMOVED)
                .await?;
        }
    }
    match image::open(pool, name).await? {
        Some(img) => {
            let doomed = image::with_closed(pool, img, |img| async move {
                // A watch left by a process that died preparing this snapshot lasts until the
                // OSD drops it; trashed meanwhile, the image could not be purged.
                image::refuse_if_watched(pool, &img, || format!("snapshot {snapshot_id}")).await?;
                // With clone v2 an inner snapshot that restored volumes still need moves to the
                // trash namespace; the image is purged once they are gone.
                if image::remove_snapshot(pool, &img, name).await? {
                    state
                        .failpoint(points::AFTER_INNER_SNAPSHOT_REMOVED)
                        .await?;
                }
                Doomed::of(pool, &img).await
            })
            .await?;
            let points = PurgePoints {
                after_move: Some(points::AFTER_TRASH_MOVE),
                after_queue: Some(points::AFTER_PURGE_QUEUED),
            };
            trash::purge(state, pool, name, &doomed, points).await?;
        }
        None => {
            // Moved to the trash by an attempt that crashed before queueing the purge.
            trash::purge_leftovers(state, pool, &[name], Some(points::AFTER_PURGE_QUEUED)).await?;
        }
    }
    snapshot.journal.delete(&entry.location).await?;
    info!(snapshot_id, image = %pool.spec(name), "snapshot deleted");
    Ok(())
}
