//! ListSnapshots (and GetSnapshot): snapshots of every cluster and pool, of one source volume,
//! or one by id; a page at a time. One read per snapshot: its journal entry object holds the
//! names, the image id (ready) and our record of time and size.

use csi::SecretMap;

use journal::{Kind, Listed, Location};

use crate::error::{Error, Result};
use crate::pool::cluster::Pool;
use crate::pool::listing::{self, Token};
use crate::pool::lookup::{self, Lookup};
use crate::secrets::Source;
use crate::snapshot::create::SnapshotInfo;
use crate::snapshot::record;
use crate::state::State;
use journal::records::snapshot::decode_map;

/// ListSnapshots' filters.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub snapshot_id: Option<String>,
    pub source_volume_id: Option<String>,
}

pub async fn list_snapshots(
    state: &State,
    filter: &Filter,
    max: usize,
    start: Option<Token>,
    secrets: &SecretMap,
) -> Result<(Vec<SnapshotInfo>, Option<Token>)> {
    let source = Source::RequestOrStanding(secrets, "ListSnapshots");
    if let Some(id) = &filter.snapshot_id {
        let found = one(state, id, source).await?;
        let matches = |s: &SnapshotInfo| {
            filter
                .source_volume_id
                .as_ref()
                .is_none_or(|v| *v == s.source_volume_id)
        };
        return Ok((found.into_iter().filter(matches).collect(), None));
    }
    let page = match &filter.source_volume_id {
        Some(volume_id) => {
            let volume = match lookup::lookup(state, Kind::Volume, volume_id, source).await {
                Ok(Lookup::Found(volume)) => volume,
                Ok(_) | Err(Error::UnknownCluster { .. }) => return Ok((Vec::new(), None)),
                Err(e) => return Err(e),
            };
            let mut page = listing::page_one(&volume.pool, Kind::Snapshot, start, max).await?;
            let wanted = volume.entry.image_name.clone();
            let mut kept = Vec::new();
            for (pool, listed) in page.entries.drain(..) {
                if let Some(info) = resolve(&pool, &listed, Some(&wanted)).await? {
                    kept.push(info);
                }
            }
            return Ok((kept, page.next));
        }
        None => listing::page_all(state, Kind::Snapshot, source, start, max).await?,
    };
    let mut snapshots = Vec::with_capacity(page.entries.len());
    for (pool, listed) in &page.entries {
        if let Some(info) = resolve(pool, listed, None).await? {
            snapshots.push(info);
        }
    }
    Ok((snapshots, page.next))
}

/// The snapshot with this id, if it exists (an unknown or malformed id lists nothing).
pub async fn one(
    state: &State,
    snapshot_id: &str,
    source: Source<'_>,
) -> Result<Option<SnapshotInfo>> {
    let snapshot = match lookup::lookup(state, Kind::Snapshot, snapshot_id, source).await {
        Ok(Lookup::Found(snapshot)) => snapshot,
        Ok(_) | Err(Error::UnknownCluster { .. }) => return Ok(None),
        Err(e) => return Err(e),
    };
    let listed = Listed {
        request_name: snapshot.entry.request_name.clone(),
        location: Some(snapshot.entry.location),
    };
    resolve(&snapshot.pool, &listed, None).await
}

/// The listed snapshot, or None for an entry that is not a snapshot of this name (or not of
/// `source_image` when given).
async fn resolve(
    directory: &Pool,
    listed: &Listed,
    source_image: Option<&str>,
) -> Result<Option<SnapshotInfo>> {
    let Some(location) = listed.location else {
        return Ok(None);
    };
    let Some(pool) = directory.sibling_if_exists(location.pool_id).await? else {
        return Ok(None);
    };
    let Some(keys) = listing::entry_keys(&pool, &Kind::Snapshot.entry_oid(&location.uuid)).await?
    else {
        return Ok(None);
    };
    if listing::text(&keys, "csi.snapname") != Some(listed.request_name.as_str()) {
        return Ok(None);
    }
    let Some(source) = listing::text(&keys, journal::attributes::SOURCE) else {
        return Ok(None);
    };
    if source_image.is_some_and(|wanted| wanted != source) {
        return Ok(None);
    }
    // Ready at the cut (recorded) or, for ceph-csi's snapshots, once the image id is stored.
    let prepared = listing::text(&keys, journal::attributes::IMAGE_ID).is_some();
    let ready = prepared || decode_map(&keys).is_some();
    let record = match decode_map(&keys) {
        Some(record) => record,
        None if prepared => {
            let image_name = listing::text(&keys, journal::attributes::IMAGE_NAME)
                .map(str::to_owned)
                .unwrap_or_else(|| {
                    format!("{}{}", Kind::Snapshot.default_image_prefix(), location.uuid)
                });
            record::derive(&pool, &image_name).await?
        }
        // Reserved but never cut (the CreateSnapshot that reserved it did not answer).
        None => return Ok(None),
    };
    Ok(Some(SnapshotInfo {
        snapshot_id: lookup::volume_id(&pool.cluster, &location)?,
        source_volume_id: source_volume_id(&pool, &location, source)?,
        record,
        ready,
    }))
}

/// The source volume's ID: same cluster and pool; its uuid is the tail of its image name, as
/// ceph-csi derives it.
fn source_volume_id(pool: &Pool, location: &Location, source_image: &str) -> Result<String> {
    let tail = source_image
        .len()
        .checked_sub(36)
        .and_then(|at| source_image.get(at..));
    match tail.and_then(|t| journal::id::parse_uuid(t).ok()) {
        Some(uuid) => lookup::compose(&pool.cluster.id, location.pool_id, uuid),
        None => Ok(String::new()),
    }
}
