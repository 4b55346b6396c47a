//! DeleteVolume, as ceph-csi does it and a little stricter: refuse while someone else watches
//! the image (mapped on a node), then trash the image and its `-temp` helper (clones before their
//! parents, so the mgr purges them in one pass), queue their purge, and delete the journal entry.
//! Absent volumes succeed; a retry after any crash finds the trash leftovers and finishes.

use ceph::rbd::{SnapInfo, SnapNamespace};
use csi::SecretMap;
use journal::{Kind, Location};
use tracing::info;

use crate::error::Result;
use crate::failpoints::delete as points;
use crate::locks::{self, EntryLock, Local};
use crate::params::SnapshotTags;
use crate::pool::cluster::Pool;
use crate::pool::image;
use crate::pool::lookup::{self, Lookup, temp_image_name};
use crate::pool::trash::{self, Doomed, PurgePoints};
use crate::secrets::Source;
use crate::snapshot::prepare::prepare;
use crate::state::State;

pub async fn delete_volume(state: &State, volume_id: &str, secrets: &SecretMap) -> Result<()> {
    if lookup::decode(volume_id).is_err() {
        info!(volume_id, "malformed volume id: nothing to delete");
        return Ok(());
    }
    let local = Local::exclusive(
        state,
        &locks::volume_key(volume_id),
        format!("volume {volume_id} (a snapshot, clone or expansion of it is running)"),
    )?;
    let volume = match lookup::lookup(state, Kind::Volume, volume_id, Source::Request(secrets))
        .await?
    {
        Lookup::Found(volume) => volume,
        Lookup::Gone { why } => {
            info!(volume_id, why, "nothing to delete");
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
                trash::purge_leftovers_of_uuid(state, &pool, &location.uuid.to_string()).await?;
            }
            return Ok(());
        }
    };
    let Some(_id) = local.found(state, &volume, EntryLock::Exclusive).await? else {
        info!(volume_id, "deleted meanwhile: nothing to delete");
        return Ok(());
    };
    let pool = &volume.pool;
    let name = volume.entry.image_name.as_str();
    let temp = temp_image_name(name);
    match image::open(pool, name).await? {
        Some(img) => {
            let (doomed, snaps) = image::with_closed(pool, img, |img| async move {
                image::refuse_if_watched(pool, &img, || format!("volume {volume_id}")).await?;
                Ok((
                    Doomed::of(pool, &img).await?,
                    image::snapshots(pool, &img).await?,
                ))
            })
            .await?;
            prepare_pending_snapshots(state, pool, name, &snaps).await?;
            let points = PurgePoints {
                after_move: Some(points::AFTER_TRASH_MOVE),
                after_queue: Some(points::AFTER_PURGE_QUEUED),
            };
            let doomed = Doomed {
                volume_id: Some(volume_id.to_owned()),
                ..doomed
            };
            trash::purge(state, pool, name, &doomed, points).await?;
        }
        None => {
            // Trashed by an earlier attempt that crashed before the purge or the journal.
            trash::purge_leftovers(
                state,
                pool,
                &[name, &temp],
                Some(points::AFTER_PURGE_QUEUED),
            )
            .await?;
        }
    }
    purge_temp(state, pool, name, &temp).await?;
    volume.journal.delete(&volume.entry.location).await?;
    info!(volume_id, image = %volume.spec(), "volume deleted");
    Ok(())
}

/// Snapshots cut on this volume whose preparation never finished (the controller restarted
/// between the reply and the end of the preparation): they are prepared now, or they would go
/// with their source. Snapshots are ready at the cut, so their users count on that.
async fn prepare_pending_snapshots(
    state: &State,
    pool: &Pool,
    image_name: &str,
    snaps: &[SnapInfo],
) -> Result<()> {
    let cuts: Vec<&SnapInfo> = snaps
        .iter()
        .filter(|s| s.namespace == SnapNamespace::User && uuid_suffix(&s.name).is_some())
        .collect();
    if cuts.is_empty() {
        return Ok(());
    }
    let journal = pool.snapshots()?;
    for snap in cuts {
        let Some(uuid) = uuid_suffix(&snap.name) else {
            continue;
        };
        let location = Location {
            pool_id: pool.io.pool_id(),
            uuid,
        };
        let what = format!("the preparation of snapshot {}", pool.spec(&snap.name));
        let local = Local::name_waiting(state, &locks::prepare_key(&uuid), what).await;
        let Some(_prepare) = local
            .entry_waiting(state, &journal, &location, EntryLock::Prepare)
            .await?
        else {
            continue;
        };
        let entry = match journal.entry(&location).await {
            Ok(entry) => entry,
            Err(journal::Error::NotFound { .. } | journal::Error::Incomplete { .. }) => continue,
            Err(e) => return Err(e.into()),
        };
        let ours = entry.image_name == snap.name && entry.source.as_deref() == Some(image_name);
        if ours && entry.image_id.is_none() {
            info!(snapshot = %pool.spec(&entry.image_name), "preparing a snapshot before its source goes");
            prepare(state, pool, &journal, &entry, &SnapshotTags::default()).await?;
        }
    }
    Ok(())
}

/// The uuid at the end of an image or snapshot name (`csi-snap-<uuid>`).
fn uuid_suffix(name: &str) -> Option<uuid::Uuid> {
    let at = name.len().checked_sub(36)?;
    journal::id::parse_uuid(name.get(at..)?).ok()
}

/// Trashes the `-temp` image of a volume cloned from a volume. Its snapshot named after the
/// volume normally sits in the trash namespace (the volume depended on it); a crashed clone may
/// have left it a user snapshot, which would keep the image from ever being purged.
async fn purge_temp(state: &State, pool: &Pool, name: &str, temp: &str) -> Result<()> {
    let Some(img) = image::open(pool, temp).await? else {
        return Ok(());
    };
    let doomed = image::with_closed(pool, img, |img| async move {
        if image::remove_snapshot(pool, &img, name).await? {
            state.failpoint(points::AFTER_TEMP_SNAPSHOT_REMOVED).await?;
        }
        Doomed::of(pool, &img).await
    })
    .await?;
    let points = PurgePoints {
        after_move: Some(points::AFTER_TEMP_TRASH_MOVE),
        after_queue: Some(points::AFTER_TEMP_PURGE_QUEUED),
    };
    trash::purge(state, pool, temp, &doomed, points).await
}
