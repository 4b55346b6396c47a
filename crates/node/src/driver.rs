//! The node plugin's state, owned by the service and passed to every operation: settings,
//! kubelet's root, the cluster config, the mappers, the per-volume locks, what start-up
//! recovery found and the stats measurements in flight. No globals.

use cluster_config::{ClusterConfigWatcher, ConfigError};

use crate::checks::kubelet_paths::KubeletRoot;
use crate::error::NodeError;
use crate::health::stats_gate::StatsGate;
use crate::mapper::{Mappers, Support};
use crate::recovery_board::RecoveryBoard;
use crate::secret::{CephAccess, Secret};
use crate::settings::NodeSettings;
use crate::volume_lock::VolumeLocks;

#[derive(Debug)]
pub struct NodeDriver {
    pub settings: NodeSettings,
    /// Where every staging and target path must lead.
    pub kubelet: KubeletRoot,
    pub clusters: ClusterConfigWatcher,
    pub mappers: Mappers,
    pub locks: VolumeLocks,
    /// What start-up recovery found ([`crate::recovery`] fills it).
    pub recovery: RecoveryBoard,
    /// One stats measurement in flight per volume ([`crate::health::stats_gate`]).
    pub stats_gate: StatsGate,
}

impl NodeDriver {
    pub fn new(settings: NodeSettings, clusters: ClusterConfigWatcher, support: Support) -> Self {
        let mappers = Mappers::new(&settings, support);
        Self {
            kubelet: KubeletRoot::new(settings.kubelet_root.clone()),
            settings,
            clusters,
            mappers,
            locks: VolumeLocks::default(),
            recovery: RecoveryBoard::default(),
            stats_gate: StatsGate::default(),
        }
    }

    /// Removes every key file no running request holds: what a plugin killed mid-stage left
    /// behind. Run at start-up and whenever a stage ends; a failure is logged, never fatal.
    pub async fn sweep_keys(&self) {
        match self.mappers.keys().sweep().await {
            Ok(0) => {}
            Ok(removed) => {
                tracing::info!(removed, dir = %self.mappers.keys().path().display(), "stale key files removed")
            }
            Err(error) => tracing::warn!(%error, "sweeping the key directory failed"),
        }
    }

    /// Monitors of `cluster_id` from the cluster config, with the request's credentials.
    pub fn ceph_access(
        &self,
        cluster_id: &str,
        user: String,
        key: Secret,
    ) -> Result<CephAccess, NodeError> {
        let config = self.clusters.current();
        let entry = config.get(cluster_id).map_err(|e| {
            // The error names the clusterID in full; ours quotes it (capped) already.
            let e = match e {
                ConfigError::UnknownCluster { .. } => "not in the cluster config".to_string(),
                other => other.to_string(),
            };
            NodeError::Cluster {
                cluster_id: cluster_id.to_string(),
                reason: match self.clusters.last_error() {
                    Some(load) => format!("{e} (the config file is not loaded: {load})"),
                    None => e,
                },
            }
        })?;
        Ok(CephAccess {
            monitors: entry.monitors_arg(),
            user,
            key,
        })
    }
}
