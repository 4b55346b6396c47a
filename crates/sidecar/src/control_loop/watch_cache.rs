//! A cluster-wide cache of one kind, filled by a watch: every controller reads its objects
//! from such caches (never from the API server per pass), and decides what to queue from the
//! watch events that fill them.
//!
//! The events come back as a stream the caller must drive: the cache only moves while its
//! stream is polled, so whoever consumes the events (a task queueing keys) also keeps the
//! cache current, and stopping that task stops the watch.

use std::fmt::Debug;
use std::pin::Pin;

use futures::{Stream, StreamExt};
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, Resource};
use serde::de::DeserializeOwned;

/// The watch events of one kind, after they have been written into its [`Store`]. A failed
/// watch is retried with kube's default backoff; its errors still come through, for logging.
pub type WatchEvents<K> = Pin<Box<dyn Stream<Item = watcher::Result<watcher::Event<K>>> + Send>>;

/// A cache of every `K` in the cluster and the events that fill it.
pub fn cache<K>(client: &Client) -> (Store<K>, WatchEvents<K>)
where
    K: Resource<DynamicType = ()> + Clone + Debug + DeserializeOwned + Send + Sync + 'static,
{
    let (store, writer) = reflector::store();
    let events = reflector::reflector(
        writer,
        watcher(Api::<K>::all(client.clone()), watcher::Config::default()),
    )
    .default_backoff()
    .boxed();
    (store, events)
}
