//! A keyed work queue with client-go's guarantees, which every controller loop builds on:
//! - a key is handed to at most one worker at a time (no two reconciles of one object race);
//! - adding a key that is already waiting is a no-op, and a key added while being processed
//!   is handed out again after [`WorkQueue::done`] (no change is lost, none is doubled);
//! - failed keys come back after a per-key exponential backoff ([`WorkQueue::retry`]) until
//!   [`WorkQueue::forget`] resets it on success.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::hash::Hash;
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::control_loop::retry::{Backoff, Progress};

/// Shared handle; clones feed the same queue.
pub struct WorkQueue<K> {
    inner: Arc<Inner<K>>,
}

impl<K> Clone for WorkQueue<K> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

struct Inner<K> {
    state: Mutex<State<K>>,
    notify: Notify,
    backoff: Backoff,
}

struct State<K> {
    queue: VecDeque<K>,
    dirty: HashSet<K>,
    processing: HashSet<K>,
    delayed: BTreeMap<(Instant, u64), K>,
    delayed_at: HashMap<K, (Instant, u64)>,
    failures: HashMap<K, u32>,
    sequence: u64,
    shut_down: bool,
}

impl<K: Clone + Eq + Hash> State<K> {
    fn add(&mut self, key: K) -> bool {
        if self.shut_down || self.dirty.contains(&key) {
            return false;
        }
        self.dirty.insert(key.clone());
        if self.processing.contains(&key) {
            return false;
        }
        self.queue.push_back(key);
        true
    }

    /// Moves due delayed keys into the queue; returns the next deadline, if any.
    fn promote_due(&mut self, now: Instant) -> (bool, Option<Instant>) {
        let mut added = false;
        while let Some((&(at, seq), _)) = self.delayed.first_key_value() {
            if at > now {
                return (added, Some(at));
            }
            if let Some(key) = self.delayed.remove(&(at, seq)) {
                self.delayed_at.remove(&key);
                added |= self.add(key);
            }
        }
        (added, None)
    }
}

impl<K: Clone + Eq + Hash + Send + 'static> WorkQueue<K> {
    pub fn new(backoff: Backoff) -> Self {
        Self {
            inner: Arc::new(Inner {
                state: Mutex::new(State {
                    queue: VecDeque::new(),
                    dirty: HashSet::new(),
                    processing: HashSet::new(),
                    delayed: BTreeMap::new(),
                    delayed_at: HashMap::new(),
                    failures: HashMap::new(),
                    sequence: 0,
                    shut_down: false,
                }),
                notify: Notify::new(),
                backoff,
            }),
        }
    }

    /// Queue `key` now.
    pub fn add(&self, key: K) {
        if self.inner.state.lock().add(key) {
            self.inner.notify.notify_one();
        }
    }

    /// Queue `key` after `delay`. An earlier pending deadline for the same key wins.
    pub fn add_after(&self, key: K, delay: Duration) {
        if delay.is_zero() {
            return self.add(key);
        }
        let at = Instant::now() + delay;
        {
            let mut state = self.inner.state.lock();
            if state.shut_down {
                return;
            }
            if let Some(&(existing, seq)) = state.delayed_at.get(&key) {
                if existing <= at {
                    return;
                }
                state.delayed.remove(&(existing, seq));
            }
            state.sequence += 1;
            let seq = state.sequence;
            state.delayed.insert((at, seq), key.clone());
            state.delayed_at.insert(key, (at, seq));
        }
        // A worker may be sleeping towards a later deadline; let it re-check.
        self.inner.notify.notify_one();
    }

    /// Counts a failure of `key` and queues it again after its backoff; returns the delay.
    pub fn retry(&self, key: K, progress: Progress) -> Duration {
        let failures = {
            let mut state = self.inner.state.lock();
            let failures = state.failures.entry(key.clone()).or_insert(0);
            *failures = failures.saturating_add(1);
            *failures
        };
        let delay = self.inner.backoff.delay_for(progress, failures);
        self.add_after(key, delay);
        delay
    }

    /// Resets the backoff of `key` (after a success).
    pub fn forget(&self, key: &K) {
        self.inner.state.lock().failures.remove(key);
    }

    /// Consecutive failures recorded for `key`.
    pub fn failures(&self, key: &K) -> u32 {
        self.inner
            .state
            .lock()
            .failures
            .get(key)
            .copied()
            .unwrap_or(0)
    }

    /// The next key to process; `None` once the queue is shut down. The caller must call
    /// [`WorkQueue::done`] with it when finished.
    pub async fn next(&self) -> Option<K> {
        loop {
            let mut notified = pin!(self.inner.notify.notified());
            notified.as_mut().enable();
            let deadline = {
                let mut state = self.inner.state.lock();
                if state.shut_down {
                    return None;
                }
                let (_, deadline) = state.promote_due(Instant::now());
                if let Some(key) = state.queue.pop_front() {
                    state.dirty.remove(&key);
                    state.processing.insert(key.clone());
                    if !state.queue.is_empty() {
                        // Pass the baton: another worker may take the next one.
                        self.inner.notify.notify_one();
                    }
                    return Some(key);
                }
                deadline
            };
            match deadline {
                Some(at) => {
                    tokio::select! {
                        () = notified => {}
                        () = tokio::time::sleep_until(at) => {}
                    }
                }
                None => notified.await,
            }
        }
    }

    /// Marks `key` finished; if it was added meanwhile, it is queued again.
    pub fn done(&self, key: &K) {
        let requeued = {
            let mut state = self.inner.state.lock();
            state.processing.remove(key);
            if state.dirty.contains(key) && !state.shut_down {
                state.queue.push_back(key.clone());
                true
            } else {
                false
            }
        };
        if requeued {
            self.inner.notify.notify_one();
        }
    }

    /// Keys waiting now or later (not counting those being processed).
    pub fn len(&self) -> usize {
        let state = self.inner.state.lock();
        state.queue.len() + state.delayed.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Stops handing out keys; every waiting [`WorkQueue::next`] returns `None`.
    pub fn shut_down(&self) {
        self.inner.state.lock().shut_down = true;
        self.inner.notify.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queue() -> WorkQueue<&'static str> {
        WorkQueue::new(Backoff::default())
    }

    #[tokio::test(start_paused = true)]
    async fn duplicates_collapse_while_waiting() {
        let q = queue();
        q.add("a");
        q.add("a");
        q.add("b");
        assert_eq!(q.len(), 2);
        assert_eq!(q.next().await, Some("a"));
        assert_eq!(q.next().await, Some("b"));
        assert!(q.is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn a_key_added_during_processing_comes_back_after_done_not_before() {
        let q = queue();
        q.add("a");
        let key = q.next().await.unwrap();
        q.add("a");
        // Not handed to a second worker while the first holds it.
        let second = tokio::time::timeout(Duration::from_secs(1), q.next()).await;
        assert!(second.is_err());
        q.done(&key);
        assert_eq!(q.next().await, Some("a"));
    }

    #[tokio::test(start_paused = true)]
    async fn retries_back_off_exponentially_and_forget_resets() {
        let q = queue();
        let start = Instant::now();
        let mut delays = Vec::new();
        for _ in 0..4 {
            let delay = q.retry("a", Progress::Final);
            delays.push(delay.as_secs());
            let key = q.next().await.unwrap();
            assert!(Instant::now() - start >= Duration::from_secs(delays.iter().sum()));
            q.done(&key);
        }
        assert_eq!(delays, [1, 2, 4, 8]);
        q.forget(&"a");
        assert_eq!(q.retry("a", Progress::Final), Duration::from_secs(1));
        assert_eq!(
            q.retry("b", Progress::Infeasible),
            Duration::from_secs(300),
            "infeasible waits the maximum"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn an_earlier_deadline_replaces_a_later_one() {
        let q = queue();
        let start = Instant::now();
        q.add_after("a", Duration::from_secs(60));
        q.add_after("a", Duration::from_secs(5));
        q.add_after("a", Duration::from_secs(30));
        assert_eq!(q.len(), 1);
        assert_eq!(q.next().await, Some("a"));
        let waited = Instant::now() - start;
        assert!(
            waited >= Duration::from_secs(5) && waited < Duration::from_secs(30),
            "{waited:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn many_workers_each_get_distinct_keys() {
        let q: WorkQueue<u32> = WorkQueue::new(Backoff::default());
        for i in 0..100 {
            q.add(i);
        }
        let seen = Arc::new(Mutex::new(Vec::new()));
        let mut workers = Vec::new();
        for _ in 0..8 {
            let q = q.clone();
            let seen = Arc::clone(&seen);
            workers.push(tokio::spawn(async move {
                while let Some(k) = q.next().await {
                    seen.lock().push(k);
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    q.done(&k);
                }
            }));
        }
        tokio::time::sleep(Duration::from_secs(5)).await;
        q.shut_down();
        for w in workers {
            w.await.unwrap();
        }
        let mut seen = seen.lock().clone();
        seen.sort_unstable();
        assert_eq!(seen, (0..100).collect::<Vec<_>>());
    }

    #[tokio::test(start_paused = true)]
    async fn shut_down_wakes_idle_workers() {
        let q = queue();
        let waiting = tokio::spawn({
            let q = q.clone();
            async move { q.next().await }
        });
        tokio::time::sleep(Duration::from_millis(10)).await;
        q.shut_down();
        assert_eq!(waiting.await.unwrap(), None);
    }
}
