//! The plugin's state, owned by the service and passed to every operation: settings, kubelet's
//! root, the cluster config, key files, stage records and per-volume locks. No globals.

use std::path::PathBuf;

use cluster_config::{ClusterConfigWatcher, ConfigError};
use node::NodeError;
use node::checks::kubelet_paths::KubeletRoot;
use node::secret::{CephAccess, KeyDir, Secret};
use node::volume_lock::VolumeLocks;

use crate::mounter::Support;
use crate::record::Records;
use crate::settings::CephfsNodeSettings;

#[derive(Debug)]
pub struct CephfsNode {
    pub settings: CephfsNodeSettings,
    pub kubelet: KubeletRoot,
    pub clusters: ClusterConfigWatcher,
    pub support: Support,
    pub keys: KeyDir,
    pub records: Records,
    pub locks: VolumeLocks,
}

impl CephfsNode {
    pub fn new(
        settings: CephfsNodeSettings,
        clusters: ClusterConfigWatcher,
        support: Support,
    ) -> Self {
        Self {
            kubelet: KubeletRoot::new(settings.kubelet_root.clone()),
            keys: KeyDir::new(settings.state_dir.join("keys")),
            records: Records::new(settings.state_dir.join("stages")),
            settings,
            clusters,
            support,
            locks: VolumeLocks::default(),
        }
    }

    /// Where fusectl is mounted for an abort when the host has not mounted it.
    pub fn fusectl_dir(&self) -> PathBuf {
        self.settings.state_dir.join("fusectl")
    }

    /// Removes every key file no running request holds (what a killed plugin left behind).
    /// A failure is logged, never fatal.
    pub async fn sweep_keys(&self) {
        match self.keys.sweep().await {
            Ok(0) => {}
            Ok(removed) => tracing::info!(removed, "stale key files removed"),
            Err(error) => tracing::warn!(%error, "sweeping the key directory failed"),
        }
    }

    /// Monitors of `cluster_id` from the cluster config, with the request's credentials.
    pub fn ceph_access(
        &self,
        cluster_id: &str,
        user: String,
        key: Secret,
    ) -> Result<(CephAccess, cluster_config::entry::CephFsSettings), NodeError> {
        let config = self.clusters.current();
        let entry = config.get(cluster_id).map_err(|e| {
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
        if entry.monitors.is_empty() {
            return Err(NodeError::Cluster {
                cluster_id: cluster_id.to_string(),
                reason: "the cluster config lists no monitors".into(),
            });
        }
        Ok((
            CephAccess {
                monitors: entry.monitors_arg(),
                user,
                key,
            },
            entry.ceph_fs.clone(),
        ))
    }
}
