//! Sepia's external-provisioner: turns PersistentVolumeClaims into CSI volumes and PVs, and
//! deletes them again, speaking the same protocol as kubernetes-csi/external-provisioner so
//! kube-controller-manager, the scheduler and other tools work unchanged.
//!
//! Module map — pure decisions (exhaustively table-tested):
//! - [`claim_decision`]: should this claim be provisioned, finished or cleaned up?
//! - [`volume_decision`]: should this PV's volume be deleted, or its finalizer dropped?
//! - [`plan`]: claim + class → request name, size, capabilities, parameters, secret refs,
//!   built from [`plan::class_params`], [`plan::capabilities`], `sidecar::secret_template`
//!   (which tokens each kind of secret may use) and `sidecar::quantity`.
//! - [`source::source_ref`]: which object `dataSource` / `dataSourceRef` names, and whether a
//!   claim may read it from another namespace (feature gate + ReferenceGrant).
//! - [`source::data_source`]: restore and clone source rules (volume mode, size, driver,
//!   readiness), over `snapshot_api`'s VolumeSnapshot and VolumeSnapshotContent.
//! - [`pv_builder`]: the PV for a created volume.
//! - [`keys`]: every annotation, finalizer and parameter key.
//!
//! Plumbing (observe → decide → act):
//! - [`watch`]: watches, caches and the two work queues (claims, PVs), run while leading (two
//!   `sidecar::WatchQueue`s).
//! - [`reconcile`]: one pass over a queued key — [`reconcile::claim`] acts on a claim decision
//!   (CreateVolume, PV create, the in-flight record), [`reconcile::cleanup`] when a claim with a
//!   record no longer wants the volume, [`reconcile::volume`] on a PV decision (DeleteVolume,
//!   finalizers).
//! - [`in_flight`]: the durable in-flight record on the claim (Sepia's leak fix), with
//!   [`in_flight::recorded_call`]: the CreateVolume it names, repeated as it was made.
//! - [`source`]: a claim's data source, both halves — the pure `source_ref` and
//!   `data_source` above, [`source::sources`]: fetching and checking the source objects, and
//!   [`source::source_protection`]: the finalizers on clone and restore sources while they are
//!   read.
//! - [`topology`]: accessibility requirements from the selected node (topology drivers).
//! - [`csi_calls`]: CreateVolume / DeleteVolume through the sidecar's metered connection.
//! - [`context`]: what all workers share (clients, caches, queues, sinks).
//! - [`wakeup`]: the claims a controller background event (snapshot prepared, flatten or CephFS
//!   clone finished) wakes, requeued at once with a Kubernetes Event (fed by
//!   `sidecar::wakeups`); matched by what the event names or by CSI ids.
//! - [`secrets`]: CSI secrets from the Secrets a class names (read by `sidecar::secrets`).
//! - [`announce`]: Kubernetes Events, NATS events and metrics for each operation.
//! - [`metrics`]: upstream's `controller_persistentvolumeclaim_provision_*` counters.
//! - [`args`] holds the binary's flags, [`error`] the [`ProvisionerError`].
//!
//! A claim flows: watch event → claim queue → `reconcile::claim` reads caches → `claim_decision`
//! → (record intent on the claim) → `plan` + `source` → CreateVolume → `pv_builder` →
//! PV created → intent dropped. A PV flows: watch event → volume queue → `volume_decision` →
//! DeleteVolume → PV deleted → finalizer dropped.
//!
//! # The durable in-flight record (Sepia addition)
//! Before the first CreateVolume for a claim, the claim gets annotation
//! `sepia.io/provisioning: <request name>` (plus `sepia.io/provisioning-source:
//! snapshot:<id>|volume:<id>` for a clone or restore), annotation
//! `sepia.io/provisioning-request` (the call itself, without secrets: parameters such as
//! clusterID and pool, size, capabilities, topology, the provisioner Secret's reference) and
//! finalizer `sepia.io/provisioning-protection`. While they exist, every repeat of the call —
//! a retry after an unknown outcome, the clean-up — sends the recorded request, never one
//! rebuilt from a StorageClass that may have been made anew with another pool meanwhile.
//! They are removed once the PV exists; after a final CreateVolume error (no call running,
//! nothing made — so a claim that can never be provisioned, its class or secret gone, can
//! still be deleted); or — if the claim was deleted or bound elsewhere in the meantime — once
//! the same CreateVolume has been repeated to a final answer and the volume it returned has
//! been deleted. So neither a restart nor a claim deleted mid-call can orphan a volume
//! (upstream keeps this state only in memory: external-provisioner#486).

pub mod announce;
pub mod args;
pub mod claim_decision;
pub mod context;
pub mod csi_calls;
pub mod error;
pub mod in_flight;
pub mod keys;
pub mod metrics;
pub mod plan;
pub mod pv_builder;
pub mod reconcile;
pub mod secrets;
pub mod source;
pub mod topology;
pub mod volume_decision;
pub mod wakeup;
pub mod watch;

pub use error::ProvisionerError;
