//! CreateVolume from a snapshot: a clone (format 2, no protection needed) of
//! `csi-snap-<u>@csi-snap-<u>`, grown when the request is larger than the snapshot. The clone
//! is proven complete before the volume is ([`crate::pool::verified_clone`]), so a later
//! DeleteSnapshot cannot take data it still reads.
//!
//! A snapshot whose preparation has not finished (its first CreateSnapshot answered "not
//! ready" a moment ago, or a restart interrupted it) is finished first: the restore waits for
//! the background task or prepares it inline, within the RPC's budget.

use journal::Entry;

use crate::error::{Error, Result};
use crate::failpoints::restore as points;
use crate::locks::{self, EntryLock};
use crate::params::SnapshotTags;
use crate::pool::cluster::Pool;
use crate::pool::depth;
use crate::pool::image;
use crate::pool::lookup::{self, Snapshot};
use crate::pool::verified_clone::{self, CloneStep, Cloned, Parent};
use crate::secrets::Source;
use crate::snapshot::prepare::prepare;
use crate::state::State;
use crate::volume::create::{
    CreateRequest, Created, Tail, created, finish_content_volume, journal_request, rollback,
};
use crate::volume::source;
use journal::records::source::ContentSource;

/// The clone of the snapshot image's snapshot into the new volume.
const CLONE_STEP: CloneStep = CloneStep {
    what: "clone snapshot",
    before_clone: points::BEFORE_CLONE,
    after_clone: points::AFTER_CLONE,
    after_half_made_removed: points::AFTER_HALF_MADE_CLONE_REMOVED,
};

pub async fn restore(
    state: &State,
    req: &CreateRequest,
    pool: &Pool,
    snapshot_id: &str,
) -> Result<Created> {
    let snapshot = lookup::find_snapshot(state, snapshot_id, Source::Request(&req.secrets)).await?;
    if snapshot.pool.cluster.id != pool.cluster.id {
        return Err(Error::invalid(
            "volume_content_source",
            format!(
                "snapshot {snapshot_id} is in cluster {:?}, the volume is asked for in cluster {:?}",
                snapshot.pool.cluster.id, pool.cluster.id
            ),
        ));
    }
    let what = format!("snapshot {snapshot_id} (it is being deleted)");
    let _snapshot_lock = locks::id_lock(state, &snapshot, EntryLock::Shared, what).await?;
    let snapshot = ready(state, snapshot).await?;
    let snap_pool = &snapshot.pool;
    let snap_name = snapshot.entry.image_name.as_str();
    let Some(snap_img) = image::open(snap_pool, snap_name).await? else {
        return Err(Error::SnapshotNotFound {
            snapshot_id: snapshot_id.to_owned(),
            why: format!("its image {} is gone", snap_pool.spec(snap_name)),
        });
    };
    let waiter = req.flatten_waiter();
    let snap_size = image::with_closed(snap_pool, snap_img, |img| async move {
        depth::enforce(state, snap_pool, &img, waiter).await?;
        image::size(snap_pool, &img).await
    })
    .await?;
    let size = req.capacity.content_volume_size(snap_size)?;

    let wanted = ContentSource::Snapshot(snapshot_id.to_owned());
    let request = journal_request(req);
    let source::Reserved {
        journal,
        entry,
        had_image,
    } = source::reserve(
        state,
        &request,
        pool,
        &wanted,
        points::AFTER_SOURCE_RECORDED,
    )
    .await?;
    let outcome = build(state, req, pool, &journal, &entry, &snapshot, size).await;
    match outcome {
        Ok(capacity) => created(req, pool, &entry, capacity),
        Err(e) => {
            if e.should_roll_back() && !had_image {
                rollback(
                    state,
                    pool,
                    &journal,
                    &req.name,
                    &entry,
                    &[entry.image_name.as_str()],
                )
                .await;
            }
            Err(e)
        }
    }
}

/// The snapshot with its preparation finished (waiting for the background task if it runs).
async fn ready(state: &State, snapshot: Snapshot) -> Result<Snapshot> {
    if snapshot.entry.image_id.is_some() {
        return Ok(snapshot);
    }
    let _prepare = locks::preparation(state, &snapshot).await?;
    let entry = snapshot.journal.entry(&snapshot.entry.location).await?;
    if entry.image_id.is_none() {
        prepare(
            state,
            &snapshot.pool,
            &snapshot.journal,
            &entry,
            &SnapshotTags::default(),
        )
        .await?;
    }
    let entry = snapshot.journal.entry(&snapshot.entry.location).await?;
    Ok(Snapshot { entry, ..snapshot })
}

async fn build(
    state: &State,
    req: &CreateRequest,
    pool: &Pool,
    journal: &journal::Journal,
    entry: &Entry,
    snapshot: &Snapshot,
    size: u64,
) -> Result<u64> {
    let name = entry.image_name.as_str();
    let snap_name = snapshot.entry.image_name.as_str();
    // A finished volume was proven when it was made (and may have been flattened since).
    let finished = match entry.image_id {
        Some(_) => image::open(pool, name).await?,
        None => None,
    };
    let img = match finished {
        Some(img) => img,
        None => {
            let parent = Parent {
                pool: &snapshot.pool,
                image: snap_name,
                snap: snap_name,
            };
            let options = req.params.create_options();
            match verified_clone::ensure(state, parent, pool, name, &options, &CLONE_STEP).await? {
                Cloned::Proven(img) => img,
                Cloned::ParentGone => {
                    return Err(Error::SnapshotNotFound {
                        snapshot_id: snapshot.id.clone(),
                        why: format!("{} is gone", parent.spec()),
                    });
                }
            }
        }
    };
    let tail = Tail {
        after_resize: Some(points::AFTER_RESIZE),
        after_metadata: points::AFTER_METADATA,
        after_id: points::AFTER_IMAGE_ID_STORED,
    };
    finish_content_volume(state, req, pool, journal, entry, img, size, &tail).await
}
