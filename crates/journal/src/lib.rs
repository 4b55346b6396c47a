//! The ceph-csi compatible omap journal, composite volume/snapshot IDs and operation locks.
//!
//! The journal is what makes CreateVolume and CreateSnapshot idempotent without any state in
//! Kubernetes: a per-pool directory object maps CSI request names to uuids, and one attribute
//! object per uuid records the image behind it. The layout is byte-for-byte ceph-csi's, so
//! volumes provisioned by either driver are found by the other.
//!
//! Module map (pure first, then Ceph-facing):
//! - [`id`]: encode/decode `0001-0009-rook-ceph-<16 hex pool>-<uuid>` IDs; never panics.
//! - [`kind`]: the two journals (volumes, snapshots) and the names each uses.
//! - [`attributes`]: the attribute keys (`csi.imagename`, `csi.source`, ...).
//! - [`layout`]: object names, directory keys and `<uuid>` / `<pool hex>/<uuid>` values.
//! - [`request`]: what a caller looks up or reserves ([`Request`]).
//! - [`entry`]: reading, writing and comparing an entry's attributes ([`Entry`]).
//! - [`locks`]: in-process per-name locks released on drop, i.e. also on cancellation.
//! - `rados_locks`: where the cross-process locks live ([`Journal::lock_request_name`] on the
//!   directory, [`Journal::lock_entry`] on an entry object).
//! - [`failpoints`]: names of the crash points between the journal's Ceph writes.
//! - [`journal`]: the [`Journal`] handle and, in its docs, the write ordering that makes every
//!   crash repairable by a retry.
//! - [`records`]: Sepia's own `sepia.*` records next to ceph-csi's keys (a volume's source, a
//!   snapshot's cut, publications, the node registry): their format, reads and writes.
//! - `lookup`, `reserve`, `by_uuid`, `removal`, [`listing`]: the operations, one file each.
//!
//! Every write is fenced: writes to entry objects assert the object exists (a late writer never
//! re-creates a deleted entry), read-then-write paths compare what they read in the same op
//! (`csi.volname`/`csi.snapname` before `csi.imageid`, the directory value before removing a
//! key), and inside a `ceph::lock_scope` every write also asserts the scope's locks on its
//! object.
//!
//! Flow of a CreateVolume: the controller takes the name's lock
//! ([`Journal::lock_request_name`], in a lock scope), calls [`Journal::reserve`] (a by-key
//! read of the directory, a read of the entry, and — only for a new name — two writes), creates
//! the image if missing, calls [`Journal::record_image_id`], and encodes a [`CompositeId`]
//! from pool id and uuid. On failure it deletes what it made and calls [`Journal::undo`];
//! DeleteVolume decodes the ID, locks the entry ([`Journal::lock_entry`]) and calls
//! [`Journal::delete`].

pub mod attributes;
mod by_uuid;
pub mod entry;
pub mod error;
pub mod failpoints;
pub mod id;
pub mod journal;
pub mod kind;
pub mod layout;
pub mod listing;
pub mod locks;
mod lookup;
mod rados_locks;
pub mod records;
mod removal;
pub mod request;
mod reserve;

pub use entry::Entry;
pub use error::{Error, Result};
pub use id::CompositeId;
pub use id::Location;
pub use journal::{Config, Journal};
pub use kind::Kind;
pub use layout::{DEFAULT_INSTANCE, Layout};
pub use listing::{Listed, Page, Scan};
pub use locks::{LockGuard, OperationLocks};
pub use rados_locks::REQUEST_LOCK_PREFIX;
pub use request::{Encryption, Request};
pub use reserve::Reservation;
