//! What a caller asks the journal to find or reserve.

use uuid::Uuid;

use crate::error::{Error, Result};
use crate::kind::Kind;

/// Encryption settings recorded with a volume (`csi.volume.encryptKMS`,
/// `csi.volume.encryptionType`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encryption {
    /// The KMS configuration id.
    pub kms_id: String,
    /// `block` or `file`; absent on entries written before ceph-csi recorded it.
    pub encryption_type: Option<String>,
}

/// A lookup or reservation of one CSI request name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The CSI `name` (e.g. `pvc-<uid>`, `snapshot-<uid>`).
    pub request_name: String,
    /// Prefix of the image name (`volumeNamePrefix` / `snapshotNamePrefix`); the kind's
    /// default when `None`.
    pub image_prefix: Option<String>,
    /// Snapshots: the source image name (mandatory; refused for volumes). Compared on every
    /// lookup.
    pub source: Option<String>,
    /// PVC namespace (`csi.volume.owner`).
    pub owner: Option<String>,
    /// Encryption settings; compared on every lookup.
    pub encryption: Option<Encryption>,
    /// Pool of the image when it is not the journal's pool (split layout).
    pub image_pool_id: Option<i64>,
    /// A fixed uuid (rebuilding an entry for a pre-existing volume); drawn at random if `None`.
    pub uuid: Option<Uuid>,
}

impl Request {
    /// A request for `request_name` with every option unset.
    pub fn new(request_name: impl Into<String>) -> Self {
        Request {
            request_name: request_name.into(),
            image_prefix: None,
            source: None,
            owner: None,
            encryption: None,
            image_pool_id: None,
            uuid: None,
        }
    }

    /// Sets the snapshot source image.
    pub fn with_source(mut self, source: impl Into<String>) -> Self {
        self.source = Some(source.into());
        self
    }

    /// Sets the owner (PVC namespace).
    pub fn with_owner(mut self, owner: impl Into<String>) -> Self {
        self.owner = Some(owner.into());
        self
    }

    /// Sets the encryption settings.
    pub fn with_encryption(mut self, encryption: Encryption) -> Self {
        self.encryption = Some(encryption);
        self
    }

    /// Sets the image name prefix.
    pub fn with_image_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.image_prefix = Some(prefix.into());
        self
    }

    /// Puts the image (and the attribute object) in another pool than the directory.
    pub fn with_image_pool(mut self, pool_id: i64) -> Self {
        self.image_pool_id = Some(pool_id);
        self
    }

    /// Uses a fixed uuid instead of a random one.
    pub fn with_uuid(mut self, uuid: Uuid) -> Self {
        self.uuid = Some(uuid);
        self
    }

    /// The image name prefix in force.
    pub fn prefix(&self, kind: Kind) -> &str {
        self.image_prefix
            .as_deref()
            .unwrap_or(kind.default_image_prefix())
    }

    /// Checks the rules a reservation relies on, before any Ceph call.
    pub fn validate(&self, kind: Kind) -> Result<()> {
        fn text(value: &str, field: &'static str) -> Result<()> {
            if value.is_empty() || value.contains('\0') {
                return Err(Error::InvalidArgument {
                    field,
                    rule: "must be a non-empty string without NUL",
                });
            }
            Ok(())
        }
        text(&self.request_name, "request_name")?;
        match (&self.source, kind.requires_source()) {
            (Some(source), true) => text(source, "source")?,
            // ceph-csi records no source for volumes; writing one would add a key it never
            // writes. A volume's content source is checked on the image by the controller.
            (Some(_), false) => {
                return Err(Error::InvalidArgument {
                    field: "source",
                    rule: "is only recorded for snapshots",
                });
            }
            (None, true) => {
                return Err(Error::InvalidArgument {
                    field: "source",
                    rule: "is required for a snapshot",
                });
            }
            (None, false) => {}
        }
        if let Some(owner) = &self.owner {
            text(owner, "owner")?;
        }
        if let Some(encryption) = &self.encryption {
            text(&encryption.kms_id, "encryption.kms_id")?;
            if let Some(kind) = &encryption.encryption_type {
                text(kind, "encryption.encryption_type")?;
            }
        }
        if let Some(prefix) = &self.image_prefix {
            // RBD reserves '/' (pool/namespace separator) and '@' (snapshot separator).
            if prefix.is_empty() || prefix.contains(['/', '@', '\0']) {
                return Err(Error::InvalidArgument {
                    field: "image_prefix",
                    rule: "must be non-empty and free of '/', '@' and NUL",
                });
            }
        }
        if self.image_pool_id.is_some_and(|pool| pool < 0) {
            return Err(Error::InvalidArgument {
                field: "image_pool_id",
                rule: "must not be negative",
            });
        }
        Ok(())
    }
}
