//! Whole-object operations on an [`IoCtx`]: existence, full reads/writes, removal, listing.

use std::ptr;
use std::sync::Arc;

use ceph_sys as sys;

use crate::c_text::{bytes_from_c, object_name};
use crate::error::{Error, Result};
use crate::ioctx::IoCtx;
use crate::write_op::WriteOp;

/// Read size per `rados_read`: large enough that journal-sized objects take one round trip,
/// small enough to stay below the OSD's message limits.
const READ_CHUNK: usize = 4 << 20;

impl IoCtx {
    /// Removes the object. Missing -> `Error::NotFound`. A write op, so inside a lock scope it
    /// asserts the scope's locks on the object.
    pub async fn remove(&self, oid: &str) -> Result<()> {
        self.operate(oid, WriteOp::new("remove").remove()).await
    }

    pub async fn exists(&self, oid: &str) -> Result<bool> {
        Ok(self.modified(oid).await?.is_some())
    }

    /// When the object was last written, or `None` when it does not exist (how old a
    /// leftover is, for the operator tool).
    pub async fn modified(&self, oid: &str) -> Result<Option<std::time::SystemTime>> {
        let oid_c = object_name(oid)?;
        let io = Arc::clone(&self.inner);
        self.object_call("stat", oid)
            .run(move |call| {
                let mut size = 0u64;
                let mut mtime: libc::time_t = 0;
                // SAFETY: valid ioctx; out-pointers to locals.
                let rc =
                    unsafe { sys::rados_stat(io.handle(), oid_c.as_ptr(), &mut size, &mut mtime) };
                match call.check(rc) {
                    Ok(_) => {
                        let secs = u64::try_from(mtime).unwrap_or(0);
                        Ok(Some(
                            std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs),
                        ))
                    }
                    Err(Error::NotFound { .. }) => Ok(None),
                    Err(e) => Err(e),
                }
            })
            .await
    }

    /// Replaces the object's data (creating the object if needed).
    pub async fn write_full(&self, oid: &str, data: &[u8]) -> Result<()> {
        let oid_c = object_name(oid)?;
        let data = data.to_vec();
        let io = Arc::clone(&self.inner);
        self.object_call("write_full", oid)
            .run(move |call| {
                // SAFETY: valid ioctx; `data` outlives the call.
                let rc = unsafe {
                    sys::rados_write_full(
                        io.handle(),
                        oid_c.as_ptr(),
                        data.as_ptr().cast(),
                        data.len(),
                    )
                };
                call.check(rc).map(drop)
            })
            .await
    }

    /// The object's whole data. Missing -> `Error::NotFound`.
    pub async fn read_full(&self, oid: &str) -> Result<Vec<u8>> {
        let oid_c = object_name(oid)?;
        let io = Arc::clone(&self.inner);
        self.object_call("read", oid)
            .run(move |call| {
                let mut data = Vec::new();
                loop {
                    let offset = data.len();
                    data.resize(offset + READ_CHUNK, 0);
                    // SAFETY: valid ioctx; READ_CHUNK writable bytes at data[offset..].
                    let rc = unsafe {
                        sys::rados_read(
                            io.handle(),
                            oid_c.as_ptr(),
                            data[offset..].as_mut_ptr().cast(),
                            READ_CHUNK,
                            offset as u64,
                        )
                    };
                    let read = usize::try_from(call.check(rc)?).unwrap_or(0);
                    data.truncate(offset + read);
                    if read < READ_CHUNK {
                        return Ok(data);
                    }
                }
            })
            .await
    }

    /// Names of all objects in this pool and namespace (only this namespace).
    pub async fn list_objects(&self) -> Result<Vec<String>> {
        let io = Arc::clone(&self.inner);
        self.pool_call("list_objects", self.inner.describe())
            .run(move |call| {
                let mut ctx: sys::rados_list_ctx_t = ptr::null_mut();
                // SAFETY: valid ioctx; out-pointer to a local.
                call.check(unsafe { sys::rados_nobjects_list_open(io.handle(), &mut ctx) })?;
                let list = ListCtx(ctx);
                let mut names = Vec::new();
                loop {
                    let mut entry: *const std::os::raw::c_char = ptr::null();
                    let mut entry_len = 0usize;
                    // SAFETY: open list context; key/nspace outputs are optional (NULL).
                    let rc = unsafe {
                        sys::rados_nobjects_list_next2(
                            list.0,
                            &mut entry,
                            ptr::null_mut(),
                            ptr::null_mut(),
                            &mut entry_len,
                            ptr::null_mut(),
                            ptr::null_mut(),
                        )
                    };
                    if rc == -libc::ENOENT {
                        return Ok(names);
                    }
                    call.check(rc)?;
                    // SAFETY: librados returned `entry_len` bytes valid until the next call.
                    let name = unsafe { bytes_from_c(entry, entry_len) };
                    names.push(String::from_utf8_lossy(&name).into_owned());
                }
            })
            .await
    }
}

/// Closes a `rados_list_ctx_t` on every exit path.
struct ListCtx(sys::rados_list_ctx_t);

impl Drop for ListCtx {
    fn drop(&mut self) {
        // SAFETY: opened by rados_nobjects_list_open, closed once.
        unsafe { sys::rados_nobjects_list_close(self.0) };
    }
}
