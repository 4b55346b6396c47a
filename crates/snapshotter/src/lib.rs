//! Sepia's snapshotter: upstream's cluster-wide snapshot-controller and the per-driver
//! csi-snapshotter sidecar in one binary, compatible with their objects and keys.
//!
//! # Module map
//! Decisions (pure: observed objects in, intended actions out; table-tested):
//! - [`snapshot_plan`]: a VolumeSnapshot → default class, finalizers, content creation or
//!   binding, status mirroring, deletion.
//! - [`content_binding`]: the binding half's side of a content (finalizer, being-deleted; never
//!   released while its VolumeSnapshot is gone).
//! - [`claim_protection`]: when a source PVC's `pvc-as-source-protection` may go.
//! - [`content_plan`]: the CSI half — which CSI call a content of our driver needs.
//! - [`default_class`], [`status_mirror`], [`new_content`], [`create_request`],
//!   [`content_status`], [`ready_poll`], [`csi_progress`]: the rules those decisions are
//!   made of (a class's Secret is resolved by `sidecar::secret_template`, through
//!   [`secrets`]).
//!
//! Execution (Kubernetes and CSI I/O):
//! - [`watch`]: the watch loops — each half is a `sidecar::WatchQueue`: watches fill its caches and
//!   queue keys, its workers sync them. [`binding_lease`]: the binding half under its
//!   own Lease.
//! - [`csi_half`]: CreateSnapshot / ListSnapshots / DeleteSnapshot for our driver's contents.
//! - [`binding_half`]: upstream snapshot-controller's job — binds VolumeSnapshots and contents,
//!   protects source PVCs (keys from [`binding_half::fan_out`]).
//! - [`kube_writes`]: finalizer, annotation and status writes; [`secrets`]: CSI secrets.
//! - [`wakeup`]: the controller's background-work events (snapshot prepared) requeue the
//!   content and are told on its VolumeSnapshot (fed by `sidecar::wakeups`).
//! - [`announce`]: Kubernetes Events and NATS events; [`metrics`]: upstream's operation
//!   histogram; [`clock`]: times in the objects' units.
//! - [`args`]: the flags; [`error`]: the crate error, [`SnapshotterError`].
//!
//! A VolumeSnapshot flows: watch → `binding_half` → `snapshot_plan` → content created →
//! watch → `csi_half` → `content_plan` → CreateSnapshot → content status → watch →
//! `binding_half` mirrors it into the VolumeSnapshot.

pub mod announce;
pub mod args;
pub mod binding_half;
pub mod binding_lease;
pub mod claim_protection;
pub mod clock;
pub mod content_binding;
pub mod content_plan;
pub mod content_status;
pub mod create_request;
pub mod csi_half;
pub mod csi_progress;
pub mod default_class;
pub mod error;
pub mod kube_writes;
pub mod metrics;
pub mod new_content;
pub mod ready_poll;
pub mod secrets;
pub mod snapshot_plan;
pub mod status_mirror;
pub mod wakeup;
pub mod watch;

#[cfg(test)]
mod test_fixtures;
pub use error::SnapshotterError;
