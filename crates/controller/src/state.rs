//! Everything a request needs besides its own arguments, owned by the service and passed by
//! reference: settings, the cluster configuration, Ceph connections, locks (in-process tables
//! and the RADOS locker) and failpoints.
//! No globals: tests build as many independent controllers as they like.

use std::sync::Arc;

use ceph::ConnectionCache;
use cluster_config::ClusterConfigWatcher;
use failpoint::Failpoints;
use journal::OperationLocks;

use crate::error::{Error, Result};
use crate::locks::{self, IdLocks};
use crate::pool::cluster::Cluster;
use crate::secrets::{Source, StandingCredentials};
use crate::settings::Settings;

/// Shared state of one controller.
pub struct State {
    pub settings: Settings,
    pub config: ClusterConfigWatcher,
    pub connections: ConnectionCache,
    pub standing: StandingCredentials,
    /// Request names (one CreateVolume/CreateSnapshot per name at a time) and snapshot
    /// preparation (the background half of CreateSnapshot).
    pub names: OperationLocks,
    /// Volume and snapshot ids (shared: snapshot/clone/restore; exclusive: delete/expand).
    pub ids: IdLocks,
    /// Takes the RADOS half of every lock (see [`crate::locks`]), naming this process.
    pub locker: ceph::Locker,
    pub journal: journal::Config,
    /// `cluster/pool/namespace` whose trash purge schedule this process has added
    /// (`--trash-purge=schedule`); the lock is never held across an await.
    pub purge_schedules: std::sync::Mutex<std::collections::HashSet<String>>,
    /// Background work requests wait for (flattens, CephFS clones), announced when it ends.
    pub background: crate::background_watch::Watches,
}

impl State {
    /// Must be called inside a tokio runtime (the connection cache starts its sweeper there).
    pub fn new(settings: Settings, config: ClusterConfigWatcher) -> Arc<State> {
        let connections = ConnectionCache::with_limits(
            settings.ceph_timeouts.clone(),
            settings.connection_idle,
            settings.connect_limits,
        );
        let standing = StandingCredentials::new(settings.controller_credentials_dir.clone());
        let locker = ceph::Locker::new(locks::owner_name(), settings.lock_duration);
        let journal = journal::Config {
            instance: settings.instance_id.clone(),
            failpoints: settings.failpoints.clone(),
            // The journal's own waiting locks; ours use other keys and other semantics.
            locks: OperationLocks::new(),
        };
        Arc::new(State {
            config,
            connections,
            standing,
            names: OperationLocks::new(),
            ids: IdLocks::new(),
            locker,
            journal,
            settings,
            purge_schedules: Default::default(),
            background: Default::default(),
        })
    }

    pub fn failpoints(&self) -> &Failpoints {
        &self.settings.failpoints
    }

    /// Reaches failpoint `name` (a no-op unless a test armed it).
    pub async fn failpoint(&self, name: &'static str) -> Result<()> {
        Ok(self.settings.failpoints.hit(name).await?)
    }

    /// [`State::failpoint`] for steps whose caller may have no failpoint (rollbacks).
    pub async fn maybe_failpoint(&self, name: Option<&'static str>) -> Result<()> {
        match name {
            Some(name) => self.failpoint(name).await,
            None => Ok(()),
        }
    }

    /// Connects to `cluster_id` as the identity `source` names. Errors say which cluster and
    /// which secret key, never the key itself.
    pub async fn cluster(&self, cluster_id: &str, source: Source<'_>) -> Result<Arc<Cluster>> {
        let entry = self
            .config
            .current()
            .get(cluster_id)
            .map_err(|_| Error::UnknownCluster {
                cluster_id: cluster_id.to_owned(),
            })?
            .clone();
        let identity = self.standing.resolve(source).await?;
        Cluster::connect(
            &self.connections,
            &self.journal,
            &self.settings.metrics,
            entry,
            &identity,
        )
        .await
        .map(Arc::new)
    }

    /// Snapshot of the configured clusters.
    pub fn clusters(&self) -> Arc<cluster_config::ClusterConfig> {
        self.config.current()
    }
}
