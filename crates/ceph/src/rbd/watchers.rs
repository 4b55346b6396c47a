//! Who has an image open: every read-write open registers a RADOS watch on the header object.
//! ceph-csi checks this before deleting and to refuse a second RWO attachment.

use ceph_sys as sys;

use crate::c_text::from_c;
use crate::error::Result;
use crate::rbd::image::Image;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Watcher {
    /// Client address, e.g. `127.0.0.1:0/3311445`.
    pub addr: String,
    /// The client's global id (the `client.<id>` of its RADOS session).
    pub id: i64,
    pub cookie: u64,
}

impl Image {
    /// Current watchers of the image header, including this handle's own watch.
    pub async fn watchers(&self) -> Result<Vec<Watcher>> {
        self.with_handle("watchers_list", |image, call| {
            let mut capacity = 8usize;
            loop {
                let mut raw = vec![
                    sys::rbd_image_watcher_t {
                        addr: std::ptr::null_mut(),
                        id: 0,
                        cookie: 0,
                    };
                    capacity
                ];
                let mut count = capacity;
                // SAFETY: open image; array of `count` entries.
                let rc = unsafe { sys::rbd_watchers_list(image, raw.as_mut_ptr(), &mut count) };
                if rc == -libc::ERANGE && count > capacity {
                    capacity = count;
                    continue;
                }
                call.check(rc)?;
                let count = count.min(capacity);
                let watchers = raw[..count]
                    .iter()
                    .map(|w| Watcher {
                        // SAFETY: librbd strdup'ed the address of entries [..count].
                        addr: unsafe { from_c(w.addr) },
                        id: w.id,
                        cookie: w.cookie,
                    })
                    .collect();
                // SAFETY: frees exactly the `count` filled entries.
                unsafe { sys::rbd_watchers_list_cleanup(raw.as_mut_ptr(), count) };
                return Ok(watchers);
            }
        })
        .await
    }
}
