//! The `snapshot.storage.k8s.io/v1` API as Rust types: what kubectl, Velero, the provisioner
//! (restore source) and our snapshotter all read and write, byte-compatible with upstream's
//! external-snapshotter CRDs.
//!
//! # Module map
//! - [`volume_snapshot`]: `VolumeSnapshot` (namespaced, status subresource, short name `vs`).
//! - [`volume_snapshot_content`]: `VolumeSnapshotContent` (cluster, status, `vsc`/`vscs`);
//!   creationTime in ns and restoreSize in bytes, as upstream.
//! - [`volume_snapshot_class`]: `VolumeSnapshotClass` (cluster, no spec: a plain struct with a
//!   hand-written `kube::Resource`).
//! - [`common`]: `DeletionPolicy` and `VolumeSnapshotError`, shared by the three.
//! - [`keys`]: finalizers, annotations and class-parameter keys, to the letter.
//! - [`naming`]: `snapcontent-<uid>` and `snapshot-<uid>`.
//! - [`crds`]: the three CRDs and their YAML (`sepia-snapshotter crds`).
//! - [`error`]: the crate error, [`SnapshotApiError`].

pub mod common;
pub mod crds;
pub mod error;
pub mod keys;
pub mod naming;
pub mod volume_snapshot;
pub mod volume_snapshot_class;
pub mod volume_snapshot_content;

pub use common::{DeletionPolicy, VolumeSnapshotError};
pub use error::SnapshotApiError;
pub use volume_snapshot::{
    VolumeSnapshot, VolumeSnapshotSource, VolumeSnapshotSpec, VolumeSnapshotStatus,
};
pub use volume_snapshot_class::VolumeSnapshotClass;
pub use volume_snapshot_content::{
    VolumeSnapshotContent, VolumeSnapshotContentSource, VolumeSnapshotContentSpec,
    VolumeSnapshotContentStatus,
};
