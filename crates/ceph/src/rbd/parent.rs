//! The parent of a clone: which image and snapshot it reads unwritten data from.

use ceph_sys as sys;

use crate::c_text::from_c;
use crate::error::{Error, Result};
use crate::rbd::image::Image;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParentInfo {
    pub pool_id: i64,
    pub pool_name: String,
    pub namespace: String,
    pub image_name: String,
    pub image_id: String,
    pub snap_name: String,
    /// The parent image itself is in the trash.
    pub trash: bool,
}

impl Image {
    /// The parent image and snapshot, or None for an image that is not (or no longer) a clone.
    pub async fn parent(&self) -> Result<Option<ParentInfo>> {
        self.with_handle("get_parent", |image, call| {
            let mut spec = sys::rbd_linked_image_spec_t {
                pool_id: 0,
                pool_name: std::ptr::null_mut(),
                pool_namespace: std::ptr::null_mut(),
                image_id: std::ptr::null_mut(),
                image_name: std::ptr::null_mut(),
                trash: false,
            };
            let mut snap = sys::rbd_snap_spec_t {
                id: 0,
                namespace_type: 0,
                name: std::ptr::null_mut(),
            };
            // SAFETY: open image; out-structs are locals, cleaned up below on success.
            let rc = unsafe { sys::rbd_get_parent(image, &mut spec, &mut snap) };
            match call.check(rc) {
                Ok(_) => {}
                Err(Error::NotFound { .. }) => return Ok(None),
                Err(e) => return Err(e),
            }
            // SAFETY: on success librbd filled both structs with strdup'ed strings.
            let info = unsafe {
                ParentInfo {
                    pool_id: spec.pool_id,
                    pool_name: from_c(spec.pool_name),
                    namespace: from_c(spec.pool_namespace),
                    image_name: from_c(spec.image_name),
                    image_id: from_c(spec.image_id),
                    snap_name: from_c(snap.name),
                    trash: spec.trash,
                }
            };
            // SAFETY: frees the strings librbd allocated, once.
            unsafe {
                sys::rbd_linked_image_spec_cleanup(&mut spec);
                sys::rbd_snap_spec_cleanup(&mut snap);
            }
            Ok(Some(info))
        })
        .await
    }
}
