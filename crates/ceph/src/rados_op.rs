//! RAII owners for librados compound operations and omap iterators, so every exit path
//! (including `?`) releases them. Used only inside blocking closures.

use std::os::raw::c_char;
use std::ptr;

use ceph_sys as sys;

use crate::c_text::bytes_from_c;
use crate::error::Result;

pub(crate) struct RawWriteOp(pub sys::rados_write_op_t);

impl RawWriteOp {
    pub fn new() -> RawWriteOp {
        // SAFETY: plain allocation; released in Drop.
        RawWriteOp(unsafe { sys::rados_create_write_op() })
    }
}

impl Drop for RawWriteOp {
    fn drop(&mut self) {
        // SAFETY: created by rados_create_write_op, released once.
        unsafe { sys::rados_release_write_op(self.0) };
    }
}

pub(crate) struct ReadOp(pub sys::rados_read_op_t);

impl ReadOp {
    pub fn new() -> ReadOp {
        // SAFETY: plain allocation; released in Drop.
        ReadOp(unsafe { sys::rados_create_read_op() })
    }
}

impl Drop for ReadOp {
    fn drop(&mut self) {
        // SAFETY: created by rados_create_read_op, released once.
        unsafe { sys::rados_release_read_op(self.0) };
    }
}

/// An omap iterator handed out by a read op. librados allocates it when the op is *built*, so
/// it must be ended even when the op is never run or fails.
pub(crate) struct OmapIter(pub sys::rados_omap_iter_t);

impl OmapIter {
    pub fn null() -> OmapIter {
        OmapIter(ptr::null_mut())
    }

    /// Drains the iterator into owned (key, value) pairs.
    pub fn collect(&self) -> Result<Vec<(String, Vec<u8>)>> {
        let mut out = Vec::new();
        if self.0.is_null() {
            return Ok(out);
        }
        loop {
            let mut key: *mut c_char = ptr::null_mut();
            let mut val: *mut c_char = ptr::null_mut();
            let mut key_len = 0usize;
            let mut val_len = 0usize;
            // SAFETY: live iterator; out-pointers to locals.
            let rc = unsafe {
                sys::rados_omap_get_next2(self.0, &mut key, &mut val, &mut key_len, &mut val_len)
            };
            if rc < 0 || key.is_null() {
                // librados' iterator cannot fail once the op succeeded; end of list otherwise.
                return Ok(out);
            }
            // SAFETY: key/val are valid for the reported lengths until the next call.
            let (k, v) = unsafe { (bytes_from_c(key, key_len), bytes_from_c(val, val_len)) };
            out.push((String::from_utf8_lossy(&k).into_owned(), v));
        }
    }
}

impl Drop for OmapIter {
    fn drop(&mut self) {
        if !self.0.is_null() {
            // SAFETY: iterator from a read-op omap call, ended once.
            unsafe { sys::rados_omap_get_end(self.0) };
        }
    }
}

/// Parallel pointer/length arrays for the `*2` omap calls, borrowing the caller's slices.
pub(crate) struct ByteArrays {
    pub ptrs: Vec<*const c_char>,
    pub lens: Vec<usize>,
}

impl ByteArrays {
    pub fn new<'a>(items: impl Iterator<Item = &'a [u8]>) -> ByteArrays {
        let (ptrs, lens) = items
            .map(|b| (b.as_ptr().cast::<c_char>(), b.len()))
            .unzip();
        ByteArrays { ptrs, lens }
    }
}
