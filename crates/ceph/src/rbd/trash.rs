//! The RBD trash: images moved aside (by id) instead of deleted at once. ceph-csi moves images
//! there and lets the mgr purge them (`rbd task add trash remove`), so a slow delete of a large
//! image never blocks a DeleteVolume call.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use ceph_sys as sys;

use crate::blocking::Call;
use crate::c_text::{c_string, from_c};
use crate::error::Result;
use crate::ioctx::IoCtx;
use crate::rbd::image::image_target_call;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrashEntry {
    pub id: String,
    pub name: String,
    pub source: TrashSource,
    /// When it was moved to the trash.
    pub deletion_time: SystemTime,
    /// Until when a removal without `force` is refused (the deletion time when moved without
    /// a deferment); past it the entry is only waiting for whoever was to purge it.
    pub deferment_end_time: SystemTime,
}

/// Who put an image in the trash (librbd's `rbd_trash_image_source_t`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TrashSource {
    /// `rbd trash mv` (what the CSI drivers do).
    User,
    Mirroring,
    Migration,
    /// A removal in progress (`rbd rm` moves the image here first).
    Removing,
    /// A parent moved along with its trashed clone.
    UserParent,
    Other(u32),
}

impl TrashSource {
    fn from_raw(raw: sys::rbd_trash_image_source_t) -> TrashSource {
        match raw {
            sys::RBD_TRASH_IMAGE_SOURCE_USER => TrashSource::User,
            sys::RBD_TRASH_IMAGE_SOURCE_MIRRORING => TrashSource::Mirroring,
            sys::RBD_TRASH_IMAGE_SOURCE_MIGRATION => TrashSource::Migration,
            sys::RBD_TRASH_IMAGE_SOURCE_REMOVING => TrashSource::Removing,
            sys::RBD_TRASH_IMAGE_SOURCE_USER_PARENT => TrashSource::UserParent,
            other => TrashSource::Other(other),
        }
    }
}

/// A `time_t` of librbd (seconds since the epoch; never negative for trash times).
fn from_time_t(secs: sys::time_t) -> SystemTime {
    SystemTime::UNIX_EPOCH
        .checked_add(Duration::from_secs(u64::try_from(secs).unwrap_or(0)))
        .unwrap_or(SystemTime::UNIX_EPOCH)
}

/// Moves image `name` to the trash, removable immediately (no deferment).
pub async fn trash_move(io: &IoCtx, name: &str) -> Result<()> {
    trash_move_deferred(io, name, Duration::ZERO).await
}

/// Moves image `name` to the trash; a removal without `force` is refused for `delay` (whole
/// seconds, as `rbd trash mv --expires-at` keeps it).
pub async fn trash_move_deferred(io: &IoCtx, name: &str, delay: Duration) -> Result<()> {
    let name_c = c_string("image name", name)?;
    let delay = delay.as_secs();
    let io = Arc::clone(&io.inner);
    image_target_call(&io, "trash_move", name)
        .run(move |call| {
            // SAFETY: valid ioctx; NUL-terminated name.
            let rc = unsafe { sys::rbd_trash_move(io.handle(), name_c.as_ptr(), delay) };
            call.check(rc).map(drop)
        })
        .await
}

/// Images in this pool and namespace's trash.
pub async fn trash_list(io: &IoCtx) -> Result<Vec<TrashEntry>> {
    let io = Arc::clone(&io.inner);
    let call = Call::new("trash_list", io.describe(), io.cluster.timeouts.op);
    call.run(move |call| {
        let mut capacity = 32usize;
        loop {
            let mut raw = vec![
                sys::rbd_trash_image_info_t {
                    id: std::ptr::null_mut(),
                    name: std::ptr::null_mut(),
                    source: 0,
                    deletion_time: 0,
                    deferment_end_time: 0,
                };
                capacity
            ];
            let mut count = capacity;
            // SAFETY: valid ioctx; array of `count` entries.
            let rc = unsafe { sys::rbd_trash_list(io.handle(), raw.as_mut_ptr(), &mut count) };
            if rc == -libc::ERANGE && count > capacity {
                capacity = count;
                continue;
            }
            call.check(rc)?;
            let count = count.min(capacity);
            let entries = raw[..count]
                .iter()
                .map(|e| TrashEntry {
                    // SAFETY: librbd strdup'ed the strings of entries [..count].
                    id: unsafe { from_c(e.id) },
                    // SAFETY: as above.
                    name: unsafe { from_c(e.name) },
                    source: TrashSource::from_raw(e.source),
                    deletion_time: from_time_t(e.deletion_time),
                    deferment_end_time: from_time_t(e.deferment_end_time),
                })
                .collect();
            // SAFETY: frees exactly the `count` filled entries.
            unsafe { sys::rbd_trash_list_cleanup(raw.as_mut_ptr(), count) };
            return Ok(entries);
        }
    })
    .await
}

/// Deletes a trashed image by id (synchronously, data included). `force` ignores the
/// deferment time.
pub async fn trash_remove(io: &IoCtx, id: &str, force: bool) -> Result<()> {
    let id_c = c_string("image id", id)?;
    let io = Arc::clone(&io.inner);
    let call = Call::new(
        "trash_remove",
        format!("trashed image id {id} in {}", io.describe()),
        io.cluster.timeouts.op,
    );
    call.run(move |call| {
        // SAFETY: valid ioctx; NUL-terminated id.
        let rc = unsafe { sys::rbd_trash_remove(io.handle(), id_c.as_ptr(), force) };
        call.check(rc).map(drop)
    })
    .await
}
