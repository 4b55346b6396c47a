//! Whether a node plugin registered itself in a cluster (ControllerPublish's NOT_FOUND for an
//! unknown node).
//!
//! Contract with the node plugin: omap object `sepia.nodes.<instance id>` in the cluster's
//! registry pool and namespace (config entry `sepia.nodeRegistryPool`/`nodeRegistryNamespace`,
//! default pool `rbd` and the cluster's RBD namespace), key = node id, value =
//! `{"nodeId","driver","updatedAt"}`. One by-key read answers.

use crate::cluster::Cluster;
use crate::error::{Error, Result};
use crate::state::State;

/// Prefix of the registry object, completed by the instance id.
pub const OBJECT_PREFIX: &str = "sepia.nodes.";

pub async fn is_registered(state: &State, cluster: &Cluster, node_id: &str) -> Result<bool> {
    let location = cluster.entry.node_registry();
    let object = format!("{OBJECT_PREFIX}{}", state.settings.instance_id);
    let io = match cluster
        .rados
        .ioctx(&location.pool, &location.namespace)
        .await
    {
        Ok(io) => io,
        // No registry pool: nobody ever registered.
        Err(e) if e.is_not_found() => return Ok(false),
        Err(e) => return Err(Error::ceph("open node registry pool", location.pool, e)),
    };
    match io.omap_get_by_keys(&object, &[node_id]).await {
        Ok(found) => Ok(found.contains_key(node_id)),
        Err(e) if e.is_not_found() => Ok(false),
        Err(e) => Err(Error::ceph("read node registry", object, e)),
    }
}
