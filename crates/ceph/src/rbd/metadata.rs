//! Image metadata (key/value pairs in the image header), where Sepia tags images with the
//! PVC/PV names and ceph-csi keeps e.g. `rbd.csi.ceph.com/thick-provisioned`.

use ceph_sys as sys;

use crate::c_text::{c_string, from_buf};
use crate::error::{Error, Result};
use crate::rbd::image::Image;

impl Image {
    /// The value for `key`, or None when it is not set.
    pub async fn metadata_get(&self, key: &str) -> Result<Option<String>> {
        let key_c = c_string("metadata key", key)?;
        self.with_handle("metadata_get", move |image, call| {
            let mut buf = vec![0u8; 256];
            loop {
                let mut len = buf.len();
                // SAFETY: open image; NUL-terminated key; buffer of `len` bytes.
                let rc = unsafe {
                    sys::rbd_metadata_get(image, key_c.as_ptr(), buf.as_mut_ptr().cast(), &mut len)
                };
                if rc == -libc::ERANGE && len > buf.len() {
                    buf.resize(len, 0);
                    continue;
                }
                return match call.check(rc) {
                    Ok(_) => Ok(Some(from_buf(&buf))),
                    Err(Error::NotFound { .. }) => Ok(None),
                    Err(e) => Err(e),
                };
            }
        })
        .await
    }

    pub async fn metadata_set(&self, key: &str, value: &str) -> Result<()> {
        let key_c = c_string("metadata key", key)?;
        let value_c = c_string("metadata value", value)?;
        self.with_handle("metadata_set", move |image, call| {
            // SAFETY: open image; NUL-terminated key and value.
            let rc = unsafe { sys::rbd_metadata_set(image, key_c.as_ptr(), value_c.as_ptr()) };
            call.check(rc).map(drop)
        })
        .await
    }

    /// Removes `key`; a key that is not set is fine (idempotent).
    pub async fn metadata_remove(&self, key: &str) -> Result<()> {
        let key_c = c_string("metadata key", key)?;
        self.with_handle("metadata_remove", move |image, call| {
            // SAFETY: open image; NUL-terminated key.
            let rc = unsafe { sys::rbd_metadata_remove(image, key_c.as_ptr()) };
            match call.check(rc) {
                Ok(_) | Err(Error::NotFound { .. }) => Ok(()),
                Err(e) => Err(e),
            }
        })
        .await
    }
}
