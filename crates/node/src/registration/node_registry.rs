//! This node's entry in the RADOS record the controller reads for ControllerPublish, so it can
//! answer NOT_FOUND for a node that has no plugin (CSI hands secrets only per request; the
//! node therefore uses standing credentials from a mounted Secret).
//!
//! The record's format is [`journal::records::node_registry`]'s (the contract with the
//! controller). Registered in every cluster of the cluster config at start-up and refreshed
//! every interval, so `updatedAt` tells the controller the plugin is alive.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use cluster_config::{ClusterConfigWatcher, ClusterEntry};
use journal::records::node_registry::{self as registry, NodeRecord};
use tokio_util::sync::CancellationToken;

use crate::error::NodeError;
use crate::secret::Secret;
use crate::syscall;

#[derive(Debug, Clone)]
pub struct RegistrarSettings {
    pub node_id: String,
    pub driver_name: String,
    pub instance_id: String,
    /// A mounted Secret: files `userID` and `userKey` (read on every refresh, so a rotated
    /// key is picked up without a restart).
    pub credentials_dir: PathBuf,
    pub interval: Duration,
}

pub struct NodeRegistrar {
    settings: RegistrarSettings,
    clusters: ClusterConfigWatcher,
    connections: ceph::ConnectionCache,
}

impl std::fmt::Debug for NodeRegistrar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeRegistrar")
            .field("settings", &self.settings)
            .finish()
    }
}

impl NodeRegistrar {
    pub fn new(settings: RegistrarSettings, clusters: ClusterConfigWatcher) -> Self {
        // Keep connections across refreshes: one interval of idle time plus slack.
        let idle = settings.interval * 2 + Duration::from_secs(30);
        Self {
            settings,
            clusters,
            connections: ceph::ConnectionCache::new(ceph::Timeouts::default(), idle),
        }
    }

    /// Registers in every configured cluster; returns each cluster's outcome.
    pub async fn register_everywhere(&self) -> Vec<(String, Result<(), NodeError>)> {
        let config = self.clusters.current();
        let credentials = read_credentials(&self.settings.credentials_dir).await;
        let mut outcomes = Vec::with_capacity(config.entries().len());
        for entry in config.entries() {
            let outcome = match &credentials {
                Ok((user, key)) => self.register_in(entry, user, key).await,
                Err(e) => Err(NodeError::Registry {
                    cluster_id: entry.cluster_id.clone(),
                    message: e.to_string(),
                }),
            };
            outcomes.push((entry.cluster_id.clone(), outcome));
        }
        outcomes
    }

    async fn register_in(
        &self,
        entry: &ClusterEntry,
        user: &str,
        key: &Secret,
    ) -> Result<(), NodeError> {
        let failed = |step: &str, e: ceph::Error| NodeError::Registry {
            cluster_id: entry.cluster_id.clone(),
            message: format!("{step}: {e}"),
        };
        let location = entry.node_registry();
        let creds = ceph::Credentials::new(entry.monitors_arg(), user, key.expose());
        let cluster = self
            .connections
            .get(&creds)
            .await
            .map_err(|e| failed("connect", e))?;
        let ioctx = cluster
            .ioctx(&location.pool, &location.namespace)
            .await
            .map_err(|e| failed("open registry pool", e))?;
        let record = NodeRecord {
            node_id: self.settings.node_id.clone(),
            driver: self.settings.driver_name.clone(),
            updated_at: humantime::format_rfc3339_seconds(SystemTime::now()).to_string(),
        };
        registry::register(&ioctx, &self.settings.instance_id, &record)
            .await
            .map_err(|e| match e {
                journal::Error::Ceph { step, source, .. } => failed(step, source),
                other => NodeError::Registry {
                    cluster_id: entry.cluster_id.clone(),
                    message: other.to_string(),
                },
            })
    }

    /// Registers now and then every interval until `shutdown`. Failures are logged and retried
    /// at the next tick: the plugin serves volumes without a registration, the controller just
    /// cannot vouch for this node until one succeeds.
    pub async fn run(self, shutdown: CancellationToken) {
        loop {
            for (cluster_id, outcome) in self.register_everywhere().await {
                match outcome {
                    Ok(()) => {
                        tracing::debug!(%cluster_id, node_id = %self.settings.node_id, "node registration refreshed")
                    }
                    Err(error) => {
                        tracing::warn!(%cluster_id, %error, "node registration failed; retrying at the next interval")
                    }
                }
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(self.settings.interval) => {}
            }
        }
    }
}

/// `userID` and `userKey` from the mounted Secret. Contents are never logged; errors name the
/// file only.
pub async fn read_credentials(dir: &Path) -> Result<(String, Secret), NodeError> {
    let read = |name: &'static str| {
        let path = dir.join(name);
        async move {
            let owned = path.clone();
            let text = syscall::blocking("read credentials", &path, move || {
                std::fs::read_to_string(owned)
            })
            .await?;
            let value = text.trim().to_string();
            if value.is_empty() {
                return Err(NodeError::invalid(
                    "node credentials",
                    format!("{} is empty", path.display()),
                ));
            }
            Ok(value)
        }
    };
    let user = read("userID").await?;
    let key = Secret::new(read("userKey").await?);
    Ok((user, key))
}
