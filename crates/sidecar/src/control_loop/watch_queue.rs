//! [`WatchQueue`]: the watch loop every sidecar runs — watches of the kinds a
//! decision reads queue the keys of what changed, and once every cache holds the whole cluster,
//! `--worker-threads` workers drain the queue and a resync queues everything now and then,
//! until the stop token fires.
//!
//! A watch hands each object it reports to the binary as a [`Change`]; which keys that queues
//! is the binary's. [`Change::news`] is the usual filter: only a change of what the decision
//! reads ([`LastSeen`]'s fingerprint) queues work, so the loop's own status writes do not
//! re-queue an object and undo its backoff.

use std::fmt::Debug;
use std::future::Future;
use std::hash::Hash;

use futures::StreamExt;
use futures::future::{BoxFuture, join_all};
use kube::runtime::reflector::Store;
use kube::runtime::watcher;
use kube::{Client, Resource};
use serde::de::DeserializeOwned;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::control_loop::last_seen::LastSeen;
use crate::control_loop::retry::Backoff;
use crate::control_loop::watch_cache::{WatchEvents, cache};
use crate::control_loop::work_queue::WorkQueue;
use crate::control_loop::workers::{LoopSettings, Outcome, resync, spawn_workers, until_synced};

/// One object a watch reported.
#[derive(Debug)]
pub enum Change<'a, K> {
    /// Added, updated, or listed again (first list, or a watch restart).
    Applied(&'a K),
    /// Deleted; its last state.
    Deleted(&'a K),
}

// By hand: a derive would ask `K: Copy`, and a change only holds a reference.
impl<K> Clone for Change<'_, K> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<K> Copy for Change<'_, K> {}

impl<'a, K> Change<'a, K> {
    pub fn object(&self) -> &'a K {
        match self {
            Self::Applied(object) | Self::Deleted(object) => object,
        }
    }

    /// This change, if it is news to a decision that reads only `fingerprint` of the object:
    /// an applied object whose fingerprint differs from the last one `seen` under `id` (now
    /// remembered), or a deleted one (now forgotten, so a new object of that name is news).
    pub fn news<I, F>(
        self,
        seen: &LastSeen<I, F>,
        id: I,
        fingerprint: impl FnOnce(&K) -> F,
    ) -> Option<Self>
    where
        I: Eq + Hash,
        F: PartialEq,
    {
        match self {
            Self::Applied(object) => seen.changed(id, fingerprint(object)).then_some(self),
            Self::Deleted(_) => {
                seen.forget(&id);
                Some(self)
            }
        }
    }
}

/// Ends once `store` holds its first full list. A store whose writer is gone before that (its
/// watch task ended) never holds one: it reads as "object gone" for every object it missed, so
/// this waits on for ever (until the loop's stop) rather than let anything be decided on it.
fn first_list<K>(store: Store<K>) -> BoxFuture<'static, ()>
where
    K: Resource<DynamicType = ()> + Clone + Send + Sync + 'static,
{
    Box::pin(async move {
        if store.wait_until_ready().await.is_err() {
            tracing::error!(kind = %K::kind(&()), "watch ended before its first list; nothing is decided until stop");
            std::future::pending::<()>().await;
        }
    })
}

/// One work queue and the watches feeding it: built by making its caches
/// ([`WatchQueue::cache`]) or [`WatchQueue::follow`]ing their events, started with
/// [`WatchQueue::until_synced`], run with [`WatchQueue::run`].
pub struct WatchQueue<Q> {
    queue: WorkQueue<Q>,
    /// The watches, and the resync once running; aborted when the loop stops.
    tasks: JoinSet<()>,
    /// The first full list of each cache made here.
    listed: Vec<BoxFuture<'static, ()>>,
}

impl<Q> WatchQueue<Q>
where
    Q: Clone + Eq + Hash + Debug + Send + Sync + 'static,
{
    /// An empty queue with the per-key retry policy `backoff`, and no watches yet.
    pub fn new(backoff: Backoff) -> Self {
        Self {
            queue: WorkQueue::new(backoff),
            tasks: JoinSet::new(),
            listed: Vec::new(),
        }
    }

    pub fn queue(&self) -> &WorkQueue<Q> {
        &self.queue
    }

    /// A cache of every `K` in the cluster ([`cache`]), whose watch events
    /// [`WatchQueue::follow`] hands to `on_change`, and whose first full list
    /// [`WatchQueue::until_synced`] waits for.
    pub fn cache<K>(
        &mut self,
        client: &Client,
        on_change: impl FnMut(Change<'_, K>, &WorkQueue<Q>) + Send + 'static,
    ) -> Store<K>
    where
        K: Resource<DynamicType = ()> + Clone + Debug + DeserializeOwned + Send + Sync + 'static,
    {
        let (store, events) = cache(client);
        self.follow(events, on_change);
        self.listed.push(first_list(store.clone()));
        store
    }

    /// Drives `events` (which keeps their cache current) for as long as the loop runs, handing
    /// `on_change` each applied or deleted object and the queue. A failed watch is logged
    /// naming the kind, and resumes after kube's backoff.
    pub fn follow<K>(
        &mut self,
        mut events: WatchEvents<K>,
        mut on_change: impl FnMut(Change<'_, K>, &WorkQueue<Q>) + Send + 'static,
    ) where
        K: Resource<DynamicType = ()> + Send + 'static,
    {
        let queue = self.queue.clone();
        self.tasks.spawn(async move {
            while let Some(event) = events.next().await {
                match event {
                    Ok(watcher::Event::Apply(object) | watcher::Event::InitApply(object)) => {
                        on_change(Change::Applied(&object), &queue);
                    }
                    Ok(watcher::Event::Delete(object)) => {
                        on_change(Change::Deleted(&object), &queue);
                    }
                    Ok(watcher::Event::Init | watcher::Event::InitDone) => {}
                    Err(error) => tracing::warn!(kind = %K::kind(&()), %error, "watch failed"),
                }
            }
        });
    }

    /// Waits until every cache made by [`WatchQueue::cache`] holds its first full list (one
    /// whose watch ended before that never does); `false`, with the watches stopped, when
    /// `stop` came first. Nothing may be decided before: a cache still listing reads as
    /// "object gone".
    pub async fn until_synced(&mut self, stop: &CancellationToken) -> bool {
        let listed = join_all(std::mem::take(&mut self.listed));
        let synced = until_synced(
            async {
                listed.await;
            },
            stop,
        )
        .await;
        if !synced {
            self.tasks.abort_all();
        }
        synced
    }

    /// Runs the loop until `stop`: `settings.workers` workers pass the queue's keys to
    /// `reconcile`, and every `settings.resync` `enqueue_all` queues everything again. At
    /// `stop` the queue shuts down and the watches stop; returns once every worker has finished
    /// the key in hand (the runtime bounds how long).
    pub async fn run<R, Fut>(
        mut self,
        settings: &LoopSettings,
        stop: &CancellationToken,
        enqueue_all: impl Fn(&WorkQueue<Q>) + Send + 'static,
        reconcile: R,
    ) where
        R: Fn(Q) -> Fut + Clone + Send + 'static,
        Fut: Future<Output = Outcome> + Send + 'static,
    {
        let queue = self.queue.clone();
        self.tasks
            .spawn(resync(settings.resync, move || enqueue_all(&queue)));
        let mut workers = JoinSet::new();
        spawn_workers(&mut workers, &self.queue, settings.workers, reconcile);
        stop.cancelled().await;
        self.queue.shut_down();
        self.tasks.abort_all();
        while workers.join_next().await.is_some() {}
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use futures::{FutureExt, stream};
    use k8s_openapi::api::core::v1::ConfigMap;
    use kube::api::ObjectMeta;
    use parking_lot::Mutex;

    use super::*;

    fn map(name: &str, value: &str) -> ConfigMap {
        ConfigMap {
            metadata: ObjectMeta {
                name: Some(name.into()),
                ..ObjectMeta::default()
            },
            data: Some([("v".to_owned(), value.to_owned())].into()),
            ..ConfigMap::default()
        }
    }

    fn name(map: &ConfigMap) -> String {
        map.metadata.name.clone().unwrap_or_default()
    }

    fn value(map: &ConfigMap) -> String {
        map.data
            .as_ref()
            .and_then(|d| d.get("v"))
            .cloned()
            .unwrap_or_default()
    }

    #[test]
    fn only_a_changed_fingerprint_or_a_deletion_is_news() {
        let seen: LastSeen<String, String> = LastSeen::new();
        let (a1, a2) = (map("a", "1"), map("a", "2"));
        let news = |change: Change<'_, ConfigMap>| {
            let id = name(change.object());
            match change.news(&seen, id, value) {
                Some(Change::Applied(_)) => "applied",
                Some(Change::Deleted(_)) => "deleted",
                None => "-",
            }
        };
        assert_eq!(news(Change::Applied(&a1)), "applied", "first sight");
        assert_eq!(news(Change::Applied(&a1)), "-", "same fingerprint");
        assert_eq!(news(Change::Applied(&a2)), "applied");
        assert_eq!(news(Change::Deleted(&a2)), "deleted");
        assert_eq!(
            news(Change::Applied(&a2)),
            "applied",
            "forgotten at deletion"
        );
    }

    /// Events in, keys out, workers over them, and everything stops with the token.
    #[tokio::test(start_paused = true)]
    async fn watched_changes_reach_the_workers_until_stop() {
        let events: WatchEvents<ConfigMap> = stream::iter([
            Ok(watcher::Event::Init),
            Ok(watcher::Event::InitApply(map("a", "1"))),
            Ok(watcher::Event::InitDone),
            Ok(watcher::Event::Apply(map("a", "1"))),
            Ok(watcher::Event::Apply(map("b", "1"))),
            Ok(watcher::Event::Delete(map("a", "1"))),
        ])
        .chain(stream::pending())
        .boxed();
        let mut loop_: WatchQueue<String> = WatchQueue::new(Backoff::default());
        let seen: LastSeen<String, String> = LastSeen::new();
        loop_.follow(events, move |change, queue| {
            let id = name(change.object());
            match change.news(&seen, id.clone(), value) {
                Some(Change::Applied(_)) => queue.add(id),
                Some(Change::Deleted(_)) => queue.add(format!("{id} gone")),
                None => {}
            }
        });
        let stop = CancellationToken::new();
        assert!(loop_.until_synced(&stop).await, "no cache to wait for");

        let passes = Arc::new(Mutex::new(Vec::new()));
        let settings = LoopSettings {
            workers: 2,
            resync: Duration::from_secs(600),
            backoff: Backoff::default(),
        };
        let running = tokio::spawn({
            let (passes, stop) = (Arc::clone(&passes), stop.clone());
            async move {
                let enqueue_all = |queue: &WorkQueue<String>| queue.add("resync".to_owned());
                loop_
                    .run(&settings, &stop, enqueue_all, move |key| {
                        passes.lock().push(key);
                        async { Outcome::Done }
                    })
                    .await;
            }
        });
        tokio::time::sleep(Duration::from_secs(60)).await;
        let mut keys = passes.lock().clone();
        keys.sort();
        assert_eq!(
            keys,
            ["a", "a gone", "b"],
            "the repeated apply of a is no news"
        );
        tokio::time::sleep(Duration::from_secs(600)).await;
        assert!(passes.lock().contains(&"resync".to_owned()));
        stop.cancel();
        running.await.expect("the loop stops with its token");
    }

    /// A cache whose watch ended before its first list is never synced (deciding on it would
    /// read every object it missed as gone); a listed one is, and a stop still ends the wait.
    #[tokio::test(start_paused = true)]
    async fn a_cache_whose_watch_ended_before_its_first_list_never_syncs() {
        let stop = CancellationToken::new();
        let (listed, mut writer) = kube::runtime::reflector::store::<ConfigMap>();
        writer.apply_watcher_event(&watcher::Event::InitDone);
        let mut loop_: WatchQueue<String> = WatchQueue::new(Backoff::default());
        loop_.listed.push(first_list(listed));
        assert_eq!(loop_.until_synced(&stop).now_or_never(), Some(true));

        let (orphaned, writer) = kube::runtime::reflector::store::<ConfigMap>();
        drop(writer);
        let mut loop_: WatchQueue<String> = WatchQueue::new(Backoff::default());
        loop_.listed.push(first_list(orphaned));
        let mut waiting = Box::pin(loop_.until_synced(&stop));
        assert_eq!((&mut waiting).now_or_never(), None, "not synced");
        stop.cancel();
        assert!(!waiting.await, "the stop ends the wait");
    }

    #[tokio::test(start_paused = true)]
    async fn a_stop_before_the_caches_sync_stops_the_watches() {
        let mut loop_: WatchQueue<String> = WatchQueue::new(Backoff::default());
        loop_.follow(
            stream::pending::<watcher::Result<watcher::Event<ConfigMap>>>().boxed(),
            |_, _| {},
        );
        loop_.listed.push(Box::pin(std::future::pending()));
        let stop = CancellationToken::new();
        stop.cancel();
        assert!(!loop_.until_synced(&stop).await);
        assert!(loop_.tasks.join_next().await.is_some_and(|r| r.is_err()));
    }
}
