//! The provisioner's watch loops: caches of claims, PVs, StorageClasses and — for drivers that
//! publish — VolumeAttachments, whose changes queue keys on two [`sidecar::WatchQueue`]s:
//! claims (run by [`reconcile::claim`]) and PVs (run by [`reconcile::volume`]), each with
//! `--worker-threads` workers. Started when this replica becomes leader, stopped when it must
//! stop leading; the leader's wake-up consumer ([`wakeup`]) runs beside them.
//!
//! A claim is queued when what the decision reads of it changes
//! ([`claim_decision::fingerprint`]), not on our own in-flight record writes; and when a PV
//! naming it changes (a claim waiting on its PV looks again). A PV is queued on every change,
//! and when a VolumeAttachment naming it changes (a detach may unblock a waiting delete). A
//! periodic resync queues every claim and PV.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use csi::v1::controller_service_capability::rpc::Type as ControllerCap;
use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim};
use k8s_openapi::api::storage::v1::{StorageClass, VolumeAttachment};
use sidecar::{Change, Handles, LastSeen, LoopSettings, WatchQueue, WorkQueue};
use tokio_util::sync::CancellationToken;

use crate::claim_decision;
use crate::context::{ClaimKey, Context};
use crate::metrics::ProvisionerMetrics;
use crate::plan::PlanSettings;
use crate::reconcile;
use crate::source::data_source::SourceRules;
use crate::wakeup;

/// Everything the watch loops need from the sidecar runtime and the flags.
pub struct Parts {
    /// The runtime's client, driver connection and event outlets.
    pub handles: Handles,
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

/// Runs until `stop` is cancelled.
pub async fn run(parts: Parts, stop: CancellationToken) {
    let Parts {
        handles,
        wakeups,
        metrics,
        settings: plan_settings,
        sources,
        loop_settings: settings,
    } = parts;
    let driver = handles.csi.driver_name().to_owned();
    let client = handles.client.clone();
    let mut claim_watch: WatchQueue<ClaimKey> = WatchQueue::new(settings.backoff);
    let mut volume_watch: WatchQueue<String> = WatchQueue::new(settings.backoff);
    let claim_queue = claim_watch.queue().clone();
    let volume_queue = volume_watch.queue().clone();

    let seen: LastSeen<ClaimKey, claim_decision::Fingerprint> = LastSeen::new();
    let claims = claim_watch.cache::<PersistentVolumeClaim>(&client, move |change, queue| {
        let Some(key) = claim_key(change.object()) else {
            return;
        };
        if let Some(Change::Applied(_)) =
            change.news(&seen, key.clone(), claim_decision::fingerprint)
        {
            queue.add(key);
        }
    });
    let classes = claim_watch.cache::<StorageClass>(&client, |_, _| {});
    let volumes = volume_watch.cache::<PersistentVolume>(&client, {
        let claims = claim_queue.clone();
        move |change, volumes| {
            let pv = change.object();
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
    let attachments = handles
        .csi
        .driver()
        .has_controller(ControllerCap::PublishUnpublishVolume)
        .then(|| {
            volume_watch.cache::<VolumeAttachment>(&client, |change, volumes| {
                // A detach may unblock a waiting delete.
                if let Some(pv) = &change.object().spec.source.persistent_volume_name {
                    volumes.add(pv.clone());
                }
            })
        });

    if !claim_watch.until_synced(&stop).await || !volume_watch.until_synced(&stop).await {
        return;
    }
    tracing::info!("caches synced; starting workers");

    let ctx = Arc::new(Context {
        client,
        provisioner_identity: provisioner_identity(&driver),
        driver,
        csi: handles.csi,
        settings: plan_settings,
        sources,
        recorder: handles.recorder,
        publisher: handles.publisher,
        metrics,
        claims: claims.clone(),
        volumes: volumes.clone(),
        classes,
        attachments,
        claim_queue,
        volume_queue,
    });

    let all_claims = move |queue: &WorkQueue<ClaimKey>| {
        for claim in claims.state() {
            if let Some(key) = claim_key(&claim) {
                queue.add(key);
            }
        }
    };
    let claim_loop = claim_watch.run(&settings, &stop, all_claims, {
        let ctx = Arc::clone(&ctx);
        move |key| {
            let ctx = Arc::clone(&ctx);
            async move { reconcile::claim::reconcile(&ctx, &key).await }
        }
    });
    let all_volumes = move |queue: &WorkQueue<String>| {
        for pv in volumes.state() {
            if let Some(name) = &pv.metadata.name {
                queue.add(name.clone());
            }
        }
    };
    let volume_loop = volume_watch.run(&settings, &stop, all_volumes, {
        let ctx = Arc::clone(&ctx);
        move |name| {
            let ctx = Arc::clone(&ctx);
            async move { reconcile::volume::reconcile(&ctx, &name).await }
        }
    });
    // Claims waiting on the controller's background work are woken by its events.
    let wakeups = async {
        let driver = ctx.driver.clone();
        wakeups
            .run(stop.clone(), &driver, |event| {
                wakeup::act(Arc::clone(&ctx), event)
            })
            .await;
    };
    tokio::join!(claim_loop, volume_loop, wakeups);
    tracing::info!("workers stopped");
}
