//! The resizer's watch loop: caches of claims, volumes and classes (no Pods — online expansion
//! needs none, and a cluster-wide Pod cache is upstream's memory problem) whose changes queue
//! claims, and workers running [`reconcile`] on them (a [`sidecar::WatchQueue`]).
//!
//! A claim is queued when something the decision reads from the *user* or the binder changes
//! (request, phase, volume name, deletion) or its volume changes, not on every update: our own
//! status writes must not re-queue the claim and undo the queue's backoff (upstream's rule
//! too). A periodic resync queues every claim so nothing waits forever.

use std::sync::Arc;

use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim};
use k8s_openapi::api::storage::v1::StorageClass;
use kube::ResourceExt;
use kube::runtime::reflector::Store;
use sidecar::{Change, Handles, LastSeen, LoopSettings, WatchQueue, WorkQueue};
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

/// Runs until `stop` fires.
pub async fn run(handles: Handles, settings: LoopSettings, stop: CancellationToken) {
    let (client, driver) = (handles.client.clone(), handles.csi.driver_name().to_owned());
    let mut watches: WatchQueue<ClaimKey> = WatchQueue::new(settings.backoff);
    let seen: LastSeen<ClaimKey, ClaimFingerprint> = LastSeen::new();
    let claims = watches.cache::<PersistentVolumeClaim>(&client, move |change, queue| {
        let key = claim_key(change.object());
        if let Some(Change::Applied(_)) = change.news(&seen, key.clone(), claim_fingerprint) {
            queue.add(key);
        }
    });
    let seen: LastSeen<String, VolumeFingerprint> = LastSeen::new();
    let ours = driver.clone();
    let volumes = watches.cache::<PersistentVolume>(&client, move |change, queue| match change {
        Change::Applied(pv) => {
            if let Some(key) = claim_of(pv, &ours)
                && seen.changed(pv.name_any(), volume_fingerprint(pv))
            {
                queue.add(key);
            }
        }
        Change::Deleted(pv) => seen.forget(&pv.name_any()),
    });
    // A claim decided before its class reached the cache was refused as "expansion not
    // allowed"; a class appearing or changing is news for exactly the claims of that class.
    let class_claims = claims.clone();
    let classes = watches.cache::<StorageClass>(&client, move |change, queue| {
        if let Change::Applied(class) = change {
            for key in claims_of_class(&class_claims, &class.name_any()) {
                queue.add(key);
            }
        }
    });

    // Decisions need all three caches: a missing class would read as "expansion forbidden".
    if !watches.until_synced(&stop).await {
        return;
    }
    tracing::info!("caches synced; resizing");

    let ctx = Arc::new(Context {
        driver,
        client: handles.client,
        csi: handles.csi,
        recorder: handles.recorder,
        publisher: handles.publisher,
        claims: claims.clone(),
        volumes,
        classes,
    });
    let enqueue_all = move |queue: &WorkQueue<ClaimKey>| {
        for pvc in claims.state() {
            queue.add(claim_key(&pvc));
        }
    };
    // Workers finish the claim in hand (the runtime bounds how long); watchers just stop.
    watches
        .run(&settings, &stop, enqueue_all, move |key| {
            let ctx = Arc::clone(&ctx);
            async move { reconcile(&ctx, &key).await }
        })
        .await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::PersistentVolumeClaimSpec;
    use kube::api::ObjectMeta;
    use kube::runtime::{reflector, watcher};

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
