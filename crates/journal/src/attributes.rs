//! Keys of the per-uuid attribute objects, byte for byte as ceph-csi writes them.
//!
//! Values are raw strings: no length prefix, no terminator, no encoding. Anything else found
//! under `csi.` on an attribute object (group ids, CephFS backing snapshots, keys a later
//! ceph-csi adds) is kept in [`crate::Entry::extra`] so nothing is silently dropped.

/// Name of the backing image / subvolume (`csi-vol-<uuid>`, `csi-snap-<uuid>`).
pub const IMAGE_NAME: &str = "csi.imagename";
/// RBD image id, written once the image exists.
pub const IMAGE_ID: &str = "csi.imageid";
/// Snapshots: name of the image the snapshot was taken from.
pub const SOURCE: &str = "csi.source";
/// 16-hex big-endian id of the pool holding the directory, only when it differs from the pool
/// holding this object and the image.
pub const JOURNAL_POOL: &str = "csi.journalpool";
/// Namespace of the PVC (tenant-aware KMS needs it).
pub const OWNER: &str = "csi.volume.owner";
/// Id of the KMS configuration that encrypts the volume.
pub const ENCRYPT_KMS: &str = "csi.volume.encryptKMS";
/// `block` or `file` encryption.
pub const ENCRYPTION_TYPE: &str = "csi.volume.encryptionType";
/// Prefix shared by every attribute key; the listing filter for attribute objects.
pub const PREFIX: &str = "csi.";
