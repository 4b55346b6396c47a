//! Deleting images the way ceph-csi does: `rbd trash mv`, then a mgr `rbd task add trash
//! remove` that purges the data in the background, so a delete costs the same whatever the
//! image size. When the mgr cannot take the task (no `rbd_support` module, no mgr caps), or the
//! controller runs with `--trash-purge=direct`, the image is removed from the trash at once.
//!
//! With `--trash-purge=schedule` the per-image task is replaced by one mgr `rbd trash purge
//! schedule` per pool and namespace, added on the first delete: the mgr purges the trash every
//! minute, so deletes never wait on the mgr's one-at-a-time task queue.
//!
//! An image whose snapshots still have clones (a volume with CSI snapshots, whose source
//! snapshots sit in the trash namespace) cannot be purged yet; it never blocks the delete that
//! trashed it. The mgr retries its task; and whoever purges the last clone also purges a parent
//! that waits in the trash, so the pair goes in one pass. An image someone still watches is
//! different: a direct purge fails the delete (retried by the CO) rather than leave it behind.
//!
//! A deleted volume's image leaving the trash is announced (`sepia.controller.volume.purged`),
//! watched through [`crate::background_watch`]; nothing waits on it but an operator.

use ceph::rbd::{self, Image};
use events::vocabulary::{component, object, verb};
use events::{Event, Outcome};
use serde_json::json;
use tracing::{debug, warn};

use crate::background_watch::built;
use crate::error::{Error, Result};
use crate::pool::cluster::{Pool, spec};
use crate::settings::TrashPurge;
use crate::state::State;

/// The caller's failpoints after the two writes of [`purge`] (none for a rollback).
#[derive(Debug, Clone, Copy, Default)]
pub struct PurgePoints {
    pub after_move: Option<&'static str>,
    pub after_queue: Option<&'static str>,
}

/// What must be known of an image before it goes to the trash (it cannot be opened by name
/// afterwards).
#[derive(Debug, Clone)]
pub struct Doomed {
    pub id: String,
    /// Id of its parent image when that waits in the trash of the same pool and namespace.
    pub parent_in_trash: Option<String>,
    /// The CSI volume whose image it is: its purge's end is announced.
    pub volume_id: Option<String>,
}

impl Doomed {
    /// Reads id and parent of an open image.
    pub async fn of(pool: &Pool, img: &Image) -> Result<Doomed> {
        let id = img
            .id()
            .await
            .map_err(|e| Error::ceph("get image id", pool.spec(img.name()), e))?;
        let parent = img
            .parent()
            .await
            .map_err(|e| Error::ceph("read parent", pool.spec(img.name()), e))?;
        let parent_in_trash = parent
            .filter(|p| {
                p.trash && p.pool_id == pool.io.pool_id() && p.namespace == pool.io.namespace()
            })
            .map(|p| p.image_id);
        Ok(Doomed {
            id,
            parent_in_trash,
            volume_id: None,
        })
    }
}

/// Moves image `name` to the trash and purges it (and its trashed parent).
pub async fn purge(
    state: &State,
    pool: &Pool,
    name: &str,
    doomed: &Doomed,
    points: PurgePoints,
) -> Result<()> {
    match rbd::trash_move(&pool.io, name).await {
        Ok(()) => {}
        // Moved by an earlier attempt (or concurrently): the purge below still applies.
        Err(e) if e.is_not_found() => {}
        Err(e) => return Err(Error::ceph("move image to trash", pool.spec(name), e)),
    }
    state.maybe_failpoint(points.after_move).await?;
    queue_removal(state, pool, &doomed.id).await?;
    if let Some(volume_id) = &doomed.volume_id {
        watch_purge(state, pool, &doomed.id, volume_id);
    }
    if let Some(parent) = &doomed.parent_in_trash {
        debug!(image = %pool.spec(name), parent, "also purging the trashed parent");
        queue_removal(state, pool, parent).await?;
    }
    state.maybe_failpoint(points.after_queue).await?;
    Ok(())
}

/// Purges the trash entries named in `wanted` (leftovers of an attempt that crashed after its
/// `trash mv`), in that order. Returns how many it found.
pub async fn purge_leftovers(
    state: &State,
    pool: &Pool,
    wanted: &[&str],
    after_queue: Option<&'static str>,
) -> Result<usize> {
    let entries = rbd::trash_list(&pool.io)
        .await
        .map_err(|e| Error::ceph("list trash", pool.spec(""), e))?;
    let mut found = 0;
    // In the order asked: a clone's parent can only be purged after the clone.
    for name in wanted {
        for entry in entries.iter().filter(|e| e.name == *name) {
            debug!(image = %entry.name, id = %entry.id, "purging trash left by an earlier attempt");
            queue_removal(state, pool, &entry.id).await?;
            state.maybe_failpoint(after_queue).await?;
            found += 1;
        }
    }
    Ok(found)
}

/// Purges trash entries whose name ends with `uuid` or `<uuid>-temp` (a volume whose journal
/// entry is already gone), clones before their `-temp` parents.
pub async fn purge_leftovers_of_uuid(state: &State, pool: &Pool, uuid: &str) -> Result<usize> {
    let entries = rbd::trash_list(&pool.io)
        .await
        .map_err(|e| Error::ceph("list trash", pool.spec(""), e))?;
    let temp_suffix = format!("{uuid}-temp");
    let mut names: Vec<&str> = entries
        .iter()
        .map(|e| e.name.as_str())
        .filter(|n| n.ends_with(uuid))
        .collect();
    names.extend(
        entries
            .iter()
            .map(|e| e.name.as_str())
            .filter(|n| n.ends_with(&temp_suffix)),
    );
    if names.is_empty() {
        return Ok(0);
    }
    purge_leftovers(state, pool, &names, None).await
}

/// Has trashed image `image_id` purged: by the mgr, or directly when so configured or when the
/// mgr cannot take the task.
pub async fn queue_removal(state: &State, pool: &Pool, image_id: &str) -> Result<()> {
    let image_id_spec = spec(pool.io.pool_name(), pool.io.namespace(), image_id);
    match state.settings.trash_purge {
        TrashPurge::Direct => return remove_directly(pool, image_id, &image_id_spec).await,
        TrashPurge::Schedule => match ensure_purge_schedule(state, pool).await {
            Ok(()) => return Ok(()),
            Err(e) => {
                warn!(%image_id_spec, error = %e, "no trash purge schedule; queueing a purge task instead");
            }
        },
        TrashPurge::Mgr => {}
    }
    let command = json!({
        "prefix": "rbd task add trash remove",
        "image_id_spec": image_id_spec,
        "format": "json",
    });
    match pool.cluster.rados.mgr_command(command).await {
        Ok(_) => {
            pool.cluster
                .metrics
                .queued(crate::metrics::Task::trash_purge);
            Ok(())
        }
        // Already purged (e.g. by the task an earlier attempt queued).
        Err(ceph::Error::Command { errno, .. }) if errno == libc::ENOENT => Ok(()),
        Err(ceph::Error::Command { errno, status, .. }) => {
            warn!(%image_id_spec, errno, %status, "mgr refused the trash purge task; removing directly");
            remove_directly(pool, image_id, &image_id_spec).await
        }
        Err(e) => Err(Error::ceph("queue trash purge", image_id_spec, e)),
    }
}

/// Announces the end of the purge of trashed image `image_id`, volume `volume_id`'s, once it
/// is gone from the trash. A purge the watch does not see end (an image kept while clones of
/// its snapshots live) is not announced.
fn watch_purge(state: &State, pool: &Pool, image_id: &str, volume_id: &str) {
    let key = format!(
        "purge/{}",
        spec(pool.io.pool_name(), pool.io.namespace(), image_id)
    );
    let (look_pool, look_id) = (pool.clone(), image_id.to_owned());
    let (driver, volume_id) = (state.settings.driver_name.clone(), volume_id.to_owned());
    state.background.start(
        key,
        &state.settings,
        move || {
            let (pool, id) = (look_pool.clone(), look_id.clone());
            async move {
                let entries = rbd::trash_list(&pool.io)
                    .await
                    .map_err(|e| Error::ceph("list trash", pool.spec(""), e))?;
                Ok((!entries.iter().any(|e| e.id == id)).then(Outcome::ok))
            }
        },
        move |outcome, elapsed| {
            outcome.is_ok().then_some(())?;
            built(purged_event(&driver, &volume_id, elapsed))
        },
    );
}

/// `sepia.controller.volume.purged` for volume `volume_id`. Pure.
pub fn purged_event(
    driver: &str,
    volume_id: &str,
    elapsed: std::time::Duration,
) -> std::result::Result<Event, events::EventsError> {
    Event::builder(component::CONTROLLER, object::VOLUME, verb::PURGED)
        // A volume is purged once.
        .operation_key("purge")
        .driver(driver)
        .volume_id(volume_id)
        .duration(elapsed)
        .build()
}

/// Every how often the mgr purges the trash of a scheduled namespace (the schedule's unit is
/// the minute).
pub const PURGE_INTERVAL: &str = "1m";

/// Adds the mgr's trash purge schedule for the pool and namespace, once per process (adding an
/// existing schedule again is harmless, so a restart or a second replica only repeats it).
async fn ensure_purge_schedule(state: &State, pool: &Pool) -> Result<()> {
    let level_spec = match pool.io.namespace() {
        "" => pool.io.pool_name().to_owned(),
        // A trailing slash makes it a namespace; `pool/name` would be an image.
        namespace => format!("{}/{namespace}/", pool.io.pool_name()),
    };
    let key = format!("{}/{level_spec}", pool.cluster.id);
    let known = state
        .purge_schedules
        .lock()
        .map(|set| set.contains(&key))
        .unwrap_or(false);
    if known {
        return Ok(());
    }
    let command = json!({
        "prefix": "rbd trash purge schedule add",
        "level_spec": level_spec,
        "interval": PURGE_INTERVAL,
        "format": "json",
    });
    pool.cluster
        .rados
        .mgr_command(command)
        .await
        .map_err(|e| Error::ceph("add trash purge schedule", level_spec.clone(), e))?;
    debug!(%level_spec, interval = PURGE_INTERVAL, "trash purge schedule in place");
    if let Ok(mut set) = state.purge_schedules.lock() {
        set.insert(key);
    }
    Ok(())
}

async fn remove_directly(pool: &Pool, image_id: &str, image_id_spec: &str) -> Result<()> {
    match rbd::trash_remove(&pool.io, image_id, true).await {
        Ok(()) => Ok(()),
        Err(e) if e.is_not_found() => Ok(()),
        // librbd's answer while a snapshot (in the trash namespace) still has clones: its
        // pre-removal step gets EBUSY removing that snapshot and reports ECHILD, which the
        // removal turns into ENOTEMPTY. Kept until the purge of its last clone takes it along.
        Err(e @ ceph::Error::NotEmpty { .. }) => {
            debug!(%image_id_spec, error = %e, "trashed image still has clones; left in the trash");
            Ok(())
        }
        // EBUSY: someone still watches it (librbd refuses "image has watchers"), e.g. a
        // process that crashed with it open, until the OSD drops its watch. Nothing else would
        // retry this purge, so the delete must fail and be retried.
        Err(ceph::Error::Busy { .. }) => Err(Error::TrashedImageWatched {
            image: image_id_spec.to_owned(),
        }),
        Err(e) => Err(Error::ceph(
            "remove image from trash",
            image_id_spec.to_owned(),
            e,
        )),
    }
}
