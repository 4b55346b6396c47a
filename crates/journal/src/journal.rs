//! The [`Journal`] handle: one journal kind over one pool + RADOS namespace.
//!
//! # Write ordering (why every crash is repaired by a retry)
//!
//! Each operation orders its writes so that whatever a crash leaves behind is reachable from
//! what the *retry of that operation* knows, and is recognised as stale there:
//!
//! * **reserve** (retried by name): (1) directory key → uuid, (2) attribute object created
//!   exclusively *with all its keys in one write op*. A crash after (1) leaves a key pointing to
//!   nothing; the retry's lookup finds the key, sees no object, removes the key and reserves
//!   afresh. There is never an empty or half-written attribute object of ours, and never an
//!   object nobody points to, so a crashed reservation leaves nothing behind after its retry.
//!   (ceph-csi creates the object first: a crash then leaks it forever, and its empty-object
//!   window makes the name fail permanently.)
//! * **lookup repair** (by name): an object without a request name (ceph-csi's non-atomic
//!   order crashed) or a snapshot without `csi.source` is removed first, then the key; a crash
//!   in between leaves a dangling key, which the next lookup removes.
//! * **undo** (rollback of a create, retried by name): object first, then the key — the same
//!   as ceph-csi — so the leftover is a dangling key the name's next lookup repairs.
//! * **delete** (DeleteVolume/DeleteSnapshot, retried by uuid): key first, then the object,
//!   so the leftover is an object the retry still finds by uuid (it knows no request name,
//!   so it could never find a dangling key).
//!
//! None of these ever runs clean-up on a failed write: every intermediate state is one the
//! retry repairs, so a simulated crash ([`crate::Error::Injected`]) and a real failure are
//! handled the same way — by the next request.
//!
//! # Several processes
//!
//! Many controller processes share a pool (docs/architecture.md §9), so the order above is not
//! enough: a second writer may act between our read and our write. Every write therefore
//! carries, in the same op, what it relies on: the directory key is written only while still
//! absent, removed only while it still holds the value read; `csi.imageid` is written only while
//! the entry exists and names its request; an undo removes the entry only while it names its
//! request. Callers serialise a name across processes with [`Journal::lock_request_name`], whose
//! lock every directory write of their lock scope asserts as well.

use std::collections::BTreeMap;

use ceph::{Cluster, IoCtx, WriteOp};
use failpoint::Failpoints;

use crate::error::{Error, Result};
use crate::failpoints::Step;
use crate::kind::Kind;
use crate::layout::{DEFAULT_INSTANCE, Layout};
use crate::locks::{LockGuard, OperationLocks};

/// Attribute objects hold about ten keys; one page reads them all.
pub(crate) const ENTRY_PAGE: u32 = 256;

/// Settings shared by the journals of one process.
#[derive(Debug, Clone)]
pub struct Config {
    /// ceph-csi's `--instanceid`; `default` unless several drivers share a pool.
    pub instance: String,
    /// Failpoints (disarmed in production).
    pub failpoints: Failpoints,
    /// Locks serialising operations on one request name inside this process. Share one set
    /// between all journals so two handles on the same pool cannot interleave.
    pub locks: OperationLocks,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            instance: DEFAULT_INSTANCE.to_owned(),
            failpoints: Failpoints::default(),
            locks: OperationLocks::new(),
        }
    }
}

/// A volume or snapshot journal in one pool and RADOS namespace.
///
/// Operations on one request name are serialised inside the process by [`Config::locks`]
/// (waiting, not failing): the two-write reservation is only safe when no second reservation
/// of the same name interleaves with it. Across processes the caller holds the name's RADOS
/// lock ([`Journal::lock_request_name`]) in a lock scope, which every directory write then
/// asserts. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Journal {
    pub(crate) layout: Layout,
    cluster: Cluster,
    pub(crate) io: IoCtx,
    failpoints: Failpoints,
    locks: OperationLocks,
}

impl Journal {
    /// A journal of `kind` whose directory lives in `io`'s pool and namespace. `cluster` opens
    /// other pools when an entry's image lives elsewhere.
    pub fn new(kind: Kind, cluster: Cluster, io: IoCtx, config: &Config) -> Result<Self> {
        Ok(Journal {
            layout: Layout::new(kind, &config.instance)?,
            cluster,
            io,
            failpoints: config.failpoints.clone(),
            locks: config.locks.clone(),
        })
    }

    /// The volume journal (`csi.volumes.<instance>`).
    pub fn volumes(cluster: Cluster, io: IoCtx, config: &Config) -> Result<Self> {
        Self::new(Kind::Volume, cluster, io, config)
    }

    /// The snapshot journal (`csi.snaps.<instance>`).
    pub fn snapshots(cluster: Cluster, io: IoCtx, config: &Config) -> Result<Self> {
        Self::new(Kind::Snapshot, cluster, io, config)
    }

    /// Volume or snapshot.
    pub fn kind(&self) -> Kind {
        self.layout.kind()
    }

    /// Object names of this journal.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// Pool of the directory object.
    pub fn pool_id(&self) -> i64 {
        self.io.pool_id()
    }

    /// RADOS namespace of the journal (and of every entry).
    pub fn namespace(&self) -> &str {
        self.io.namespace()
    }

    /// Serialises operations on one request name within the process. The key includes pool,
    /// namespace and directory so unrelated journals never contend.
    pub(crate) async fn lock_name(&self, request_name: &str) -> LockGuard {
        let key = format!(
            "{}/{}/{}/{}",
            self.io.pool_id(),
            self.io.namespace(),
            self.layout.directory_oid(),
            request_name
        );
        self.locks.acquire(&key).await
    }

    pub(crate) async fn failpoint(&self, step: Step) -> Result<()> {
        Ok(self.failpoints.hit(step.name(self.kind())).await?)
    }

    /// The context holding entries (and images) of `pool_id`: the directory's own context,
    /// or the same namespace in another pool.
    pub(crate) async fn entry_io(&self, pool_id: i64) -> Result<IoCtx, ceph::Error> {
        if pool_id == self.io.pool_id() {
            Ok(self.io.clone())
        } else {
            self.cluster.ioctx_by_id(pool_id, self.io.namespace()).await
        }
    }

    /// All `csi.*` keys of an attribute object (a handful; not a directory listing).
    /// `Ok(None)` when the object does not exist.
    pub(crate) async fn read_entry_omap(
        &self,
        io: &IoCtx,
        oid: &str,
    ) -> Result<Option<BTreeMap<String, Vec<u8>>>> {
        let mut omap = BTreeMap::new();
        let mut after = String::new();
        loop {
            let (page, more) = match io
                .omap_list(oid, &after, crate::attributes::PREFIX, ENTRY_PAGE)
                .await
            {
                Ok(page) => page,
                Err(err) if err.is_not_found() => return Ok(None),
                Err(err) => return Err(ceph_error("read entry attributes", oid, err)),
            };
            if let Some((last, _)) = page.last() {
                after.clone_from(last);
            }
            let empty = page.is_empty();
            omap.extend(page);
            if !more || empty {
                return Ok(Some(omap));
            }
        }
    }

    /// Removes directory key `key` if it still holds `value` (what the caller read or wrote):
    /// one compare-and-remove op, so a key rewritten meanwhile by another reservation of the
    /// name is left alone. `Ok(false)` when it was not removed (changed, or already gone).
    pub(crate) async fn remove_directory_key_if(&self, key: &str, value: &[u8]) -> Result<bool> {
        let oid = self.layout.directory_oid();
        let op = WriteOp::new("remove directory key")
            .omap_cmp_eq(key, value)
            .omap_remove_keys(&[key]);
        match self.io.operate(oid, op).await {
            Ok(()) => Ok(true),
            Err(err) if err.is_not_found() || err.is_compare_failed() => Ok(false),
            Err(err) => Err(ceph_error("remove directory key", oid, err)),
        }
    }

    /// Removes an attribute object, treating a missing one as done.
    pub(crate) async fn remove_entry_object(&self, io: &IoCtx, oid: &str) -> Result<()> {
        match io.remove(oid).await {
            Ok(()) => Ok(()),
            Err(err) if err.is_not_found() => Ok(()),
            Err(err) => Err(ceph_error("remove entry object", oid, err)),
        }
    }

    /// The raw directory value of `key`, `None` when the key or the directory is missing.
    pub(crate) async fn read_directory_value(&self, key: &str) -> Result<Option<Vec<u8>>> {
        let oid = self.layout.directory_oid();
        match self.io.omap_get_by_keys(oid, &[key]).await {
            Ok(mut found) => Ok(found.remove(key)),
            Err(err) if err.is_not_found() => Ok(None),
            Err(err) => Err(ceph_error("read directory key", oid, err)),
        }
    }
}

/// Wraps a librados error with the journal step and object.
pub(crate) fn ceph_error(step: &'static str, object: &str, source: ceph::Error) -> Error {
    Error::Ceph {
        step,
        object: object.to_owned(),
        source,
    }
}
