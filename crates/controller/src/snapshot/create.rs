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
use std::time::{Duration, SystemTime};

use ceph::lock_scope::holding;
use ceph::rbd::Features;
use csi::SecretMap;
use journal::{Entry, Journal};
use tracing::{Instrument as _, info, warn};

use crate::cluster::Pool;
use crate::error::{Error, Result};
use crate::failpoints::snapshot as points;
use crate::image;
use crate::locks::{self, EntryLock, Held, Local};
use crate::lookup::{self, Volume};
use crate::params::SnapshotParams;
use crate::secrets::Source;
use crate::snapshot::prepare::{flatten_if_deep, prepare};
use crate::snapshot::record::{self, Record};
use crate::state::State;

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
                "{cluster_id:?} is not the cluster of source volume {} ({:?})",
                source.id, source.pool.cluster.id
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
    let mut request =
        journal::Request::new(req.name.clone()).with_source(source.entry.image_name.clone());
    if let Some(prefix) = &req.params.snapshot_name_prefix {
        request = request.with_image_prefix(prefix.clone());
    }
    let reservation = journal.reserve(&request).await?;
    let entry = reservation.entry;
    let pool = source.pool.clone();
    let info = |record: Record, ready: bool| -> Result<SnapshotInfo> {
        Ok(SnapshotInfo {
            snapshot_id: lookup::volume_id(&pool.cluster, &entry.location)?,
            source_volume_id: source.id.clone(),
            record,
            ready,
        })
    };
    if entry.image_id.is_some() {
        return info(record::read_or_derive(&pool, &entry).await?, true);
    }
    let what = format!("the preparation of snapshot {}", req.name);
    let prepare_lock = match Local::name(state, &locks::prepare_key(&entry.location.uuid), what) {
        Err(_) => None,
        Ok(prepare) => match prepare
            .entry(state, &journal, &entry.location, EntryLock::Prepare)
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
        return match record::read(&pool, &entry.location.uuid).await? {
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
    let record = cut(state, &source, &entry, reservation.fresh).await?;
    spawn_prepare(
        state,
        pool.clone(),
        journal,
        entry.clone(),
        req.params.tags.clone(),
        prepare_lock,
        source_lock,
    );
    info(record, true)
}

/// Makes sure the snapshot is cut and recorded; returns the record.
async fn cut(state: &State, source: &Volume, entry: &Entry, fresh: bool) -> Result<Record> {
    let pool = &source.pool;
    if !fresh && let Some(record) = record::read(pool, &entry.location.uuid).await? {
        return Ok(record);
    }
    let snap = entry.image_name.as_str();
    let img = image::open_existing(pool, &source.entry.image_name).await?;
    let (record, cut_now) = image::with_closed(pool, img, |img| async move {
        let size = image::size(pool, &img).await?;
        let features = img
            .features()
            .await
            .map_err(|e| Error::ceph("get image features", source.spec(), e))?;
        if !features.contains(Features::LAYERING) {
            return Err(Error::invalid(
                "source_volume_id",
                format!(
                    "volume {} has no layering feature, which snapshots need",
                    source.id
                ),
            ));
        }
        // A retry may find the cut made (crash before the record), or already cloned away.
        let already = !fresh
            && (image::has_user_snapshot(&image::snapshots(pool, &img).await?, snap)
                || image::exists(pool, snap).await?);
        if !already {
            state.failpoint(points::BEFORE_CUT).await?;
        }
        let cut_now = !already && image::ensure_snapshot(pool, &img, snap).await?;
        Ok((
            Record {
                created: SystemTime::now(),
                size,
            },
            cut_now,
        ))
    })
    .await?;
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
            // The locks are released when the scope ends (after the calls made under them).
            let outcome = holding(leases, tokio::time::timeout(budget, attempts)).await;
            match outcome {
                Ok(Ok(Ok(()))) => {
                    let _ = tokio::time::timeout(budget, flatten_if_deep(&state, &pool, &entry.image_name)).await;
                }
                Ok(Ok(Err(e))) => warn!(error = %e, "snapshot preparation failed; the next user of the snapshot finishes it"),
                Ok(Err(_)) => warn!(?budget, "snapshot preparation timed out; the next user of the snapshot finishes it"),
                Err(lost) => warn!(error = %lost, "snapshot preparation stopped; the next user of the snapshot finishes it"),
            }
        }
        .instrument(span),
    );
}
