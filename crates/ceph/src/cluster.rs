//! A connected librados handle (`rados_t`) shared by `Arc`; `rados_shutdown` runs when the last
//! owner (a `Cluster` clone, an `IoCtx`, or a blocking call still in flight) lets go.

use std::ptr;
use std::sync::Arc;

use ceph_sys as sys;

use crate::blocking::{Call, drop_off_executor};
use crate::c_text::{c_string, from_buf};
use crate::connect_config::connect_options;
use crate::credentials::Credentials;
use crate::error::{Error, Result};
use crate::timeouts::Timeouts;

/// Owns a `rados_t`; dropping it shuts the handle down (a blocking call: see `ClusterInner`).
pub(crate) struct RawCluster(sys::rados_t);

// SAFETY: librados documents `rados_t` as safe to use from several threads at once.
unsafe impl Send for RawCluster {}
// SAFETY: as above; all librados entry points taking a rados_t lock internally.
unsafe impl Sync for RawCluster {}

impl Drop for RawCluster {
    fn drop(&mut self) {
        if !self.0.is_null() {
            // SAFETY: the handle came from rados_create2 and nobody else holds it any more
            // (every IoCtx keeps an Arc of the owner, so all ioctxs are destroyed already).
            unsafe { sys::rados_shutdown(self.0) };
        }
    }
}

pub(crate) struct ClusterInner {
    raw: Option<RawCluster>,
    pub monitors: String,
    pub entity: String,
    pub timeouts: Timeouts,
}

impl ClusterInner {
    pub fn handle(&self) -> sys::rados_t {
        self.raw.as_ref().map_or(ptr::null_mut(), |r| r.0)
    }
}

impl Drop for ClusterInner {
    fn drop(&mut self) {
        // rados_shutdown joins librados threads: keep it off the async executor.
        if let Some(raw) = self.raw.take() {
            drop_off_executor(raw);
        }
    }
}

#[derive(Clone)]
pub struct Cluster {
    pub(crate) inner: Arc<ClusterInner>,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("monitors", &self.inner.monitors)
            .field("entity", &self.inner.entity)
            .finish_non_exhaustive()
    }
}

impl Cluster {
    /// Connects with the given identity and nothing else: no ceph.conf, no `CEPH_CONF`/
    /// `CEPH_ARGS`, no keyring file (see `connect_config`). Bounded by `timeouts.connect`.
    pub async fn connect(creds: &Credentials, timeouts: &Timeouts) -> Result<Cluster> {
        Self::connect_holding(creds, timeouts, ()).await
    }

    /// [`Cluster::connect`] that keeps `held` until the blocking connect call ends (also when
    /// the caller gave up before): how the connection cache counts connects in flight.
    pub(crate) async fn connect_holding<H: Send + 'static>(
        creds: &Credentials,
        timeouts: &Timeouts,
        held: H,
    ) -> Result<Cluster> {
        creds.validate()?;
        let entity = creds.entity();
        let monitors = creds.monitors.trim().to_string();
        let options = connect_options(creds, timeouts)?;
        let entity_c = c_string("user", &entity)?;
        let call = Call::new(
            "connect",
            format!("cluster at monitors {monitors} as {entity}"),
            timeouts.connect,
        );
        let raw = call
            .run(move |call| {
                let _held = held;
                let mut handle: sys::rados_t = ptr::null_mut();
                // SAFETY: out-pointer to a local; cluster and entity names are NUL-terminated.
                let rc = unsafe {
                    sys::rados_create2(&mut handle, c"ceph".as_ptr(), entity_c.as_ptr(), 0)
                };
                call.check(rc)?;
                // From here on the handle is shut down on every exit path (also on failure,
                // which otherwise leaks the librados threads).
                let raw = RawCluster(handle);
                for opt in &options {
                    // SAFETY: valid handle, NUL-terminated name and value owned by `options`.
                    let rc = unsafe { sys::rados_conf_set(raw.0, opt.name_ptr(), opt.value_ptr()) };
                    if rc < 0 {
                        // Name the option, never its value (one of them is the key).
                        return Err(Error::InvalidArgument {
                            what: format!(
                                "{}: librados refused option {}",
                                call.describe(),
                                opt.name
                            ),
                        });
                    }
                }
                drop(options);
                // SAFETY: valid, configured, not yet connected handle.
                let rc = unsafe { sys::rados_connect(raw.0) };
                call.check(rc)?;
                Ok(raw)
            })
            .await?;
        Ok(Cluster {
            inner: Arc::new(ClusterInner {
                raw: Some(raw),
                monitors,
                entity,
                timeouts: timeouts.clone(),
            }),
        })
    }

    /// Whether both are clones of one connection (what the connection cache hands out).
    pub fn ptr_eq(a: &Cluster, b: &Cluster) -> bool {
        Arc::ptr_eq(&a.inner, &b.inner)
    }

    /// This client's global id (the `<id>` of `client.<id>`), as watcher lists name it: lets a
    /// caller that opened an image tell its own watch from other clients'.
    pub fn instance_id(&self) -> u64 {
        let handle = self.inner.handle();
        if handle.is_null() {
            return 0;
        }
        // SAFETY: connected handle kept alive by `self.inner`; a local read, no I/O.
        unsafe { sys::rados_get_instance_id(handle) }
    }

    pub fn timeouts(&self) -> &Timeouts {
        &self.inner.timeouts
    }

    pub(crate) fn call(&self, op: &'static str, target: impl Into<String>) -> Call {
        Call::new(op, target, self.inner.timeouts.op)
    }

    /// Pool id by name; NotFound if there is no such pool.
    pub async fn pool_id(&self, pool: &str) -> Result<i64> {
        let pool_c = c_string("pool", pool)?;
        let inner = Arc::clone(&self.inner);
        self.call("pool_lookup", format!("pool {pool}"))
            .run(move |call| {
                // SAFETY: connected handle kept alive by `inner`; NUL-terminated name.
                let rc = unsafe { sys::rados_pool_lookup(inner.handle(), pool_c.as_ptr()) };
                call.check_i64(rc)
            })
            .await
    }

    /// Pool name by id; NotFound if there is no such pool.
    pub async fn pool_name(&self, id: i64) -> Result<String> {
        let inner = Arc::clone(&self.inner);
        self.call("pool_reverse_lookup", format!("pool id {id}"))
            .run(move |call| {
                let mut buf = vec![0u8; 256];
                loop {
                    // SAFETY: buffer of buf.len() bytes owned here.
                    let rc = unsafe {
                        sys::rados_pool_reverse_lookup(
                            inner.handle(),
                            id,
                            buf.as_mut_ptr().cast(),
                            buf.len(),
                        )
                    };
                    if rc == -libc::ERANGE && buf.len() < 1 << 16 {
                        buf.resize(buf.len() * 4, 0);
                        continue;
                    }
                    call.check(rc)?;
                    return Ok(from_buf(&buf));
                }
            })
            .await
    }

    /// The cluster fsid, e.g. to tell clusters apart in logs.
    pub async fn fsid(&self) -> Result<String> {
        let inner = Arc::clone(&self.inner);
        self.call(
            "cluster_fsid",
            format!("cluster at monitors {}", self.inner.monitors),
        )
        .run(move |call| {
            let mut buf = vec![0u8; 64];
            // SAFETY: buffer of buf.len() bytes owned here.
            let rc = unsafe {
                sys::rados_cluster_fsid(inner.handle(), buf.as_mut_ptr().cast(), buf.len())
            };
            call.check(rc)?;
            Ok(from_buf(&buf))
        })
        .await
    }
}
