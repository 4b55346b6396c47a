//! Finalizers, annotations and parameter keys exactly as upstream's snapshot-controller and
//! csi-snapshotter spell them (`external-snapshotter/pkg/utils/util.go`). They are the contract
//! with kubectl, Velero, the provisioner and an upstream controller running beside ours, so
//! they must never drift.

/// API group of the three kinds.
pub const GROUP: &str = "snapshot.storage.k8s.io";
/// The one served and stored version.
pub const VERSION: &str = "v1";
/// `apiVersion` of objects of this group.
pub const API_VERSION: &str = "snapshot.storage.k8s.io/v1";

/// On a VolumeSnapshotContent once it is bound: only the CSI half removes it, after the
/// backend snapshot is gone (Delete) or released (Retain).
pub const CONTENT_BOUND_FINALIZER: &str =
    "snapshot.storage.kubernetes.io/volumesnapshotcontent-bound-protection";
/// On a VolumeSnapshot bound to a content whose deletionPolicy is Delete: kept until the
/// content object is gone, so the user's delete waits for the backend delete.
pub const SNAPSHOT_BOUND_FINALIZER: &str =
    "snapshot.storage.kubernetes.io/volumesnapshot-bound-protection";
/// On every live VolumeSnapshot: blocks its deletion while a Pending PVC restores from it.
pub const SNAPSHOT_AS_SOURCE_FINALIZER: &str =
    "snapshot.storage.kubernetes.io/volumesnapshot-as-source-protection";
/// On a PVC while a snapshot of it is not ready yet (the volume must outlive the cut).
pub const PVC_AS_SOURCE_FINALIZER: &str = "snapshot.storage.kubernetes.io/pvc-as-source-protection";
/// The provisioner's finalizer on a VolumeSnapshot it restores from (listed so the deletion
/// logic can recognise it; the provisioner owns it).
pub const PROVISIONER_SNAPSHOT_AS_SOURCE_FINALIZER: &str =
    "provisioner.storage.kubernetes.io/volumesnapshot-as-source-protection";

/// On a VolumeSnapshotClass: `"true"` makes it the default for its driver.
pub const IS_DEFAULT_CLASS_ANNOTATION: &str = "snapshot.storage.kubernetes.io/is-default-class";
/// On a content while a CreateSnapshot may be running on the driver: its deletion must wait
/// for a final answer, or the backend snapshot could be created after we stopped looking.
pub const BEING_CREATED_ANNOTATION: &str =
    "snapshot.storage.kubernetes.io/volumesnapshot-being-created";
/// Set on a content by the snapshot controller once its VolumeSnapshot is being deleted; the
/// CSI half deletes the backend snapshot only when it sees it.
pub const BEING_DELETED_ANNOTATION: &str =
    "snapshot.storage.kubernetes.io/volumesnapshot-being-deleted";
/// Secret for Create/DeleteSnapshot resolved at content creation (the VolumeSnapshot, needed
/// for the templates, may be gone at delete time).
pub const DELETION_SECRET_NAME_ANNOTATION: &str =
    "snapshot.storage.kubernetes.io/deletion-secret-name";
/// Namespace half of [`DELETION_SECRET_NAME_ANNOTATION`].
pub const DELETION_SECRET_NAMESPACE_ANNOTATION: &str =
    "snapshot.storage.kubernetes.io/deletion-secret-namespace";
/// Marks a content that belongs to a VolumeGroupSnapshot: never created or deleted alone.
pub const GROUP_SNAPSHOT_HANDLE_ANNOTATION: &str =
    "groupsnapshot.storage.k8s.io/volumeGroupSnapshotHandle";

/// Class parameters under this prefix are for the sidecars, never passed to the driver.
pub const CSI_PARAMETER_PREFIX: &str = "csi.storage.k8s.io/";
/// Class parameter: Secret name (template) for Create/DeleteSnapshot.
pub const SNAPSHOTTER_SECRET_NAME_KEY: &str = "csi.storage.k8s.io/snapshotter-secret-name";
/// Class parameter: Secret namespace (template) for Create/DeleteSnapshot.
pub const SNAPSHOTTER_SECRET_NAMESPACE_KEY: &str =
    "csi.storage.k8s.io/snapshotter-secret-namespace";
/// Class parameter: Secret name (template) for ListSnapshots.
pub const SNAPSHOTTER_LIST_SECRET_NAME_KEY: &str =
    "csi.storage.k8s.io/snapshotter-list-secret-name";
/// Class parameter: Secret namespace (template) for ListSnapshots.
pub const SNAPSHOTTER_LIST_SECRET_NAMESPACE_KEY: &str =
    "csi.storage.k8s.io/snapshotter-list-secret-namespace";

/// CreateSnapshot parameter added with `--extra-create-metadata`: the VolumeSnapshot's name.
pub const PARAM_VOLUMESNAPSHOT_NAME: &str = "csi.storage.k8s.io/volumesnapshot/name";
/// CreateSnapshot parameter: the VolumeSnapshot's namespace.
pub const PARAM_VOLUMESNAPSHOT_NAMESPACE: &str = "csi.storage.k8s.io/volumesnapshot/namespace";
/// CreateSnapshot parameter: the VolumeSnapshotContent's name.
pub const PARAM_VOLUMESNAPSHOTCONTENT_NAME: &str = "csi.storage.k8s.io/volumesnapshotcontent/name";

/// Secret-name template token: the content's name.
pub const TOKEN_CONTENT_NAME: &str = "volumesnapshotcontent.name";
/// Secret template token: the VolumeSnapshot's namespace.
pub const TOKEN_SNAPSHOT_NAMESPACE: &str = "volumesnapshot.namespace";
/// Secret-name template token: the VolumeSnapshot's name (names only: a user controls it).
pub const TOKEN_SNAPSHOT_NAME: &str = "volumesnapshot.name";

/// `kind` of a PVC `dataSource` that restores from a snapshot.
pub const VOLUME_SNAPSHOT_KIND: &str = "VolumeSnapshot";
