//! The snapshotter's watch loops: both halves ([`sidecar::WatchQueue`]s), run while the process
//! holds the csi-snapshotter Lease (`external-snapshotter-leader-<driver>`, via the sidecar
//! runtime); the binding half additionally under its own Lease ([`crate::binding_lease`]).

use std::sync::Arc;

use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim};
use parking_lot::Mutex;
use sidecar::{Handles, LoopSettings, WatchQueue, WorkQueue};
use snapshot_api::{VolumeSnapshot, VolumeSnapshotClass, VolumeSnapshotContent};
use tokio_util::sync::CancellationToken;

use crate::announce::Announcer;
use crate::args::SnapshotterArgs;
use crate::binding_half::{BindingHalf, BindingKey, BindingStores, fan_out};
use crate::binding_lease;
use crate::csi_half::{CsiHalf, CsiHalfParts};
use crate::metrics::SnapshotMetrics;
use crate::ready_poll::PollSchedule;
use crate::wakeup;

/// Everything [`run`] needs from the process.
#[derive(Clone)]
pub struct RunParts {
    pub args: SnapshotterArgs,
    /// The runtime's client, driver connection and event outlets.
    pub handles: Handles,
    /// `--worker-threads`, `--resync-period` and the retry policy.
    pub settings: LoopSettings,
    pub metrics: SnapshotMetrics,
    /// This replica's Lease holder identity.
    pub identity: String,
    /// The leader's consumer of the controller's background-work events.
    pub wakeups: sidecar::Wakeups,
}

impl RunParts {
    fn announcer(&self) -> Announcer {
        Announcer::new(
            self.handles.recorder.clone(),
            self.handles.publisher.clone(),
        )
    }
}

/// Where content changes are passed to the binding half while it runs.
type BindingInbox = Arc<Mutex<Option<WorkQueue<BindingKey>>>>;

/// Runs both halves until `stop`.
pub async fn run(parts: RunParts, stop: CancellationToken) {
    let client = parts.handles.client.clone();
    let driver = parts.handles.csi.driver_name().to_owned();
    let inbox: BindingInbox = Arc::default();

    let mut watches: WatchQueue<String> = WatchQueue::new(parts.settings.backoff);
    let contents = watches.cache::<VolumeSnapshotContent>(&client, {
        let inbox = inbox.clone();
        let driver = driver.clone();
        move |change, csi_queue| {
            let content = change.object();
            let name = content.metadata.name.clone().unwrap_or_default();
            if content.spec.driver == driver {
                csi_queue.add(name.clone());
            }
            if let Some(queue) = inbox.lock().as_ref() {
                // The snapshot too: it mirrors this content, and must notice when it is
                // gone (a deleted content has no sync of its own left to pass it on).
                let reference = &content.spec.volume_snapshot_ref;
                if let (Some(namespace), Some(snapshot)) = (&reference.namespace, &reference.name) {
                    queue.add(BindingKey::Snapshot {
                        namespace: namespace.clone(),
                        name: snapshot.clone(),
                    });
                }
                queue.add(BindingKey::Content(name));
            }
        }
    });
    let classes = watches.cache::<VolumeSnapshotClass>(&client, {
        // A class that appears or changes may unblock what waited for it (a content
        // whose class was missing, a snapshot without a default class).
        let contents = contents.clone();
        let inbox = inbox.clone();
        let driver = driver.clone();
        move |change, csi_queue| {
            let name = change.object().metadata.name.clone().unwrap_or_default();
            for content in contents.state() {
                if content.spec.driver == driver
                    && !content.is_ready()
                    && content.spec.volume_snapshot_class_name.as_deref() == Some(name.as_str())
                {
                    csi_queue.add(content.metadata.name.clone().unwrap_or_default());
                }
            }
            if let Some(queue) = inbox.lock().as_ref() {
                queue.add(BindingKey::Class(name));
            }
        }
    });
    if !watches.until_synced(&stop).await {
        return;
    }
    tracing::info!(driver = %driver, "snapshotter started");

    let csi_queue = watches.queue().clone();
    let csi_half = CsiHalf::new(CsiHalfParts {
        client: client.clone(),
        csi: parts.handles.csi.clone(),
        contents: contents.clone(),
        classes: classes.clone(),
        naming: parts.args.naming(),
        poll: PollSchedule {
            fast: parts.args.ready_poll(),
            ceiling: parts.args.sidecar.retry_interval_max,
        },
        notify: parts.announcer(),
        metrics: parts.metrics.clone(),
        queue: csi_queue.clone(),
    });
    // A content whose snapshot's background preparation ended is synced again at once.
    let wakeups = {
        let (contents, driver) = (contents.clone(), driver.clone());
        let (wakeups, recorder, stop) = (
            parts.wakeups.clone(),
            parts.handles.recorder.clone(),
            stop.clone(),
        );
        async move {
            wakeups
                .run(stop, &driver, |event| {
                    let acted =
                        wakeup::act(&event, &driver, &contents.state(), &csi_queue, &recorder);
                    std::future::ready(acted)
                })
                .await;
        }
    };
    let enqueue_all = {
        let contents = contents.clone();
        let driver = driver.clone();
        move |csi_queue: &WorkQueue<String>| {
            for content in contents.state() {
                if content.spec.driver == driver {
                    csi_queue.add(content.metadata.name.clone().unwrap_or_default());
                }
            }
        }
    };
    let csi_loop = watches.run(&parts.settings, &stop, enqueue_all, move |name| {
        let half = csi_half.clone();
        async move { half.sync(name).await }
    });
    let csi = async {
        tokio::join!(csi_loop, wakeups);
    };
    let binding = async {
        if parts.args.enable_snapshot_controller {
            let shared = SharedStores { contents, classes };
            let (half_parts, inbox) = (parts.clone(), inbox.clone());
            let binding_half = move |leading| async move {
                run_binding_half(&half_parts, shared, inbox, leading).await;
            };
            binding_lease::run(
                &parts.args.sidecar,
                &parts.identity,
                binding_half,
                stop.clone(),
            )
            .await
        } else {
            stop.cancelled().await;
            Ok(())
        }
    };
    tokio::pin!(csi, binding);
    tokio::select! {
        () = &mut csi => {
            if let Err(error) = binding.await {
                tracing::error!(%error, "the binding half failed while stopping");
            }
        }
        result = &mut binding => match result {
            Ok(()) => csi.await,
            // Returning drops the CSI half's workers (aborted); the runtime then exits the
            // process, so the pod restarts as a standby of both Leases.
            Err(error) => tracing::error!(%error, "the binding half stopped; stopping the snapshotter"),
        },
    }
}

/// Stores the two halves share.
#[derive(Clone)]
struct SharedStores {
    contents: kube::runtime::reflector::Store<VolumeSnapshotContent>,
    classes: kube::runtime::reflector::Store<VolumeSnapshotClass>,
}

/// The binding half's watch loop, until `stop`.
async fn run_binding_half(
    parts: &RunParts,
    shared: SharedStores,
    inbox: BindingInbox,
    stop: CancellationToken,
) {
    let client = parts.handles.client.clone();
    let mut watches: WatchQueue<BindingKey> = WatchQueue::new(parts.settings.backoff);
    let snapshots = watches.cache::<VolumeSnapshot>(&client, |change, queue| {
        for key in fan_out::for_snapshot(change.object()) {
            queue.add(key);
        }
    });
    let claims = watches.cache::<PersistentVolumeClaim>(&client, {
        let snapshots = snapshots.clone();
        move |change, queue| {
            for key in fan_out::for_claim(change.object(), &snapshots) {
                queue.add(key);
            }
        }
    });
    let volumes = watches.cache::<PersistentVolume>(&client, |_, _| {});
    if !watches.until_synced(&stop).await {
        return;
    }
    let queue = watches.queue().clone();
    *inbox.lock() = Some(queue.clone());
    for content in shared.contents.state() {
        queue.add(BindingKey::Content(
            content.metadata.name.clone().unwrap_or_default(),
        ));
    }
    tracing::info!("binding half started");

    let stores = BindingStores {
        snapshots: snapshots.clone(),
        contents: shared.contents.clone(),
        classes: shared.classes,
        claims: claims.clone(),
        volumes,
    };
    let half = BindingHalf::new(
        client,
        stores,
        queue,
        parts.announcer(),
        parts.metrics.clone(),
    );
    let contents = shared.contents;
    let enqueue_all = move |queue: &WorkQueue<BindingKey>| {
        for snapshot in snapshots.state() {
            fan_out::for_snapshot(&snapshot)
                .into_iter()
                .for_each(|k| queue.add(k));
        }
        for content in contents.state() {
            queue.add(BindingKey::Content(
                content.metadata.name.clone().unwrap_or_default(),
            ));
        }
        for claim in claims.state() {
            queue.add(BindingKey::Claim {
                namespace: claim.metadata.namespace.clone().unwrap_or_default(),
                name: claim.metadata.name.clone().unwrap_or_default(),
            });
        }
    };
    watches
        .run(&parts.settings, &stop, enqueue_all, move |key| {
            let half = half.clone();
            async move { half.sync(key).await }
        })
        .await;
    *inbox.lock() = None;
    tracing::info!("binding half stopped");
}
