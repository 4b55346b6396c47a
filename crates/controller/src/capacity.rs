//! GetCapacity: how many bytes a new volume could still get, per the pool's `max_avail`
//! (`ceph df`), which accounts for replication and the fullest OSD.

use csi::quote::quote;
use serde::Deserialize;

use crate::error::{Error, Result};
use crate::params::CapacityParams;
use crate::pool::connect;
use crate::secrets::Source;
use crate::state::State;

#[derive(Deserialize)]
struct Df {
    pools: Vec<DfPool>,
}

#[derive(Deserialize)]
struct DfPool {
    name: String,
    stats: DfStats,
}

#[derive(Deserialize)]
struct DfStats {
    max_avail: u64,
}

/// Available bytes of the pool the parameters name. Without a pool, the largest of any pool;
/// without a clusterID, the only configured cluster.
pub async fn available(state: &State, params: &CapacityParams) -> Result<u64> {
    let cluster_id = match &params.cluster_id {
        Some(id) => id.clone(),
        None => {
            let config = state.clusters();
            match config.entries() {
                [only] => only.cluster_id.clone(),
                _ => {
                    return Err(Error::parameter(
                        "clusterID",
                        "is required when the cluster config lists more than one cluster",
                    ));
                }
            }
        }
    };
    let cluster = connect::cluster(state, &cluster_id, Source::Standing("GetCapacity"))
        .await
        .map_err(|e| match e {
            Error::UnknownCluster { cluster_id } => Error::parameter(
                "clusterID",
                format!("{} is not in the cluster config", quote(&cluster_id)),
            ),
            other => other,
        })?;
    let out = cluster
        .rados
        .mon_command(serde_json::json!({"prefix": "df", "format": "json"}))
        .await
        .map_err(|e| Error::ceph("ceph df", format!("cluster {}", quote(&cluster_id)), e))?;
    let df: Df = out
        .json()
        .map_err(|e| Error::ceph("ceph df", format!("cluster {}", quote(&cluster_id)), e))?;
    match &params.pool {
        Some(pool) => df
            .pools
            .iter()
            .find(|p| p.name == *pool)
            .map(|p| p.stats.max_avail)
            .ok_or_else(|| {
                Error::parameter(
                    "pool",
                    format!(
                        "pool {} does not exist in cluster {}",
                        quote(pool),
                        quote(&cluster_id)
                    ),
                )
            }),
        None => Ok(df
            .pools
            .iter()
            .map(|p| p.stats.max_avail)
            .max()
            .unwrap_or(0)),
    }
}
