//! omap reads and writes on an [`IoCtx`] — what the CSI journal is built on. Each method is one
//! compound RADOS op, so it is atomic on the OSD. Both results are checked: the op's return
//! code and the per-step `prval` (a read on a missing object fails in either, depending on the
//! step).

use std::collections::BTreeMap;
use std::ffi::CString;
use std::os::raw::c_int;
use std::ptr;
use std::sync::Arc;

use ceph_sys as sys;

use crate::blocking::Call;
use crate::c_text::{c_string, object_name};
use crate::error::Result;
use crate::ioctx::{IoCtx, IoCtxInner};
use crate::rados_op::{ByteArrays, OmapIter, ReadOp, WriteOp};

type Pairs = Vec<(String, Vec<u8>)>;

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

    /// Sets keys, creating the object if missing.
    pub async fn omap_set(&self, oid: &str, kvs: &[(&str, &[u8])]) -> Result<()> {
        let pairs = owned_pairs(kvs);
        self.write("omap_set", oid, move |op| set_keys(op, &pairs))
            .await
    }

    /// Removes keys; missing keys are fine, a missing object is NotFound.
    pub async fn omap_remove_keys(&self, oid: &str, keys: &[&str]) -> Result<()> {
        let keys: Vec<String> = keys.iter().map(|k| (*k).to_string()).collect();
        self.write("omap_remove_keys", oid, move |op| {
            // SAFETY: live op. Without the assertion an absent object would be fine for RADOS.
            unsafe { sys::rados_write_op_assert_exists(op.0) };
            let arrays = ByteArrays::new(keys.iter().map(|k| k.as_bytes()));
            // SAFETY: the C call copies the keys into the op before returning.
            unsafe {
                sys::rados_write_op_omap_rm_keys2(
                    op.0,
                    arrays.ptrs.as_ptr(),
                    arrays.lens.as_ptr(),
                    arrays.ptrs.len(),
                );
            }
        })
        .await
    }

    /// Creates an empty object; AlreadyExists if it is there.
    pub async fn create_exclusive(&self, oid: &str) -> Result<()> {
        self.write("create_exclusive", oid, create_exclusive_step)
            .await
    }

    /// Creates the object exclusively and sets the keys in the same atomic op: either both
    /// happen or neither (AlreadyExists).
    pub async fn create_with_omap(&self, oid: &str, kvs: &[(&str, &[u8])]) -> Result<()> {
        let pairs = owned_pairs(kvs);
        self.write("create_with_omap", oid, move |op| {
            create_exclusive_step(op);
            set_keys(op, &pairs);
        })
        .await
    }

    /// Builds a write op with `build` and runs it on `oid`.
    async fn write<B>(&self, op_name: &'static str, oid: &str, build: B) -> Result<()>
    where
        B: FnOnce(&WriteOp) + Send + 'static,
    {
        let oid_c = object_name(oid)?;
        let io = Arc::clone(&self.inner);
        self.object_call(op_name, oid)
            .run(move |call| {
                let op = WriteOp::new();
                build(&op);
                // SAFETY: live op and ioctx; NUL-terminated oid; no mtime; no flags.
                let rc = unsafe {
                    sys::rados_write_op_operate2(
                        op.0,
                        io.handle(),
                        oid_c.as_ptr(),
                        ptr::null_mut(),
                        0,
                    )
                };
                call.check(rc).map(drop)
            })
            .await
    }
}

fn owned_pairs(kvs: &[(&str, &[u8])]) -> Pairs {
    kvs.iter()
        .map(|(k, v)| ((*k).to_string(), v.to_vec()))
        .collect()
}

fn create_exclusive_step(op: &WriteOp) {
    // SAFETY: live op; no category.
    unsafe {
        sys::rados_write_op_create(op.0, sys::LIBRADOS_CREATE_EXCLUSIVE as c_int, ptr::null());
    }
}

fn set_keys(op: &WriteOp, pairs: &Pairs) {
    let keys = ByteArrays::new(pairs.iter().map(|(k, _)| k.as_bytes()));
    let vals = ByteArrays::new(pairs.iter().map(|(_, v)| v.as_slice()));
    // SAFETY: live op; parallel arrays of equal length; the C call copies keys and values
    // into the op before returning.
    unsafe {
        sys::rados_write_op_omap_set2(
            op.0,
            keys.ptrs.as_ptr(),
            vals.ptrs.as_ptr(),
            keys.lens.as_ptr(),
            vals.lens.as_ptr(),
            keys.ptrs.len(),
        );
    }
}

/// Runs a read op. librados writes the step results (iterator, `prval`) it was given when the
/// op was built; the caller checks `prval` after this returns Ok.
fn operate_read(io: &IoCtxInner, op: &ReadOp, oid: &CString, call: &Call) -> Result<()> {
    // SAFETY: live op and ioctx; NUL-terminated oid; no flags.
    let rc = unsafe { sys::rados_read_op_operate(op.0, io.handle(), oid.as_ptr(), 0) };
    call.check(rc).map(drop)
}
