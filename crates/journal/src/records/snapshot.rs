//! When a snapshot was cut and how big its source was: the keys `sepia.snapshot.created`
//! (`<unix seconds>.<nanoseconds>`) and `sepia.snapshot.size` (bytes) on `csi.snap.<uuid>`.
//!
//! CreateSnapshot must answer the same `creation_time` and `size_bytes` on every repeat, and
//! ListSnapshots must answer them without opening an image per snapshot. Snapshots ceph-csi made
//! have no record; the controller reads theirs from the snapshot image.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use ceph::IoCtx;
use uuid::Uuid;

use crate::error::Result;
use crate::journal::ceph_error;
use crate::kind::Kind;

/// Key of the cut time.
pub const CREATED: &str = "sepia.snapshot.created";
/// Key of the source's size.
pub const SIZE: &str = "sepia.snapshot.size";

/// A snapshot's cut time and source size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record {
    /// When the snapshot was cut.
    pub created: SystemTime,
    /// Size of the source volume at the cut, in bytes.
    pub size: u64,
}

impl Record {
    /// The stored values of [`CREATED`] and [`SIZE`].
    pub fn encode(&self) -> (String, String) {
        let since = self
            .created
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default();
        (
            format!("{}.{:09}", since.as_secs(), since.subsec_nanos()),
            self.size.to_string(),
        )
    }

    /// Inverse of [`Record::encode`]; `None` for anything else.
    pub fn decode(created: &str, size: &str) -> Option<Record> {
        let (secs, nanos) = created.split_once('.')?;
        let since = Duration::new(secs.parse().ok()?, nanos.parse().ok()?);
        Some(Record {
            created: SystemTime::UNIX_EPOCH + since,
            size: size.parse().ok()?,
        })
    }
}

/// The record of snapshot `uuid` (entry object in `io`), if written.
pub async fn read(io: &IoCtx, uuid: &Uuid) -> Result<Option<Record>> {
    let oid = Kind::Snapshot.entry_oid(uuid);
    match io.omap_get_by_keys(&oid, &[CREATED, SIZE]).await {
        Ok(found) => Ok(decode_map(&found)),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(ceph_error("read snapshot record", &oid, e)),
    }
}

/// Reads a record out of an entry object's raw keys (from a listing).
pub fn decode_map(keys: &BTreeMap<String, Vec<u8>>) -> Option<Record> {
    let text = |k: &str| keys.get(k).and_then(|v| std::str::from_utf8(v).ok());
    Record::decode(text(CREATED)?, text(SIZE)?)
}

/// Writes `record` on the existing entry object of snapshot `uuid`, both keys in one op.
pub async fn write(io: &IoCtx, uuid: &Uuid, record: &Record) -> Result<()> {
    let oid = Kind::Snapshot.entry_oid(uuid);
    let (created, size) = record.encode();
    io.omap_set(
        &oid,
        &[(CREATED, created.as_bytes()), (SIZE, size.as_bytes())],
    )
    .await
    .map_err(|e| ceph_error("write snapshot record", &oid, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_to_the_nanosecond() {
        let record = Record {
            created: SystemTime::UNIX_EPOCH + Duration::new(1_700_000_000, 123_456_789),
            size: 1 << 30,
        };
        let (created, size) = record.encode();
        assert_eq!(created, "1700000000.123456789");
        assert_eq!(Record::decode(&created, &size), Some(record));
        assert_eq!(Record::decode("x", "1"), None);
    }

    #[test]
    fn listed_keys_decode_only_when_both_are_there() {
        let mut keys = BTreeMap::new();
        keys.insert(CREATED.to_owned(), b"1700000000.000000001".to_vec());
        assert_eq!(decode_map(&keys), None);
        keys.insert(SIZE.to_owned(), b"4096".to_vec());
        assert_eq!(
            decode_map(&keys),
            Some(Record {
                created: SystemTime::UNIX_EPOCH + Duration::new(1_700_000_000, 1),
                size: 4096,
            })
        );
    }
}
