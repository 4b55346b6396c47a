//! A connected cluster of the configuration, and pools in it (always in the cluster's RBD
//! RADOS namespace, as ceph-csi places every image and journal object there).

use std::sync::Arc;

use ceph::{ConnectionCache, IoCtx};
use cluster_config::ClusterEntry;
use journal::Journal;

use crate::error::{Error, Result};
use crate::metrics::Metrics;
use crate::reachability::reachable_monitor;
use crate::secrets::{Identity, USER_ID, USER_KEY};

/// One configured cluster, connected as one identity.
pub struct Cluster {
    pub id: String,
    pub entry: ClusterEntry,
    pub rados: ceph::Cluster,
    journal: journal::Config,
    /// For work this cluster's mgr takes over (flatten, trash purge).
    pub metrics: Metrics,
}

impl Cluster {
    /// Connects to `entry` as `identity`, through the process's connection cache. Takes only
    /// what a cluster keeps (journal config, metrics), not the controller's whole state, so
    /// whoever holds a cache can connect.
    pub async fn connect(
        connections: &ConnectionCache,
        journal: &journal::Config,
        metrics: &Metrics,
        entry: ClusterEntry,
        identity: &Identity,
    ) -> Result<Cluster> {
        let monitors = entry.monitors_arg();
        let creds = identity.credentials(monitors.clone());
        let rados = match connections.get(&creds).await {
            Ok(rados) => rados,
            Err(e) => {
                return Err(connect_error(&entry.cluster_id, &monitors, &identity.user, e).await);
            }
        };
        Ok(Cluster {
            id: entry.cluster_id.clone(),
            entry,
            rados,
            journal: journal.clone(),
            metrics: metrics.clone(),
        })
    }

    /// RADOS namespace of this cluster's images and journals.
    pub fn namespace(&self) -> &str {
        &self.entry.rbd.rados_namespace
    }

    /// Pool `name` (in the cluster's namespace). Ceph's NotFound is passed through so callers
    /// can say whose pool is missing.
    pub async fn pool(self: &Arc<Self>, name: &str) -> Result<Pool, ceph::Error> {
        let io = self.rados.ioctx(name, self.namespace()).await?;
        Ok(Pool {
            cluster: Arc::clone(self),
            io,
        })
    }

    /// Pool by id, as volume and snapshot IDs name it.
    pub async fn pool_by_id(self: &Arc<Self>, id: i64) -> Result<Pool, ceph::Error> {
        let io = self.rados.ioctx_by_id(id, self.namespace()).await?;
        Ok(Pool {
            cluster: Arc::clone(self),
            io,
        })
    }
}

/// A pool + namespace of a connected cluster.
#[derive(Clone)]
pub struct Pool {
    pub cluster: Arc<Cluster>,
    pub io: IoCtx,
}

impl Pool {
    /// `pool/namespace/image` (or `pool/image`), as the rbd CLI and the mgr take image specs.
    pub fn spec(&self, image: &str) -> String {
        spec(self.io.pool_name(), self.io.namespace(), image)
    }

    pub fn volumes(&self) -> Result<Journal> {
        Journal::volumes(
            self.cluster.rados.clone(),
            self.io.clone(),
            &self.cluster.journal,
        )
        .map_err(Error::from)
    }

    pub fn snapshots(&self) -> Result<Journal> {
        Journal::snapshots(
            self.cluster.rados.clone(),
            self.io.clone(),
            &self.cluster.journal,
        )
        .map_err(Error::from)
    }

    /// The same namespace in another pool of the cluster, by id.
    pub async fn sibling(&self, pool_id: i64) -> Result<Pool, ceph::Error> {
        if pool_id == self.io.pool_id() {
            return Ok(self.clone());
        }
        self.cluster.pool_by_id(pool_id).await
    }

    /// [`Pool::sibling`] for walks over journal directories, whose entries may name a pool
    /// deleted since: `None` then, so the entry is skipped rather than failing the walk.
    pub async fn sibling_if_exists(&self, pool_id: i64) -> Result<Option<Pool>> {
        match self.sibling(pool_id).await {
            Ok(pool) => Ok(Some(pool)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(Error::ceph("open pool", format!("pool id {pool_id}"), e)),
        }
    }
}

/// `pool/namespace/name`, or `pool/name` in the default namespace.
pub fn spec(pool: &str, namespace: &str, name: &str) -> String {
    if namespace.is_empty() {
        format!("{pool}/{name}")
    } else {
        format!("{pool}/{namespace}/{name}")
    }
}

/// Says why a connection failed in the user's terms: which secret key, or which cluster.
async fn connect_error(cluster_id: &str, monitors: &str, user: &str, e: ceph::Error) -> Error {
    if e.is_timed_out()
        && let Some(monitor) = reachable_monitor(monitors).await
    {
        return Error::AuthenticationTimedOut {
            cluster_id: cluster_id.to_owned(),
            user: user.to_owned(),
            monitor,
            source: Box::new(e),
        };
    }
    match e {
        ceph::Error::ConnectLimit { .. } => Error::ConnectsBusy {
            cluster_id: cluster_id.to_owned(),
            user: user.to_owned(),
            source: Box::new(e),
        },
        ceph::Error::PermissionDenied { .. } => Error::CredentialsRejected {
            cluster_id: cluster_id.to_owned(),
            user: user.to_owned(),
            source: Box::new(e),
        },
        // The ceph crate validates before connecting and names the field in `what`.
        ceph::Error::InvalidArgument { ref what } if what.starts_with("key") => {
            Error::InvalidSecret {
                key: USER_KEY,
                rule: "not a base64-encoded cephx key (as `ceph auth get-key` prints it)"
                    .to_owned(),
            }
        }
        ceph::Error::InvalidArgument { ref what } if what.starts_with("user") => {
            Error::InvalidSecret {
                key: USER_ID,
                rule: what.clone(),
            }
        }
        other => Error::ClusterUnreachable {
            cluster_id: cluster_id.to_owned(),
            monitors: monitors.to_owned(),
            source: Box::new(other),
        },
    }
}
