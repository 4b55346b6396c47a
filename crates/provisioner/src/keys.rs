//! Every annotation, finalizer, label and parameter key the provisioner reads or writes, in one
//! place. Upstream's keys are spelled to the letter (Kubernetes and other tools read them);
//! Sepia's own additions are under `sepia.io/` and documented in the crate README.

/// PVC: which provisioner must act (set by kube-controller-manager).
pub const ANN_STORAGE_PROVISIONER: &str = "volume.kubernetes.io/storage-provisioner";
/// PVC: the pre-1.23 spelling, still set by kube-controller-manager.
pub const ANN_BETA_STORAGE_PROVISIONER: &str = "volume.beta.kubernetes.io/storage-provisioner";
/// PVC: the node the scheduler picked for a WaitForFirstConsumer claim.
pub const ANN_SELECTED_NODE: &str = "volume.kubernetes.io/selected-node";
/// PV: which provisioner created it; deletion is only ours when it names our driver.
pub const ANN_PROVISIONED_BY: &str = "pv.kubernetes.io/provisioned-by";
/// PV: where DeleteVolume finds its secret after the class and claim are gone.
pub const ANN_DELETION_SECRET_NAME: &str = "volume.kubernetes.io/provisioner-deletion-secret-name";
pub const ANN_DELETION_SECRET_NAMESPACE: &str =
    "volume.kubernetes.io/provisioner-deletion-secret-namespace";

/// PV: holds the PV until DeleteVolume succeeded (reclaim policy Delete).
pub const FINALIZER_PV: &str = "external-provisioner.volume.kubernetes.io/finalizer";
/// Source PVC of a clone, while cloning.
pub const FINALIZER_CLONING_PROTECTION: &str =
    "provisioner.storage.kubernetes.io/cloning-protection";
/// Source VolumeSnapshot of a restore, while restoring.
pub const FINALIZER_SNAPSHOT_SOURCE_PROTECTION: &str =
    "provisioner.storage.kubernetes.io/volumesnapshot-as-source-protection";

/// Sepia addition — PVC: the CreateVolume request name that may have been issued for this
/// claim. Written *before* the first CreateVolume, removed once the PV exists or the volume was
/// deleted again. Together with [`FINALIZER_PROVISIONING`] it makes the in-flight call durable,
/// which upstream keeps only in memory (external-provisioner#486: a restart or a PVC deleted
/// mid-call leaks the volume).
pub const ANN_PROVISIONING: &str = "sepia.io/provisioning";
/// Sepia addition — PVC: the CreateVolume the first attempt made, without its secrets (JSON of
/// [`crate::in_flight::recorded_call::RecordedCall`]): parameters (clusterID, pool, …), size,
/// capabilities, topology and the provisioner Secret's reference. Every repeat — and the
/// clean-up of a claim deleted mid-call — sends exactly this, whatever the class says by then.
pub const ANN_PROVISIONING_REQUEST: &str = "sepia.io/provisioning-request";
/// Sepia addition — PVC: keeps a deleted claim around until its in-flight volume is either
/// bound to a PV or deleted.
pub const FINALIZER_PROVISIONING: &str = "sepia.io/provisioning-protection";

/// `spec.csi.volumeAttributes` key recording which provisioner instance created the volume.
pub const ATTR_PROVISIONER_IDENTITY: &str = "storage.kubernetes.io/csiProvisionerIdentity";

/// StorageClass parameter prefix reserved for the provisioner; stripped before CreateVolume.
pub const RESERVED_PREFIX: &str = "csi.storage.k8s.io/";
pub const PARAM_FSTYPE: &str = "csi.storage.k8s.io/fstype";
/// Extra metadata added to CreateVolume parameters.
pub const PARAM_PVC_NAME: &str = "csi.storage.k8s.io/pvc/name";
pub const PARAM_PVC_NAMESPACE: &str = "csi.storage.k8s.io/pvc/namespace";
pub const PARAM_PV_NAME: &str = "csi.storage.k8s.io/pv/name";

/// Data source kinds.
pub const SNAPSHOT_GROUP: &str = "snapshot.storage.k8s.io";
pub const KIND_VOLUME_SNAPSHOT: &str = "VolumeSnapshot";
pub const KIND_PVC: &str = "PersistentVolumeClaim";

/// VolumeSnapshotContent: `"true"` lets a restore change the volume mode of the snapshot's
/// source (`spec.sourceVolumeMode`) despite `--prevent-volume-mode-conversion`.
pub const ANN_ALLOW_VOLUME_MODE_CHANGE: &str =
    "snapshot.storage.kubernetes.io/allow-volume-mode-change";

/// Event reasons, as upstream writes them.
pub mod reason {
    pub const PROVISIONING: &str = "Provisioning";
    pub const PROVISIONING_SUCCEEDED: &str = "ProvisioningSucceeded";
    pub const PROVISIONING_FAILED: &str = "ProvisioningFailed";
    pub const VOLUME_FAILED_DELETE: &str = "VolumeFailedDelete";
    /// Sepia addition — PV: deleted while its claim still holds it; the volume is deleted once
    /// the claim is gone (upstream waits the same way, silently).
    pub const VOLUME_DELETE_PENDING: &str = "VolumeDeletePending";
    /// Sepia addition — PVC: the snapshot it restores from finished its background
    /// preparation (a NATS event woke the claim).
    pub const SNAPSHOT_PREPARED: &str = "SnapshotPrepared";
    /// Sepia addition — PVC: the background preparation of its source snapshot failed; the
    /// restore prepares it itself.
    pub const BACKGROUND_PREPARATION_FAILED: &str = "BackgroundPreparationFailed";
    /// Sepia addition — PVC: the flatten its restore or clone waited for at the hard
    /// clone-depth limit finished.
    pub const FLATTEN_FINISHED: &str = "FlattenFinished";
    /// Sepia addition — PVC: that flatten failed (or was not seen to finish in time).
    pub const FLATTEN_FAILED: &str = "FlattenFailed";
    /// Sepia addition — PVC: the CephFS clone of its data source finished.
    pub const CLONE_FINISHED: &str = "CloneFinished";
    /// Sepia addition — PVC: the CephFS clone of its data source failed.
    pub const CLONE_FAILED: &str = "CloneFailed";
}

/// Sepia addition — PVC: the data source CreateVolume was given (`snapshot:<id>` or
/// `volume:<id>`), so a clean-up can repeat *exactly* the same request even after the source
/// object is gone.
pub const ANN_PROVISIONING_SOURCE: &str = "sepia.io/provisioning-source";
