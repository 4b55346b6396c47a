//! Sepia's CSI controller for CephFS (`sepia-cephfs-controller`): the drop-in for ceph-csi's
//! CephFS controller, with the same journal (in the filesystem's metadata pool, RADOS namespace
//! `csi`), IDs (location field = FSCID), subvolume and snapshot names and parameters. It runs
//! on the RBD controller's plumbing (`controller`: state, locks, secrets' standing
//! credentials, errors and their statuses, the RPC runner, Identity); the CephFS logic is here.
//!
//! Module map — a request flows top to bottom:
//! - [`service`]: the gRPC Controller (Identity is the RBD crate's, see [`server`]).
//! - Domain: [`volume`] (create empty, `clone` from a snapshot or a volume, delete, expand,
//!   get/validate, `context` = the volume context the node reads, `request` = the validated
//!   CreateVolume they share), [`snapshot`] (create,
//!   delete), [`capacity`] (GetCapacity), [`listing`] (ListVolumes, ListSnapshots).
//! - Request inputs: [`params`] (StorageClass / VolumeSnapshotClass parameters), [`secrets`]
//!   (`adminID`/`adminKey`).
//! - Ceph-facing: [`fs`] (a filesystem: FSCID, metadata pool, journals, subvolume group),
//!   [`mgr`] (the mgr `volumes` commands, typed), [`lookup`] (ID → filesystem + entry).
//! - Plumbing: [`driver`] (the shared state plus the groups made), [`failpoints`] (crash
//!   points between Ceph writes), [`server`].

pub mod capacity;
pub mod driver;
pub mod failpoints;
pub mod fs;
pub mod listing;
pub mod lookup;
pub mod mgr;
pub mod params;
pub mod secrets;
pub mod server;
pub mod service;
pub mod snapshot;
pub mod volume;

pub use driver::Driver;
