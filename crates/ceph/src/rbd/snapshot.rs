//! Image snapshots, including those in the trash namespace: with clone v2, removing a snapshot
//! that still has clones moves it there (named by a UUID, original name kept) until the last
//! clone is flattened or removed. Listing must show them, or an image looks removable when
//! librbd will refuse.

use std::os::raw::c_int;

use ceph_sys as sys;

use crate::blocking::Call;
use crate::c_text::{c_string, from_buf, from_c};
use crate::error::Result;
use crate::rbd::image::Image;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SnapNamespace {
    User,
    Group,
    /// Removed while clones depended on it.
    Trash {
        original_name: String,
    },
    /// Created by snapshot-based mirroring.
    Mirror,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SnapInfo {
    pub id: u64,
    pub name: String,
    pub size: u64,
    pub namespace: SnapNamespace,
}

impl Image {
    /// Creates a user snapshot. Exists -> AlreadyExists.
    pub async fn snap_create(&self, snap: &str) -> Result<()> {
        let snap_c = c_string("snapshot name", snap)?;
        self.with_handle("snap_create", move |image, call| {
            // SAFETY: open image; NUL-terminated name.
            call.check(unsafe { sys::rbd_snap_create(image, snap_c.as_ptr()) })
                .map(drop)
        })
        .await
    }

    /// Removes a user snapshot (to the trash namespace if clones depend on it). Missing ->
    /// NotFound.
    pub async fn snap_remove(&self, snap: &str) -> Result<()> {
        let snap_c = c_string("snapshot name", snap)?;
        self.with_handle("snap_remove", move |image, call| {
            // SAFETY: open image; NUL-terminated name.
            call.check(unsafe { sys::rbd_snap_remove(image, snap_c.as_ptr()) })
                .map(drop)
        })
        .await
    }

    /// All snapshots of the image, whatever their namespace.
    pub async fn snap_list(&self) -> Result<Vec<SnapInfo>> {
        self.with_handle("snap_list", |image, call| {
            let raw = list_raw(image, call)?;
            raw.into_iter()
                .map(|(id, name, size)| {
                    Ok(SnapInfo {
                        id,
                        name,
                        size,
                        namespace: namespace_of(image, id, call)?,
                    })
                })
                .collect()
        })
        .await
    }
}

/// (id, name, size) of every snapshot, via `rbd_snap_list` (which returns all namespaces).
fn list_raw(image: sys::rbd_image_t, call: &Call) -> Result<Vec<(u64, String, u64)>> {
    let mut capacity: c_int = 16;
    loop {
        let len = usize::try_from(capacity).unwrap_or(0);
        let mut snaps = vec![
            sys::rbd_snap_info_t {
                id: 0,
                size: 0,
                name: std::ptr::null(),
            };
            len
        ];
        let mut max = capacity;
        // SAFETY: open image; array of `max` entries (librbd needs one spare as terminator).
        let rc = unsafe { sys::rbd_snap_list(image, snaps.as_mut_ptr(), &mut max) };
        if rc == -libc::ERANGE && max > capacity {
            capacity = max;
            continue;
        }
        let count = usize::try_from(call.check(rc)?).unwrap_or(0).min(len);
        let out = snaps[..count]
            .iter()
            // SAFETY: entries [..count] hold strdup'ed names.
            .map(|s| (s.id, unsafe { from_c(s.name) }, s.size))
            .collect();
        // SAFETY: frees the names of the filled entries (stops at the NULL terminator).
        unsafe { sys::rbd_snap_list_end(snaps.as_mut_ptr()) };
        return Ok(out);
    }
}

fn namespace_of(image: sys::rbd_image_t, id: u64, call: &Call) -> Result<SnapNamespace> {
    let mut kind: sys::rbd_snap_namespace_type_t = 0;
    // SAFETY: open image; out-pointer to a local.
    call.check(unsafe { sys::rbd_snap_get_namespace_type(image, id, &mut kind) })?;
    Ok(match kind {
        sys::RBD_SNAP_NAMESPACE_TYPE_GROUP => SnapNamespace::Group,
        sys::RBD_SNAP_NAMESPACE_TYPE_MIRROR => SnapNamespace::Mirror,
        sys::RBD_SNAP_NAMESPACE_TYPE_TRASH => {
            let mut buf = vec![0u8; 256];
            loop {
                // SAFETY: open image; buffer of buf.len() bytes.
                let rc = unsafe {
                    sys::rbd_snap_get_trash_namespace(image, id, buf.as_mut_ptr().cast(), buf.len())
                };
                if rc == -libc::ERANGE && buf.len() < 1 << 16 {
                    buf.resize(buf.len() * 4, 0);
                    continue;
                }
                call.check(rc)?;
                break SnapNamespace::Trash {
                    original_name: from_buf(&buf),
                };
            }
        }
        _ => SnapNamespace::User,
    })
}
