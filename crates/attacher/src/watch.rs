//! The attacher's control loop: reflectors over VolumeAttachments, PVs and CSINodes, a work
//! queue of [`Key`]s, and workers running [`reconcile`].
//!
//! Only changes that matter queue work: a VA's spec, deletion, finalizers and annotations
//! (not its status — that is ours, and re-queueing on our own status writes would defeat
//! the backoff); a PV's deletion and finalizers (queues the PV and the VAs naming it); a
//! CSINode's node id for our driver (queues the VAs on that node). A deleted VA queues its
//! PV, whose finalizer may now go. A periodic resync queues everything.

use std::sync::Arc;

use futures::StreamExt;
use k8s_openapi::api::core::v1::PersistentVolume;
use k8s_openapi::api::storage::v1::{CSINode, VolumeAttachment};
use kube::ResourceExt;
use kube::runtime::reflector::Store;
use kube::runtime::watcher;
use sidecar::watch_cache::{WatchEvents, cache};
use sidecar::workers::{resync, spawn_workers, until_synced};
use sidecar::{LastSeen, LoopSettings, WorkQueue};
use tokio_util::sync::CancellationToken;

use crate::observed::NodeEntry;
use crate::reconcile::{Context, Key, reconcile};

/// The caches of the three kinds and the watch events that fill them.
pub struct Caches {
    pub attachments: Store<VolumeAttachment>,
    pub volumes: Store<PersistentVolume>,
    pub csinodes: Store<CSINode>,
    attachment_events: WatchEvents<VolumeAttachment>,
    volume_events: WatchEvents<PersistentVolume>,
    csinode_events: WatchEvents<CSINode>,
}

impl Caches {
    pub fn new(client: &kube::Client) -> Self {
        let (attachments, attachment_events) = cache(client);
        let (volumes, volume_events) = cache(client);
        let (csinodes, csinode_events) = cache(client);
        Self {
            attachments,
            volumes,
            csinodes,
            attachment_events,
            volume_events,
            csinode_events,
        }
    }
}

fn va_fingerprint(va: &VolumeAttachment) -> String {
    serde_json::json!([
        va.spec,
        va.metadata.deletion_timestamp,
        va.metadata.finalizers,
        va.metadata.annotations
    ])
    .to_string()
}

fn pv_fingerprint(pv: &PersistentVolume) -> String {
    serde_json::json!([
        pv.metadata.deletion_timestamp,
        pv.metadata.finalizers,
        pv.spec.as_ref().and_then(|s| s.csi.as_ref())
    ])
    .to_string()
}

pub async fn run(
    caches: Caches,
    context_for: impl FnOnce(&Caches) -> Context,
    settings: LoopSettings,
    stop: CancellationToken,
) {
    let ctx = Arc::new(context_for(&caches));
    let Caches {
        attachments,
        volumes,
        csinodes,
        attachment_events,
        volume_events,
        csinode_events,
    } = caches;
    let queue: WorkQueue<Key> = WorkQueue::new(settings.backoff);
    let mut watchers = tokio::task::JoinSet::new();

    watchers.spawn({
        let queue = queue.clone();
        let seen: LastSeen<String, String> = LastSeen::new();
        let driver = ctx.driver.clone();
        attachment_events.for_each(move |event| {
            match event {
                Ok(watcher::Event::Apply(va) | watcher::Event::InitApply(va)) => {
                    if va.spec.attacher == driver
                        && seen.changed(va.name_any(), va_fingerprint(&va))
                    {
                        queue.add(Key::Attachment(va.name_any()));
                    }
                }
                Ok(watcher::Event::Delete(va)) => {
                    seen.forget(&va.name_any());
                    if let Some(pv) = va.spec.source.persistent_volume_name {
                        queue.add(Key::Volume(pv));
                    }
                }
                Ok(_) => {}
                Err(error) => tracing::warn!(%error, "watching VolumeAttachments"),
            }
            futures::future::ready(())
        })
    });
    watchers.spawn({
        let queue = queue.clone();
        let seen: LastSeen<String, String> = LastSeen::new();
        let attachments = attachments.clone();
        volume_events.for_each(move |event| {
            match event {
                Ok(watcher::Event::Apply(pv) | watcher::Event::InitApply(pv)) => {
                    let name = pv.name_any();
                    if seen.changed(name.clone(), pv_fingerprint(&pv)) {
                        queue.add(Key::Volume(name.clone()));
                        for va in attachments.state() {
                            if va.spec.source.persistent_volume_name.as_deref()
                                == Some(name.as_str())
                            {
                                queue.add(Key::Attachment(va.name_any()));
                            }
                        }
                    }
                }
                Ok(watcher::Event::Delete(pv)) => seen.forget(&pv.name_any()),
                Ok(_) => {}
                Err(error) => tracing::warn!(%error, "watching PersistentVolumes"),
            }
            futures::future::ready(())
        })
    });
    watchers.spawn({
        let queue = queue.clone();
        let seen: LastSeen<String, NodeEntry> = LastSeen::new();
        let attachments = attachments.clone();
        let driver = ctx.driver.clone();
        csinode_events.for_each(move |event| {
            let changed_node = match event {
                Ok(watcher::Event::Apply(node) | watcher::Event::InitApply(node)) => {
                    let name = node.name_any();
                    seen.changed(name.clone(), NodeEntry::of(Some(&node), &driver))
                        .then_some(name)
                }
                Ok(watcher::Event::Delete(node)) => {
                    seen.forget(&node.name_any());
                    Some(node.name_any())
                }
                Ok(_) => None,
                Err(error) => {
                    tracing::warn!(%error, "watching CSINodes");
                    None
                }
            };
            if let Some(node) = changed_node {
                for va in attachments.state() {
                    if va.spec.node_name == node && va.spec.attacher == driver {
                        queue.add(Key::Attachment(va.name_any()));
                    }
                }
            }
            futures::future::ready(())
        })
    });

    let synced = async {
        let _ = tokio::join!(
            attachments.wait_until_ready(),
            volumes.wait_until_ready(),
            csinodes.wait_until_ready()
        );
    };
    if !until_synced(synced, &stop).await {
        watchers.abort_all();
        return;
    }
    tracing::info!("caches synced; attaching");

    watchers.spawn({
        let queue = queue.clone();
        let driver = ctx.driver.clone();
        resync(settings.resync, move || {
            for va in attachments.state() {
                if va.spec.attacher == driver {
                    queue.add(Key::Attachment(va.name_any()));
                }
            }
            for pv in volumes.state() {
                queue.add(Key::Volume(pv.name_any()));
            }
        })
    });
    let mut workers = tokio::task::JoinSet::new();
    spawn_workers(&mut workers, &queue, settings.workers, move |key| {
        let ctx = Arc::clone(&ctx);
        async move { reconcile(&ctx, &key).await }
    });
    stop.cancelled().await;
    queue.shut_down();
    watchers.abort_all();
    while workers.join_next().await.is_some() {}
}
