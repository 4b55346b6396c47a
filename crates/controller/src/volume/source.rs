//! Which content a volume was created from, recorded next to its journal entry
//! ([`journal::records::source`] owns the record's format; this file decides when to write it).
//!
//! The record answers two questions ceph-csi cannot: is a repeated CreateVolume asking for the
//! same content (else ALREADY_EXISTS), and may the volume be used with a reader-only access
//! mode.

use journal::records::source::{self as record, ContentSource};
use journal::{Entry, Journal};

use crate::error::{Error, Result};
use crate::pool::cluster::Pool;
use crate::pool::image;
use crate::state::State;

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
    request: &journal::Request,
    pool: &Pool,
    wanted: &ContentSource,
    after_recorded: &'static str,
) -> Result<Reserved> {
    let journal = pool.volumes()?;
    let reservation = journal.reserve(request).await?;
    let entry = reservation.entry;
    if ensure(
        pool,
        &request.request_name,
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
    record::read(&pool.io, uuid).await.map_err(Error::record)
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
            record::write(&pool.io, uuid, wanted)
                .await
                .map_err(Error::record)?;
            Ok(true)
        }
    }
}
