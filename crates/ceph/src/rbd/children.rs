//! The children of a snapshot: the images librbd has registered as clones of it.
//!
//! A clone is complete only once its parent lists it (with clone v2 the child is attached to
//! the parent snapshot as the last step of `rbd_clone`); until then, removing the snapshot
//! really deletes it instead of moving it to the trash namespace, and the clone's unwritten
//! data is gone. Callers about to remove a snapshot read this list to prove the clone first.

use std::ptr;
use std::sync::Arc;

use ceph_sys as sys;

use crate::c_text::{c_string, from_c};
use crate::error::Result;
use crate::ioctx::IoCtx;
use crate::rbd::image::image_target_call;

/// One clone of a snapshot, as its parent records it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChildInfo {
    pub pool_id: i64,
    pub pool_name: String,
    pub namespace: String,
    pub image_name: String,
    pub image_id: String,
    /// The child itself is in the trash.
    pub trash: bool,
}

/// The children of `image@snap` in `io`'s pool and namespace (children in other pools or
/// namespaces included). NotFound when the image or the snapshot does not exist.
///
/// Opens the image read-only at the snapshot, so no watch is registered on its header and
/// nothing is written; the handle is closed within the same call.
pub async fn children(io: &IoCtx, image: &str, snap: &str) -> Result<Vec<ChildInfo>> {
    let image_c = c_string("image name", image)?;
    let snap_c = c_string("snapshot name", snap)?;
    let io = Arc::clone(&io.inner);
    image_target_call(&io, "list_children", &format!("{image}@{snap}"))
        .run(move |call| {
            let mut handle: sys::rbd_image_t = ptr::null_mut();
            // SAFETY: valid ioctx; NUL-terminated names; out-pointer to a local.
            let rc = unsafe {
                sys::rbd_open_read_only(io.handle(), image_c.as_ptr(), &mut handle, snap_c.as_ptr())
            };
            call.check(rc)?;
            let listed = list(handle, call);
            // SAFETY: the handle opened above, closed exactly once.
            let closed = unsafe { sys::rbd_close(handle) };
            let listed = listed?;
            call.check(closed)?;
            Ok(listed)
        })
        .await
}

/// `rbd_list_children3` on an image opened at a snapshot, growing the array on ERANGE.
fn list(handle: sys::rbd_image_t, call: &crate::blocking::Call) -> Result<Vec<ChildInfo>> {
    let mut capacity: usize = 8;
    loop {
        let empty = sys::rbd_linked_image_spec_t {
            pool_id: 0,
            pool_name: ptr::null_mut(),
            pool_namespace: ptr::null_mut(),
            image_id: ptr::null_mut(),
            image_name: ptr::null_mut(),
            trash: false,
        };
        let mut specs = vec![empty; capacity];
        let mut count = capacity;
        // SAFETY: open image; array of `count` entries.
        let rc = unsafe { sys::rbd_list_children3(handle, specs.as_mut_ptr(), &mut count) };
        if rc == -libc::ERANGE && count > capacity {
            capacity = count;
            continue;
        }
        call.check(rc)?;
        let count = count.min(capacity);
        let children = specs[..count]
            .iter()
            // SAFETY: on success entries [..count] hold strings librbd strdup'ed.
            .map(|s| unsafe {
                ChildInfo {
                    pool_id: s.pool_id,
                    pool_name: from_c(s.pool_name),
                    namespace: from_c(s.pool_namespace),
                    image_name: from_c(s.image_name),
                    image_id: from_c(s.image_id),
                    trash: s.trash,
                }
            })
            .collect();
        // SAFETY: frees the strings of the `count` filled entries, once.
        unsafe { sys::rbd_linked_image_spec_list_cleanup(specs.as_mut_ptr(), count) };
        return Ok(children);
    }
}
