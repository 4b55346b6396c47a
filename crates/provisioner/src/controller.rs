//! The running provisioner: watches (claims, PVs, StorageClasses and — for drivers that
//! publish — VolumeAttachments) feed caches and two work queues; `--worker-threads` workers
//! per queue reconcile claims and PVs. Started when this replica becomes leader, stopped when
//! it must stop leading. A claim is queued when what the decision reads of it changes
//! ([`claim_decision::fingerprint`]), not on our own in-flight record writes.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use csi::v1::controller_service_capability::rpc::Type as ControllerCap;
use futures::StreamExt;
use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim};
use k8s_openapi::api::storage::v1::{StorageClass, VolumeAttachment};
use kube::runtime::reflector::Store;
use kube::runtime::watcher;
use kube::{Client, Resource};
use serde::de::DeserializeOwned;
use sidecar::watch_cache::cache;
use sidecar::workers::{resync, until_synced};
use sidecar::{CsiConnection, EventRecorder, LastSeen, LoopSettings, WorkQueue};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::claim_decision;
use crate::claim_worker;
use crate::context::{ClaimKey, Context};
use crate::data_source::SourceRules;
use crate::metrics::ProvisionerMetrics;
use crate::outcome;
use crate::plan::PlanSettings;
use crate::volume_worker;
use crate::wakeup;

/// Everything the controller needs from the sidecar runtime and the flags.
pub struct Parts {
    pub client: Client,
    pub csi: CsiConnection,
    pub recorder: EventRecorder,
    pub publisher: events::Publisher,
    /// The leader's consumer of the controller's background-work events.
    pub wakeups: sidecar::Wakeups,
    pub metrics: ProvisionerMetrics,
    pub settings: PlanSettings,
    /// `--prevent-volume-mode-conversion` and the `CrossNamespaceVolumeDataSource` gate.
    pub sources: SourceRules,
    /// Workers per queue, the per-object retry policy and the resync period.
    pub loop_settings: LoopSettings,
}

/// `<unix ms>-<0..9999>-<driver>`, upstream's `csiProvisionerIdentity` format.
pub fn provisioner_identity(driver: &str) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    format!(
        "{}-{}-{driver}",
        now.as_millis(),
        now.subsec_nanos() % 10_000
    )
}

fn claim_key(claim: &PersistentVolumeClaim) -> Option<ClaimKey> {
    Some((
        claim.metadata.namespace.clone()?,
        claim.metadata.name.clone()?,
    ))
}

/// Mirrors every `K` into a cache; every applied object is passed to `on_change` with
/// `false`, every deleted one with `true`.
fn mirror<K, F>(tasks: &mut JoinSet<()>, client: &Client, on_change: F) -> Store<K>
where
    K: Resource<DynamicType = ()>
        + Clone
        + DeserializeOwned
        + std::fmt::Debug
        + Send
        + Sync
        + 'static,
    F: Fn(&K, bool) + Send + 'static,
{
    let (reader, mut events) = cache(client);
    tasks.spawn(async move {
        while let Some(item) = events.next().await {
            match item {
                Ok(watcher::Event::Apply(object) | watcher::Event::InitApply(object)) => {
                    on_change(&object, false);
                }
                Ok(watcher::Event::Delete(object)) => on_change(&object, true),
                Ok(watcher::Event::Init | watcher::Event::InitDone) => {}
                Err(error) => tracing::warn!(%error, "watch failed; retrying"),
            }
        }
    });
    reader
}

/// Runs until `stop` is cancelled.
pub async fn run(parts: Parts, stop: CancellationToken) {
    let driver = parts.csi.driver_name().to_owned();
    let settings = parts.loop_settings;
    let wakeups = parts.wakeups;
    let claim_queue: WorkQueue<ClaimKey> = WorkQueue::new(settings.backoff);
    let volume_queue: WorkQueue<String> = WorkQueue::new(settings.backoff);
    let mut watches = JoinSet::new();
    let client = parts.client.clone();

    let claims = mirror(&mut watches, &client, {
        let queue = claim_queue.clone();
        let seen: LastSeen<ClaimKey, claim_decision::Fingerprint> = LastSeen::new();
        move |claim: &PersistentVolumeClaim, deleted| {
            let Some(key) = claim_key(claim) else {
                return;
            };
            if deleted {
                seen.forget(&key);
            } else if seen.changed(key.clone(), claim_decision::fingerprint(claim)) {
                queue.add(key);
            }
        }
    });
    let volumes = mirror(&mut watches, &client, {
        let volumes = volume_queue.clone();
        let claims = claim_queue.clone();
        move |pv: &PersistentVolume, _| {
            if let Some(name) = &pv.metadata.name {
                volumes.add(name.clone());
            }
            // A claim waiting on its PV (the in-flight record) looks again.
            if let Some(r) = pv.spec.as_ref().and_then(|s| s.claim_ref.as_ref())
                && let (Some(ns), Some(name)) = (&r.namespace, &r.name)
            {
                claims.add((ns.clone(), name.clone()));
            }
        }
    });
    let classes = mirror::<StorageClass, _>(&mut watches, &client, |_, _| {});
    let attachments = parts
        .csi
        .driver()
        .has_controller(ControllerCap::PublishUnpublishVolume)
        .then(|| {
            let volumes = volume_queue.clone();
            mirror(&mut watches, &client, move |va: &VolumeAttachment, _| {
                // A detach may unblock a waiting delete.
                if let Some(pv) = &va.spec.source.persistent_volume_name {
                    volumes.add(pv.clone());
                }
            })
        });

    let ready = async {
        let _ = claims.wait_until_ready().await;
        let _ = volumes.wait_until_ready().await;
        let _ = classes.wait_until_ready().await;
        if let Some(a) = &attachments {
            let _ = a.wait_until_ready().await;
        }
    };
    if !until_synced(ready, &stop).await {
        watches.abort_all();
        return;
    }
    tracing::info!("caches synced; starting workers");

    let ctx = Arc::new(Context {
        client,
        provisioner_identity: provisioner_identity(&driver),
        driver,
        csi: parts.csi,
        settings: parts.settings,
        sources: parts.sources,
        recorder: parts.recorder,
        publisher: parts.publisher,
        metrics: parts.metrics,
        claims,
        volumes,
        classes,
        attachments,
        claim_queue: claim_queue.clone(),
        volume_queue: volume_queue.clone(),
    });
    let mut workers = JoinSet::new();
    for _ in 0..settings.workers {
        workers.spawn(claim_loop(Arc::clone(&ctx)));
        workers.spawn(volume_loop(Arc::clone(&ctx)));
    }
    // Looks at every claim and PV again now and then, as informer resyncs do.
    watches.spawn({
        let ctx = Arc::clone(&ctx);
        resync(settings.resync, move || {
            for claim in ctx.claims.state() {
                if let Some(key) = claim_key(&claim) {
                    ctx.claim_queue.add(key);
                }
            }
            for pv in ctx.volumes.state() {
                if let Some(name) = &pv.metadata.name {
                    ctx.volume_queue.add(name.clone());
                }
            }
        })
    });

    // Claims waiting on the controller's background work are woken by its events.
    watches.spawn({
        let ctx = Arc::clone(&ctx);
        let stop = stop.clone();
        async move {
            let driver = ctx.driver.clone();
            wakeups
                .run(stop, &driver, |event| wakeup::act(Arc::clone(&ctx), event))
                .await;
        }
    });

    stop.cancelled().await;
    tracing::info!("stopping workers");
    claim_queue.shut_down();
    volume_queue.shut_down();
    watches.abort_all();
    while workers.join_next().await.is_some() {}
}

async fn claim_loop(ctx: Arc<Context>) {
    {
        while let Some(key) = ctx.claim_queue.next().await {
            let span = tracing::info_span!("claim", claim = %format!("{}/{}", key.0, key.1));
            match claim_worker::reconcile(&ctx, &key).instrument(span).await {
                Ok(()) => ctx.claim_queue.forget(&key),
                Err((error, failure)) => {
                    let attempt = ctx.claim_queue.failures(&key) + 1;
                    if let Some(claim) = &failure.claim {
                        outcome::provision_failed(
                            &ctx,
                            claim,
                            &failure.class,
                            &failure.source,
                            &error,
                            attempt,
                        );
                    }
                    let delay = ctx.claim_queue.retry(key.clone(), error.progress());
                    tracing::warn!(claim = %format!("{}/{}", key.0, key.1), %error, ?delay, attempt,
                        "provisioning failed; will retry");
                }
            }
            ctx.claim_queue.done(&key);
        }
    }
}

async fn volume_loop(ctx: Arc<Context>) {
    {
        while let Some(name) = ctx.volume_queue.next().await {
            let span = tracing::info_span!("volume", pv = %name);
            match volume_worker::reconcile(&ctx, &name).instrument(span).await {
                Ok(()) => ctx.volume_queue.forget(&name),
                Err((error, pv)) => {
                    if let Some(pv) = &pv {
                        let class = pv
                            .spec
                            .as_ref()
                            .and_then(|s| s.storage_class_name.clone())
                            .unwrap_or_default();
                        outcome::delete_failed(&ctx, pv, &class, &error);
                    }
                    let delay = ctx.volume_queue.retry(name.clone(), error.progress());
                    tracing::warn!(pv = %name, %error, ?delay, "volume deletion failed; will retry");
                }
            }
            ctx.volume_queue.done(&name);
        }
    }
}
