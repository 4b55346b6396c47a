//! Safe, async, deadline-bound access to Ceph: librados (objects, omap, mon/mgr commands) and
//! librbd (images), over the raw FFI of `sepia-ceph-sys`.
//!
//! Module map (a request flows top to bottom):
//! - `credentials`, `timeouts`: who connects, and how long any call may take
//! - `cache`: [`ConnectionCache`], connected clusters shared across requests; connects in
//!   flight bounded by [`ConnectLimits`]
//! - `cluster` (+ `connect_config`): [`Cluster`], one `rados_t`; pool lookups, fsid
//! - `command`: mon/mgr JSON commands on a cluster
//! - `ioctx`: [`IoCtx`], one pool + RADOS namespace; `objects` and `omap` add its operations,
//!   `write_op` its compound writes ([`WriteOp`]: assertions, compares, [`Fence`]s) that
//!   `omap` and the locks are built on (`rados_op` owns the librados op handles)
//! - locks across processes: `cls_lock` (the OSD lock class's ops, encoded by hand so they
//!   fit in a compound write), `lease` ([`Locker`] takes a [`Lease`]: renewed while held,
//!   released only after the calls made under it returned), [`lock_scope`] (the leases a
//!   piece of work holds, known to every call it makes: in-flight counts, automatic fences,
//!   stopping the work when a lease is lost), `lock_admin` (who holds a lock; breaking it)
//! - [`rbd`]: images, snapshots, clones, trash, rbd namespaces
//! - `blocking`: the only path into the C libraries — spawn_blocking + deadline + span, and
//!   the process's call observer ([`observe_calls`], for latency metrics)
//! - `c_text`: strings across the C boundary; `error`: the crate's [`Error`]
//!
//! Ownership: `Image` → `IoCtx` → `Cluster` each hold an `Arc` of the next, and every blocking
//! call owns `Arc`s of what it touches, so a caller that gives up (deadline, dropped future)
//! never leaves librados with a freed handle. Handles are released off the async executor.

mod blocking;
mod c_text;
mod cache;
mod cls_lock;
mod cluster;
mod command;
mod connect_config;
mod credentials;
mod error;
mod ioctx;
mod lease;
mod lock_admin;
pub mod lock_scope;
mod objects;
mod omap;
mod rados_op;
pub mod rbd;
mod timeouts;
mod write_op;

pub use blocking::observe_calls;
pub use cache::{ConnectLimits, ConnectionCache};
pub use cls_lock::LockKind;
pub use cluster::Cluster;
pub use command::CommandOutput;
pub use credentials::{Credentials, Secret};
pub use error::{Error, Result};
pub use ioctx::IoCtx;
pub use lease::{Lease, LeaseLost, LockSpec, Locker};
pub use lock_admin::LockHolder;
pub use timeouts::Timeouts;
pub use write_op::{Fence, WriteOp};
