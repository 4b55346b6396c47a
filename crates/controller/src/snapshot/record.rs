//! When a snapshot was cut and how big its source was, recorded next to its journal entry
//! ([`journal::records::snapshot`] owns the record's format).
//!
//! CreateSnapshot must answer the same `creation_time` and `size_bytes` on every repeat, and
//! ListSnapshots must answer them without opening an image per snapshot. Snapshots ceph-csi made
//! have no record; theirs is read from the snapshot image.

use std::time::SystemTime;

use journal::Entry;
use journal::records::snapshot::{self as stored, Record};

use crate::error::{Error, Result};
use crate::pool::cluster::Pool;
use crate::pool::image;

/// The record's cut time as protobuf's Timestamp.
pub fn timestamp(record: &Record) -> prost_types::Timestamp {
    let since = record
        .created
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    prost_types::Timestamp {
        seconds: i64::try_from(since.as_secs()).unwrap_or(i64::MAX),
        nanos: i32::try_from(since.subsec_nanos()).unwrap_or(0),
    }
}

/// The record of snapshot `uuid`, if written.
pub async fn read(pool: &Pool, uuid: &uuid::Uuid) -> Result<Option<Record>> {
    stored::read(&pool.io, uuid).await.map_err(Error::record)
}

pub async fn write(pool: &Pool, uuid: &uuid::Uuid, record: &Record) -> Result<()> {
    stored::write(&pool.io, uuid, record)
        .await
        .map_err(Error::record)
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
    use std::time::Duration;

    use super::*;

    #[test]
    fn timestamps_keep_the_nanoseconds() {
        let record = Record {
            created: SystemTime::UNIX_EPOCH + Duration::new(1_700_000_000, 123_456_789),
            size: 1 << 30,
        };
        assert_eq!(timestamp(&record).nanos, 123_456_789);
        assert_eq!(timestamp(&record).seconds, 1_700_000_000);
    }
}
