//! `sepia-resizer`: external-resizer for any CSI driver — a PVC whose
//! `spec.resources.requests.storage` grows above `status.capacity` gets ControllerExpandVolume,
//! its PV the new capacity, and its status the RecoverVolumeExpansionFailure bookkeeping
//! kubelet and kube-controller-manager read. Unlike upstream it watches no Pods.
//!
//! Module map (a claim flows top to bottom):
//! - [`args`]: the command line (shared sidecar flags, external-resizer's own).
//! - [`watch`]: caches of PVCs, PVs and StorageClasses whose changes queue claims, and the
//!   workers.
//! - [`reconcile`]: one pass over one claim — decide, then write status / call / patch.
//! - [`observed`]: the plain views of claim, volume and class the decision reads.
//! - [`plan`]: the pure decision (target size per `allocatedResourceStatuses`).
//! - [`claim_status`]: the pure PVC status transitions (begin, done, failed, abandon).
//! - [`failure`]: which ControllerExpandVolume codes are infeasible.
//! - [`announce`]: Kubernetes Events on the claim and NATS events.
//! - [`keys`]: upstream's status values, conditions, annotations and event reasons.
//! - [`error`]: the crate error, `ResizerError`.
//!
//! From `sepia-sidecar`: the start-up, the watch caches and the watch → queue → workers loop
//! ([`sidecar::WatchQueue`]), and what the call carries (the PV's volume capability and
//! secrets; sizes as quantities).
//!
//! The binary (`main.rs`) parses [`args`], starts the shared sidecar runtime and runs
//! [`watch::run`] while holding Lease `external-resizer-<sanitized driver>`.

pub mod announce;
pub mod args;
pub mod claim_status;
pub mod error;
pub mod failure;
pub mod keys;
pub mod observed;
pub mod plan;
pub mod reconcile;
pub mod watch;

pub use error::ResizerError;
