//! `sepia-rig`: what the bench (`sepia-bench`) and the demo (`sepia-demo`) share to drive a CSI
//! plugin against a Ceph cluster, so neither depends on the other.
//!
//! Module map:
//! - [`access`]: monitors, cephx identity and CSI secrets (the bed's env file or flags; the key
//!   is never printed).
//! - [`scratch`]: the throw-away RBD namespace a run works in, and the wait for the mgr's trash
//!   purge; [`inventory`]: what a namespace holds (images, trash, journal keys and objects).
//! - [`csi_call`]: the StorageClass, capabilities, deadlines and Identity calls every CSI
//!   request of both tools carries; [`grpc_code`]: the spec's names of gRPC codes.
//! - [`mgr`]: the mgr `volumes` commands on one CephFS file system and group.
//! - [`size`]: `1Gi`-style sizes.
//! - [`error`]: what stops a run's set-up ([`Error`]).

pub mod access;
pub mod csi_call;
pub mod error;
pub mod grpc_code;
pub mod inventory;
pub mod mgr;
pub mod scratch;
pub mod size;

pub use error::{Error, Result};
