//! RBD namespaces: per-tenant image directories inside one pool (a RADOS namespace plus an
//! entry in the pool's `rbd_namespace` object). Managed through an ioctx on the pool's
//! default namespace.

use std::sync::Arc;

use ceph_sys as sys;

use crate::blocking::Call;
use crate::c_text::c_string;
use crate::error::{Error, Result};
use crate::ioctx::{IoCtx, IoCtxInner};

fn namespace_call(io: &IoCtxInner, op: &'static str, ns: &str) -> Call {
    Call::new(
        op,
        format!("rbd namespace {ns:?} in pool {}", io.pool_name),
        io.cluster.timeouts.op,
    )
}

fn require_default_ns(io: &IoCtx) -> Result<()> {
    if io.namespace().is_empty() {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "io: rbd namespaces are managed from the pool's default namespace, not {:?}",
            io.namespace()
        )))
    }
}

/// Creates namespace `ns`. Exists -> AlreadyExists.
pub async fn namespace_create(io_default_ns: &IoCtx, ns: &str) -> Result<()> {
    require_default_ns(io_default_ns)?;
    let ns_c = c_string("namespace", ns)?;
    let io = Arc::clone(&io_default_ns.inner);
    namespace_call(&io, "namespace_create", ns)
        .run(move |call| {
            // SAFETY: valid ioctx; NUL-terminated name.
            let rc = unsafe { sys::rbd_namespace_create(io.handle(), ns_c.as_ptr()) };
            call.check(rc).map(drop)
        })
        .await
}

/// Removes namespace `ns`. Missing -> NotFound; still holding images -> Busy/NotEmpty.
pub async fn namespace_remove(io_default_ns: &IoCtx, ns: &str) -> Result<()> {
    require_default_ns(io_default_ns)?;
    let ns_c = c_string("namespace", ns)?;
    let io = Arc::clone(&io_default_ns.inner);
    namespace_call(&io, "namespace_remove", ns)
        .run(move |call| {
            // SAFETY: valid ioctx; NUL-terminated name.
            let rc = unsafe { sys::rbd_namespace_remove(io.handle(), ns_c.as_ptr()) };
            call.check(rc).map(drop)
        })
        .await
}

pub async fn namespace_list(io_default_ns: &IoCtx) -> Result<Vec<String>> {
    require_default_ns(io_default_ns)?;
    let io = Arc::clone(&io_default_ns.inner);
    let call = Call::new(
        "namespace_list",
        format!("pool {}", io.pool_name),
        io.cluster.timeouts.op,
    );
    call.run(move |call| {
        let mut buf = vec![0u8; 1024];
        loop {
            let mut size = buf.len();
            // SAFETY: valid ioctx; buffer of `size` bytes (NUL-separated names come back).
            let rc =
                unsafe { sys::rbd_namespace_list(io.handle(), buf.as_mut_ptr().cast(), &mut size) };
            if rc == -libc::ERANGE && size > buf.len() {
                buf.resize(size, 0);
                continue;
            }
            call.check(rc)?;
            let used = size.min(buf.len());
            return Ok(buf[..used]
                .split(|&b| b == 0)
                .filter(|n| !n.is_empty())
                .map(|n| String::from_utf8_lossy(n).into_owned())
                .collect());
        }
    })
    .await
}
