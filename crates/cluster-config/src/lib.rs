//! The cluster configuration ceph-csi reads (`/etc/ceph-csi-config/config.json`), so a Rook or
//! ceph-csi installation's ConfigMap works for Sepia unchanged.
//!
//! Module map:
//! - [`entry`]: one cluster of the file ([`ClusterEntry`]: clusterID, monitors, the `rbd`,
//!   `cephFS` and Sepia's own `sepia` sections). Fields Sepia does not use are ignored, so newer
//!   ceph-csi/Rook files keep parsing.
//! - [`config`]: the whole file ([`ClusterConfig`]): parsing, the rules every entry must meet,
//!   and lookup by clusterID.
//! - [`watcher`]: [`ClusterConfigWatcher`], which re-reads the file only when it changes (a
//!   ConfigMap update swaps a symlink) and hands out the last good value cheaply, together with
//!   the last error so a Probe can say why the plugin is not ready.
//! - [`error`]: [`ConfigError`], naming the file, entry and field at fault.
//! - [`reachability`]: whether a cluster's monitors accept a TCP connection (a dead cluster
//!   versus a wrong key; readiness probes).
//!
//! Flow: a binary starts a watcher on the file; request handlers call
//! `watcher.current().get(cluster_id)` and get the entry without touching the disk.

pub mod config;
pub mod entry;
pub mod error;
pub mod reachability;
pub mod watcher;

pub use config::ClusterConfig;
pub use entry::{CephFsSettings, ClusterEntry, NodeRegistry, RbdSettings, SepiaSettings};
pub use error::ConfigError;
pub use watcher::{ClusterConfigWatcher, Snapshot};
