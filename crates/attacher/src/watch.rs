//! The attacher's watch loop: caches of VolumeAttachments, PVs and CSINodes whose changes
//! queue [`Key`]s, and workers running [`reconcile`] on them (a [`sidecar::WatchQueue`]).
//!
//! Only changes that matter queue work: a VA's spec, deletion, finalizers and annotations
//! (not its status — that is ours, and re-queueing on our own status writes would defeat
//! the backoff); a PV's deletion and finalizers (queues the PV and the VAs naming it); a
//! CSINode's node id for our driver (queues the VAs on that node). A deleted VA queues its
//! PV, whose finalizer may now go. A periodic resync queues everything.

use std::sync::Arc;

use csi::v1::controller_service_capability::rpc::Type as ControllerCap;
use k8s_openapi::api::core::v1::PersistentVolume;
use k8s_openapi::api::storage::v1::{CSINode, VolumeAttachment};
use kube::ResourceExt;
use kube::runtime::reflector::Store;
use sidecar::watch_cache::{WatchEvents, cache};
use sidecar::{Change, Handles, LastSeen, LoopSettings, WatchQueue};
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

/// The pass's context: the runtime's `handles`, the driver's capabilities and the caches.
fn context(handles: Handles, default_fs_type: String, caches: &Caches) -> Context {
    let info = handles.csi.driver().clone();
    Context {
        finalizer: crate::keys::finalizer(&info.name),
        driver: info.name.clone(),
        trivial: !info.has_controller(ControllerCap::PublishUnpublishVolume),
        single_node_multi_writer: info.has_controller(ControllerCap::SingleNodeMultiWriter),
        publish_readonly: info.has_controller(ControllerCap::PublishReadonly),
        default_fs_type,
        client: handles.client,
        csi: handles.csi,
        recorder: handles.recorder,
        publisher: handles.publisher,
        attachments: caches.attachments.clone(),
        volumes: caches.volumes.clone(),
        csinodes: caches.csinodes.clone(),
    }
}

/// Runs until `stop` fires.
pub async fn run(
    handles: Handles,
    default_fs_type: String,
    settings: LoopSettings,
    stop: CancellationToken,
) {
    let caches = Caches::new(&handles.client);
    let ctx = Arc::new(context(handles, default_fs_type, &caches));
    let Caches {
        attachments,
        volumes,
        csinodes,
        attachment_events,
        volume_events,
        csinode_events,
    } = caches;
    let mut watch: WatchQueue<Key> = WatchQueue::new(settings.backoff);

    let (seen, driver) = (LastSeen::new(), ctx.driver.clone());
    watch.follow(attachment_events, move |change, queue| {
        if let Change::Applied(va) = change
            && va.spec.attacher != driver
        {
            return;
        }
        match change.news(&seen, change.object().name_any(), va_fingerprint) {
            Some(Change::Applied(va)) => queue.add(Key::Attachment(va.name_any())),
            Some(Change::Deleted(va)) => {
                if let Some(pv) = &va.spec.source.persistent_volume_name {
                    queue.add(Key::Volume(pv.clone()));
                }
            }
            None => {}
        }
    });
    let (seen, vas) = (LastSeen::new(), attachments.clone());
    watch.follow(volume_events, move |change, queue| {
        let name = change.object().name_any();
        if let Some(Change::Applied(_)) = change.news(&seen, name.clone(), pv_fingerprint) {
            queue.add(Key::Volume(name.clone()));
            for va in vas.state() {
                if va.spec.source.persistent_volume_name.as_deref() == Some(name.as_str()) {
                    queue.add(Key::Attachment(va.name_any()));
                }
            }
        }
    });
    let (seen, vas, driver) = (LastSeen::new(), attachments.clone(), ctx.driver.clone());
    watch.follow(csinode_events, move |change, queue| {
        let node = change.object().name_any();
        let entry = |csinode: &CSINode| NodeEntry::of(Some(csinode), &driver);
        if change.news(&seen, node.clone(), entry).is_some() {
            for va in vas.state() {
                if va.spec.node_name == node && va.spec.attacher == driver {
                    queue.add(Key::Attachment(va.name_any()));
                }
            }
        }
    });

    let synced = async {
        let _ = tokio::join!(
            attachments.wait_until_ready(),
            volumes.wait_until_ready(),
            csinodes.wait_until_ready()
        );
    };
    if !watch.until_synced(synced, &stop).await {
        return;
    }
    tracing::info!("caches synced; attaching");

    let driver = ctx.driver.clone();
    let enqueue_all = move |queue: &sidecar::WorkQueue<Key>| {
        for va in attachments.state() {
            if va.spec.attacher == driver {
                queue.add(Key::Attachment(va.name_any()));
            }
        }
        for pv in volumes.state() {
            queue.add(Key::Volume(pv.name_any()));
        }
    };
    watch
        .run(&settings, &stop, enqueue_all, move |key| {
            let ctx = Arc::clone(&ctx);
            async move { reconcile(&ctx, &key).await }
        })
        .await;
}
