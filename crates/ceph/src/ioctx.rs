//! An I/O context: one pool, one RADOS namespace. It holds an `Arc` of the cluster, so the
//! `rados_ioctx_t` is always destroyed before `rados_shutdown` runs (ceph-rust bug #84 is
//! impossible by construction).

use std::ptr;
use std::sync::Arc;

use ceph_sys as sys;

use crate::blocking::{Call, drop_off_executor};
use crate::c_text::{c_string, from_buf};
use crate::cluster::{Cluster, ClusterInner};
use crate::error::Result;

/// Owns a `rados_ioctx_t` and the cluster it came from, released in that order.
pub(crate) struct RawIoCtx {
    handle: sys::rados_ioctx_t,
    _cluster: Arc<ClusterInner>,
}

// SAFETY: librados allows concurrent operations on one ioctx; the only non-thread-safe calls
// (namespace/locator changes) happen once, before the ioctx is shared.
unsafe impl Send for RawIoCtx {}
// SAFETY: as above.
unsafe impl Sync for RawIoCtx {}

impl Drop for RawIoCtx {
    fn drop(&mut self) {
        // SAFETY: created by rados_ioctx_create{,2}; the cluster is still alive (field below
        // drops after this body runs).
        unsafe { sys::rados_ioctx_destroy(self.handle) };
    }
}

pub(crate) struct IoCtxInner {
    raw: Option<RawIoCtx>,
    pub cluster: Arc<ClusterInner>,
    pub pool_id: i64,
    pub pool_name: String,
    pub namespace: String,
}

impl IoCtxInner {
    pub fn handle(&self) -> sys::rados_ioctx_t {
        self.raw.as_ref().map_or(ptr::null_mut(), |r| r.handle)
    }

    /// "pool rbd" or "pool rbd/ns": how errors and spans name this context.
    pub fn describe(&self) -> String {
        if self.namespace.is_empty() {
            format!("pool {}", self.pool_name)
        } else {
            format!("pool {}/{}", self.pool_name, self.namespace)
        }
    }
}

impl Drop for IoCtxInner {
    fn drop(&mut self) {
        if let Some(raw) = self.raw.take() {
            drop_off_executor(raw);
        }
    }
}

#[derive(Clone)]
pub struct IoCtx {
    pub(crate) inner: Arc<IoCtxInner>,
}

impl std::fmt::Debug for IoCtx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IoCtx")
            .field("pool_id", &self.inner.pool_id)
            .field("pool_name", &self.inner.pool_name)
            .field("namespace", &self.inner.namespace)
            .finish()
    }
}

enum PoolRef {
    Name(std::ffi::CString),
    Id(i64),
}

/// Opening an I/O context is the cluster's entry point but the I/O context's concern: here, so
/// the cluster (below it: an `IoCtx` owns an `Arc` of its cluster) does not know the type.
impl Cluster {
    /// An I/O context on `pool`, restricted to RADOS `namespace` ("" = the default namespace).
    pub async fn ioctx(&self, pool: &str, namespace: &str) -> Result<IoCtx> {
        IoCtx::open_by_name(self, pool, namespace).await
    }

    pub async fn ioctx_by_id(&self, pool_id: i64, namespace: &str) -> Result<IoCtx> {
        IoCtx::open_by_id(self, pool_id, namespace).await
    }
}

impl IoCtx {
    pub(crate) async fn open_by_name(
        cluster: &Cluster,
        pool: &str,
        namespace: &str,
    ) -> Result<IoCtx> {
        let pool_c = c_string("pool", pool)?;
        let target = ns_target(&format!("pool {pool}"), namespace);
        Self::open(cluster, PoolRef::Name(pool_c), namespace, target).await
    }

    pub(crate) async fn open_by_id(
        cluster: &Cluster,
        pool_id: i64,
        namespace: &str,
    ) -> Result<IoCtx> {
        let target = ns_target(&format!("pool id {pool_id}"), namespace);
        Self::open(cluster, PoolRef::Id(pool_id), namespace, target).await
    }

    async fn open(
        cluster: &Cluster,
        pool: PoolRef,
        namespace: &str,
        target: String,
    ) -> Result<IoCtx> {
        let ns_c = c_string("namespace", namespace)?;
        let namespace = namespace.to_string();
        let inner = Arc::clone(&cluster.inner);
        cluster
            .call("ioctx_create", target)
            .run(move |call| open_blocking(inner, pool, namespace, &ns_c, call))
            .await
    }

    pub fn pool_id(&self) -> i64 {
        self.inner.pool_id
    }

    pub fn pool_name(&self) -> &str {
        &self.inner.pool_name
    }

    pub fn namespace(&self) -> &str {
        &self.inner.namespace
    }

    /// The same pool in another namespace (e.g. the default one, for rbd namespace admin).
    pub async fn with_namespace(&self, namespace: &str) -> Result<IoCtx> {
        let cluster = Cluster {
            inner: Arc::clone(&self.inner.cluster),
        };
        cluster.ioctx_by_id(self.inner.pool_id, namespace).await
    }

    /// A call on `object` in this context, under the op deadline.
    pub(crate) fn object_call(&self, op: &'static str, oid: &str) -> Call {
        Call::new(
            op,
            format!("object {oid:?} in {}", self.inner.describe()),
            self.inner.cluster.timeouts.op,
        )
    }

    /// A call on this pool/namespace as a whole.
    pub(crate) fn pool_call(&self, op: &'static str, target: String) -> Call {
        Call::new(op, target, self.inner.cluster.timeouts.op)
    }
}

fn ns_target(pool: &str, namespace: &str) -> String {
    if namespace.is_empty() {
        pool.to_string()
    } else {
        format!("{pool} namespace {namespace}")
    }
}

fn open_blocking(
    cluster: Arc<ClusterInner>,
    pool: PoolRef,
    namespace: String,
    ns_c: &std::ffi::CStr,
    call: &Call,
) -> Result<IoCtx> {
    let mut handle: sys::rados_ioctx_t = ptr::null_mut();
    // SAFETY: connected cluster handle kept alive by `cluster`; out-pointer to a local.
    let rc = unsafe {
        match &pool {
            PoolRef::Name(name) => {
                sys::rados_ioctx_create(cluster.handle(), name.as_ptr(), &mut handle)
            }
            PoolRef::Id(id) => sys::rados_ioctx_create2(cluster.handle(), *id, &mut handle),
        }
    };
    call.check(rc)?;
    let raw = RawIoCtx {
        handle,
        _cluster: Arc::clone(&cluster),
    };
    // SAFETY: fresh ioctx, not shared yet; NUL-terminated namespace ("" = default).
    unsafe { sys::rados_ioctx_set_namespace(raw.handle, ns_c.as_ptr()) };
    // SAFETY: valid ioctx.
    let pool_id = unsafe { sys::rados_ioctx_get_id(raw.handle) };
    let pool_name = match pool {
        PoolRef::Name(name) => name.to_string_lossy().into_owned(),
        PoolRef::Id(_) => {
            let mut buf = vec![0u8; 1024];
            let len = u32::try_from(buf.len()).unwrap_or(u32::MAX);
            // SAFETY: buffer of `len` bytes owned here.
            let rc =
                unsafe { sys::rados_ioctx_get_pool_name(raw.handle, buf.as_mut_ptr().cast(), len) };
            call.check(rc)?;
            from_buf(&buf)
        }
    };
    Ok(IoCtx {
        inner: Arc::new(IoCtxInner {
            raw: Some(raw),
            cluster,
            pool_id,
            pool_name,
            namespace,
        }),
    })
}
