//! From a volume or snapshot ID to its journal entry: decode, connect to the cluster it names,
//! open the pool by id, read `csi.volume.<uuid>` / `csi.snap.<uuid>`. Each way of not finding it
//! is a value, so DeleteVolume can succeed where ControllerGetVolume answers NOT_FOUND.

use std::sync::Arc;

use csi::quote::quote;
use journal::{CompositeId, Journal, Kind, Location};
use uuid::Uuid;

use crate::error::{Error, Result};
use crate::pool::cluster::{Cluster, Pool};
use crate::pool::connect;
use crate::secrets::Source;
use crate::state::State;

/// A volume or snapshot whose journal entry exists.
pub struct Found {
    /// The ID as the CO sent it.
    pub id: String,
    pub composite: CompositeId,
    /// The image's pool (the ID's location).
    pub pool: Pool,
    /// The journal holding the entry's directory key (usually in the same pool).
    pub journal: Journal,
    pub entry: journal::Entry,
}

/// A volume: its image is `entry.image_name`.
pub type Volume = Found;
/// A snapshot: its image `entry.image_name` carries a snapshot of the same name; the source
/// volume's image is `entry.source`, in the same pool.
pub type Snapshot = Found;

impl Found {
    pub fn location(&self) -> Location {
        self.entry.location
    }

    /// `pool/namespace/image`.
    pub fn spec(&self) -> String {
        self.pool.spec(&self.entry.image_name)
    }

    /// The clone helper image of ceph-csi's volume-to-volume sequence.
    pub fn temp_image_name(&self) -> String {
        temp_image_name(&self.entry.image_name)
    }
}

/// `<image>-temp`, the intermediate image of a volume cloned from another volume.
pub fn temp_image_name(image: &str) -> String {
    format!("{image}-temp")
}

/// Ways an ID finds nothing.
pub enum Lookup {
    Found(Box<Found>),
    /// Malformed ID, or a pool that no longer exists.
    Gone {
        why: String,
    },
    /// The pool exists, the entry does not (or is an incomplete leftover).
    NoEntry {
        pool: Pool,
        journal: Journal,
        location: Location,
        incomplete: bool,
    },
}

/// Decodes a volume or snapshot ID; the error says why it is not one.
pub fn decode(id: &str) -> std::result::Result<CompositeId, String> {
    CompositeId::decode(id).map_err(|e| e.to_string())
}

/// The location an ID names.
pub fn location_of(composite: &CompositeId) -> std::result::Result<Location, String> {
    let pool_id = i64::try_from(composite.location_id())
        .map_err(|_| "its pool id is out of range".to_owned())?;
    Ok(Location {
        pool_id,
        uuid: composite.uuid(),
    })
}

/// Looks an ID up in the journal of `kind`. An unknown clusterID is an error
/// ([`Error::UnknownCluster`]): the caller decides whether that means "not found".
pub async fn lookup(state: &State, kind: Kind, id: &str, source: Source<'_>) -> Result<Lookup> {
    let composite = match decode(id) {
        Ok(c) => c,
        Err(why) => return Ok(Lookup::Gone { why }),
    };
    let location = match location_of(&composite) {
        Ok(l) => l,
        Err(why) => return Ok(Lookup::Gone { why }),
    };
    let cluster = connect::cluster(state, composite.cluster_id(), source).await?;
    let pool = match cluster.pool_by_id(location.pool_id).await {
        Ok(pool) => pool,
        Err(e) if e.is_not_found() => {
            return Ok(Lookup::Gone {
                why: format!("pool id {} no longer exists", location.pool_id),
            });
        }
        Err(e) => {
            return Err(Error::ceph(
                "open pool",
                format!("pool id {}", location.pool_id),
                e,
            ));
        }
    };
    let journal = match kind {
        Kind::Volume => pool.volumes()?,
        Kind::Snapshot => pool.snapshots()?,
    };
    match journal.entry(&location).await {
        Ok(entry) => {
            let journal = directory_journal(&pool, &entry, journal).await?;
            Ok(Lookup::Found(Box::new(Found {
                id: id.to_owned(),
                composite,
                pool,
                journal,
                entry,
            })))
        }
        Err(journal::Error::NotFound { .. }) => Ok(Lookup::NoEntry {
            pool,
            journal,
            location,
            incomplete: false,
        }),
        Err(journal::Error::Incomplete { .. }) => Ok(Lookup::NoEntry {
            pool,
            journal,
            location,
            incomplete: true,
        }),
        Err(e) => Err(e.into()),
    }
}

/// The volume, or NOT_FOUND saying why not (an unknown cluster included).
pub async fn find_volume(state: &State, id: &str, source: Source<'_>) -> Result<Volume> {
    let not_found = |why: String| Error::VolumeNotFound {
        volume_id: id.to_owned(),
        why,
    };
    find(state, Kind::Volume, id, source, not_found).await
}

/// The snapshot, or NOT_FOUND saying why not.
pub async fn find_snapshot(state: &State, id: &str, source: Source<'_>) -> Result<Snapshot> {
    let not_found = |why: String| Error::SnapshotNotFound {
        snapshot_id: id.to_owned(),
        why,
    };
    find(state, Kind::Snapshot, id, source, not_found).await
}

async fn find(
    state: &State,
    kind: Kind,
    id: &str,
    source: Source<'_>,
    not_found: impl Fn(String) -> Error,
) -> Result<Found> {
    match lookup(state, kind, id, source).await {
        Ok(Lookup::Found(volume)) => Ok(*volume),
        Ok(Lookup::Gone { why }) => Err(not_found(why)),
        Ok(Lookup::NoEntry { incomplete, .. }) => Err(not_found(if incomplete {
            "its journal entry is incomplete".to_owned()
        } else {
            "it has no journal entry".to_owned()
        })),
        Err(Error::UnknownCluster { cluster_id }) => Err(not_found(format!(
            "clusterID {} is not in the cluster config",
            quote(&cluster_id)
        ))),
        Err(e) => Err(e),
    }
}

/// Volumes of ceph-csi before 3.11 may keep their directory in another pool
/// (`csi.journalpool`); removing the directory key must happen there.
async fn directory_journal(pool: &Pool, entry: &journal::Entry, own: Journal) -> Result<Journal> {
    match entry.journal_pool_id {
        Some(id) if id != pool.io.pool_id() => {
            let directory = pool
                .sibling(id)
                .await
                .map_err(|e| Error::ceph("open journal pool", format!("pool id {id}"), e))?;
            match entry.kind {
                Kind::Volume => directory.volumes(),
                Kind::Snapshot => directory.snapshots(),
            }
        }
        _ => Ok(own),
    }
}

/// The ID of an entry at `location` in `cluster` (volume and snapshot IDs look alike).
pub fn volume_id(cluster: &Arc<Cluster>, location: &Location) -> Result<String> {
    compose(&cluster.id, location.pool_id, location.uuid)
}

/// `CompositeId` encoding with our error type.
pub fn compose(cluster_id: &str, pool_id: i64, uuid: Uuid) -> Result<String> {
    let pool_id = u64::try_from(pool_id).map_err(|_| Error::Internal {
        what: format!("pool id {pool_id} is negative"),
    })?;
    CompositeId::new(cluster_id, pool_id, uuid)
        .map(|id| id.encode())
        .map_err(|e| Error::invalid("clusterID", e.to_string()))
}
