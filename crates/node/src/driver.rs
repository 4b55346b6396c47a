//! The node plugin's state, owned by the service and passed to every operation: settings,
//! the cluster config, the mappers and the per-volume locks. No globals.

use cluster_config::ClusterConfigWatcher;

use crate::error::NodeError;
use crate::mapper::{Mappers, Support};
use crate::secret::{CephAccess, Secret};
use crate::settings::NodeSettings;
use crate::volume_lock::VolumeLocks;

#[derive(Debug)]
pub struct NodeDriver {
    pub settings: NodeSettings,
    pub clusters: ClusterConfigWatcher,
    pub mappers: Mappers,
    pub locks: VolumeLocks,
}

impl NodeDriver {
    pub fn new(settings: NodeSettings, clusters: ClusterConfigWatcher, support: Support) -> Self {
        let mappers = Mappers::new(&settings, support);
        Self {
            settings,
            clusters,
            mappers,
            locks: VolumeLocks::default(),
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
        let entry = config.get(cluster_id).map_err(|e| NodeError::Cluster {
            cluster_id: cluster_id.to_string(),
            reason: match self.clusters.last_error() {
                Some(load) => format!("{e} (the config file is not loaded: {load})"),
                None => e.to_string(),
            },
        })?;
        Ok(CephAccess {
            monitors: entry.monitors_arg(),
            user,
            key,
        })
    }
}
