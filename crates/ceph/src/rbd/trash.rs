//! The RBD trash: images moved aside (by id) instead of deleted at once. ceph-csi moves images
//! there and lets the mgr purge them (`rbd task add trash remove`), so a slow delete of a large
//! image never blocks a DeleteVolume call.

use std::sync::Arc;

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
}

/// Moves image `name` to the trash, removable immediately (no deferment).
pub async fn trash_move(io: &IoCtx, name: &str) -> Result<()> {
    let name_c = c_string("image name", name)?;
    let io = Arc::clone(&io.inner);
    image_target_call(&io, "trash_move", name)
        .run(move |call| {
            // SAFETY: valid ioctx; NUL-terminated name.
            let rc = unsafe { sys::rbd_trash_move(io.handle(), name_c.as_ptr(), 0) };
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
