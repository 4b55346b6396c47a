//! Which content a volume was created from: the key `sepia.volume.source` on
//! `csi.volume.<uuid>`, holding `snapshot:<id>` or `volume:<id>`.
//!
//! It answers two questions ceph-csi cannot: is a repeated CreateVolume asking for the same
//! content (else ALREADY_EXISTS), and may the volume be used with a reader-only access mode.

use std::fmt;

use ceph::IoCtx;
use uuid::Uuid;

use crate::error::Result;
use crate::journal::ceph_error;
use crate::kind::Kind;

/// The omap key of the record.
pub const KEY: &str = "sepia.volume.source";

/// CreateVolume's `volume_content_source`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContentSource {
    /// A snapshot ID.
    Snapshot(String),
    /// A volume ID.
    Volume(String),
}

impl ContentSource {
    /// The stored value.
    pub fn encode(&self) -> String {
        match self {
            ContentSource::Snapshot(id) => format!("snapshot:{id}"),
            ContentSource::Volume(id) => format!("volume:{id}"),
        }
    }

    /// Inverse of [`ContentSource::encode`]; `None` for anything else.
    pub fn decode(text: &str) -> Option<ContentSource> {
        if let Some(id) = text.strip_prefix("snapshot:") {
            return Some(ContentSource::Snapshot(id.to_owned()));
        }
        text.strip_prefix("volume:")
            .map(|id| ContentSource::Volume(id.to_owned()))
    }
}

impl fmt::Display for ContentSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ContentSource::Snapshot(id) => write!(f, "snapshot {id}"),
            ContentSource::Volume(id) => write!(f, "volume {id}"),
        }
    }
}

/// The recorded source of the volume `uuid` (entry object in `io`), if any. A missing object
/// or an unreadable value reads as no record.
pub async fn read(io: &IoCtx, uuid: &Uuid) -> Result<Option<ContentSource>> {
    let oid = Kind::Volume.entry_oid(uuid);
    match io.omap_get_by_keys(&oid, &[KEY]).await {
        Ok(found) => Ok(found
            .get(KEY)
            .and_then(|v| std::str::from_utf8(v).ok())
            .and_then(ContentSource::decode)),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(ceph_error("read content source", &oid, e)),
    }
}

/// Records `source` on the existing entry object of volume `uuid`.
pub async fn write(io: &IoCtx, uuid: &Uuid, source: &ContentSource) -> Result<()> {
    let oid = Kind::Volume.entry_oid(uuid);
    let value = source.encode();
    io.omap_set(&oid, &[(KEY, value.as_bytes())])
        .await
        .map_err(|e| ceph_error("record content source", &oid, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip() {
        for source in [
            ContentSource::Snapshot("0001-0001-c-0000000000000001-x".into()),
            ContentSource::Volume("0001-0001-c-0000000000000001-y".into()),
        ] {
            assert_eq!(ContentSource::decode(&source.encode()), Some(source));
        }
        assert_eq!(ContentSource::decode("bogus"), None);
    }

    #[test]
    fn values_are_byte_exact() {
        assert_eq!(
            ContentSource::Snapshot("s-1".into()).encode(),
            "snapshot:s-1"
        );
        assert_eq!(ContentSource::Volume("v-1".into()).encode(), "volume:v-1");
    }
}
