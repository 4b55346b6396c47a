//! Pool-level image management: create, clone, list, remove.

use std::sync::Arc;

use ceph_sys as sys;

use crate::blocking::Call;
use crate::c_text::{c_string, from_c};
use crate::error::Result;
use crate::ioctx::IoCtx;
use crate::rbd::image::image_target_call;
use crate::rbd::options::{CreateOptions, PreparedOptions, Purpose};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageSpec {
    pub id: String,
    pub name: String,
}

/// Creates a format-2 image of `size` bytes. Exists -> AlreadyExists.
pub async fn create(io: &IoCtx, name: &str, size: u64, opts: &CreateOptions) -> Result<()> {
    let name_c = c_string("image name", name)?;
    let prepared = PreparedOptions::new(opts, Purpose::Create)?;
    let io = Arc::clone(&io.inner);
    image_target_call(&io, "create", name)
        .run(move |call| {
            let opts = prepared.build()?;
            // SAFETY: valid ioctx; NUL-terminated name; live options object.
            let rc = unsafe { sys::rbd_create4(io.handle(), name_c.as_ptr(), size, opts.0) };
            call.check(rc).map(drop)
        })
        .await
}

/// Clones `parent@snap` into `child` with clone format 2 (no snapshot protection needed).
pub async fn clone(
    parent_io: &IoCtx,
    parent: &str,
    snap: &str,
    child_io: &IoCtx,
    child: &str,
    opts: &CreateOptions,
) -> Result<()> {
    let parent_c = c_string("parent image name", parent)?;
    let snap_c = c_string("snapshot name", snap)?;
    let child_c = c_string("image name", child)?;
    let prepared = PreparedOptions::new(opts, Purpose::Clone)?;
    let p_io = Arc::clone(&parent_io.inner);
    let c_io = Arc::clone(&child_io.inner);
    let call = Call::new(
        "clone",
        format!(
            "image {child:?} in {} from {parent}@{snap} in {}",
            c_io.describe(),
            p_io.describe()
        ),
        c_io.cluster.timeouts.op,
    );
    call.run(move |call| {
        let opts = prepared.build()?;
        // SAFETY: valid ioctxs; NUL-terminated names; live options object.
        let rc = unsafe {
            sys::rbd_clone3(
                p_io.handle(),
                parent_c.as_ptr(),
                snap_c.as_ptr(),
                c_io.handle(),
                child_c.as_ptr(),
                opts.0,
            )
        };
        call.check(rc).map(drop)
    })
    .await
}

/// Removes the image and its data. NotFound; Busy while it has watchers (open somewhere);
/// NotEmpty while it has snapshots.
pub async fn remove(io: &IoCtx, name: &str) -> Result<()> {
    let name_c = c_string("image name", name)?;
    let io = Arc::clone(&io.inner);
    image_target_call(&io, "remove", name)
        .run(move |call| {
            // SAFETY: valid ioctx; NUL-terminated name.
            let rc = unsafe { sys::rbd_remove(io.handle(), name_c.as_ptr()) };
            call.check(rc).map(drop)
        })
        .await
}

/// Images in this pool and namespace (not those in the trash).
pub async fn list(io: &IoCtx) -> Result<Vec<ImageSpec>> {
    let io = Arc::clone(&io.inner);
    let call = Call::new("list_images", io.describe(), io.cluster.timeouts.op);
    call.run(move |call| {
        let mut capacity = 64usize;
        loop {
            let mut specs = vec![
                sys::rbd_image_spec_t {
                    id: std::ptr::null_mut(),
                    name: std::ptr::null_mut(),
                };
                capacity
            ];
            let mut count = capacity;
            // SAFETY: valid ioctx; array of `count` entries.
            let rc = unsafe { sys::rbd_list2(io.handle(), specs.as_mut_ptr(), &mut count) };
            if rc == -libc::ERANGE && count > capacity {
                capacity = count;
                continue;
            }
            call.check(rc)?;
            let found = specs[..count.min(capacity)]
                .iter()
                .map(|s| ImageSpec {
                    // SAFETY: librbd filled entries [..count] with strdup'ed strings.
                    id: unsafe { from_c(s.id) },
                    // SAFETY: as above.
                    name: unsafe { from_c(s.name) },
                })
                .collect();
            // SAFETY: frees exactly the `count` entries librbd filled.
            unsafe { sys::rbd_image_spec_list_cleanup(specs.as_mut_ptr(), count.min(capacity)) };
            return Ok(found);
        }
    })
    .await
}
