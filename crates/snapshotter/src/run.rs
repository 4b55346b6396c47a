//! Wiring: the watches, queues and workers of both halves, run while the process holds the
//! csi-snapshotter Lease (`external-snapshotter-leader-<driver>`, via the sidecar runtime);
//! the controller half additionally under its own Lease ([`crate::controller_lease`]).

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim};
use kube::Client;
use parking_lot::Mutex;
use sidecar::{Backoff, CsiConnection, WorkQueue};
use snapshot_api::{VolumeSnapshot, VolumeSnapshotClass, VolumeSnapshotContent};
use tokio_util::sync::CancellationToken;

use crate::args::SnapshotterArgs;
use crate::controller_half::{ControllerHalf, ControllerKey, ControllerStores, fan_out};
use crate::controller_lease;
use crate::csi_half::{CsiHalf, CsiHalfParts};
use crate::metrics::SnapshotMetrics;
use crate::notify::Notifier;
use crate::ready_poll::PollSchedule;
use crate::wakeup;
use crate::watch::{self, wait_ready};

/// Everything [`run`] needs from the process.
#[derive(Clone)]
pub struct RunParts {
    pub args: SnapshotterArgs,
    pub client: Client,
    pub csi: CsiConnection,
    pub notify: Notifier,
    pub metrics: SnapshotMetrics,
    pub backoff: Backoff,
    /// This replica's Lease holder identity.
    pub identity: String,
    /// The leader's consumer of the controller's background-work events.
    pub wakeups: sidecar::Wakeups,
    /// Records the wake-ups' Kubernetes Events.
    pub recorder: sidecar::EventRecorder,
}

/// Where content changes are passed to the controller half while it runs.
pub(crate) type ControllerInbox = Arc<Mutex<Option<WorkQueue<ControllerKey>>>>;

/// Runs both halves until `stop`.
pub async fn run(parts: RunParts, stop: CancellationToken) {
    let workers = parts.args.sidecar.worker_threads;
    let resync = parts.args.resync_period;
    let driver = parts.csi.driver_name().to_owned();
    let inbox: ControllerInbox = Arc::default();

    let csi_queue: WorkQueue<String> = WorkQueue::new(parts.backoff);
    let (contents, contents_watch) =
        watch::watched::<VolumeSnapshotContent, _>(&parts.client, stop.clone(), {
            let csi_queue = csi_queue.clone();
            let inbox = inbox.clone();
            let driver = driver.clone();
            move |content: &VolumeSnapshotContent| {
                let name = content.metadata.name.clone().unwrap_or_default();
                if content.spec.driver == driver {
                    csi_queue.add(name.clone());
                }
                if let Some(queue) = inbox.lock().as_ref() {
                    // The snapshot too: it mirrors this content, and must notice when it is
                    // gone (a deleted content has no sync of its own left to pass it on).
                    let reference = &content.spec.volume_snapshot_ref;
                    if let (Some(namespace), Some(snapshot)) =
                        (&reference.namespace, &reference.name)
                    {
                        queue.add(ControllerKey::Snapshot {
                            namespace: namespace.clone(),
                            name: snapshot.clone(),
                        });
                    }
                    queue.add(ControllerKey::Content(name));
                }
            }
        });
    let (classes, classes_watch) =
        watch::watched::<VolumeSnapshotClass, _>(&parts.client, stop.clone(), {
            // A class that appears or changes may unblock what waited for it (a content
            // whose class was missing, a snapshot without a default class).
            let contents = contents.clone();
            let csi_queue = csi_queue.clone();
            let inbox = inbox.clone();
            let driver = driver.clone();
            move |class: &VolumeSnapshotClass| {
                let name = class.metadata.name.clone().unwrap_or_default();
                for content in contents.state() {
                    if content.spec.driver == driver
                        && !content.is_ready()
                        && content.spec.volume_snapshot_class_name.as_deref() == Some(name.as_str())
                    {
                        csi_queue.add(content.metadata.name.clone().unwrap_or_default());
                    }
                }
                if let Some(queue) = inbox.lock().as_ref() {
                    queue.add(ControllerKey::Class(name));
                }
            }
        });
    tokio::spawn(contents_watch);
    tokio::spawn(classes_watch);
    if !(wait_ready(&contents, &stop).await && wait_ready(&classes, &stop).await) {
        return;
    }
    tracing::info!(driver = %driver, "snapshotter started");

    let csi_half = CsiHalf::new(CsiHalfParts {
        client: parts.client.clone(),
        csi: parts.csi.clone(),
        contents: contents.clone(),
        classes: classes.clone(),
        naming: parts.args.naming(),
        poll: PollSchedule {
            fast: parts.args.ready_poll(),
            ceiling: parts.args.sidecar.retry_interval_max,
        },
        notify: parts.notify.clone(),
        metrics: parts.metrics.clone(),
        queue: csi_queue.clone(),
    });
    let csi_workers = run_workers(csi_queue.clone(), workers, stop.clone(), move |name| {
        let half = csi_half.clone();
        async move { half.sync(name).await }
    });
    // A content whose snapshot's background preparation ended is synced again at once.
    let wakeups = {
        let (contents, queue, driver) = (contents.clone(), csi_queue.clone(), driver.clone());
        let (wakeups, recorder, stop) =
            (parts.wakeups.clone(), parts.recorder.clone(), stop.clone());
        async move {
            wakeups
                .run(stop, &driver, |event| {
                    let acted = wakeup::act(&event, &driver, &contents.state(), &queue, &recorder);
                    std::future::ready(acted)
                })
                .await;
        }
    };
    let csi_resync = resync_loop(resync, stop.clone(), {
        let contents = contents.clone();
        let driver = driver.clone();
        move || {
            for content in contents.state() {
                if content.spec.driver == driver {
                    csi_queue.add(content.metadata.name.clone().unwrap_or_default());
                }
            }
        }
    });
    let csi = async {
        tokio::join!(csi_workers, csi_resync, wakeups);
    };
    let controller = async {
        if parts.args.enable_snapshot_controller {
            let shared = SharedStores { contents, classes };
            controller_lease::run_controller(&parts, shared, inbox.clone(), stop.clone()).await
        } else {
            stop.cancelled().await;
            Ok(())
        }
    };
    tokio::pin!(csi, controller);
    tokio::select! {
        () = &mut csi => {
            if let Err(error) = controller.await {
                tracing::error!(%error, "the snapshot controller failed while stopping");
            }
        }
        result = &mut controller => match result {
            Ok(()) => csi.await,
            // Returning drops the CSI half's workers (aborted); the runtime then exits the
            // process, so the pod restarts as a standby of both Leases.
            Err(error) => tracing::error!(%error, "the snapshot controller stopped; stopping the snapshotter"),
        },
    }
}

/// Stores the two halves share.
#[derive(Clone)]
pub(crate) struct SharedStores {
    contents: kube::runtime::reflector::Store<VolumeSnapshotContent>,
    classes: kube::runtime::reflector::Store<VolumeSnapshotClass>,
}

/// Watches, queue and workers of the controller half, until `stop`.
pub(crate) async fn run_controller_half(
    parts: &RunParts,
    shared: SharedStores,
    inbox: ControllerInbox,
    stop: CancellationToken,
) {
    let client = parts.client.clone();
    let queue: WorkQueue<ControllerKey> = WorkQueue::new(parts.backoff);
    let (snapshots, snapshots_watch) =
        watch::watched::<VolumeSnapshot, _>(&client, stop.clone(), {
            let queue = queue.clone();
            move |snapshot: &VolumeSnapshot| {
                for key in fan_out::for_snapshot(snapshot) {
                    queue.add(key);
                }
            }
        });
    let (claims, claims_watch) =
        watch::watched::<PersistentVolumeClaim, _>(&client, stop.clone(), {
            let queue = queue.clone();
            let snapshots = snapshots.clone();
            move |claim: &PersistentVolumeClaim| {
                for key in fan_out::for_claim(claim, &snapshots) {
                    queue.add(key);
                }
            }
        });
    let (volumes, volumes_watch) =
        watch::watched::<PersistentVolume, _>(&client, stop.clone(), |_: &PersistentVolume| {});
    tokio::spawn(snapshots_watch);
    tokio::spawn(claims_watch);
    tokio::spawn(volumes_watch);
    if !(wait_ready(&snapshots, &stop).await
        && wait_ready(&claims, &stop).await
        && wait_ready(&volumes, &stop).await)
    {
        return;
    }
    *inbox.lock() = Some(queue.clone());
    for content in shared.contents.state() {
        queue.add(ControllerKey::Content(
            content.metadata.name.clone().unwrap_or_default(),
        ));
    }
    tracing::info!("snapshot controller started");

    let stores = ControllerStores {
        snapshots: snapshots.clone(),
        contents: shared.contents.clone(),
        classes: shared.classes,
        claims: claims.clone(),
        volumes,
    };
    let half = ControllerHalf::new(
        client,
        stores,
        queue.clone(),
        parts.notify.clone(),
        parts.metrics.clone(),
    );
    let run_workers = run_workers(
        queue.clone(),
        parts.args.sidecar.worker_threads,
        stop.clone(),
        move |key| {
            let half = half.clone();
            async move { half.sync(key).await }
        },
    );
    let resync = resync_loop(parts.args.resync_period, stop.clone(), {
        let queue = queue.clone();
        let contents = shared.contents;
        move || {
            for snapshot in snapshots.state() {
                fan_out::for_snapshot(&snapshot)
                    .into_iter()
                    .for_each(|k| queue.add(k));
            }
            for content in contents.state() {
                queue.add(ControllerKey::Content(
                    content.metadata.name.clone().unwrap_or_default(),
                ));
            }
            for claim in claims.state() {
                queue.add(ControllerKey::Claim {
                    namespace: claim.metadata.namespace.clone().unwrap_or_default(),
                    name: claim.metadata.name.clone().unwrap_or_default(),
                });
            }
        }
    });
    tokio::join!(run_workers, resync);
    *inbox.lock() = None;
    tracing::info!("snapshot controller stopped");
}

/// `sidecar::workers::resync` until `stop`.
async fn resync_loop(period: Duration, stop: CancellationToken, enqueue_all: impl Fn()) {
    tokio::select! {
        () = stop.cancelled() => {}
        () = sidecar::workers::resync(period, enqueue_all) => {}
    }
}

/// `workers` `sidecar::workers` over `queue` until `stop`; then the queue is shut down and
/// in-flight passes finish.
async fn run_workers<K, F, Fut>(
    queue: WorkQueue<K>,
    workers: usize,
    stop: CancellationToken,
    reconcile: F,
) where
    K: Clone + Eq + std::hash::Hash + std::fmt::Debug + Send + Sync + 'static,
    F: Fn(K) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = sidecar::workers::Outcome> + Send + 'static,
{
    let mut tasks = tokio::task::JoinSet::new();
    sidecar::workers::spawn_workers(&mut tasks, &queue, workers, reconcile);
    stop.cancelled().await;
    queue.shut_down();
    while tasks.join_next().await.is_some() {}
}
