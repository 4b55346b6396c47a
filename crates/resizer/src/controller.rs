//! The resizer's control loop: reflectors over claims, volumes and classes (no Pods — online
//! expansion needs none, and a cluster-wide Pod cache is upstream's memory problem), a work
//! queue of claims, and workers running [`reconcile`].
//!
//! A claim is queued when something the decision reads from the *user* or the binder changes
//! (request, phase, volume name, deletion) or its volume changes, not on every update: our own
//! status writes must not re-queue the claim and undo the queue's backoff (upstream's rule
//! too). A periodic resync queues every claim so nothing waits forever.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Arc;
use std::time::Duration;

use futures::{Stream, StreamExt};
use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim};
use k8s_openapi::api::storage::v1::StorageClass;
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, ResourceExt};
use parking_lot::Mutex;
use sidecar::{Backoff, WorkQueue};
use tokio_util::sync::CancellationToken;

use crate::observed::{ClaimView, VolumeView};
use crate::reconcile::{ClaimKey, Context, Outcome, reconcile};

/// Knobs of the loop (from flags).
#[derive(Debug, Clone)]
pub struct LoopSettings {
    pub workers: usize,
    pub resync: Duration,
    pub backoff: Backoff,
}

/// Remembers what was last seen per object, so only relevant changes queue work.
struct Seen<K, F>(Mutex<HashMap<K, F>>);

impl<K: Eq + Hash, F: PartialEq> Seen<K, F> {
    fn new() -> Self {
        Self(Mutex::new(HashMap::new()))
    }

    /// `true` when `fingerprint` differs from the last one seen for `key`.
    fn changed(&self, key: K, fingerprint: F) -> bool {
        let mut map = self.0.lock();
        if map.get(&key) == Some(&fingerprint) {
            return false;
        }
        map.insert(key, fingerprint);
        true
    }

    fn forget(&self, key: &K) {
        self.0.lock().remove(key);
    }
}

fn claim_key(pvc: &PersistentVolumeClaim) -> ClaimKey {
    ClaimKey {
        namespace: pvc.namespace().unwrap_or_default(),
        name: pvc.name_any(),
    }
}

type ClaimFingerprint = (String, bool, Option<String>, bool);

fn claim_fingerprint(pvc: &PersistentVolumeClaim) -> ClaimFingerprint {
    let view = ClaimView::of(pvc);
    let requested = pvc
        .spec
        .as_ref()
        .and_then(|s| s.resources.as_ref())
        .and_then(|r| r.requests.as_ref())
        .and_then(|r| r.get(crate::keys::STORAGE))
        .map(|q| q.0.clone())
        .unwrap_or_default();
    (requested, view.bound, view.volume_name, view.deleting)
}

type VolumeFingerprint = (Option<String>, Option<String>, Option<u64>);

fn volume_fingerprint(pv: &PersistentVolume) -> VolumeFingerprint {
    let view = VolumeView::of(pv);
    (view.driver, view.claim_uid, view.capacity.ok().flatten())
}

/// The claim a volume is bound to, if it is one of ours.
fn claim_of(pv: &PersistentVolume, driver: &str) -> Option<ClaimKey> {
    let spec = pv.spec.as_ref()?;
    if spec.csi.as_ref()?.driver != driver {
        return None;
    }
    let claim = spec.claim_ref.as_ref()?;
    Some(ClaimKey {
        namespace: claim.namespace.clone()?,
        name: claim.name.clone()?,
    })
}

/// Reflector streams and their stores for the three kinds.
pub struct Caches {
    pub claims: Store<PersistentVolumeClaim>,
    pub volumes: Store<PersistentVolume>,
    pub classes: Store<StorageClass>,
    claim_events: std::pin::Pin<
        Box<dyn Stream<Item = watcher::Result<watcher::Event<PersistentVolumeClaim>>> + Send>,
    >,
    volume_events: std::pin::Pin<
        Box<dyn Stream<Item = watcher::Result<watcher::Event<PersistentVolume>>> + Send>,
    >,
    class_events:
        std::pin::Pin<Box<dyn Stream<Item = watcher::Result<watcher::Event<StorageClass>>> + Send>>,
}

impl Caches {
    pub fn new(client: &kube::Client) -> Self {
        let config = watcher::Config::default();
        let (claims, claims_writer) = reflector::store();
        let (volumes, volumes_writer) = reflector::store();
        let (classes, classes_writer) = reflector::store();
        let claim_events = reflector::reflector(
            claims_writer,
            watcher(
                Api::<PersistentVolumeClaim>::all(client.clone()),
                config.clone(),
            ),
        )
        .default_backoff()
        .boxed();
        let volume_events = reflector::reflector(
            volumes_writer,
            watcher(Api::<PersistentVolume>::all(client.clone()), config.clone()),
        )
        .default_backoff()
        .boxed();
        let class_events = reflector::reflector(
            classes_writer,
            watcher(Api::<StorageClass>::all(client.clone()), config),
        )
        .default_backoff()
        .boxed();
        Self {
            claims,
            volumes,
            classes,
            claim_events,
            volume_events,
            class_events,
        }
    }
}

/// Runs until `stop` fires. `context_for` builds the shared context from the caches.
pub async fn run(
    caches: Caches,
    context_for: impl FnOnce(&Caches) -> Context,
    settings: LoopSettings,
    stop: CancellationToken,
) {
    let ctx = Arc::new(context_for(&caches));
    let Caches {
        claims,
        volumes,
        classes,
        claim_events,
        volume_events,
        class_events,
    } = caches;
    let queue: WorkQueue<ClaimKey> = WorkQueue::new(settings.backoff);
    let claims_seen: Arc<Seen<ClaimKey, ClaimFingerprint>> = Arc::new(Seen::new());
    let volumes_seen: Arc<Seen<String, VolumeFingerprint>> = Arc::new(Seen::new());

    let mut tasks = tokio::task::JoinSet::new();
    tasks.spawn({
        let queue = queue.clone();
        let seen = Arc::clone(&claims_seen);
        claim_events.for_each(move |event| {
            match event {
                Ok(watcher::Event::Apply(pvc) | watcher::Event::InitApply(pvc)) => {
                    let key = claim_key(&pvc);
                    if seen.changed(key.clone(), claim_fingerprint(&pvc)) {
                        queue.add(key);
                    }
                }
                Ok(watcher::Event::Delete(pvc)) => seen.forget(&claim_key(&pvc)),
                Ok(watcher::Event::Init | watcher::Event::InitDone) => {}
                Err(error) => tracing::warn!(%error, "watching PVCs"),
            }
            futures::future::ready(())
        })
    });
    tasks.spawn({
        let queue = queue.clone();
        let seen = Arc::clone(&volumes_seen);
        let driver = ctx.driver.clone();
        volume_events.for_each(move |event| {
            match event {
                Ok(watcher::Event::Apply(pv) | watcher::Event::InitApply(pv)) => {
                    if let Some(key) = claim_of(&pv, &driver)
                        && seen.changed(pv.name_any(), volume_fingerprint(&pv))
                    {
                        queue.add(key);
                    }
                }
                Ok(watcher::Event::Delete(pv)) => seen.forget(&pv.name_any()),
                Ok(_) => {}
                Err(error) => tracing::warn!(%error, "watching PVs"),
            }
            futures::future::ready(())
        })
    });
    tasks.spawn(class_events.for_each(|event| {
        if let Err(error) = event {
            tracing::warn!(%error, "watching StorageClasses");
        }
        futures::future::ready(())
    }));

    // Decisions need all three caches: a missing class would read as "expansion forbidden".
    let ready = async {
        let _ = tokio::join!(
            claims.wait_until_ready(),
            volumes.wait_until_ready(),
            classes.wait_until_ready()
        );
    };
    tokio::select! {
        () = ready => tracing::info!("caches synced; resizing"),
        () = stop.cancelled() => {
            tasks.abort_all();
            return;
        }
    }

    tasks.spawn({
        let queue = queue.clone();
        let claims = claims.clone();
        let resync = settings.resync;
        async move {
            loop {
                tokio::time::sleep(resync).await;
                for pvc in claims.state() {
                    queue.add(claim_key(&pvc));
                }
            }
        }
    });
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..settings.workers.max(1) {
        let queue = queue.clone();
        let ctx = Arc::clone(&ctx);
        workers.spawn(async move {
            while let Some(key) = queue.next().await {
                match reconcile(&ctx, &key).await {
                    Outcome::Done => queue.forget(&key),
                    Outcome::Retry(progress) => {
                        let delay = queue.retry(key.clone(), progress);
                        tracing::debug!(claim = %key, ?delay, "retrying later");
                    }
                }
                queue.done(&key);
            }
        });
    }
    stop.cancelled().await;
    // Workers finish the claim in hand (the runtime bounds how long); watchers just stop.
    queue.shut_down();
    tasks.abort_all();
    while workers.join_next().await.is_some() {}
}
