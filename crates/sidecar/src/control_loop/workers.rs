//! The worker side of a controller loop, the same in every sidecar: wait until the caches hold
//! the whole cluster, then run `--worker-threads` workers over a [`WorkQueue`], each taking a
//! key, reconciling it and telling the queue how that went ([`Outcome`]); and look at
//! everything again every resync period, as informer resyncs do, so nothing waits forever on
//! an event that was missed.

use std::fmt::Debug;
use std::future::Future;
use std::hash::Hash;
use std::time::Duration;

use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::control_loop::retry::{Backoff, Progress};
use crate::control_loop::work_queue::WorkQueue;

/// Knobs of a controller loop, from the flags.
#[derive(Debug, Clone)]
pub struct LoopSettings {
    /// `--worker-threads`.
    pub workers: usize,
    /// How often every object is queued again without a change.
    pub resync: Duration,
    /// `--retry-interval-start` / `--retry-interval-max`.
    pub backoff: Backoff,
}

/// How one pass over a key ended, i.e. what the queue does with the key next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Nothing left to do until the object changes; the key's backoff starts over.
    Done,
    /// Another step follows at once (the change just written will queue it too, but the
    /// cache may not have seen it yet).
    Next,
    /// Try again after the key's backoff for this kind of failure.
    Retry(Progress),
}

/// Waits until `synced` (every cache's initial list) finishes; `false` when `stop` came
/// first. Nothing may be decided before: a cache still listing reads as "object gone".
pub async fn until_synced(synced: impl Future<Output = ()>, stop: &CancellationToken) -> bool {
    tokio::select! {
        () = synced => true,
        () = stop.cancelled() => false,
    }
}

/// Spawns `count` workers (at least one) onto `workers`; each takes keys from `queue` and runs
/// `reconcile` on them until the queue shuts down. The queue guarantees no two workers hold
/// the same key, so `reconcile` never races itself on one object.
pub fn spawn_workers<K, F, Fut>(
    workers: &mut JoinSet<()>,
    queue: &WorkQueue<K>,
    count: usize,
    reconcile: F,
) where
    K: Clone + Eq + Hash + Debug + Send + 'static,
    F: Fn(K) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = Outcome> + Send + 'static,
{
    for _ in 0..count.max(1) {
        let queue = queue.clone();
        let reconcile = reconcile.clone();
        workers.spawn(async move {
            while let Some(key) = queue.next().await {
                match reconcile(key.clone()).await {
                    Outcome::Done => queue.forget(&key),
                    Outcome::Next => {
                        queue.forget(&key);
                        queue.add(key.clone());
                    }
                    Outcome::Retry(progress) => {
                        let delay = queue.retry(key.clone(), progress);
                        tracing::debug!(?key, ?delay, "retrying later");
                    }
                }
                queue.done(&key);
            }
        });
    }
}

/// Calls `enqueue_all` every `period`, forever (the caller aborts it when the loop stops). Not
/// at once: the caches' initial lists have just queued everything.
pub async fn resync(period: Duration, enqueue_all: impl Fn()) {
    loop {
        tokio::time::sleep(period).await;
        enqueue_all();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use parking_lot::Mutex;

    use super::*;

    /// Runs workers over `keys` whose passes end as `outcome_of` says, until the queue is idle.
    async fn passes(
        keys: &[&'static str],
        outcome_of: impl Fn(&'static str, usize) -> Outcome + Send + Sync + 'static,
    ) -> (WorkQueue<&'static str>, Vec<&'static str>) {
        let queue = WorkQueue::new(Backoff::default());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let outcome_of = Arc::new(outcome_of);
        let mut workers = JoinSet::new();
        spawn_workers(&mut workers, &queue, 2, {
            let seen = Arc::clone(&seen);
            move |key| {
                let seen = Arc::clone(&seen);
                let outcome_of = Arc::clone(&outcome_of);
                async move {
                    let pass = {
                        let mut seen = seen.lock();
                        seen.push(key);
                        seen.iter().filter(|k| **k == key).count()
                    };
                    outcome_of(key, pass)
                }
            }
        });
        for key in keys {
            queue.add(*key);
        }
        tokio::time::sleep(Duration::from_secs(60)).await;
        queue.shut_down();
        while workers.join_next().await.is_some() {}
        let seen = seen.lock().clone();
        (queue, seen)
    }

    #[tokio::test(start_paused = true)]
    async fn done_keys_are_reconciled_once() {
        let (_, seen) = passes(&["a", "b"], |_, _| Outcome::Done).await;
        let mut seen = seen;
        seen.sort_unstable();
        assert_eq!(seen, ["a", "b"]);
    }

    #[tokio::test(start_paused = true)]
    async fn next_runs_the_key_again_at_once_and_retry_after_its_backoff() {
        let (queue, seen) = passes(&["next", "retry"], |key, pass| match (key, pass) {
            ("next", 1) => Outcome::Next,
            ("retry", 1 | 2) => Outcome::Retry(Progress::Final),
            _ => Outcome::Done,
        })
        .await;
        assert_eq!(seen.iter().filter(|k| **k == "next").count(), 2);
        assert_eq!(seen.iter().filter(|k| **k == "retry").count(), 3);
        assert_eq!(queue.failures(&"retry"), 0, "success resets the backoff");
        assert_eq!(queue.failures(&"next"), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_stop_before_the_caches_sync_is_reported() {
        let stop = CancellationToken::new();
        assert!(until_synced(async {}, &stop).await);
        stop.cancel();
        assert!(!until_synced(std::future::pending(), &stop).await);
    }

    #[tokio::test(start_paused = true)]
    async fn resync_waits_a_period_before_each_round() {
        let rounds = Arc::new(Mutex::new(0));
        let task = tokio::spawn(resync(Duration::from_secs(10), {
            let rounds = Arc::clone(&rounds);
            move || *rounds.lock() += 1
        }));
        tokio::time::sleep(Duration::from_secs(5)).await;
        assert_eq!(*rounds.lock(), 0, "not at once");
        tokio::time::sleep(Duration::from_secs(20)).await;
        assert_eq!(*rounds.lock(), 2);
        task.abort();
    }
}
