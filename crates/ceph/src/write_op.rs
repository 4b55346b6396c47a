//! Compound writes on one object: a [`WriteOp`] lists steps (assertions, compares, omap
//! changes, cls_lock calls) that the OSD applies atomically — all of them or none.
//!
//! This is how writers stay safe with several processes on one cluster:
//! - `assert_exists` keeps a late writer from re-creating an object someone deleted (omap and
//!   xattr writes create missing objects otherwise);
//! - `omap_cmp_eq` makes a read-then-write conditional on what was read (the OSD answers
//!   ECANCELED — [`crate::Error::is_compare_failed`] — when the value changed). The OSD reads
//!   a *missing* key as the empty value, so comparing with `b""` asserts that a key whose values
//!   are never empty is still absent; on a missing object the compare answers NotFound;
//! - a [`Fence`] (cls_lock `assert_locked`) makes the write conditional on a lock this
//!   connection still holds on the same object. Every write made inside a lock scope gets the
//!   fences of the scope's locks on its object added by itself ([`crate::lock_scope`]), so a
//!   request that lost its lock cannot write under it.

use std::ffi::{CStr, CString};
use std::os::raw::{c_char, c_int};
use std::ptr;
use std::sync::Arc;

use ceph_sys as sys;

use crate::blocking::Call;
use crate::c_text::{c_string, object_name};
use crate::cls_lock::{self, Holding, LockKind, Renewal};
use crate::cluster::ClusterInner;
use crate::error::{Error, Result};
use crate::ioctx::{IoCtx, IoCtxInner};
use crate::lock_scope;
use crate::rados_op::{ByteArrays, RawWriteOp};

/// One atomic write on one object, built step by step and run by [`IoCtx::operate`].
#[derive(Debug, Clone)]
pub struct WriteOp {
    op: &'static str,
    steps: Vec<Step>,
    /// Whether the current lock scope's fences are added (not for lock management itself).
    scope_fences: bool,
    /// A deadline shorter than the connection's op timeout.
    deadline: Option<std::time::Duration>,
}

#[derive(Debug, Clone)]
enum Step {
    AssertExists,
    CreateExclusive,
    Remove,
    OmapCmpEq {
        key: String,
        value: Vec<u8>,
    },
    OmapSet(Vec<(String, Vec<u8>)>),
    OmapRemove(Vec<String>),
    RmXattr(CString),
    Exec {
        method: &'static CStr,
        input: Vec<u8>,
    },
}

impl WriteOp {
    /// An empty op; `op` names it in errors and spans (e.g. `"write directory key"`).
    pub fn new(op: &'static str) -> WriteOp {
        WriteOp {
            op,
            steps: Vec::new(),
            scope_fences: true,
            deadline: None,
        }
    }

    /// Fails with NotFound unless the object exists.
    pub fn assert_exists(mut self) -> Self {
        self.steps.push(Step::AssertExists);
        self
    }

    /// Creates the object; AlreadyExists if it is there.
    pub fn create_exclusive(mut self) -> Self {
        self.steps.push(Step::CreateExclusive);
        self
    }

    /// Removes the object (NotFound when it is missing).
    pub fn remove(mut self) -> Self {
        self.steps.push(Step::Remove);
        self
    }

    /// Fails (ECANCELED) unless omap `key` holds exactly `value`; a missing key reads as `b""`.
    pub fn omap_cmp_eq(mut self, key: &str, value: &[u8]) -> Self {
        self.steps.push(Step::OmapCmpEq {
            key: key.to_owned(),
            value: value.to_vec(),
        });
        self
    }

    /// Sets omap keys. Without `assert_exists` this creates a missing object.
    pub fn omap_set(mut self, kvs: &[(&str, &[u8])]) -> Self {
        self.steps.push(Step::OmapSet(
            kvs.iter()
                .map(|(k, v)| ((*k).to_owned(), v.to_vec()))
                .collect(),
        ));
        self
    }

    /// Removes omap keys; missing keys are fine.
    pub fn omap_remove_keys(mut self, keys: &[&str]) -> Self {
        self.steps.push(Step::OmapRemove(
            keys.iter().map(|k| (*k).to_owned()).collect(),
        ));
        self
    }

    /// Fails (EBUSY) unless this connection holds the fenced lock on this very object.
    pub fn assert_locked(mut self, fence: &Fence) -> Self {
        self.steps.push(Step::Exec {
            method: cls_lock::ASSERT_LOCKED,
            input: cls_lock::assert_input(&fence.holding),
        });
        self
    }

    /// Takes or renews a lock (cls_lock `lock`).
    pub(crate) fn lock(
        mut self,
        holding: &Holding,
        description: &str,
        duration: std::time::Duration,
        renewal: Renewal,
    ) -> Self {
        self.steps.push(Step::Exec {
            method: cls_lock::LOCK,
            input: cls_lock::lock_input(holding, description, duration, renewal),
        });
        self
    }

    /// Releases a lock (cls_lock `unlock`); `forget` also removes the lock's xattr, for
    /// exclusive locks named per request on long-lived objects, so the records do not pile up.
    pub(crate) fn unlock(mut self, holding: &Holding, forget: bool) -> Result<Self> {
        self.steps.push(Step::Exec {
            method: cls_lock::UNLOCK,
            input: cls_lock::unlock_input(holding),
        });
        if forget {
            self.steps
                .push(Step::RmXattr(c_string("lock name", &holding.xattr())?));
        }
        Ok(self)
    }

    /// Whether the op asserts a lock and takes none (lock steps answer EBUSY on contention).
    fn asserts_locks(&self) -> bool {
        let is = |m: &CStr| {
            self.steps
                .iter()
                .any(|s| matches!(s, Step::Exec { method, .. } if *method == m))
        };
        is(cls_lock::ASSERT_LOCKED) && !is(cls_lock::LOCK)
    }

    /// Lock management runs outside the request's fences: a renewal or an unlock must not
    /// depend on the other locks of the scope.
    pub(crate) fn without_scope_fences(mut self) -> Self {
        self.scope_fences = false;
        self
    }

    /// Gives up after `deadline` when that is shorter than the op timeout (lock renewals,
    /// which are worth retrying well before a lock could expire).
    pub(crate) fn deadline(mut self, deadline: std::time::Duration) -> Self {
        self.deadline = Some(deadline);
        self
    }
}

/// "This lock is still ours": a lock held through one connection on one object, to assert in
/// a write on that object ([`WriteOp::assert_locked`]). From [`crate::Lease::fence`].
#[derive(Clone)]
pub struct Fence {
    pub(crate) cluster: Arc<ClusterInner>,
    pub(crate) pool_id: i64,
    pub(crate) namespace: String,
    pub(crate) oid: String,
    pub(crate) holding: Holding,
}

impl Fence {
    /// Whether a write through `io` on `oid` can assert this lock: same connection (the
    /// locker is the client entity), same pool and namespace, same object.
    pub(crate) fn guards(&self, io: &IoCtxInner, oid: &str) -> bool {
        Arc::ptr_eq(&self.cluster, &io.cluster)
            && self.pool_id == io.pool_id
            && self.namespace == io.namespace
            && self.oid == oid
    }

    /// The lock kind asserted.
    pub fn kind(&self) -> LockKind {
        self.holding.kind
    }
}

impl std::fmt::Debug for Fence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fence")
            .field("pool_id", &self.pool_id)
            .field("namespace", &self.namespace)
            .field("oid", &self.oid)
            .field("holding", &self.holding)
            .finish()
    }
}

impl IoCtx {
    /// Runs `op` on `oid` as one atomic write. Inside a lock scope, the fences of the scope's
    /// locks on this object are asserted first.
    pub async fn operate(&self, oid: &str, mut op: WriteOp) -> Result<()> {
        let oid_c = object_name(oid)?;
        let mut fenced = op.asserts_locks();
        if op.scope_fences {
            let fences = lock_scope::fences_for(&self.inner, oid);
            if !fences.is_empty() {
                let mut steps: Vec<Step> = fences
                    .iter()
                    .map(|fence| Step::Exec {
                        method: cls_lock::ASSERT_LOCKED,
                        input: cls_lock::assert_input(&fence.holding),
                    })
                    .collect();
                steps.append(&mut op.steps);
                op.steps = steps;
                fenced = true;
            }
        }
        let io = Arc::clone(&self.inner);
        let mut call = self.object_call(op.op, oid);
        if let Some(deadline) = op.deadline {
            call.deadline = call.deadline.min(deadline);
        }
        let outcome = call
            .run(move |call| operate_blocking(&io, &oid_c, &op.steps, call))
            .await;
        match outcome {
            // No other step of a fenced write answers EBUSY: the lock assertion failed.
            Err(Error::Busy { what }) if fenced => Err(Error::NotLocked { what }),
            other => other,
        }
    }

    /// Runs `op` on `oid` after checking that `fence` can guard a write there.
    pub async fn operate_fenced(&self, oid: &str, fence: &Fence, op: WriteOp) -> Result<()> {
        if !fence.guards(&self.inner, oid) {
            return Err(Error::invalid(format!(
                "fence on object {:?} lock {:?} cannot guard a write on object {oid:?} through this connection",
                fence.oid, fence.holding.name
            )));
        }
        self.operate(oid, op.assert_locked(fence)).await
    }
}

fn operate_blocking(io: &IoCtxInner, oid: &CStr, steps: &[Step], call: &Call) -> Result<()> {
    let raw = RawWriteOp::new();
    // Per-step results: librados writes them while the op runs, so they must not move until
    // operate returns (a fixed-size buffer, indexed, never grown).
    let mut prvals: Vec<c_int> = vec![0; steps.len()];
    for (step, prval) in steps.iter().zip(prvals.iter_mut()) {
        add_step(&raw, step, prval);
    }
    // SAFETY: live op and ioctx; NUL-terminated oid; no mtime; no flags. Every input above was
    // copied into the op by librados; `prvals` outlives this call.
    let rc = unsafe {
        sys::rados_write_op_operate2(raw.0, io.handle(), oid.as_ptr(), ptr::null_mut(), 0)
    };
    call.check(rc).map(drop)
}

fn add_step(raw: &RawWriteOp, step: &Step, prval: &mut c_int) {
    // SAFETY (all arms): live op; librados copies keys, values, inputs and names into the op
    // before each call returns; `prval` stays valid until the op has run (see the caller).
    match step {
        Step::AssertExists => unsafe { sys::rados_write_op_assert_exists(raw.0) },
        Step::CreateExclusive => unsafe {
            sys::rados_write_op_create(raw.0, sys::LIBRADOS_CREATE_EXCLUSIVE as c_int, ptr::null());
        },
        Step::Remove => unsafe { sys::rados_write_op_remove(raw.0) },
        Step::OmapCmpEq { key, value } => unsafe {
            sys::rados_write_op_omap_cmp2(
                raw.0,
                key.as_ptr().cast::<c_char>(),
                sys::LIBRADOS_CMPXATTR_OP_EQ as u8,
                value.as_ptr().cast::<c_char>(),
                key.len(),
                value.len(),
                prval,
            );
        },
        Step::OmapSet(pairs) => {
            let keys = ByteArrays::new(pairs.iter().map(|(k, _)| k.as_bytes()));
            let vals = ByteArrays::new(pairs.iter().map(|(_, v)| v.as_slice()));
            unsafe {
                sys::rados_write_op_omap_set2(
                    raw.0,
                    keys.ptrs.as_ptr(),
                    vals.ptrs.as_ptr(),
                    keys.lens.as_ptr(),
                    vals.lens.as_ptr(),
                    keys.ptrs.len(),
                );
            }
        }
        Step::OmapRemove(keys) => {
            let arrays = ByteArrays::new(keys.iter().map(|k| k.as_bytes()));
            unsafe {
                sys::rados_write_op_omap_rm_keys2(
                    raw.0,
                    arrays.ptrs.as_ptr(),
                    arrays.lens.as_ptr(),
                    arrays.ptrs.len(),
                );
            }
        }
        Step::RmXattr(name) => unsafe { sys::rados_write_op_rmxattr(raw.0, name.as_ptr()) },
        Step::Exec { method, input } => unsafe {
            sys::rados_write_op_exec(
                raw.0,
                cls_lock::CLASS.as_ptr(),
                method.as_ptr(),
                input.as_ptr().cast::<c_char>(),
                input.len(),
                prval,
            );
        },
    }
}
