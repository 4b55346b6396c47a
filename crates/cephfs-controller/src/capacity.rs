//! GetCapacity: what the filesystem's data pool (or the StorageClass's `pool`) can still take,
//! from the mon's `df` (`max_avail`, after replication).

use controller::error::{Error, Result};
use csi::quote::quote;
use serde::Deserialize;
use serde_json::json;

use crate::driver::Driver;
use crate::fs::{self, Fs, Which};
use crate::params::CapacityParams;
use crate::secrets::Creds;

#[derive(Deserialize)]
struct Df {
    pools: Vec<DfPool>,
}

#[derive(Deserialize)]
struct DfPool {
    id: i64,
    name: String,
    stats: DfStats,
}

#[derive(Deserialize)]
struct DfStats {
    max_avail: u64,
}

pub async fn get_capacity(driver: &Driver, params: &CapacityParams) -> Result<u64> {
    let state = &driver.state;
    let cluster = fs::connect(state, &params.cluster_id, Creds::Standing("GetCapacity"))
        .await
        .map_err(|e| match e {
            Error::UnknownCluster { cluster_id } => Error::parameter(
                "clusterID",
                format!("{} is not in the cluster config", quote(&cluster_id)),
            ),
            other => other,
        })?;
    let fs = Fs::open(state, &cluster, Which::Name(&params.fs_name))
        .await?
        .ok_or_else(|| {
            Error::parameter(
                "fsName",
                format!("filesystem {} does not exist", quote(&params.fs_name)),
            )
        })?;
    let out = cluster
        .rados
        .mon_command(json!({"prefix": "df", "format": "json"}))
        .await
        .map_err(|e| Error::ceph("df", cluster.id.clone(), e))?;
    let df: Df = out
        .json()
        .map_err(|e| Error::ceph("df", cluster.id.clone(), e))?;
    let pool = df.pools.iter().find(|p| match &params.pool {
        Some(name) => &p.name == name,
        None => fs.data_pool_ids.first() == Some(&p.id),
    });
    pool.map(|p| p.stats.max_avail)
        .ok_or_else(|| match &params.pool {
            Some(name) => Error::parameter("pool", format!("pool {} does not exist", quote(name))),
            None => Error::Internal {
                what: format!("filesystem {:?} has no data pool in `df`", fs.name),
            },
        })
}
