//! CreateVolume's entry point: the name lock, the pool the parameters name, and the hand-off to
//! the empty ([`super::create`]), restore ([`super::restore`]) or clone ([`super::clone`]) path.

use csi::quote::quote;
use journal::records::source::ContentSource;

use crate::capabilities;
use crate::error::{Error, Result};
use crate::locks::{self, Local};
use crate::pool::cluster::Pool;
use crate::pool::connect;
use crate::secrets::Source;
use crate::state::State;
use crate::volume::create::{CreateRequest, Created, create_empty};
use crate::volume::{clone, restore};

pub async fn create_volume(state: &State, req: CreateRequest) -> Result<Created> {
    capabilities::check_supported(&req.capabilities, req.source.is_some())?;
    let name = Local::name(
        state,
        &locks::create_volume_key(&req.name),
        format!("volume name {}", req.name),
    )?;
    let pool = placement(state, &req).await?;
    let _name = name
        .request_name(state, &pool.volumes()?, &req.name)
        .await?;
    match req.source.clone() {
        None => create_empty(state, &req, &pool).await,
        Some(ContentSource::Snapshot(id)) => restore::restore(state, &req, &pool, &id).await,
        Some(ContentSource::Volume(id)) => clone::clone_volume(state, &req, &pool, &id).await,
    }
}

/// The pool the parameters name, in the cluster they name.
async fn placement(state: &State, req: &CreateRequest) -> Result<Pool> {
    let params = &req.params;
    let cluster = connect::cluster(state, &params.cluster_id, Source::Request(&req.secrets))
        .await
        .map_err(|e| match e {
            Error::UnknownCluster { cluster_id } => Error::parameter(
                "clusterID",
                format!("{} is not in the cluster config", quote(&cluster_id)),
            ),
            other => other,
        })?;
    if let Some(ns) = &params.rados_namespace
        && ns != cluster.namespace()
    {
        return Err(Error::parameter(
            "radosNamespace",
            format!(
                "{} differs from the cluster config's {:?} for clusterID {:?}, which is where volumes go",
                quote(ns),
                cluster.namespace(),
                cluster.id
            ),
        ));
    }
    let missing = |key: &str, pool: &str| {
        Error::parameter(
            key,
            format!(
                "pool {} does not exist in cluster {:?}",
                quote(pool),
                cluster.id
            ),
        )
    };
    // librbd would only find out in its create, after the reservation (ENOENT, INTERNAL).
    if let Some(data_pool) = &params.data_pool {
        cluster.rados.pool_id(data_pool).await.map_err(|e| {
            if e.is_not_found() {
                missing("dataPool", data_pool)
            } else {
                Error::ceph("look up pool", quote(data_pool).to_string(), e)
            }
        })?;
    }
    cluster.pool(&params.pool).await.map_err(|e| {
        if e.is_not_found() {
            missing("pool", &params.pool)
        } else {
            Error::ceph("open pool", quote(&params.pool).to_string(), e)
        }
    })
}
