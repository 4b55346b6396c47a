//! Watching work Ceph finishes after the CSI reply, to announce its end: a mgr flatten at the
//! hard clone-depth limit ([`crate::pool::flatten_watch`]), a CephFS clone (the CephFS controller).
//! Neither the mgr's task queue nor its clone status says when something ends, so a watcher
//! looks again and again ([`Watches::start`]): with a growing pause, each look bounded by the
//! Ceph op timeout, giving up (and announcing that) after [`DEADLINE`]. The waiting claim keeps
//! its backoff either way: an announcement only shortens a wait.
//!
//! One watcher per key (an image, a subvolume) in this process, whatever the number of requests
//! waiting on it; it holds no request lock (the request that started it has answered), and all
//! stop when the controller's [`Watches`] is dropped.

use std::collections::HashSet;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use events::{Event, EventsError, KubernetesRef, Outcome};
use parking_lot::Mutex;
use tokio::sync::watch;
use tracing::{Instrument as _, debug, info, warn};

use crate::error::Result;
use crate::settings::Settings;
use journal::records::source::ContentSource;

/// How long a piece of work is watched before it is announced as failed.
pub const DEADLINE: Duration = Duration::from_secs(30 * 60);
/// First and longest pause between two looks.
const FIRST_PAUSE: Duration = Duration::from_millis(250);
const LONGEST_PAUSE: Duration = Duration::from_secs(4);

/// The keys this process watches; dropping it stops every watcher (their receivers see the
/// sender gone).
pub struct Watches {
    keys: Arc<Mutex<HashSet<String>>>,
    stop: watch::Sender<()>,
}

impl Default for Watches {
    fn default() -> Self {
        Self {
            keys: Arc::default(),
            stop: watch::Sender::new(()),
        }
    }
}

impl Watches {
    /// Watches `key` unless this process already does: `look` answers `Some(outcome)` once the
    /// work has ended, `None` while it runs; `announce` turns the outcome (and how long the
    /// watch took) into the event published through `settings.events` (`None`: nothing to
    /// say).
    pub fn start<L, F, A>(&self, key: String, settings: &Settings, mut look: L, announce: A)
    where
        L: FnMut() -> F + Send + 'static,
        F: Future<Output = Result<Option<Outcome>>> + Send,
        A: FnOnce(Outcome, Duration) -> Option<Event> + Send + 'static,
    {
        if !self.keys.lock().insert(key.clone()) {
            debug!(%key, "already watched");
            return;
        }
        let keys = Arc::clone(&self.keys);
        let mut stop = self.stop.subscribe();
        let op_timeout = settings.ceph_timeouts.op;
        let events = settings.events.clone();
        let span = tracing::info_span!("watch_background", %key);
        let task = async move {
            let started = Instant::now();
            let mut pause = FIRST_PAUSE;
            let outcome = loop {
                tokio::select! {
                    // The controller is going away (its only sender dropped).
                    _ = stop.changed() => break None,
                    () = tokio::time::sleep(pause) => {}
                }
                match tokio::time::timeout(op_timeout, look()).await {
                    Ok(Ok(Some(outcome))) => break Some(outcome),
                    Ok(Ok(None)) => {}
                    Ok(Err(error)) => debug!(%error, "not checked this time"),
                    Err(_) => debug!(?op_timeout, "check timed out"),
                }
                if started.elapsed() >= DEADLINE {
                    break Some(Outcome::error(
                        "DeadlineExceeded",
                        format!("not seen to finish within {DEADLINE:?}"),
                    ));
                }
                pause = (pause * 2).min(LONGEST_PAUSE);
            };
            keys.lock().remove(&key);
            let Some(outcome) = outcome else { return };
            if outcome.is_ok() {
                info!(elapsed = ?started.elapsed(), "background work finished");
            } else {
                warn!(reason = ?outcome.message, "background work did not finish");
            }
            if let Some(event) = announce(outcome, started.elapsed()) {
                events.publish(&event);
            }
        };
        tokio::spawn(task.instrument(span));
    }

    /// Whether `key` is being watched.
    pub fn is_watching(&self, key: &str) -> bool {
        self.keys.lock().contains(key)
    }
}

/// The Kubernetes kind the `csi.storage.k8s.io/pvc/*` parameters name.
const CLAIM: &str = "PersistentVolumeClaim";

/// Who waits on background work: the CreateVolume answered ABORTED while it runs.
#[derive(Debug, Clone, Default)]
pub struct Waiter {
    pub request_name: String,
    /// Its content source: the snapshot or volume whose image (or subvolume) the work is on.
    pub source: Option<ContentSource>,
    /// From `csi.storage.k8s.io/pvc/name` and `/pvc/namespace` (`--extra-create-metadata`).
    pub claim_name: Option<String>,
    pub claim_namespace: Option<String>,
}

/// The event announcing the end of the work `what` (`flatten/<image>`, `clone/<subvolume>`)
/// that `waiter` waits on: `verbs.0` on success, `verbs.1` on failure. Pure.
pub fn ending_event(
    component: &str,
    verbs: (&str, &str),
    what: &str,
    driver: &str,
    waiter: &Waiter,
    outcome: Outcome,
    elapsed: Duration,
) -> std::result::Result<Event, EventsError> {
    let (verb, key) = if outcome.is_ok() {
        // The work ends once: a second watcher of it (another process) sends the same event.
        (verbs.0, what.to_owned())
    } else {
        // Each failure is its own event: a retry starts the work again.
        (verbs.1, format!("{what}/failed/{}", now_millis()))
    };
    let mut builder = Event::builder(component, events::vocabulary::object::VOLUME, verb)
        .operation_key(key)
        .driver(driver)
        .request_name(waiter.request_name.clone())
        .duration(elapsed)
        .outcome(outcome);
    match &waiter.source {
        Some(ContentSource::Snapshot(id)) => builder = builder.snapshot_id(id.clone()),
        Some(ContentSource::Volume(id)) => builder = builder.volume_id(id.clone()),
        None => {}
    }
    if let Some(name) = &waiter.claim_name {
        builder = builder.kubernetes(KubernetesRef {
            kind: CLAIM.to_owned(),
            namespace: waiter.claim_namespace.clone(),
            name: name.clone(),
            uid: None,
        });
    }
    builder.build()
}

fn now_millis() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_millis())
}

/// `built`, or `None` with a warning: an event that cannot be built is not announced.
pub fn built(built: std::result::Result<Event, EventsError>) -> Option<Event> {
    built
        .map_err(|error| warn!(%error, "background event not built"))
        .ok()
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// A look that says "running" until `done` looks were made, counting them.
    fn counted(
        looks: &Arc<AtomicUsize>,
        done: usize,
    ) -> impl FnMut() -> std::future::Ready<Result<Option<Outcome>>> + Send + 'static {
        let looks = Arc::clone(looks);
        move || {
            let n = looks.fetch_add(1, Ordering::SeqCst) + 1;
            std::future::ready(Ok((n >= done).then(Outcome::ok)))
        }
    }

    #[tokio::test(start_paused = true)]
    async fn one_watcher_per_key_until_the_work_ends() {
        let watches = Watches::default();
        let settings = Settings::default();
        let (first, second) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let announced = Arc::new(AtomicUsize::new(0));
        let announce = |announced: &Arc<AtomicUsize>| {
            let announced = Arc::clone(announced);
            move |outcome: Outcome, _elapsed| {
                assert!(outcome.is_ok());
                announced.fetch_add(1, Ordering::SeqCst);
                None
            }
        };
        watches.start(
            "k".into(),
            &settings,
            counted(&first, 3),
            announce(&announced),
        );
        watches.start(
            "k".into(),
            &settings,
            counted(&second, 1),
            announce(&announced),
        );
        assert!(watches.is_watching("k"));
        tokio::time::sleep(Duration::from_secs(10)).await;
        assert_eq!(first.load(Ordering::SeqCst), 3, "looked until done");
        assert_eq!(
            second.load(Ordering::SeqCst),
            0,
            "a second watcher of the same key"
        );
        assert_eq!(announced.load(Ordering::SeqCst), 1);
        assert!(!watches.is_watching("k"));
        // Over: the key can be watched again.
        watches.start(
            "k".into(),
            &settings,
            counted(&second, 1),
            announce(&announced),
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert_eq!(announced.load(Ordering::SeqCst), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn dropping_the_watches_stops_the_watchers_without_an_announcement() {
        let watches = Watches::default();
        let looks = Arc::new(AtomicUsize::new(0));
        let announced = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&announced);
        watches.start(
            "k".into(),
            &Settings::default(),
            counted(&looks, usize::MAX),
            move |_, _| {
                counter.fetch_add(1, Ordering::SeqCst);
                None
            },
        );
        tokio::time::sleep(Duration::from_secs(2)).await;
        drop(watches);
        tokio::time::sleep(Duration::from_secs(1)).await;
        let stopped_at = looks.load(Ordering::SeqCst);
        assert!(stopped_at > 0);
        tokio::time::sleep(Duration::from_secs(60)).await;
        assert_eq!(looks.load(Ordering::SeqCst), stopped_at, "still looking");
        assert_eq!(announced.load(Ordering::SeqCst), 0);
    }
}
