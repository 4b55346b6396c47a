//! Fixtures shared by the integration tests: a connection to the bed and a private RADOS (and
//! optionally rbd) namespace per test, removed afterwards even when the test fails.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::time::Duration;

use ceph::{Cluster, Credentials, IoCtx, Timeouts, rbd};
use futures::FutureExt as _;
use sepia_testbed::Bed;

pub fn bed() -> &'static Bed {
    Bed::get()
}

pub fn creds() -> Credentials {
    let bed = bed();
    Credentials::new(bed.monitors.clone(), bed.user.clone(), bed.key.clone())
}

pub fn timeouts() -> Timeouts {
    Timeouts {
        connect: Duration::from_secs(20),
        op: Duration::from_secs(60),
    }
}

pub async fn connect() -> Cluster {
    Cluster::connect(&creds(), &timeouts())
        .await
        .expect("connect to the bed")
}

/// A test's world: the cluster, the pool's default namespace, and the test's own namespace.
pub struct Ns {
    pub cluster: Cluster,
    pub pool_io: IoCtx,
    pub io: IoCtx,
    pub name: String,
    pub rbd: bool,
}

/// Runs `body` in a fresh namespace (an rbd namespace when `rbd`, else a bare RADOS namespace),
/// then removes everything it left behind, then re-raises the body's panic, if any.
pub async fn in_namespace<F, Fut>(prefix: &str, rbd: bool, body: F)
where
    F: FnOnce(Ns) -> Fut,
    Fut: Future<Output = ()>,
{
    let cluster = connect().await;
    let bed = bed();
    let name = bed.unique_name(prefix);
    let pool_io = cluster.ioctx(&bed.pool, "").await.expect("pool ioctx");
    if rbd {
        rbd::namespace_create(&pool_io, &name)
            .await
            .expect("create rbd namespace");
    }
    let io = cluster
        .ioctx(&bed.pool, &name)
        .await
        .expect("namespace ioctx");
    let ns = Ns {
        cluster: cluster.clone(),
        pool_io: pool_io.clone(),
        io: io.clone(),
        name: name.clone(),
        rbd,
    };
    let outcome = AssertUnwindSafe(body(ns)).catch_unwind().await;
    cleanup(&pool_io, &io, &name, rbd).await;
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

/// Best effort: images (children before parents, hence several passes), trash, objects, and
/// the rbd namespace.
async fn cleanup(pool_io: &IoCtx, io: &IoCtx, name: &str, rbd: bool) {
    if rbd {
        for _ in 0..4 {
            let images = rbd::list(io).await.unwrap_or_default();
            if images.is_empty() {
                break;
            }
            for spec in images {
                if let Ok(image) = rbd::open(io, &spec.name).await {
                    for snap in image.snap_list().await.unwrap_or_default() {
                        let _ = image.snap_remove(&snap.name).await;
                    }
                    let _ = image.close().await;
                }
                let _ = rbd::remove(io, &spec.name).await;
            }
        }
        for entry in rbd::trash_list(io).await.unwrap_or_default() {
            let _ = rbd::trash_remove(io, &entry.id, true).await;
        }
    }
    for oid in io.list_objects().await.unwrap_or_default() {
        let _ = io.remove(&oid).await;
    }
    if rbd && let Err(e) = rbd::namespace_remove(pool_io, name).await {
        eprintln!("cleanup: could not remove rbd namespace {name}: {e}");
    }
}

/// Polls `check` every 500 ms until it returns true or `limit` passes.
pub async fn eventually<F, Fut>(limit: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let start = tokio::time::Instant::now();
    loop {
        if check().await {
            return true;
        }
        if start.elapsed() > limit {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
