//! When a snapshot was cut and how big its source was, recorded next to its journal entry.
//!
//! CreateSnapshot must answer the same `creation_time` and `size_bytes` on every repeat, and
//! ListSnapshots must answer them without opening an image per snapshot. The keys
//! `sepia.snapshot.created` (`<unix seconds>.<nanoseconds>`) and `sepia.snapshot.size` (bytes)
//! live on `csi.snap.<uuid>`, where ceph-csi reads only its `csi.*` keys. Snapshots ceph-csi made
//! have no record; theirs is read from the snapshot image.

use std::time::{Duration, SystemTime};

use journal::{Entry, Kind};

use crate::cluster::Pool;
use crate::error::{Error, Result};
use crate::image;
use crate::lookup;

pub const CREATED: &str = "sepia.snapshot.created";
pub const SIZE: &str = "sepia.snapshot.size";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record {
    pub created: SystemTime,
    pub size: u64,
}

impl Record {
    fn encode(&self) -> (String, String) {
        let since = self
            .created
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default();
        (
            format!("{}.{:09}", since.as_secs(), since.subsec_nanos()),
            self.size.to_string(),
        )
    }

    fn decode(created: &str, size: &str) -> Option<Record> {
        let (secs, nanos) = created.split_once('.')?;
        let since = Duration::new(secs.parse().ok()?, nanos.parse().ok()?);
        Some(Record {
            created: SystemTime::UNIX_EPOCH + since,
            size: size.parse().ok()?,
        })
    }

    /// As protobuf's Timestamp.
    pub fn timestamp(&self) -> prost_types::Timestamp {
        let since = self
            .created
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default();
        prost_types::Timestamp {
            seconds: i64::try_from(since.as_secs()).unwrap_or(i64::MAX),
            nanos: i32::try_from(since.subsec_nanos()).unwrap_or(0),
        }
    }
}

/// The record of snapshot `uuid`, if written.
pub async fn read(pool: &Pool, uuid: &uuid::Uuid) -> Result<Option<Record>> {
    let oid = lookup::entry_oid(Kind::Snapshot, uuid);
    match pool.io.omap_get_by_keys(&oid, &[CREATED, SIZE]).await {
        Ok(found) => Ok(decode_map(&found)),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(Error::ceph("read snapshot record", oid, e)),
    }
}

/// Reads a record out of an entry object's raw keys (from a listing).
pub fn decode_map(keys: &std::collections::BTreeMap<String, Vec<u8>>) -> Option<Record> {
    let text = |k: &str| keys.get(k).and_then(|v| std::str::from_utf8(v).ok());
    Record::decode(text(CREATED)?, text(SIZE)?)
}

pub async fn write(pool: &Pool, uuid: &uuid::Uuid, record: &Record) -> Result<()> {
    let oid = lookup::entry_oid(Kind::Snapshot, uuid);
    let (created, size) = record.encode();
    pool.io
        .omap_set(
            &oid,
            &[(CREATED, created.as_bytes()), (SIZE, size.as_bytes())],
        )
        .await
        .map_err(|e| Error::ceph("write snapshot record", oid, e))
}

/// The record, or (for snapshots without one) the snapshot image's creation time and size.
pub async fn read_or_derive(pool: &Pool, entry: &Entry) -> Result<Record> {
    if let Some(record) = read(pool, &entry.location.uuid).await? {
        return Ok(record);
    }
    derive(pool, &entry.image_name).await
}

/// The snapshot image's creation time and size (ceph-csi's answer).
pub async fn derive(pool: &Pool, image_name: &str) -> Result<Record> {
    let img = image::open_existing(pool, image_name).await?;
    image::with_closed(pool, img, |img| async move {
        let size = image::size(pool, &img).await?;
        let created = img
            .create_timestamp()
            .await
            .map_err(|e| Error::ceph("get creation time", pool.spec(img.name()), e))?;
        Ok(Record { created, size })
    })
    .await
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
        assert_eq!(record.timestamp().nanos, 123_456_789);
    }
}
