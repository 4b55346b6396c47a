//! Object names, directory keys and directory values — the pure byte layout of the journal.
//!
//! Nothing here talks to Ceph, so the compatibility rules can be unit-tested exactly:
//! - directory object `csi.volumes.<instance>` (or `csi.snaps.<instance>`),
//! - directory key `csi.volume.<request name>` (or `csi.snap.<request name>`),
//! - directory value `<uuid>`, or `<16 hex image pool id>/<uuid>` when the per-uuid object and
//!   the image live in another pool than the directory (ceph-csi tells them apart by length),
//! - attribute object `csi.volume.<uuid>` (or `csi.snap.<uuid>`) in the image's pool.

use uuid::Uuid;

use crate::error::Error;
use crate::id::{Location, parse_uuid};
use crate::kind::Kind;

/// Instance id ceph-csi uses unless started with `--instanceid`.
pub const DEFAULT_INSTANCE: &str = "default";

/// What a directory value points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DirectoryTarget {
    /// `Some` when the value carried an explicit pool (split journal/image pools).
    pub pool_id: Option<i64>,
    /// The entry's uuid.
    pub uuid: Uuid,
}

impl DirectoryTarget {
    /// Resolves the pool: a bare uuid means "the directory's own pool".
    pub fn location(&self, journal_pool_id: i64) -> Location {
        Location {
            pool_id: self.pool_id.unwrap_or(journal_pool_id),
            uuid: self.uuid,
        }
    }
}

/// Names for one journal (kind + instance id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    kind: Kind,
    directory_oid: String,
}

impl Layout {
    /// Layout for `kind` under `instance` (ceph-csi's `--instanceid`, normally `default`).
    pub fn new(kind: Kind, instance: &str) -> Result<Self, Error> {
        if instance.is_empty() || instance.contains('\0') {
            return Err(Error::InvalidArgument {
                field: "instance",
                rule: "must be a non-empty string without NUL",
            });
        }
        Ok(Layout {
            kind,
            directory_oid: format!("{}{instance}", kind.directory_prefix()),
        })
    }

    /// Which journal this is.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// The directory object, e.g. `csi.volumes.default`.
    pub fn directory_oid(&self) -> &str {
        &self.directory_oid
    }

    /// Directory key of a request name, e.g. `csi.volume.pvc-3603c558-…`.
    pub fn directory_key(&self, request_name: &str) -> String {
        format!("{}{request_name}", self.kind.directory_key_prefix())
    }

    /// Inverse of [`Layout::directory_key`]; `None` for keys of another kind.
    pub fn request_name<'k>(&self, directory_key: &'k str) -> Option<&'k str> {
        directory_key.strip_prefix(self.kind.directory_key_prefix())
    }

    /// Attribute object of an entry, e.g. `csi.volume.566a36f5-…`.
    pub fn entry_oid(&self, uuid: &Uuid) -> String {
        self.kind.entry_oid(uuid)
    }

    /// The uuid of an attribute object name, `None` for any other object (the directory,
    /// group objects, images' objects).
    pub fn entry_uuid(&self, oid: &str) -> Option<Uuid> {
        oid.strip_prefix(self.kind.entry_prefix())
            .and_then(|rest| parse_uuid(rest).ok())
    }
}

/// Directory value for `uuid`; `image_pool_id` is given only when it differs from the
/// directory's pool.
pub fn encode_directory_value(uuid: &Uuid, image_pool_id: Option<i64>) -> String {
    match image_pool_id {
        None => uuid.hyphenated().to_string(),
        Some(pool) => format!("{}/{}", encode_pool_id(pool), uuid.hyphenated()),
    }
}

/// Parses a directory value. Returns `None` for anything ceph-csi could not have written.
pub fn decode_directory_value(value: &[u8]) -> Option<DirectoryTarget> {
    let text = std::str::from_utf8(value).ok()?;
    match text.split_once('/') {
        None => Some(DirectoryTarget {
            pool_id: None,
            uuid: parse_uuid(text).ok()?,
        }),
        Some((pool, uuid)) => Some(DirectoryTarget {
            pool_id: Some(decode_pool_id(pool)?),
            uuid: parse_uuid(uuid).ok()?,
        }),
    }
}

/// 16 hex digits, big-endian, as ceph-csi encodes pool ids (`csi.journalpool`, directory
/// values). Pool ids are never negative; the cast keeps the bit pattern regardless.
pub fn encode_pool_id(pool_id: i64) -> String {
    format!("{:016x}", pool_id as u64)
}

/// Inverse of [`encode_pool_id`]; accepts either hex case (Go's decoder does).
pub fn decode_pool_id(text: &str) -> Option<i64> {
    if text.len() != 16 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u64::from_str_radix(text, 16)
        .ok()
        .and_then(|id| i64::try_from(id).ok())
}

#[cfg(test)]
mod tests;
