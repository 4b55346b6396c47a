//! Text crossing the C boundary: Rust strings into NUL-terminated C strings (refusing interior
//! NULs with an error naming the field) and C-owned strings back into Rust.

use std::ffi::{CStr, CString};
use std::os::raw::c_char;

use crate::error::{Error, Result};

/// `value` as a C string; `field` names it in the error (e.g. "image name").
pub(crate) fn c_string(field: &str, value: &str) -> Result<CString> {
    CString::new(value).map_err(|_| Error::invalid(format!("{field}: must not contain NUL bytes")))
}

/// A RADOS object name: non-empty (RADOS has no empty name) and without NULs.
pub(crate) fn object_name(oid: &str) -> Result<CString> {
    if oid.is_empty() {
        return Err(Error::invalid("object name: must not be empty"));
    }
    c_string("object name", oid)
}

/// Copies a C string owned by librados/librbd; NULL reads as "".
///
/// # Safety
/// `ptr` must be NULL or point to a NUL-terminated string valid for the duration of the call.
pub(crate) unsafe fn from_c(ptr: *const c_char) -> String {
    if ptr.is_null() {
        return String::new();
    }
    // SAFETY: non-null and NUL-terminated per the caller's contract.
    unsafe { CStr::from_ptr(ptr) }
        .to_string_lossy()
        .into_owned()
}

/// Copies `len` bytes at `ptr` (NULL or len 0 reads as empty).
///
/// # Safety
/// `ptr` must be NULL or valid for reads of `len` bytes.
pub(crate) unsafe fn bytes_from_c(ptr: *const c_char, len: usize) -> Vec<u8> {
    if ptr.is_null() || len == 0 {
        return Vec::new();
    }
    // SAFETY: valid for `len` bytes per the caller's contract.
    unsafe { std::slice::from_raw_parts(ptr.cast::<u8>(), len) }.to_vec()
}

/// The text before the first NUL of a buffer librados filled in.
pub(crate) fn from_buf(buf: &[u8]) -> String {
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interior_nul_is_refused_with_the_field_name() {
        let e = c_string("image name", "a\0b").expect_err("NUL must be refused");
        assert_eq!(
            e.to_string(),
            "invalid argument: image name: must not contain NUL bytes"
        );
        assert_eq!(
            c_string("x", "abc").map(|c| c.into_bytes()).ok(),
            Some(b"abc".to_vec())
        );
    }

    #[test]
    fn buffers_are_cut_at_the_first_nul() {
        assert_eq!(from_buf(b"rbd\0junk"), "rbd");
        assert_eq!(from_buf(b"rbd"), "rbd");
        // SAFETY: NULL is allowed.
        assert_eq!(unsafe { from_c(std::ptr::null()) }, "");
    }
}
