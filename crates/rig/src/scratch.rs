//! A throw-away RBD namespace: the bench and the demo work in one of their own so they never
//! touch other data, and remove it (with whatever a failed run left in it) at the end.

use std::time::{Duration, Instant};

use ceph::rbd;
use ceph::{Cluster, IoCtx};

use crate::error::{Error, Result};
use crate::inventory::Inventory;

/// How often to look at the trash while the mgr purges it.
const PURGE_POLL: Duration = Duration::from_millis(250);
/// How long removal waits, per round, for the mgr to finish purging leftovers of a failed run.
const LEFTOVER_PURGE: Duration = Duration::from_secs(30);
/// Rounds of forced removal (children before parents, mgr purges in between).
const LEFTOVER_ROUNDS: usize = 4;
/// Attempts at removing a namespace the mgr is still busy in.
const NAMESPACE_REMOVE_ATTEMPTS: u32 = 30;

/// An RBD namespace created by this process.
pub struct ScratchNamespace {
    pool_io: IoCtx,
    /// The namespace's I/O context.
    pub io: IoCtx,
    pub name: String,
}

impl ScratchNamespace {
    /// Creates RBD namespace `name` in `pool`. An existing namespace is refused: it may hold
    /// someone's data.
    pub async fn create(cluster: &Cluster, pool: &str, name: &str) -> Result<ScratchNamespace> {
        let pool_io = cluster
            .ioctx(pool, "")
            .await
            .map_err(|e| Error::ceph(format!("open pool {pool}"), e))?;
        rbd::namespace_create(&pool_io, name)
            .await
            .map_err(|e| Error::ceph(format!("create rbd namespace {name:?} in {pool}"), e))?;
        let io = cluster
            .ioctx(pool, name)
            .await
            .map_err(|e| Error::ceph(format!("open namespace {name:?}"), e))?;
        Ok(ScratchNamespace {
            pool_io,
            io,
            name: name.to_owned(),
        })
    }

    /// Force-removes everything in the namespace (snapshots, images children first, trash,
    /// objects), then the namespace. Returns what was there before, so a caller can report
    /// leftovers of a failed run.
    pub async fn remove(self) -> Result<Inventory> {
        let before = Inventory::take(&self.io).await?;
        if !before.images.is_empty() || !before.trash.is_empty() {
            for _ in 0..LEFTOVER_ROUNDS {
                force_remove_images(&self.io).await;
                // The mgr may still be purging a clone whose parent we could not remove yet.
                let _ = wait_for_trash_purge(&self.io, LEFTOVER_PURGE).await;
                if images_and_trash_empty(&self.io).await {
                    break;
                }
            }
        }
        for oid in self.io.list_objects().await.unwrap_or_default() {
            // librbd's own bookkeeping objects go with the namespace below.
            if !oid.starts_with("rbd_") {
                let _ = self.io.remove(&oid).await;
            }
        }
        let mut attempt = 0;
        loop {
            attempt += 1;
            match rbd::namespace_remove(&self.pool_io, &self.name).await {
                Ok(()) => break,
                // Busy while an mgr task still holds the namespace; it lets go shortly.
                Err(ceph::Error::Busy { .. } | ceph::Error::NotEmpty { .. })
                    if attempt < NAMESPACE_REMOVE_ATTEMPTS =>
                {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                Err(e) => {
                    return Err(Error::ceph(
                        format!("remove rbd namespace {:?}", self.name),
                        e,
                    ));
                }
            }
        }
        for oid in self.io.list_objects().await.unwrap_or_default() {
            let _ = self.io.remove(&oid).await;
        }
        Ok(before)
    }
}

/// Waits until `io`'s trash is empty (the mgr purges it in the background); how long it took.
pub async fn wait_for_trash_purge(io: &IoCtx, limit: Duration) -> Result<Duration> {
    let start = Instant::now();
    loop {
        let left = rbd::trash_list(io)
            .await
            .map_err(|e| Error::ceph("rbd trash ls", e))?
            .len();
        if left == 0 {
            return Ok(start.elapsed());
        }
        if start.elapsed() >= limit {
            return Err(Error::PurgeTimeout {
                namespace: io.namespace().to_owned(),
                left,
                waited_secs: limit.as_secs(),
            });
        }
        tokio::time::sleep(PURGE_POLL).await;
    }
}

/// Best effort, several passes because clones must go before their parents: every snapshot of
/// every image, every image, then every trash entry.
async fn force_remove_images(io: &IoCtx) {
    for _ in 0..4 {
        let images = rbd::list(io).await.unwrap_or_default();
        for spec in &images {
            if let Ok(image) = rbd::open(io, &spec.name).await {
                for snap in image.snap_list().await.unwrap_or_default() {
                    let _ = image.snap_remove(&snap.name).await;
                }
                let _ = image.close().await;
            }
            let _ = rbd::remove(io, &spec.name).await;
        }
        for entry in rbd::trash_list(io).await.unwrap_or_default() {
            let _ = rbd::trash_remove(io, &entry.id, true).await;
        }
        if images_and_trash_empty(io).await {
            return;
        }
    }
}

async fn images_and_trash_empty(io: &IoCtx) -> bool {
    rbd::list(io).await.is_ok_and(|l| l.is_empty())
        && rbd::trash_list(io).await.is_ok_and(|l| l.is_empty())
}
