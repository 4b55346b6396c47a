//! One CephFS filesystem of a configured cluster, connected as one identity: its FSCID (the
//! location field of our IDs), its metadata pool (where the journal lives, in the cluster's
//! CephFS RADOS namespace, `csi` by default) and its subvolume group (`csi` by default).
//! The mgr `volumes` commands on it are in [`crate::mgr`].

use std::sync::Arc;

use ceph::IoCtx;
use controller::error::{Error, Result};
use controller::pool::cluster::Cluster;
use controller::pool::lookup::compose;
use controller::state::State;
use csi::quote::quote;
use journal::{Journal, Location};
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

use crate::secrets::{self, Creds};

/// Subvolume group when the cluster config names none (ceph-csi's).
pub const DEFAULT_GROUP: &str = "csi";
/// RADOS namespace of the journal when the cluster config names none (ceph-csi's).
pub const DEFAULT_NAMESPACE: &str = "csi";

/// A filesystem ready for requests. Cheap to clone (a background watch keeps one).
#[derive(Clone)]
pub struct Fs {
    pub cluster: Arc<Cluster>,
    pub name: String,
    /// The filesystem id (FSCID).
    pub fscid: u64,
    pub data_pool_ids: Vec<i64>,
    /// Subvolume group of the cluster's volumes.
    pub group: String,
    /// Metadata pool, in the journal's namespace.
    pub io: IoCtx,
    pub volumes: Journal,
    pub snapshots: Journal,
}

/// Which filesystem: by name (StorageClass) or by FSCID (volume and snapshot IDs).
#[derive(Debug, Clone, Copy)]
pub enum Which<'a> {
    Name(&'a str),
    Id(u64),
}

#[derive(Deserialize)]
struct Dump {
    filesystems: Vec<DumpedFs>,
}

#[derive(Deserialize)]
struct DumpedFs {
    id: u64,
    mdsmap: MdsMap,
}

#[derive(Deserialize)]
struct MdsMap {
    fs_name: String,
    metadata_pool: i64,
    data_pools: Vec<i64>,
}

/// Connects to `cluster_id` as `creds` names. An unknown cluster is [`Error::UnknownCluster`].
pub async fn connect(state: &State, cluster_id: &str, creds: Creds<'_>) -> Result<Arc<Cluster>> {
    let entry = state
        .clusters()
        .get(cluster_id)
        .map_err(|_| Error::UnknownCluster {
            cluster_id: cluster_id.to_owned(),
        })?
        .clone();
    let identity = secrets::identity(state, creds).await?;
    Cluster::connect(
        &state.connections,
        &state.journal,
        &state.settings.metrics,
        entry,
        &identity,
    )
    .await
    .map(Arc::new)
    .map_err(secrets::rename_keys)
}

impl Fs {
    /// The filesystem `which` names in `cluster`; `None` when there is none.
    pub async fn open(
        state: &State,
        cluster: &Arc<Cluster>,
        which: Which<'_>,
    ) -> Result<Option<Fs>> {
        let out = cluster
            .rados
            .mon_command(json!({"prefix": "fs dump", "format": "json"}))
            .await
            .map_err(|e| Error::ceph("fs dump", cluster.id.clone(), e))?;
        let dump: Dump = out
            .json()
            .map_err(|e| Error::ceph("fs dump", cluster.id.clone(), e))?;
        let found = dump.filesystems.into_iter().find(|fs| match which {
            Which::Name(name) => fs.mdsmap.fs_name == name,
            Which::Id(id) => fs.id == id,
        });
        let Some(found) = found else {
            return Ok(None);
        };
        let settings = &cluster.entry.ceph_fs;
        let group = non_empty_or(&settings.subvolume_group, DEFAULT_GROUP);
        let namespace = non_empty_or(&settings.rados_namespace, DEFAULT_NAMESPACE);
        let io = cluster
            .rados
            .ioctx_by_id(found.mdsmap.metadata_pool, &namespace)
            .await
            .map_err(|e| {
                Error::ceph(
                    "open metadata pool",
                    format!(
                        "pool id {} of {}",
                        found.mdsmap.metadata_pool,
                        quote(&found.mdsmap.fs_name)
                    ),
                    e,
                )
            })?;
        let volumes = Journal::volumes(cluster.rados.clone(), io.clone(), &state.journal)?;
        let snapshots = Journal::snapshots(cluster.rados.clone(), io.clone(), &state.journal)?;
        Ok(Some(Fs {
            cluster: Arc::clone(cluster),
            name: found.mdsmap.fs_name,
            fscid: found.id,
            data_pool_ids: found.mdsmap.data_pools,
            group,
            io,
            volumes,
            snapshots,
        }))
    }

    /// The journal location of `uuid` (entries live in the metadata pool).
    pub fn location(&self, uuid: Uuid) -> Location {
        Location {
            pool_id: self.io.pool_id(),
            uuid,
        }
    }

    /// The volume or snapshot ID of `uuid`: location field = FSCID, as ceph-csi composes it.
    pub fn id_of(&self, uuid: Uuid) -> Result<String> {
        let fscid = i64::try_from(self.fscid).map_err(|_| Error::Internal {
            what: format!("FSCID {} is out of range", self.fscid),
        })?;
        compose(&self.cluster.id, fscid, uuid)
    }

    /// `fs/group/name`, how messages name a subvolume.
    pub fn spec(&self, subvolume: &str) -> String {
        format!("{}/{}/{}", self.name, self.group, subvolume)
    }
}

fn non_empty_or(value: &str, default: &str) -> String {
    if value.is_empty() {
        default.to_owned()
    } else {
        value.to_owned()
    }
}
