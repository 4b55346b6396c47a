//! `sepia-attacher`: external-attacher for any CSI driver — VolumeAttachments naming our driver
//! get ControllerPublishVolume / ControllerUnpublishVolume with upstream's finalizers,
//! node-id annotation and status, so kube-controller-manager and kubelet see what they
//! expect. Unlike upstream, a VA whose node is gone is detached instead of stuck.
//!
//! Module map (a VolumeAttachment flows top to bottom):
//! - [`args`]: the command line (shared sidecar flags, external-attacher's own).
//! - [`watch`]: caches of VAs, PVs and CSINodes whose changes queue work, and the workers.
//! - [`reconcile`]: one pass — decide, then patch / call / write status.
//! - [`observed`]: the plain views of VA, PV and CSINode the decision reads.
//! - [`plan`]: the pure attach / detach / PV-finalizer decisions.
//! - [`attachment_status`]: the pure VA status transitions (attached, errors, detached).
//! - [`announce`]: Kubernetes Events on the VA and NATS events.
//! - [`keys`]: upstream's finalizer, annotation, method names and event reasons.
//! - [`error`]: the crate error, `AttacherError`.
//!
//! From `sepia-sidecar`: the start-up, the watch caches and the watch → queue → workers loop
//! ([`sidecar::WatchQueue`]), and what the calls carry (the PV's volume capability and secrets).
//!
//! The binary (`main.rs`) parses [`args`], starts the shared sidecar runtime and runs
//! [`watch::run`] while holding Lease `external-attacher-leader-<sanitized driver>`.

pub mod announce;
pub mod args;
pub mod attachment_status;
pub mod error;
pub mod keys;
pub mod observed;
pub mod plan;
pub mod reconcile;
pub mod watch;

pub use error::AttacherError;
