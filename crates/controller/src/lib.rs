//! Sepia's CSI controller for Ceph RBD (`sepia-controller`): the drop-in for ceph-csi's RBD
//! controller, with the same journal, IDs, parameters and image layout.
//!
//! Module map — a request flows top to bottom:
//! - [`service`]: the gRPC layer. `identity` and `controller` (its RPCs split by kind:
//!   `volumes`, `snapshots`, `publication`) validate and translate each RPC (`require`), run
//!   the domain function within the RPC's budget (`deadline`), and turn errors into statuses
//!   through [`status`]; `lifecycle` publishes each mutating RPC's final outcome as a
//!   `sepia.controller.<object>.<verb>` event (through `settings.events`).
//! - Domain, one concept per file:
//!   - [`volume`]: create (`provision` picks the kind: empty, `restore` from snapshot, `clone`
//!     from volume), delete, expand, get, list, validate, and when to write the `source`
//!     record;
//!   - [`snapshot`]: create (the cut), prepare (the clone-based layout, after the reply),
//!     delete, list, and when to write the per-snapshot `record`;
//!   - [`publish`] + [`node_registry`]: publication records and known nodes (the records'
//!     format, reads and writes are `journal::records`'; these decide when and under which
//!     lock);
//!   - [`capacity`] answers GetCapacity.
//! - Request inputs: [`params`] (StorageClass parameters), [`capabilities`] (access modes and
//!   types), [`size`] (ceph-csi rounding), [`secrets`] (who we are towards Ceph).
//! - Ceph-facing helpers, [`pool`]: what is done to one pool and its images — `cluster`
//!   (connections, pools; [`reachability`] tells a wrong key from a dead cluster), `connect` (a
//!   request to the cluster its id names, as its identity), `lookup` (ID →
//!   cluster, pool, journal entry), `listing` (paged directory walks), `image`
//!   (open/close/ids/snapshots), `verified_clone` (clones proven complete before a source
//!   snapshot goes: used by snapshot preparation, restore and PVC clone), `depth` (clone depth,
//!   mgr flatten; `flatten_watch` announces the end of a flatten a request waits for, through
//!   [`background_watch`]), `metadata` (image tags), `trash` (delete via trash and mgr purge).
//! - Plumbing: [`locks`] (locks that hold across controller processes: request names,
//!   volume/snapshot ids, preparations, publications — in RADOS, with an in-process fast path,
//!   [`id_locks`] for ids; the lock design is in its docs; they work on what `pool::lookup`
//!   found), [`state`] (everything a request shares: settings, config watcher, connection cache,
//!   lock tables, failpoints; below `pool` and `locks`, which take it), [`failpoints`] (crash points between Ceph writes),
//!   [`error`] (the one error enum), [`server`] (serving on a unix socket), [`settings`],
//!   [`metrics`] (lock contention and background work, for `/metrics`),
//!   [`advertised`] (the controller capabilities, alpha ones only when `--alpha-capabilities`
//!   names them).
//!
//! Example: CreateVolume → `service::controller::volumes` parses `params`, `capabilities`, `size` and
//! opens a lock scope → `volume::provision` takes the name lock (here, then in RADOS), resolves the
//! pool via `pool::connect`/`pool::cluster`, reserves the name in the journal (writes fenced by the lock),
//! creates the image, stores its id → the lock is released → the reply carries the ID and the
//! volume context.

pub mod advertised;
pub mod background_watch;
pub mod capabilities;
pub mod capacity;
pub mod error;
pub mod failpoints;
pub mod id_locks;
pub mod locks;
pub mod metrics;
pub mod node_registry;
pub mod params;
pub mod pool;
pub mod publish;
/// Moved to the cluster config crate, which the node plugins' readiness probe shares.
pub use cluster_config::reachability;
pub mod secrets;
pub mod server;
pub mod service;
pub mod settings;
pub mod size;
pub mod snapshot;
pub mod state;
pub mod status;
pub mod volume;

pub use error::{Error, Result};
pub use settings::{CloneDepth, Settings};
pub use state::State;
