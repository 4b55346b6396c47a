//! The resizer's control loop: reflectors over claims, volumes and classes (no Pods — online
//! expansion needs none, and a cluster-wide Pod cache is upstream's memory problem), a work
//! queue of claims, and workers running [`reconcile`].
//!
//! A claim is queued when something the decision reads from the *user* or the binder changes
//! (request, phase, volume name, deletion) or its volume changes, not on every update: our own
//! status writes must not re-queue the claim and undo the queue's backoff (upstream's rule
//! too). A periodic resync queues every claim so nothing waits forever.

use std::sync::Arc;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim};
use k8s_openapi::api::storage::v1::StorageClass;
use kube::ResourceExt;
use kube::runtime::reflector::Store;
use kube::runtime::watcher;
use sidecar::watch_cache::{WatchEvents, cache};
use sidecar::workers::{resync, spawn_workers, until_synced};
use sidecar::{LastSeen, LoopSettings, WorkQueue};
use tokio_util::sync::CancellationToken;

use crate::observed::{ClaimView, VolumeView};
use crate::reconcile::{ClaimKey, Context, reconcile};

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

/// Claims in the cache that name `class` as their StorageClass.
fn claims_of_class(claims: &Store<PersistentVolumeClaim>, class: &str) -> Vec<ClaimKey> {
    claims
        .state()
        .iter()
        .filter(|pvc| {
            pvc.spec
                .as_ref()
                .and_then(|s| s.storage_class_name.as_deref())
                == Some(class)
        })
        .map(|pvc| claim_key(pvc))
        .collect()
}

/// The caches of the three kinds and the watch events that fill them.
pub struct Caches {
    pub claims: Store<PersistentVolumeClaim>,
    pub volumes: Store<PersistentVolume>,
    pub classes: Store<StorageClass>,
    claim_events: WatchEvents<PersistentVolumeClaim>,
    volume_events: WatchEvents<PersistentVolume>,
    class_events: WatchEvents<StorageClass>,
}

impl Caches {
    pub fn new(client: &kube::Client) -> Self {
        let (claims, claim_events) = cache(client);
        let (volumes, volume_events) = cache(client);
        let (classes, class_events) = cache(client);
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
    let mut tasks = tokio::task::JoinSet::new();
    tasks.spawn({
        let queue = queue.clone();
        let seen: LastSeen<ClaimKey, ClaimFingerprint> = LastSeen::new();
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
        let seen: LastSeen<String, VolumeFingerprint> = LastSeen::new();
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
    tasks.spawn({
        // A claim decided before its class reached the cache was refused as "expansion not
        // allowed"; a class appearing or changing is news for exactly the claims of that class.
        let queue = queue.clone();
        let claims = claims.clone();
        class_events.for_each(move |event| {
            match event {
                Ok(watcher::Event::Apply(class) | watcher::Event::InitApply(class)) => {
                    for key in claims_of_class(&claims, &class.name_any()) {
                        queue.add(key);
                    }
                }
                Ok(_) => {}
                Err(error) => tracing::warn!(%error, "watching StorageClasses"),
            }
            futures::future::ready(())
        })
    });

    // Decisions need all three caches: a missing class would read as "expansion forbidden".
    let synced = async {
        let _ = tokio::join!(
            claims.wait_until_ready(),
            volumes.wait_until_ready(),
            classes.wait_until_ready()
        );
    };
    if !until_synced(synced, &stop).await {
        tasks.abort_all();
        return;
    }
    tracing::info!("caches synced; resizing");

    tasks.spawn({
        let queue = queue.clone();
        resync(settings.resync, move || {
            for pvc in claims.state() {
                queue.add(claim_key(&pvc));
            }
        })
    });
    let mut workers = tokio::task::JoinSet::new();
    spawn_workers(&mut workers, &queue, settings.workers, move |key| {
        let ctx = Arc::clone(&ctx);
        async move { reconcile(&ctx, &key).await }
    });
    stop.cancelled().await;
    // Workers finish the claim in hand (the runtime bounds how long); watchers just stop.
    queue.shut_down();
    tasks.abort_all();
    while workers.join_next().await.is_some() {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::PersistentVolumeClaimSpec;
    use kube::api::ObjectMeta;
    use kube::runtime::reflector;

    fn claim(namespace: &str, name: &str, class: Option<&str>) -> PersistentVolumeClaim {
        PersistentVolumeClaim {
            metadata: ObjectMeta {
                namespace: Some(namespace.into()),
                name: Some(name.into()),
                ..ObjectMeta::default()
            },
            spec: Some(PersistentVolumeClaimSpec {
                storage_class_name: class.map(str::to_owned),
                ..PersistentVolumeClaimSpec::default()
            }),
            status: None,
        }
    }

    #[test]
    fn a_class_event_queues_exactly_the_claims_of_that_class() {
        let (store, mut writer) = reflector::store::<PersistentVolumeClaim>();
        for pvc in [
            claim("a", "one", Some("fast")),
            claim("b", "two", Some("fast")),
            claim("a", "three", Some("slow")),
            claim("a", "four", None),
        ] {
            writer.apply_watcher_event(&watcher::Event::Apply(pvc));
        }
        let mut keys: Vec<(String, String)> = claims_of_class(&store, "fast")
            .into_iter()
            .map(|k| (k.namespace, k.name))
            .collect();
        keys.sort();
        assert_eq!(
            keys,
            vec![("a".into(), "one".into()), ("b".into(), "two".into())]
        );
        assert!(claims_of_class(&store, "missing").is_empty());
    }
}
