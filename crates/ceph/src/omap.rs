//! omap reads and writes on an [`IoCtx`] — what the CSI journal is built on. Each method is one
//! compound RADOS op, so it is atomic on the OSD. Both results of a read are checked: the op's
//! return code and the per-step `prval` (a read on a missing object fails in either, depending
//! on the step). Writes are [`WriteOp`]s: only [`IoCtx::omap_set_creating`] and the exclusive
//! creates may create an object.

use std::collections::BTreeMap;
use std::ffi::CString;
use std::os::raw::c_int;
use std::sync::Arc;

use ceph_sys as sys;

use crate::blocking::Call;
use crate::c_text::{c_string, object_name};
use crate::error::Result;
use crate::ioctx::{IoCtx, IoCtxInner};
use crate::rados_op::{ByteArrays, OmapIter, ReadOp};
use crate::write_op::WriteOp;

impl IoCtx {
    /// One by-key read. Missing keys are absent from the map; a missing object is NotFound.
    pub async fn omap_get_by_keys(
        &self,
        oid: &str,
        keys: &[&str],
    ) -> Result<BTreeMap<String, Vec<u8>>> {
        let oid_c = object_name(oid)?;
        let keys: Vec<String> = keys.iter().map(|k| (*k).to_string()).collect();
        let io = Arc::clone(&self.inner);
        self.object_call("omap_get_by_keys", oid)
            .run(move |call| {
                let op = ReadOp::new();
                let mut iter = OmapIter::null();
                let mut prval: c_int = 0;
                let arrays = ByteArrays::new(keys.iter().map(|k| k.as_bytes()));
                // SAFETY: live op; key arrays borrow `keys`, which outlives the operate call;
                // out-pointers to locals that outlive the op.
                unsafe {
                    sys::rados_read_op_omap_get_vals_by_keys2(
                        op.0,
                        arrays.ptrs.as_ptr(),
                        arrays.ptrs.len(),
                        arrays.lens.as_ptr(),
                        &mut iter.0,
                        &mut prval,
                    );
                }
                operate_read(&io, &op, &oid_c, call)?;
                call.check(prval)?;
                Ok(iter.collect()?.into_iter().collect())
            })
            .await
    }

    /// Paged listing: entries with keys after `start_after` ("" = from the start) that begin
    /// with `prefix`, at most `max`. The bool says whether more entries follow.
    pub async fn omap_list(
        &self,
        oid: &str,
        start_after: &str,
        prefix: &str,
        max: u32,
    ) -> Result<(Vec<(String, Vec<u8>)>, bool)> {
        let oid_c = object_name(oid)?;
        let start_c = c_string("start_after", start_after)?;
        let prefix_c = c_string("prefix", prefix)?;
        let io = Arc::clone(&self.inner);
        self.object_call("omap_list", oid)
            .run(move |call| {
                let op = ReadOp::new();
                let mut iter = OmapIter::null();
                let mut more: u8 = 0;
                let mut prval: c_int = 0;
                // SAFETY: live op; NUL-terminated strings and out-pointers outlive the operate.
                unsafe {
                    sys::rados_read_op_omap_get_vals2(
                        op.0,
                        start_c.as_ptr(),
                        prefix_c.as_ptr(),
                        u64::from(max),
                        &mut iter.0,
                        &mut more,
                        &mut prval,
                    );
                }
                operate_read(&io, &op, &oid_c, call)?;
                call.check(prval)?;
                Ok((iter.collect()?, more != 0))
            })
            .await
    }

    /// Sets keys on an existing object; NotFound when it is missing (a late writer must not
    /// re-create a deleted object as one holding only its keys).
    pub async fn omap_set(&self, oid: &str, kvs: &[(&str, &[u8])]) -> Result<()> {
        self.operate(oid, WriteOp::new("omap_set").assert_exists().omap_set(kvs))
            .await
    }

    /// Sets keys, creating the object when it is missing: only for objects whose first write
    /// is meant to create them (a journal directory, a registry), never for per-entry objects.
    pub async fn omap_set_creating(&self, oid: &str, kvs: &[(&str, &[u8])]) -> Result<()> {
        self.operate(oid, WriteOp::new("omap_set_creating").omap_set(kvs))
            .await
    }

    /// Removes keys; missing keys are fine, a missing object is NotFound.
    pub async fn omap_remove_keys(&self, oid: &str, keys: &[&str]) -> Result<()> {
        // Without the assertion an absent object would be fine for RADOS.
        let op = WriteOp::new("omap_remove_keys")
            .assert_exists()
            .omap_remove_keys(keys);
        self.operate(oid, op).await
    }

    /// Creates an empty object; AlreadyExists if it is there.
    pub async fn create_exclusive(&self, oid: &str) -> Result<()> {
        self.operate(oid, WriteOp::new("create_exclusive").create_exclusive())
            .await
    }

    /// Creates the object exclusively and sets the keys in the same atomic op: either both
    /// happen or neither (AlreadyExists).
    pub async fn create_with_omap(&self, oid: &str, kvs: &[(&str, &[u8])]) -> Result<()> {
        let op = WriteOp::new("create_with_omap")
            .create_exclusive()
            .omap_set(kvs);
        self.operate(oid, op).await
    }
}

/// Runs a read op. librados writes the step results (iterator, `prval`) it was given when the
/// op was built; the caller checks `prval` after this returns Ok.
fn operate_read(io: &IoCtxInner, op: &ReadOp, oid: &CString, call: &Call) -> Result<()> {
    // SAFETY: live op and ioctx; NUL-terminated oid; no flags.
    let rc = unsafe { sys::rados_read_op_operate(op.0, io.handle(), oid.as_ptr(), 0) };
    call.check(rc).map(drop)
}
