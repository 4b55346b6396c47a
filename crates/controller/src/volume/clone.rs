//! CreateVolume from a volume: ceph-csi's `-temp` sequence, so its volumes and ours interoperate.
//!
//! 1. snapshot the source as `<source>@<new>-temp`;
//! 2. clone it into image `<new>-temp` (layering, deep-flatten);
//! 3. remove the source snapshot (clone v2: it waits in the trash namespace while needed);
//! 4. snapshot the temp image as `<new>-temp@<new>`;
//! 5. clone that into `<new>` with the requested features;
//! 6. remove the temp snapshot (to the trash namespace as well);
//! 7. grow, tag, record the image id.
//!
//! The source keeps no snapshot and the new volume depends only on the intermediate image, which
//! is what gets flattened when the chain gets deep (never the source or the new volume, which
//! applications map). A retry resumes from whatever step it finds done. Each clone is proven
//! complete before its source snapshot goes ([`crate::pool::verified_clone`]).

use ceph::rbd::{self, Features};
use journal::Entry;
use tracing::warn;

use crate::error::{Error, Result};
use crate::failpoints::clone as points;
use crate::locks::{self, EntryLock};
use crate::pool::cluster::Pool;
use crate::pool::depth;
use crate::pool::image;
use crate::pool::lookup::{self, Volume, temp_image_name};
use crate::pool::verified_clone::{self, CloneStep, Cloned, Parent};
use crate::secrets::Source;
use crate::state::State;
use crate::volume::create::{
    CreateRequest, Created, Tail, created, finish_content_volume, journal_request, rollback,
};
use crate::volume::source;
use journal::records::source::ContentSource;

/// Features of the intermediate image (ceph-csi's).
const TEMP_FEATURES: Features = Features::LAYERING.union(Features::DEEP_FLATTEN);

/// Step 2: the clone of the source's snapshot into the temp image.
const TEMP_CLONE_STEP: CloneStep = CloneStep {
    what: "clone source",
    before_clone: points::BEFORE_TEMP_CLONE,
    after_clone: points::AFTER_TEMP_CLONE,
    after_half_made_removed: points::AFTER_HALF_MADE_TEMP_REMOVED,
};

/// Step 5: the clone of the temp image's snapshot into the new volume.
const CLONE_STEP: CloneStep = CloneStep {
    what: "clone temp image",
    before_clone: points::BEFORE_CLONE,
    after_clone: points::AFTER_CLONE,
    after_half_made_removed: points::AFTER_HALF_MADE_CLONE_REMOVED,
};

pub async fn clone_volume(
    state: &State,
    req: &CreateRequest,
    pool: &Pool,
    source_id: &str,
) -> Result<Created> {
    let source = lookup::find_volume(state, source_id, Source::Request(&req.secrets)).await?;
    if source.pool.cluster.id != pool.cluster.id {
        return Err(Error::invalid(
            "volume_content_source",
            format!(
                "volume {source_id} is in cluster {:?}, the clone is asked for in cluster {:?}",
                source.pool.cluster.id, pool.cluster.id
            ),
        ));
    }
    let what = format!("source volume {source_id} (being deleted or expanded)");
    let _source_lock = locks::id_lock(state, &source, EntryLock::Shared, what).await?;
    let Some(src) = image::open(&source.pool, &source.entry.image_name).await? else {
        return Err(Error::VolumeNotFound {
            volume_id: source_id.to_owned(),
            why: format!("its image {} is gone", source.spec()),
        });
    };
    let source_pool = &source.pool;
    let source_size = image::with_closed(source_pool, src, |src| async move {
        image::require_layering(source_pool, &src, source_id, "a clone").await?;
        image::size(source_pool, &src).await
    })
    .await?;
    let size = req.capacity.content_volume_size(source_size)?;

    let wanted = ContentSource::Volume(source_id.to_owned());
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
    match build(state, req, pool, &journal, &entry, &source, size).await {
        Ok(capacity) => created(req, pool, &entry, capacity),
        Err(e) => {
            if e.should_roll_back() && !had_image {
                drop_source_snapshot(&source, &temp_image_name(&entry.image_name)).await;
                let temp = temp_image_name(&entry.image_name);
                rollback(
                    state,
                    pool,
                    &journal,
                    &req.name,
                    &entry,
                    &[entry.image_name.as_str(), temp.as_str()],
                )
                .await;
            }
            Err(e)
        }
    }
}

async fn build(
    state: &State,
    req: &CreateRequest,
    pool: &Pool,
    journal: &journal::Journal,
    entry: &Entry,
    source: &Volume,
    size: u64,
) -> Result<u64> {
    let name = entry.image_name.as_str();
    let temp = temp_image_name(name);
    if !image::exists(pool, name).await? {
        make_temp(state, pool, source, &temp).await?;
        clone_from_temp(state, req, pool, name, &temp).await?;
    } else if entry.image_id.is_none() {
        // Step 5 was reached by an attempt that did not finish: the clone is proven while the
        // temp snapshot is there (and remade if it fails); once that is gone it was proven.
        let parent = Parent {
            pool,
            image: &temp,
            snap: name,
        };
        let options = req.params.create_options();
        if let Cloned::Proven(img) =
            verified_clone::ensure(state, parent, pool, name, &options, &CLONE_STEP).await?
        {
            image::close(pool, img).await?;
        }
    }
    // Step 6: the temp snapshot goes to the trash namespace (the new volume depends on it).
    if let Some(temp_img) = image::open(pool, &temp).await? {
        let removed = image::with_closed(pool, temp_img, |img| async move {
            image::remove_snapshot(pool, &img, name).await
        })
        .await?;
        if removed {
            state.failpoint(points::AFTER_TEMP_SNAPSHOT_REMOVED).await?;
        }
    }
    let tail = Tail {
        after_resize: Some(points::AFTER_RESIZE),
        after_metadata: points::AFTER_METADATA,
        after_id: points::AFTER_IMAGE_ID_STORED,
    };
    let img = image::open_existing(pool, name).await?;
    finish_content_volume(state, req, pool, journal, entry, img, size, &tail).await
}

/// Steps 1–3: the temp image, cloned from a snapshot of the source that is dropped once the
/// clone is proven.
async fn make_temp(state: &State, pool: &Pool, source: &Volume, temp: &str) -> Result<()> {
    let src_pool = &source.pool;
    let src_name = source.entry.image_name.as_str();
    if !image::exists(pool, temp).await? {
        let src = image::open_existing(src_pool, src_name).await?;
        image::with_closed(src_pool, src, |src| async move {
            if image::ensure_snapshot(src_pool, &src, temp).await? {
                state.failpoint(points::AFTER_SOURCE_SNAPSHOT).await?;
            }
            Ok(())
        })
        .await?;
    }
    let parent = Parent {
        pool: src_pool,
        image: src_name,
        snap: temp,
    };
    let options = rbd::CreateOptions {
        features: Some(TEMP_FEATURES),
        ..Default::default()
    };
    match verified_clone::ensure(state, parent, pool, temp, &options, &TEMP_CLONE_STEP).await? {
        Cloned::Proven(img) => image::close(pool, img).await?,
        // Step 3 was done, after the proof.
        Cloned::ParentGone if image::exists(pool, temp).await? => {}
        Cloned::ParentGone => {
            return Err(Error::Internal {
                what: format!(
                    "{} was removed before {} was cloned from it",
                    parent.spec(),
                    pool.spec(temp)
                ),
            });
        }
    }
    if let Some(src) = image::open(src_pool, src_name).await? {
        let removed = image::with_closed(src_pool, src, |src| async move {
            image::remove_snapshot(src_pool, &src, temp).await
        })
        .await?;
        if removed {
            state
                .failpoint(points::AFTER_SOURCE_SNAPSHOT_REMOVED)
                .await?;
        }
    }
    Ok(())
}

/// Steps 4–5: snapshot the temp image and clone the new volume from it. The clone-depth limits
/// apply here: the temp image is the one flattened.
async fn clone_from_temp(
    state: &State,
    req: &CreateRequest,
    pool: &Pool,
    name: &str,
    temp: &str,
) -> Result<()> {
    let waiter = req.flatten_waiter();
    let temp_img = image::open_existing(pool, temp).await?;
    image::with_closed(pool, temp_img, |img| async move {
        depth::enforce(state, pool, &img, waiter).await?;
        if image::ensure_snapshot(pool, &img, name).await? {
            state.failpoint(points::AFTER_TEMP_SNAPSHOT).await?;
        }
        Ok(())
    })
    .await?;
    let parent = Parent {
        pool,
        image: temp,
        snap: name,
    };
    let options = req.params.create_options();
    match verified_clone::ensure(state, parent, pool, name, &options, &CLONE_STEP).await? {
        Cloned::Proven(img) => image::close(pool, img).await,
        Cloned::ParentGone => Err(Error::Internal {
            what: format!(
                "{} was removed before {} was cloned from it",
                parent.spec(),
                pool.spec(name)
            ),
        }),
    }
}

/// Rollback helper: the source snapshot of step 1, if still a user snapshot.
async fn drop_source_snapshot(source: &Volume, snap: &str) {
    let pool = &source.pool;
    let outcome = async {
        if let Some(src) = image::open(pool, &source.entry.image_name).await? {
            image::with_closed(pool, src, |src| async move {
                image::remove_snapshot(pool, &src, snap).await
            })
            .await?;
        }
        Ok::<(), Error>(())
    }
    .await;
    if let Err(e) = outcome {
        warn!(source = %source.spec(), snap, error = %e, "rollback: cannot remove the source snapshot");
    }
}
