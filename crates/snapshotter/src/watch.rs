//! A `sidecar::watch_cache` cache of one kind, with the task that drives its watch and tells
//! the queues which objects changed (added, updated, deleted, or listed again after a watch
//! restart). The cache only moves while that task runs, so stopping it stops the watch.

use std::fmt::Debug;
use std::future::Future;

use futures::StreamExt;
use kube::runtime::reflector::Store;
use kube::runtime::watcher::Event;
use kube::{Client, Resource};
use serde::de::DeserializeOwned;
use tokio_util::sync::CancellationToken;

/// A cache of every `K`, and the task keeping it current that calls `on_change` with each
/// changed object, until `stop`.
pub fn watched<K, F>(
    client: &Client,
    stop: CancellationToken,
    on_change: F,
) -> (Store<K>, impl Future<Output = ()> + Send + 'static)
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
    F: Fn(&K) + Send + 'static,
{
    let (store, mut events) = sidecar::watch_cache::cache::<K>(client);
    let task = async move {
        loop {
            let next = tokio::select! {
                () = stop.cancelled() => return,
                next = events.next() => next,
            };
            match next {
                Some(Ok(Event::Apply(object) | Event::InitApply(object))) => on_change(&object),
                Some(Ok(Event::Delete(object))) => {
                    tracing::trace!(kind = %K::kind(&()), name = ?object.meta().name, "deleted");
                    on_change(&object);
                }
                Some(Ok(Event::Init | Event::InitDone)) => {}
                Some(Err(error)) => {
                    tracing::warn!(kind = %K::kind(&()), %error, "watch failed; resuming after backoff");
                }
                None => return,
            }
        }
    };
    (store, task)
}

/// Waits until `store` holds its first full list (a decision on a partial view could, say,
/// create a content that exists but was not listed yet). `false` if `stop` came first.
pub async fn wait_ready<K>(store: &Store<K>, stop: &CancellationToken) -> bool
where
    K: Resource<DynamicType = ()> + Clone + 'static,
{
    sidecar::workers::until_synced(
        async {
            if store.wait_until_ready().await.is_err() {
                // The watch ended before its first list: never ready.
                std::future::pending::<()>().await;
            }
        },
        stop,
    )
    .await
}
