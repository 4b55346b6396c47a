//! From a volume or snapshot ID to its filesystem and journal entry: decode, connect to the
//! cluster it names, find the filesystem by FSCID, read `csi.volume.<uuid>` / `csi.snap.<uuid>`
//! in its metadata pool. Each way of not finding it is a value, so deletes can succeed where
//! other RPCs answer NOT_FOUND.

use controller::error::{Error, Result};
use csi::quote::quote;
use journal::{CompositeId, Entry, Journal, Kind, Location};

use crate::fs::{self, Fs, Which};
use crate::secrets::Creds;
use controller::state::State;

/// A volume or snapshot whose journal entry exists.
pub struct Found {
    pub id: String,
    pub fs: Fs,
    pub entry: Entry,
}

impl Found {
    pub fn journal(&self) -> &Journal {
        match self.entry.kind {
            Kind::Volume => &self.fs.volumes,
            Kind::Snapshot => &self.fs.snapshots,
        }
    }

    pub fn location(&self) -> Location {
        self.entry.location
    }
}

/// Ways an ID finds nothing.
pub enum Lookup {
    Found(Box<Found>),
    /// Malformed ID, unknown cluster, or a filesystem that no longer exists.
    Gone {
        why: String,
    },
    /// The filesystem exists, the entry does not (or is an incomplete leftover).
    NoEntry {
        fs: Box<Fs>,
        location: Location,
    },
}

pub async fn lookup(state: &State, kind: Kind, id: &str, creds: Creds<'_>) -> Result<Lookup> {
    let composite = match CompositeId::decode(id) {
        Ok(c) => c,
        Err(e) => return Ok(Lookup::Gone { why: e.to_string() }),
    };
    let cluster = match fs::connect(state, composite.cluster_id(), creds).await {
        Ok(c) => c,
        Err(Error::UnknownCluster { cluster_id }) => {
            return Ok(Lookup::Gone {
                why: format!(
                    "clusterID {} is not in the cluster config",
                    quote(&cluster_id)
                ),
            });
        }
        Err(e) => return Err(e),
    };
    let fscid = composite.location_id();
    let Some(fs) = Fs::open(state, &cluster, Which::Id(fscid)).await? else {
        return Ok(Lookup::Gone {
            why: format!("filesystem id {fscid} no longer exists"),
        });
    };
    let location = fs.location(composite.uuid());
    let journal = match kind {
        Kind::Volume => &fs.volumes,
        Kind::Snapshot => &fs.snapshots,
    };
    match journal.entry(&location).await {
        Ok(entry) => Ok(Lookup::Found(Box::new(Found {
            id: id.to_owned(),
            fs,
            entry,
        }))),
        Err(journal::Error::NotFound { .. } | journal::Error::Incomplete { .. }) => {
            Ok(Lookup::NoEntry {
                fs: Box::new(fs),
                location,
            })
        }
        Err(e) => Err(e.into()),
    }
}

/// The volume, or NOT_FOUND saying why not.
pub async fn find_volume(state: &State, id: &str, creds: Creds<'_>) -> Result<Found> {
    find(state, Kind::Volume, id, creds, |why| {
        Error::VolumeNotFound {
            volume_id: id.to_owned(),
            why,
        }
    })
    .await
}

/// The snapshot, or NOT_FOUND saying why not.
pub async fn find_snapshot(state: &State, id: &str, creds: Creds<'_>) -> Result<Found> {
    find(state, Kind::Snapshot, id, creds, |why| {
        Error::SnapshotNotFound {
            snapshot_id: id.to_owned(),
            why,
        }
    })
    .await
}

async fn find(
    state: &State,
    kind: Kind,
    id: &str,
    creds: Creds<'_>,
    not_found: impl Fn(String) -> Error,
) -> Result<Found> {
    match lookup(state, kind, id, creds).await? {
        Lookup::Found(found) => Ok(*found),
        Lookup::Gone { why } => Err(not_found(why)),
        Lookup::NoEntry { .. } => Err(not_found("it has no journal entry".to_owned())),
    }
}
