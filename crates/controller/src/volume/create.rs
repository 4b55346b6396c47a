//! CreateVolume: what the three kinds share (the request, the reply, the finishing steps, the
//! rollback), and the empty volume. The entry point, [`super::provision`], picks the kind.
//!
//! Every kind follows the journal's recipe: take the name lock, reserve the name (or find the
//! earlier reservation), bring the image to the state the request asks for, record the image id
//! last. The stored image id marks a finished volume: a reservation without it belongs to an
//! attempt that crashed or timed out, and the retry completes it from whatever step it reached
//! (docs/architecture.md §10). A finished volume is only compared with the request (ALREADY_EXISTS when
//! it does not satisfy it).
//!
//! On a real failure (not a simulated crash, not a timeout that a retry will repair) everything
//! this name's attempts made is removed and the reservation undone, so nothing half-made stays.

use std::collections::HashMap;

use ceph::rbd::{self, Features};
use csi::SecretMap;
use journal::{Entry, Journal};
use tracing::{info, warn};

use crate::capabilities::Capability;
use crate::error::{Error, Result};
use crate::failpoints;
use crate::params::{VolumeParams, VolumeTags};
use crate::pool::cluster::Pool;
use crate::pool::image;
use crate::pool::lookup::volume_id;
use crate::pool::metadata;
use crate::pool::trash::{self, PurgePoints};
use crate::size::Capacity;
use crate::state::State;
use crate::volume::context::volume_context;
use crate::volume::source;
use journal::records::source::ContentSource;

/// A validated CreateVolume.
#[derive(Debug, Clone)]
pub struct CreateRequest {
    pub name: String,
    pub capacity: Capacity,
    pub capabilities: Vec<Capability>,
    pub params: VolumeParams,
    pub source: Option<ContentSource>,
    pub secrets: SecretMap,
}

impl CreateRequest {
    /// Who waits when this request meets a flatten at the hard clone-depth limit.
    pub fn flatten_waiter(&self) -> crate::pool::flatten_watch::Waiter {
        crate::pool::flatten_watch::Waiter {
            request_name: self.name.clone(),
            source: self.source.clone(),
            claim_name: self.params.tags.pvc_name.clone(),
            claim_namespace: self.params.tags.pvc_namespace.clone(),
        }
    }
}

/// What CreateVolume answers.
#[derive(Debug, Clone)]
pub struct Created {
    pub volume_id: String,
    pub capacity: u64,
    pub context: HashMap<String, String>,
    pub source: Option<ContentSource>,
}

/// Features compared when a finished volume answers a repeated request; librbd adds others
/// (striping, data-pool) by itself.
const COMPARED_FEATURES: Features = Features::LAYERING
    .union(Features::EXCLUSIVE_LOCK)
    .union(Features::OBJECT_MAP)
    .union(Features::FAST_DIFF)
    .union(Features::DEEP_FLATTEN)
    .union(Features::JOURNALING);

/// The journal request of a CreateVolume.
pub(super) fn journal_request(req: &CreateRequest) -> journal::Request {
    let mut request = journal::Request::new(req.name.clone());
    if let Some(prefix) = &req.params.volume_name_prefix {
        request = request.with_image_prefix(prefix.clone());
    }
    if let Some(owner) = &req.params.tags.pvc_namespace {
        request = request.with_owner(owner.clone());
    }
    request
}

/// The reply for a finished volume.
pub(super) fn created(
    req: &CreateRequest,
    pool: &Pool,
    entry: &Entry,
    capacity: u64,
) -> Result<Created> {
    Ok(Created {
        volume_id: volume_id(&pool.cluster, &entry.location)?,
        capacity,
        context: volume_context(&req.params, pool, &entry.image_name),
        source: req.source.clone(),
    })
}

/// An empty volume.
pub(super) async fn create_empty(
    state: &State,
    req: &CreateRequest,
    pool: &Pool,
) -> Result<Created> {
    let size = req.capacity.new_volume_size()?;
    let journal = pool.volumes()?;
    let reservation = journal.reserve(&journal_request(req)).await?;
    let entry = reservation.entry;
    source::ensure(
        pool,
        &req.name,
        &entry.location.uuid,
        reservation.fresh,
        None,
    )
    .await?;
    // A reservation made by this very call has no image yet: skip the lookup.
    let existing = if reservation.fresh {
        None
    } else {
        image::open(pool, &entry.image_name).await?
    };
    let had_image = existing.is_some();
    let outcome = match existing {
        Some(img) => {
            let (journal, entry) = (&journal, &entry);
            image::with_closed(pool, img, |img| async move {
                answer_existing(state, req, pool, journal, entry, img, size).await
            })
            .await
        }
        None => make_empty(state, req, pool, &journal, &entry, size).await,
    };
    match outcome {
        Ok(capacity) => {
            info!(request_name = %req.name, image = %pool.spec(&entry.image_name), capacity, "volume ready");
            created(req, pool, &entry, capacity)
        }
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

/// An image is already there: finish it (an earlier attempt crashed) or compare it.
async fn answer_existing(
    state: &State,
    req: &CreateRequest,
    pool: &Pool,
    journal: &Journal,
    entry: &Entry,
    img: rbd::Image,
    size: u64,
) -> Result<u64> {
    let actual = image::size(pool, &img).await?;
    if entry.image_id.is_some() {
        req.capacity
            .accepts(actual)
            .map_err(|rule| Error::VolumeConflict {
                request_name: req.name.clone(),
                rule,
            })?;
        let features = img
            .features()
            .await
            .map_err(|e| Error::ceph("get image features", pool.spec(&entry.image_name), e))?;
        let wanted = req.params.features & COMPARED_FEATURES;
        if features & COMPARED_FEATURES != wanted {
            return Err(Error::VolumeConflict {
                request_name: req.name.clone(),
                rule: format!(
                    "has features {}, the request asks for {wanted}",
                    features & COMPARED_FEATURES
                ),
            });
        }
    } else if actual != size {
        // A crashed attempt made it with another size: the request changed in between.
        req.capacity
            .accepts(actual)
            .map_err(|rule| Error::VolumeConflict {
                request_name: req.name.clone(),
                rule,
            })?;
    }
    let tail = Tail {
        after_resize: None,
        after_metadata: failpoints::create::AFTER_METADATA,
        after_id: failpoints::create::AFTER_IMAGE_ID_STORED,
    };
    finish_open(
        state,
        pool,
        journal,
        entry,
        &img,
        None,
        &req.params.tags,
        false,
        &tail,
    )
    .await?;
    Ok(actual)
}

/// Creates the image of a reservation that has none.
async fn make_empty(
    state: &State,
    req: &CreateRequest,
    pool: &Pool,
    journal: &Journal,
    entry: &Entry,
    size: u64,
) -> Result<u64> {
    let name = &entry.image_name;
    match rbd::create(&pool.io, name, size, &req.params.create_options()).await {
        Ok(()) => {}
        // A timed-out earlier attempt finished after all; it is this name's image.
        Err(e) if e.is_already_exists() => {}
        Err(e) => return Err(Error::ceph("create image", pool.spec(name), e)),
    }
    state
        .failpoint(failpoints::create::AFTER_IMAGE_CREATED)
        .await?;
    let tail = Tail {
        after_resize: None,
        after_metadata: failpoints::create::AFTER_METADATA,
        after_id: failpoints::create::AFTER_IMAGE_ID_STORED,
    };
    if req.params.tags.is_empty() {
        // Nothing to write on the image: read its id without opening it.
        let id = image::id_of(pool, name).await?;
        store_id(state, journal, entry, &id, tail.after_id).await?;
    } else {
        let img = image::open_existing(pool, name).await?;
        image::with_closed(pool, img, |img| async move {
            finish_open(
                state,
                pool,
                journal,
                entry,
                &img,
                None,
                &req.params.tags,
                false,
                &tail,
            )
            .await
        })
        .await?;
    }
    Ok(size)
}

/// Failpoints of the common tail of a create.
pub(super) struct Tail {
    pub after_resize: Option<&'static str>,
    pub after_metadata: &'static str,
    pub after_id: &'static str,
}

/// The common tail on an open image: grow to `grow_to` (when given), tag, store the id.
#[allow(clippy::too_many_arguments)]
pub(super) async fn finish_open(
    state: &State,
    pool: &Pool,
    journal: &Journal,
    entry: &Entry,
    img: &rbd::Image,
    grow_to: Option<u64>,
    tags: &VolumeTags,
    cloned: bool,
    tail: &Tail,
) -> Result<()> {
    if let Some(size) = grow_to
        && image::grow(pool, img, size).await?
        && let Some(point) = tail.after_resize
    {
        state.failpoint(point).await?;
    }
    if !tags.is_empty() || cloned {
        metadata::tag_volume(pool, img, tags, cloned).await?;
        state.failpoint(tail.after_metadata).await?;
    }
    let id = img
        .id()
        .await
        .map_err(|e| Error::ceph("get image id", pool.spec(img.name()), e))?;
    store_id(state, journal, entry, &id, tail.after_id).await
}

/// The common end of a volume made from content (a restore or a clone), on its open image.
/// A volume finished earlier (its image id is stored) must satisfy the request as it is and is
/// only repaired; a fresh one grows to `size`, is tagged and gets its id stored. Returns the
/// image's size.
#[allow(clippy::too_many_arguments)]
pub(super) async fn finish_content_volume(
    state: &State,
    req: &CreateRequest,
    pool: &Pool,
    journal: &Journal,
    entry: &Entry,
    img: rbd::Image,
    size: u64,
    tail: &Tail,
) -> Result<u64> {
    image::with_closed(pool, img, |img| async move {
        let tags = &req.params.tags;
        if entry.image_id.is_some() {
            let actual = image::size(pool, &img).await?;
            req.capacity
                .accepts(actual)
                .map_err(|rule| Error::VolumeConflict {
                    request_name: req.name.clone(),
                    rule,
                })?;
            finish_open(state, pool, journal, entry, &img, None, tags, true, tail).await?;
            return Ok(actual);
        }
        finish_open(
            state,
            pool,
            journal,
            entry,
            &img,
            Some(size),
            tags,
            true,
            tail,
        )
        .await?;
        image::size(pool, &img).await
    })
    .await
}

/// Records the image id (the "finished" mark) unless it is already there.
async fn store_id(
    state: &State,
    journal: &Journal,
    entry: &Entry,
    id: &str,
    after: &'static str,
) -> Result<()> {
    if entry.image_id.as_deref() == Some(id) {
        return Ok(());
    }
    journal.record_image_id(entry, id).await?;
    state.failpoint(after).await
}

/// Removes `images` (clones before their parents) and undoes the reservation. Best effort:
/// whatever fails is left for the name's next attempt, which repairs it.
pub(super) async fn rollback(
    state: &State,
    pool: &Pool,
    journal: &Journal,
    request_name: &str,
    entry: &Entry,
    images: &[&str],
) {
    for name in images {
        match image::open(pool, name).await {
            Ok(Some(img)) => {
                let snaps = image::snapshots(pool, &img).await.unwrap_or_default();
                for snap in snaps
                    .iter()
                    .filter(|s| s.namespace == rbd::SnapNamespace::User)
                {
                    if let Err(e) = image::remove_snapshot(pool, &img, &snap.name).await {
                        warn!(image = %pool.spec(name), error = %e, "rollback: cannot remove snapshot");
                    }
                }
                let doomed = trash::Doomed::of(pool, &img).await;
                let _ = image::close(pool, img).await;
                if let Ok(doomed) = doomed
                    && let Err(e) =
                        trash::purge(state, pool, name, &doomed, PurgePoints::default()).await
                {
                    warn!(image = %pool.spec(name), error = %e, "rollback: cannot remove image");
                }
            }
            Ok(None) => {}
            Err(e) => warn!(image = %pool.spec(name), error = %e, "rollback: cannot open image"),
        }
    }
    if let Err(e) = journal.undo(request_name, &entry.location).await {
        warn!(request_name, error = %e, "rollback: cannot undo the reservation");
    }
    info!(request_name, "rolled back a failed CreateVolume");
}
