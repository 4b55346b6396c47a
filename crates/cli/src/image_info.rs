//! What `inspect` shows of an RBD image: size, features, parent chain, snapshots, watchers.

use std::time::SystemTime;

use ceph::rbd::{self, Image, SnapNamespace};
use controller::pool::cluster::Pool;
use serde::Serialize;

use crate::error::{Error, Result};

/// Longest parent chain followed (ceph-csi's hard depth limit is far below).
const MAX_CHAIN: usize = 64;

#[derive(Debug, Serialize)]
pub struct ImageReport {
    pub spec: String,
    pub id: String,
    pub size: u64,
    pub features: Vec<&'static str>,
    /// Seconds since the epoch.
    pub created: Option<u64>,
    /// Parents, nearest first; `depth` is its length.
    pub parents: Vec<ParentReport>,
    pub depth: usize,
    pub snapshots: Vec<SnapReport>,
    /// Other clients watching the header: the nodes that map it (our own watch excluded).
    pub watchers: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct ParentReport {
    pub spec: String,
    pub snapshot: String,
    pub in_trash: bool,
}

#[derive(Debug, Serialize)]
pub struct SnapReport {
    pub id: u64,
    pub name: String,
    pub size: u64,
    pub namespace: String,
}

/// The image `name` in `pool`, or `None` when there is none.
pub async fn read(pool: &Pool, name: &str) -> Result<Option<ImageReport>> {
    let Some(image) = controller::pool::image::open(pool, name).await? else {
        return Ok(None);
    };
    let report = describe(pool, &image).await;
    controller::pool::image::close(pool, image).await?;
    report.map(Some)
}

async fn describe(pool: &Pool, image: &Image) -> Result<ImageReport> {
    let spec = pool.spec(image.name());
    let failed = |what: &str| {
        let what = format!("{what} of {spec}");
        move |e| Error::ceph(what, e)
    };
    let own = pool.cluster.rados.instance_id();
    let watchers = image
        .watchers()
        .await
        .map_err(failed("watchers"))?
        .into_iter()
        .filter(|w| u64::try_from(w.id).ok() != Some(own))
        .map(|w| format!("client.{} {}", w.id, w.addr))
        .collect();
    let snapshots = image
        .snap_list()
        .await
        .map_err(failed("snapshots"))?
        .into_iter()
        .map(|s| SnapReport {
            id: s.id,
            name: s.name,
            size: s.size,
            namespace: match s.namespace {
                SnapNamespace::User => "user".to_owned(),
                SnapNamespace::Group => "group".to_owned(),
                SnapNamespace::Mirror => "mirror".to_owned(),
                SnapNamespace::Trash { original_name } => format!("trash (was {original_name})"),
            },
        })
        .collect();
    let parents = parent_chain(pool, image).await?;
    Ok(ImageReport {
        id: image.id().await.map_err(failed("id"))?,
        size: image.size().await.map_err(failed("size"))?,
        features: image.features().await.map_err(failed("features"))?.names(),
        created: image
            .create_timestamp()
            .await
            .ok()
            .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
            .map(|d| d.as_secs()),
        depth: parents.len(),
        parents,
        snapshots,
        watchers,
        spec,
    })
}

/// Follows the parents of `image` until an image without one (or one in the trash, which can
/// no longer be opened by name).
async fn parent_chain(pool: &Pool, image: &Image) -> Result<Vec<ParentReport>> {
    let mut chain = Vec::new();
    let mut next = image
        .parent()
        .await
        .map_err(|e| Error::ceph(format!("parent of {}", image.name()), e))?;
    while let Some(parent) = next.take() {
        let spec = controller::pool::cluster::spec(
            &parent.pool_name,
            &parent.namespace,
            &parent.image_name,
        );
        chain.push(ParentReport {
            spec: spec.clone(),
            snapshot: parent.snap_name.clone(),
            in_trash: parent.trash,
        });
        if parent.trash || chain.len() >= MAX_CHAIN {
            break;
        }
        let io = pool
            .cluster
            .rados
            .ioctx_by_id(parent.pool_id, &parent.namespace)
            .await
            .map_err(|e| Error::ceph(format!("open pool of {spec}"), e))?;
        let opened = rbd::open(&io, &parent.image_name)
            .await
            .map_err(|e| Error::ceph(format!("open {spec}"), e))?;
        let found = opened.parent().await;
        opened
            .close()
            .await
            .map_err(|e| Error::ceph(format!("close {spec}"), e))?;
        next = found.map_err(|e| Error::ceph(format!("parent of {spec}"), e))?;
    }
    Ok(chain)
}
