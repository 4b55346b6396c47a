//! The half of CreateSnapshot that does not need to sit on the reply's path.
//!
//! A CSI snapshot in ceph-csi's layout is an image `csi-snap-<u>` cloned from the cut
//! `<source>@csi-snap-<u>`, carrying its own snapshot `csi-snap-<u>`; the source's snapshot is
//! removed (with clone v2 it waits in the trash namespace while the clone needs it). Every RBD
//! snapshot creation is a monitor commit (~1 s on a small cluster), so the reply only waits for
//! the cut and this preparation — clone, source snapshot removal, inner snapshot, image id —
//! runs afterwards: in the background after the first call, inline when a retry or a restore
//! finds it unfinished (after a restart). Each step checks before it writes, so any crash point
//! is resumed; the cut is removed only after the clone is proven complete
//! ([`crate::pool::verified_clone`]). The stored image id marks the snapshot ready.

use ceph::rbd::{self, Features};
use journal::{Entry, Journal};
use tracing::{info, warn};

use crate::error::{Error, Result};
use crate::failpoints::snapshot as points;
use crate::params::SnapshotTags;
use crate::pool::cluster::Pool;
use crate::pool::depth;
use crate::pool::image;
use crate::pool::metadata;
use crate::pool::verified_clone::{self, CloneStep, Cloned, Parent};
use crate::state::State;

/// Features of the snapshot image (ceph-csi's): layering to be restorable, deep-flatten so the
/// image and its snapshot can be flattened off the source when the chain gets deep.
const SNAPSHOT_IMAGE_FEATURES: Features = Features::LAYERING.union(Features::DEEP_FLATTEN);

/// The clone of the cut into the snapshot image.
const CLONE_STEP: CloneStep = CloneStep {
    what: "clone snapshot image",
    before_clone: points::BEFORE_CLONE,
    after_clone: points::AFTER_CLONE,
    after_half_made_removed: points::AFTER_HALF_MADE_CLONE_REMOVED,
};

/// Runs the preparation of a cut snapshot to the end. The caller holds its prepare lock.
pub async fn prepare(
    state: &State,
    pool: &Pool,
    journal: &Journal,
    entry: &Entry,
    tags: &SnapshotTags,
) -> Result<()> {
    let name = entry.image_name.as_str();
    let Some(source) = entry.source.as_deref() else {
        return Err(Error::Internal {
            what: format!(
                "snapshot entry {} records no source image",
                entry.location.uuid
            ),
        });
    };
    let cut = Parent {
        pool,
        image: source,
        snap: name,
    };
    let options = rbd::CreateOptions {
        features: Some(SNAPSHOT_IMAGE_FEATURES),
        ..Default::default()
    };
    // The cut is removed below only once the clone is proven, so while the cut is there an
    // unproven image is remade; once it is gone the image was proven.
    let img = match verified_clone::ensure(state, cut, pool, name, &options, &CLONE_STEP).await? {
        Cloned::Proven(img) => img,
        Cloned::ParentGone => match image::open(pool, name).await? {
            Some(img) => img,
            None => {
                return Err(Error::Internal {
                    what: format!(
                        "the cut {} of this snapshot is gone (was the source volume deleted?)",
                        cut.spec()
                    ),
                });
            }
        },
    };
    let id = image::with_closed(pool, img, |img| async move {
        if let Some(src) = image::open(pool, source).await? {
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
        if !tags.is_empty() {
            metadata::tag_snapshot(pool, &img, tags).await?;
            state.failpoint(points::AFTER_METADATA).await?;
        }
        state.failpoint(points::BEFORE_INNER_SNAPSHOT).await?;
        if image::ensure_snapshot(pool, &img, name).await? {
            state.failpoint(points::AFTER_INNER_SNAPSHOT).await?;
        }
        img.id()
            .await
            .map_err(|e| Error::ceph("get image id", pool.spec(name), e))
    })
    .await?;
    if entry.image_id.as_deref() != Some(id.as_str()) {
        state.failpoint(points::BEFORE_IMAGE_ID_STORED).await?;
        journal.store_image_id(&entry.location, &id).await?;
        state.failpoint(points::AFTER_IMAGE_ID_STORED).await?;
    }
    info!(snapshot = %pool.spec(name), "snapshot ready");
    Ok(())
}

/// At the soft clone-depth limit the snapshot image is flattened in the background, so
/// restores from it stay shallow. Failures only cost depth; they are logged. Runs after the
/// snapshot's locks are released: a ready snapshot must be deletable at once.
pub async fn flatten_if_deep(state: &State, pool: &Pool, name: &str) {
    let outcome = async {
        let img = image::open_existing(pool, name).await?;
        let depth = image::with_closed(
            pool,
            img,
            |img| async move { depth::depth(pool, &img).await },
        )
        .await?;
        if depth::verdict(state.settings.clone_depth, depth) != depth::Verdict::Fine {
            depth::queue_flatten(pool, name).await?;
        }
        Ok::<(), Error>(())
    }
    .await;
    if let Err(e) = outcome {
        warn!(snapshot = %pool.spec(name), error = %e, "cannot check the clone depth of a snapshot image");
    }
}
