//! Which pools `orphans` scans: `--pool`, or else every pool of the cluster that has the `rbd`
//! application and holds the cluster's RADOS namespace (config.json's `radosNamespace`; a pool
//! without it holds nothing of this cluster ID).

use std::collections::BTreeMap;

use controller::pool::cluster::Pool;
use serde::Deserialize;

use crate::context::Context;
use crate::error::{Error, Result};

/// What `osd pool ls detail` says of a pool that matters here.
#[derive(Deserialize)]
struct PoolDetail {
    pool_name: String,
    #[serde(default)]
    application_metadata: BTreeMap<String, serde_json::Value>,
}

/// The pools to scan, each opened in the cluster's namespace.
pub async fn scanned(cx: &Context) -> Result<Vec<Pool>> {
    if cx.shared.pool.is_some() {
        return Ok(vec![cx.pool("orphans").await?]);
    }
    let command =
        serde_json::json!({"prefix": "osd pool ls", "detail": "detail", "format": "json"});
    let listed: Vec<PoolDetail> = cx
        .cluster
        .rados
        .mon_command(command)
        .await
        .and_then(|out| out.json())
        .map_err(|e| Error::ceph("list the cluster's pools", e))?;
    let namespace = cx.cluster.namespace();
    let mut pools = Vec::new();
    for detail in listed
        .into_iter()
        .filter(|p| p.application_metadata.contains_key("rbd"))
    {
        let name = detail.pool_name;
        if !namespace.is_empty() && !holds_namespace(cx, &name, namespace).await? {
            continue;
        }
        match cx.cluster.pool(&name).await {
            Ok(pool) => pools.push(pool),
            // Deleted since the listing.
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(Error::ceph(format!("open pool {name}"), e)),
        }
    }
    Ok(pools)
}

async fn holds_namespace(cx: &Context, pool: &str, namespace: &str) -> Result<bool> {
    let io = match cx.cluster.rados.ioctx(pool, "").await {
        Ok(io) => io,
        Err(e) if e.is_not_found() => return Ok(false),
        Err(e) => return Err(Error::ceph(format!("open pool {pool}"), e)),
    };
    match ceph::rbd::namespace_list(&io).await {
        Ok(names) => Ok(names.iter().any(|n| n == namespace)),
        Err(e) if e.is_not_found() => Ok(false),
        Err(e) => Err(Error::ceph(format!("list the rbd namespaces of {pool}"), e)),
    }
}
