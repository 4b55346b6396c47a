//! Which content a volume was created from, recorded next to its journal entry.
//!
//! The key `sepia.volume.source` on `csi.volume.<uuid>` holds `snapshot:<id>` or `volume:<id>`.
//! ceph-csi reads only its own `csi.*` keys there, so the record is invisible to it. It answers
//! two questions ceph-csi cannot: is a repeated CreateVolume asking for the same content (else
//! ALREADY_EXISTS), and may the volume be used with a reader-only access mode.

use std::fmt;

use journal::{Entry, Journal, Kind};

use crate::cluster::Pool;
use crate::error::{Error, Result};
use crate::image;
use crate::lookup;
use crate::state::State;
use crate::volume::create::{CreateRequest, journal_request};

/// The omap key of the record.
pub const KEY: &str = "sepia.volume.source";

/// CreateVolume's `volume_content_source`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContentSource {
    Snapshot(String),
    Volume(String),
}

impl ContentSource {
    fn encode(&self) -> String {
        match self {
            ContentSource::Snapshot(id) => format!("snapshot:{id}"),
            ContentSource::Volume(id) => format!("volume:{id}"),
        }
    }

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

/// A restore's or clone's reservation: the journal, the entry with its source recorded, and
/// whether the image already existed (a retry: a failure must not roll that image back).
pub struct Reserved {
    pub journal: Journal,
    pub entry: Entry,
    pub had_image: bool,
}

/// Reserves the request's name for a volume made from `wanted` and records the source;
/// `after_recorded` is the caller's failpoint once the record is written.
pub async fn reserve(
    state: &State,
    req: &CreateRequest,
    pool: &Pool,
    wanted: &ContentSource,
    after_recorded: &'static str,
) -> Result<Reserved> {
    let journal = pool.volumes()?;
    let reservation = journal.reserve(&journal_request(req)).await?;
    let entry = reservation.entry;
    if ensure(
        pool,
        &req.name,
        &entry.location.uuid,
        reservation.fresh,
        Some(wanted),
    )
    .await?
    {
        state.failpoint(after_recorded).await?;
    }
    let had_image = image::exists(pool, &entry.image_name).await?;
    Ok(Reserved {
        journal,
        entry,
        had_image,
    })
}

/// The recorded source of the volume `uuid` in `pool`, if any.
pub async fn read(pool: &Pool, uuid: &uuid::Uuid) -> Result<Option<ContentSource>> {
    let oid = lookup::entry_oid(Kind::Volume, uuid);
    match pool.io.omap_get_by_keys(&oid, &[KEY]).await {
        Ok(found) => Ok(found
            .get(KEY)
            .and_then(|v| std::str::from_utf8(v).ok())
            .and_then(ContentSource::decode)),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(Error::ceph("read content source", oid, e)),
    }
}

/// Makes sure the entry records `wanted` (None for an empty volume): writes it when the entry
/// is new or lacks it, refuses when it records another source. Returns whether it wrote.
pub async fn ensure(
    pool: &Pool,
    request_name: &str,
    uuid: &uuid::Uuid,
    fresh: bool,
    wanted: Option<&ContentSource>,
) -> Result<bool> {
    let recorded = if fresh { None } else { read(pool, uuid).await? };
    match (recorded.as_ref(), wanted) {
        (Some(recorded), Some(wanted)) if recorded == wanted => Ok(false),
        (Some(recorded), _) => Err(Error::VolumeConflict {
            request_name: request_name.to_owned(),
            rule: format!(
                "was created from {recorded}, the request asks for {}",
                wanted.map_or_else(|| "an empty volume".to_owned(), ToString::to_string)
            ),
        }),
        (None, None) => Ok(false),
        (None, Some(wanted)) => {
            let oid = lookup::entry_oid(Kind::Volume, uuid);
            let value = wanted.encode();
            pool.io
                .omap_set(&oid, &[(KEY, value.as_bytes())])
                .await
                .map_err(|e| Error::ceph("record content source", oid, e))?;
            Ok(true)
        }
    }
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
}
