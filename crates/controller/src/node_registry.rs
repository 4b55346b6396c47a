//! Whether a node plugin registered itself in a cluster (ControllerPublish's NOT_FOUND for an
//! unknown node).
//!
//! The registry's format is [`journal::records::node_registry`]'s; where it lives is the
//! cluster config's (entry `sepia.nodeRegistryPool`/`nodeRegistryNamespace`, default pool `rbd`
//! and the cluster's RBD namespace). One by-key read answers.

use journal::records::node_registry;

use crate::error::{Error, Result};
use crate::pool::cluster::Cluster;
use crate::state::State;

pub async fn is_registered(state: &State, cluster: &Cluster, node_id: &str) -> Result<bool> {
    let location = cluster.entry.node_registry();
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
    node_registry::is_registered(&io, &state.settings.instance_id, node_id)
        .await
        .map_err(Error::record)
}
