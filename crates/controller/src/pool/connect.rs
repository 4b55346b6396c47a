//! A request's way to a configured cluster: the entry its cluster id names, connected as the
//! identity its secrets (or this controller's standing credentials) give. Here, not in the
//! shared [`State`], so the state stays below the pool helpers (docs/architecture.md).

use std::sync::Arc;

use crate::error::{Error, Result};
use crate::pool::cluster::Cluster;
use crate::secrets::Source;
use crate::state::State;

/// Connects to `cluster_id` as the identity `source` names. Errors say which cluster and which
/// secret key, never the key itself.
pub async fn cluster(state: &State, cluster_id: &str, source: Source<'_>) -> Result<Arc<Cluster>> {
    let entry = state
        .config
        .current()
        .get(cluster_id)
        .map_err(|_| Error::UnknownCluster {
            cluster_id: cluster_id.to_owned(),
        })?
        .clone();
    let identity = state.standing.resolve(source).await?;
    Cluster::connect(
        &state.connections,
        &state.journal,
        &state.settings.metrics,
        entry,
        &identity,
    )
    .await
    .map(Arc::new)
}
