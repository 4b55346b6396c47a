//! CreateSnapshot with one monitor commit on the reply's path.
//!
//! First call: reserve the name in the source pool's `csi.snaps.<instance>`, cut the snapshot
//! (`snap create <source>@csi-snap-<u>`: the point in time, one monitor commit), record its time
//! and size, answer `ready_to_use=true`, and bring it to ceph-csi's layout in the background
//! (`prepare`: clone image, inner snapshot — a second monitor commit).
//!
//! Ready at the cut, because the data is fixed there and every consumer of the snapshot
//! finishes the preparation before it relies on the layout: a restore waits for (or does) it,
//! DeleteSnapshot waits for it, DeleteVolume of the source prepares the snapshots cut on it
//! before the source goes, a repeat CreateSnapshot restarts it when nothing runs (after a
//! crash or a restart), and so does the start-up pass ([`crate::snapshot::resume`]). The
//! snapshotter's `readyToUse` thus costs one commit, not two.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use ceph::lock_scope::holding;
use ceph::rbd::Image;
use csi::SecretMap;
use csi::quote::quote;
use events::Outcome;
use journal::{Entry, Journal};
use tracing::{Instrument as _, info, warn};

use crate::error::{Error, Result};
use crate::failpoints::snapshot as points;
use crate::locks::{self, EntryLock, Held, Local};
use crate::metrics::Task;
use crate::params::SnapshotParams;
use crate::pool::cluster::Pool;
use crate::pool::image;
use crate::pool::lookup::{self, Volume};
use crate::secrets::Source;
use crate::snapshot::announce;
use crate::snapshot::prepare::{flatten_if_deep, prepare};
use crate::snapshot::record;
use crate::state::State;
use journal::records::snapshot::Record;

/// A validated CreateSnapshot.
#[derive(Debug, Clone)]
pub struct CreateSnapshot {
    pub name: String,
    pub source_volume_id: String,
    pub params: SnapshotParams,
    pub secrets: SecretMap,
}

/// What CreateSnapshot (and ListSnapshots) answer about a snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotInfo {
    pub snapshot_id: String,
    pub source_volume_id: String,
    pub record: Record,
    pub ready: bool,
}

pub async fn create_snapshot(state: &Arc<State>, req: CreateSnapshot) -> Result<SnapshotInfo> {
    let name = Local::name(
        state,
        &locks::create_snapshot_key(&req.name),
        format!("snapshot name {}", req.name),
    )?;
    let source =
        lookup::find_volume(state, &req.source_volume_id, Source::Request(&req.secrets)).await?;
    if let Some(cluster_id) = &req.params.cluster_id
        && *cluster_id != source.pool.cluster.id
    {
        return Err(Error::parameter(
            "clusterID",
            format!(
                "{} is not the cluster of source volume {} ({:?})",
                quote(cluster_id),
                source.id,
                source.pool.cluster.id
            ),
        ));
    }
    let journal = source.pool.snapshots()?;
    let _name = name.request_name(state, &journal, &req.name).await?;
    let source_lock = Local::shared(
        state,
        &locks::volume_key(&source.id),
        format!("source volume {} (being deleted or expanded)", source.id),
    )?
    .found(state, &source, EntryLock::Shared)
    .await?
    .ok_or_else(|| Error::VolumeNotFound {
        volume_id: source.id.clone(),
        why: "its journal entry was deleted meanwhile".to_owned(),
    })?;
    // Validated before anything is reserved; the handle serves the cut as well.
    let pool = &source.pool;
    let src = image::open_existing(pool, &source.entry.image_name).await?;
    let (req, source, journal) = (&req, &source, &journal);
    image::with_closed(pool, src, |src| async move {
        image::require_layering(pool, &src, &source.id, "a snapshot").await?;
        let mut request =
            journal::Request::new(req.name.clone()).with_source(source.entry.image_name.clone());
        if let Some(prefix) = &req.params.snapshot_name_prefix {
            request = request.with_image_prefix(prefix.clone());
        }
        let reservation = journal.reserve(&request).await?;
        let entry = &reservation.entry;
        let outcome = reserved(
            state,
            req,
            source,
            journal,
            &src,
            entry,
            reservation.fresh,
            source_lock,
        )
        .await;
        if let Err(e) = &outcome
            && e.should_roll_back()
        {
            undo_uncut(pool, journal, &req.name, entry, &src).await;
        }
        outcome
    })
    .await
}

/// CreateSnapshot once the name is reserved: answer a finished snapshot, or cut it and prepare
/// it in the background.
#[allow(clippy::too_many_arguments)]
async fn reserved(
    state: &Arc<State>,
    req: &CreateSnapshot,
    source: &Volume,
    journal: &Journal,
    src: &Image,
    entry: &Entry,
    fresh: bool,
    source_lock: Held,
) -> Result<SnapshotInfo> {
    let pool = &source.pool;
    let info = |record: Record, ready: bool| -> Result<SnapshotInfo> {
        Ok(SnapshotInfo {
            snapshot_id: lookup::volume_id(&pool.cluster, &entry.location)?,
            source_volume_id: source.id.clone(),
            record,
            ready,
        })
    };
    if entry.image_id.is_some() {
        return info(record::read_or_derive(pool, entry).await?, true);
    }
    let what = format!("the preparation of snapshot {}", req.name);
    let prepare_lock = match Local::name(state, &locks::prepare_key(&entry.location.uuid), what) {
        Err(_) => None,
        Ok(prepare) => match prepare
            .entry(state, journal, &entry.location, EntryLock::Prepare)
            .await
        {
            Ok(Some(held)) => Some(held),
            Ok(None) => {
                return Err(Error::InProgress {
                    what: format!("snapshot {} (its journal entry was just deleted)", req.name),
                });
            }
            Err(Error::InProgress { .. }) => None,
            Err(e) => return Err(e),
        },
    };
    let Some(prepare_lock) = prepare_lock else {
        // Someone is at it, here or in another process: the background task of an earlier
        // call (the cut is recorded, so the snapshot is ready), or a twin request still
        // cutting (not yet).
        return match record::read(pool, &entry.location.uuid).await? {
            Some(record) => info(record, true),
            None => info(
                Record {
                    created: SystemTime::now(),
                    size: 0,
                },
                false,
            ),
        };
    };
    let record = cut(state, source, src, entry, fresh).await?;
    spawn_prepare(
        state,
        pool.clone(),
        journal.clone(),
        entry.clone(),
        req.params.tags.clone(),
        prepare_lock,
        source_lock,
    );
    info(record, true)
}

/// Undoes the reservation of a CreateSnapshot that failed before its cut: nothing else would
/// ever remove it (the CO got no snapshot ID to delete). A cut made by this or an earlier
/// attempt stays, with its reservation, for the retry to finish. Best effort, logged.
async fn undo_uncut(
    pool: &Pool,
    journal: &Journal,
    request_name: &str,
    entry: &Entry,
    src: &Image,
) {
    let snap = entry.image_name.as_str();
    let cut = async {
        Ok::<_, Error>(
            image::has_user_snapshot(&image::snapshots(pool, src).await?, snap)
                || image::exists(pool, snap).await?,
        )
    };
    match cut.await {
        Ok(false) => match journal.undo(request_name, &entry.location).await {
            Ok(()) => info!(request_name, "rolled back a failed CreateSnapshot"),
            Err(e) => {
                warn!(request_name, error = %e, "rollback: cannot undo the reservation");
            }
        },
        Ok(true) => {}
        Err(e) => warn!(request_name, error = %e, "rollback: cannot tell whether the cut exists"),
    }
}

/// Makes sure the snapshot is cut on the open source image and recorded; returns the record.
async fn cut(
    state: &State,
    source: &Volume,
    img: &Image,
    entry: &Entry,
    fresh: bool,
) -> Result<Record> {
    let pool = &source.pool;
    if !fresh && let Some(record) = record::read(pool, &entry.location.uuid).await? {
        return Ok(record);
    }
    let snap = entry.image_name.as_str();
    let size = image::size(pool, img).await?;
    // A retry may find the cut made (crash before the record), or already cloned away.
    let already = !fresh
        && (image::has_user_snapshot(&image::snapshots(pool, img).await?, snap)
            || image::exists(pool, snap).await?);
    if !already {
        state.failpoint(points::BEFORE_CUT).await?;
    }
    let cut_now = !already && image::ensure_snapshot(pool, img, snap).await?;
    let record = Record {
        created: SystemTime::now(),
        size,
    };
    if cut_now {
        info!(snapshot = %pool.spec(&source.entry.image_name), name = snap, "snapshot cut");
        state.failpoint(points::AFTER_CUT).await?;
    }
    record::write(pool, &entry.location.uuid, &record).await?;
    state.failpoint(points::AFTER_RECORDED).await?;
    Ok(record)
}

/// Longest pause between two attempts of a background preparation (1 s, 2 s, 4 s).
const RETRY_LIMIT: Duration = Duration::from_secs(4);

/// Prepares the snapshot after the reply. Holds the prepare lock (deletes and restores wait
/// for it, repeats answer at once) and the shared lock on the source volume (it must not be
/// deleted or grown meanwhile), in RADOS, renewed for as long as it runs; bounded by the RPC
/// budget so nothing can pin them for ever. Failures are retried a few times, then logged: a
/// restore, a delete of the snapshot or of its source, or a repeat of the CreateSnapshot
/// finishes the preparation.
fn spawn_prepare(
    state: &Arc<State>,
    pool: Pool,
    journal: Journal,
    entry: Entry,
    tags: crate::params::SnapshotTags,
    prepare_lock: Held,
    source_lock: Held,
) {
    let state = Arc::clone(state);
    let span = tracing::info_span!("prepare_snapshot", uuid = %entry.location.uuid, image = %entry.image_name);
    let budget = state.settings.rpc_timeout;
    let running = state.settings.metrics.running(Task::snapshot_preparation);
    tokio::spawn(
        async move {
            let attempts = async {
                let mut pause = Duration::from_secs(1);
                loop {
                    match prepare(&state, &pool, &journal, &entry, &tags).await {
                        Ok(()) => return Ok(()),
                        // A simulated crash ends the task as a real one would.
                        Err(e) if e.is_injected() || pause > RETRY_LIMIT => return Err(e),
                        Err(e) => {
                            warn!(error = %e, ?pause, "snapshot preparation failed; retrying");
                            tokio::time::sleep(pause).await;
                            pause *= 2;
                        }
                    }
                }
            };
            let leases = vec![prepare_lock.into_lease(), source_lock.into_lease()];
            let started = Instant::now();
            // The locks are released when the scope ends (after the calls made under them).
            let outcome = holding(leases, tokio::time::timeout(budget, attempts)).await;
            let announced = match outcome {
                Ok(Ok(Ok(()))) => Outcome::ok(),
                // A simulated crash announces nothing, as a real one could not.
                Ok(Ok(Err(e))) if e.is_injected() => return,
                Ok(Ok(Err(e))) => {
                    warn!(error = %e, "snapshot preparation failed; the next user of the snapshot finishes it");
                    announce::failed(&e)
                }
                Ok(Err(_)) => {
                    warn!(?budget, "snapshot preparation timed out; the next user of the snapshot finishes it");
                    Outcome::error("DeadlineExceeded", format!("the preparation took longer than {budget:?}"))
                }
                Err(lost) => {
                    warn!(error = %lost, "snapshot preparation stopped; the next user of the snapshot finishes it");
                    Outcome::error("Aborted", lost.to_string())
                }
            };
            let prepared = announced.is_ok();
            running.finish(prepared);
            // Announced after the locks are released: a restore woken by it must find them free.
            announce::preparation_ended(&state, &pool, &entry, &tags, announced, started.elapsed());
            if prepared {
                let _ = tokio::time::timeout(budget, flatten_if_deep(&state, &pool, &entry.image_name)).await;
            }
        }
        .instrument(span),
    );
}
