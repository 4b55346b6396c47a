//! Opening, closing and reading RBD images the way every operation here needs it: a missing
//! image is a value (`None`), not an error; handles are closed explicitly and awaited, so our
//! watch on the header is gone before the reply (a DeleteVolume right after CreateVolume must
//! not see us as a user); errors name the image spec.

use std::time::Duration;

use ceph::rbd::{self, Features, Image, SnapInfo, SnapNamespace};

use crate::error::{Error, Result};
use crate::pool::cluster::Pool;

/// Opens `name`, or `None` when it does not exist.
pub async fn open(pool: &Pool, name: &str) -> Result<Option<Image>> {
    match rbd::open(&pool.io, name).await {
        Ok(image) => Ok(Some(image)),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(Error::ceph("open image", pool.spec(name), e)),
    }
}

/// Whether image `name` exists, without opening it (a stat of its `rbd_id.<name>` object: no
/// header read, no watch left behind).
pub async fn exists(pool: &Pool, name: &str) -> Result<bool> {
    let oid = rbd::id_object_name(name);
    pool.io
        .exists(&oid)
        .await
        .map_err(|e| Error::ceph("look up image", pool.spec(name), e))
}

/// Opens `name`, which must exist.
pub async fn open_existing(pool: &Pool, name: &str) -> Result<Image> {
    rbd::open(&pool.io, name)
        .await
        .map_err(|e| Error::ceph("open image", pool.spec(name), e))
}

/// Closes and waits for librbd to release the handle (and its watch).
pub async fn close(pool: &Pool, image: Image) -> Result<()> {
    let name = image.name().to_owned();
    image
        .close()
        .await
        .map_err(|e| Error::ceph("close image", pool.spec(&name), e))
}

/// Runs `f` on the open image, then closes it whatever `f` returned.
pub async fn with_closed<T, F, Fut>(pool: &Pool, image: Image, f: F) -> Result<T>
where
    F: FnOnce(Image) -> Fut,
    Fut: std::future::Future<Output = Result<T>>,
{
    let result = f(image.clone()).await;
    let closed = close(pool, image).await;
    let value = result?;
    closed?;
    Ok(value)
}

/// The image id. Reads `rbd_id.<name>` (one object read) instead of opening the image, which
/// would cost a header read, a watch and an unwatch; falls back to opening when the object
/// does not decode.
pub async fn id_of(pool: &Pool, name: &str) -> Result<String> {
    let oid = rbd::id_object_name(name);
    match pool.io.read_full(&oid).await {
        Ok(bytes) => {
            if let Some(id) = rbd::decode_id_object(&bytes) {
                return Ok(id);
            }
        }
        Err(e) => return Err(Error::ceph("read image id", pool.spec(name), e)),
    }
    let image = open_existing(pool, name).await?;
    with_closed(pool, image, |image| async move {
        image
            .id()
            .await
            .map_err(|e| Error::ceph("get image id", pool.spec(name), e))
    })
    .await
}

/// Snapshots of an open image.
pub async fn snapshots(pool: &Pool, image: &Image) -> Result<Vec<SnapInfo>> {
    image
        .snap_list()
        .await
        .map_err(|e| Error::ceph("list snapshots", pool.spec(image.name()), e))
}

/// Whether a user snapshot `snap` exists (not one moved to the trash namespace).
pub fn has_user_snapshot(snaps: &[SnapInfo], snap: &str) -> bool {
    snaps
        .iter()
        .any(|s| s.namespace == SnapNamespace::User && s.name == snap)
}

/// Creates snapshot `snap` unless it exists; returns whether this call created it.
pub async fn ensure_snapshot(pool: &Pool, image: &Image, snap: &str) -> Result<bool> {
    match image.snap_create(snap).await {
        Ok(()) => Ok(true),
        Err(e) if e.is_already_exists() => Ok(false),
        Err(e) => Err(Error::ceph(
            "create snapshot",
            format!("{}@{snap}", pool.spec(image.name())),
            e,
        )),
    }
}

/// Removes user snapshot `snap` if it is there (with clone v2 it moves to the trash namespace
/// while clones depend on it). Returns whether it was there.
pub async fn remove_snapshot(pool: &Pool, image: &Image, snap: &str) -> Result<bool> {
    match image.snap_remove(snap).await {
        Ok(()) => Ok(true),
        Err(e) if e.is_not_found() => Ok(false),
        Err(e) => Err(Error::ceph(
            "remove snapshot",
            format!("{}@{snap}", pool.spec(image.name())),
            e,
        )),
    }
}

/// Refuses (FAILED_PRECONDITION, naming `volume_id`) an open volume image without `layering`:
/// snapshots and clones are clones of it, which librbd refuses with ENOSYS ("errno 38").
pub async fn require_layering(
    pool: &Pool,
    img: &Image,
    volume_id: &str,
    needed_for: &'static str,
) -> Result<()> {
    let features = img
        .features()
        .await
        .map_err(|e| Error::ceph("get image features", pool.spec(img.name()), e))?;
    if features.contains(Features::LAYERING) {
        return Ok(());
    }
    Err(Error::NoLayering {
        volume_id: volume_id.to_owned(),
        image: pool.spec(img.name()),
        needed_for,
    })
}

/// Image size in bytes.
pub async fn size(pool: &Pool, image: &Image) -> Result<u64> {
    image
        .size()
        .await
        .map_err(|e| Error::ceph("get image size", pool.spec(image.name()), e))
}

/// Grows the image to `size` when it is smaller; returns whether it grew.
pub async fn grow(pool: &Pool, image: &Image, size: u64) -> Result<bool> {
    if self::size(pool, image).await? >= size {
        return Ok(false);
    }
    image
        .resize(size)
        .await
        .map_err(|e| Error::ceph("resize image", pool.spec(image.name()), e))?;
    Ok(true)
}

/// How long a watcher may take to go away before the image counts as in use. Besides nodes
/// that map the image, the mgr watches it for a moment while it purges a trashed clone (it
/// opens the parent to drop the snapshot the clone used); that is not "in use".
const WATCHER_GRACE: [Duration; 3] = [
    Duration::from_millis(100),
    Duration::from_millis(300),
    Duration::from_millis(600),
];

/// Refuses (FAILED_PRECONDITION, naming `what`: "volume <id>") to go on with an image that
/// another client still watches, after the grace for transient watchers. A client that crashed
/// with the image open keeps its watch until the OSD times it out (30 s by default): librbd
/// refuses to remove the image meanwhile (EBUSY), so a delete must wait for none.
pub async fn refuse_if_watched(
    pool: &Pool,
    img: &Image,
    what: impl FnOnce() -> String,
) -> Result<()> {
    match foreign_watchers(pool, img).await? {
        0 => Ok(()),
        watchers => Err(Error::InUse {
            what: what(),
            image: pool.spec(img.name()),
            watchers,
        }),
    }
}

/// Watchers of the open image other than our own handle, after the grace for transient ones.
async fn foreign_watchers(pool: &Pool, img: &Image) -> Result<usize> {
    let mut pauses = WATCHER_GRACE.iter();
    loop {
        let watchers = img
            .watchers()
            .await
            .map_err(|e| Error::ceph("list watchers", pool.spec(img.name()), e))?;
        // Our own handle is one of them.
        let others = watchers.len().saturating_sub(1);
        match pauses.next() {
            Some(pause) if others > 0 => tokio::time::sleep(*pause).await,
            _ => return Ok(others),
        }
    }
}
