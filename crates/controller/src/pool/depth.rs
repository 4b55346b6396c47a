//! Clone depth and flattening. Every restore and clone adds a level to an image's parent
//! chain; reads of unwritten data walk the chain, and the kernel maps at most 16 levels. At the
//! soft limit the intermediate image is flattened by the mgr in the background; at the hard
//! limit the operation is refused (ABORTED) until that flatten is done. Only intermediate images
//! (snapshot images, `-temp` images) are flattened, never the image an application maps, as
//! ceph-csi's maintainers chose (flattening costs I/O on the flattened image).

use ceph::rbd::Image;
use serde_json::json;
use tracing::{info, warn};

use crate::error::{Error, Result};
use crate::pool::cluster::{Pool, spec};
use crate::pool::flatten_watch::{self, Waiter};
use crate::pool::image;
use crate::settings::CloneDepth;
use crate::state::State;

/// What the depth of an image means for a new clone of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Below both limits.
    Fine,
    /// At the soft limit: flatten in the background, carry on.
    FlattenSoon,
    /// At the hard limit: flatten and refuse until it is done.
    TooDeep,
}

/// Judges a clone of an image that is `depth` levels deep (0 = not a clone): the new image
/// will be `depth + 1` deep.
pub fn verdict(limits: CloneDepth, depth: u32) -> Verdict {
    let new_depth = depth + 1;
    if new_depth >= limits.hard {
        Verdict::TooDeep
    } else if new_depth >= limits.soft {
        Verdict::FlattenSoon
    } else {
        Verdict::Fine
    }
}

/// How many ancestors the open image has. A parent in the trash (its volume was deleted while
/// snapshots lived on) cannot be opened by name and is counted as the last level.
pub async fn depth(pool: &Pool, image: &Image) -> Result<u32> {
    let mut depth = 0;
    let mut parent = parent_of(pool, image).await?;
    // 16 is the kernel's limit; a longer chain is not something we made.
    while let Some(info) = parent.take() {
        depth += 1;
        if info.trash || depth >= 16 {
            break;
        }
        let parent_pool = pool
            .sibling(info.pool_id)
            .await
            .map_err(|e| Error::ceph("open parent pool", format!("pool id {}", info.pool_id), e))?;
        let parent_pool = if parent_pool.io.namespace() == info.namespace {
            parent_pool
        } else {
            let io = parent_pool
                .io
                .with_namespace(&info.namespace)
                .await
                .map_err(|e| Error::ceph("open parent namespace", info.namespace.clone(), e))?;
            Pool {
                cluster: parent_pool.cluster.clone(),
                io,
            }
        };
        let Some(next) = image::open(&parent_pool, &info.image_name).await? else {
            break;
        };
        let found = parent_of(&parent_pool, &next).await;
        image::close(&parent_pool, next).await?;
        parent = found?;
    }
    Ok(depth)
}

async fn parent_of(pool: &Pool, image: &Image) -> Result<Option<ceph::rbd::ParentInfo>> {
    image
        .parent()
        .await
        .map_err(|e| Error::ceph("read parent", pool.spec(image.name()), e))
}

/// Asks the mgr to flatten image `name` in the background. Returns false when the mgr cannot
/// take the task (then the caller may flatten synchronously).
pub async fn queue_flatten(pool: &Pool, name: &str) -> Result<bool> {
    let image_spec = spec(pool.io.pool_name(), pool.io.namespace(), name);
    let command = json!({
        "prefix": "rbd task add flatten",
        "image_spec": image_spec,
        "format": "json",
    });
    match pool.cluster.rados.mgr_command(command).await {
        Ok(_) => {
            pool.cluster.metrics.queued(crate::metrics::Task::flatten);
            info!(%image_spec, "queued background flatten");
            Ok(true)
        }
        Err(ceph::Error::Command { errno, status, .. }) => {
            warn!(%image_spec, errno, %status, "mgr refused the flatten task");
            Ok(false)
        }
        Err(e) => Err(Error::ceph("queue flatten", image_spec, e)),
    }
}

/// Applies the verdict for cloning image `name` (open as `image`): queues a flatten at either
/// limit and refuses at the hard one, where the flatten is watched so `waiter` hears when it
/// ends ([`crate::pool::flatten_watch`]). Without the mgr, the hard limit flattens synchronously
/// (bounded by the op deadline) instead of refusing forever.
pub async fn enforce(state: &State, pool: &Pool, image: &Image, waiter: Waiter) -> Result<()> {
    let limits = state.settings.clone_depth;
    let depth = depth(pool, image).await?;
    match verdict(limits, depth) {
        Verdict::Fine => Ok(()),
        Verdict::FlattenSoon => {
            queue_flatten(pool, image.name()).await?;
            Ok(())
        }
        Verdict::TooDeep => {
            if queue_flatten(pool, image.name()).await? {
                flatten_watch::watch(state, pool, image.name(), waiter);
                return Err(Error::FlattenPending {
                    image: pool.spec(image.name()),
                    depth,
                    hard: limits.hard,
                });
            }
            image
                .flatten()
                .await
                .map_err(|e| Error::ceph("flatten image", pool.spec(image.name()), e))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts_follow_the_limits() {
        let limits = CloneDepth { soft: 2, hard: 4 };
        assert_eq!(verdict(limits, 0), Verdict::Fine);
        assert_eq!(verdict(limits, 1), Verdict::FlattenSoon);
        assert_eq!(verdict(limits, 2), Verdict::FlattenSoon);
        assert_eq!(verdict(limits, 3), Verdict::TooDeep);
    }
}
