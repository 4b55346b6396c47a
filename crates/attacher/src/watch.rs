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
use sidecar::{Change, Handles, LastSeen, LoopSettings, WatchQueue, WorkQueue};
use tokio_util::sync::CancellationToken;

use crate::observed::NodeEntry;
use crate::reconcile::{Context, Key, reconcile};

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
fn context(
    handles: Handles,
    default_fs_type: String,
    attachments: Store<VolumeAttachment>,
    volumes: Store<PersistentVolume>,
    csinodes: Store<CSINode>,
) -> Context {
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
        attachments,
        volumes,
        csinodes,
    }
}

/// Runs until `stop` fires.
pub async fn run(
    handles: Handles,
    default_fs_type: String,
    settings: LoopSettings,
    stop: CancellationToken,
) {
    let (client, driver) = (handles.client.clone(), handles.csi.driver_name().to_owned());
    let mut watches: WatchQueue<Key> = WatchQueue::new(settings.backoff);

    let (seen, ours) = (LastSeen::new(), driver.clone());
    let attachments = watches.cache::<VolumeAttachment>(&client, move |change, queue| {
        if let Change::Applied(va) = change
            && va.spec.attacher != ours
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
    let volumes = watches.cache::<PersistentVolume>(&client, move |change, queue| {
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
    let (seen, vas, ours) = (LastSeen::new(), attachments.clone(), driver.clone());
    let csinodes = watches.cache::<CSINode>(&client, move |change, queue| {
        let node = change.object().name_any();
        let entry = |csinode: &CSINode| NodeEntry::of(Some(csinode), &ours);
        if change.news(&seen, node.clone(), entry).is_some() {
            for va in vas.state() {
                if va.spec.node_name == node && va.spec.attacher == ours {
                    queue.add(Key::Attachment(va.name_any()));
                }
            }
        }
    });

    if !watches.until_synced(&stop).await {
        return;
    }
    tracing::info!("caches synced; attaching");

    let ctx = Arc::new(context(
        handles,
        default_fs_type,
        attachments.clone(),
        volumes.clone(),
        csinodes,
    ));
    let enqueue_all = move |queue: &WorkQueue<Key>| {
        for va in attachments.state() {
            if va.spec.attacher == driver {
                queue.add(Key::Attachment(va.name_any()));
            }
        }
        for pv in volumes.state() {
            queue.add(Key::Volume(pv.name_any()));
        }
    };
    watches
        .run(&settings, &stop, enqueue_all, move |key| {
            let ctx = Arc::clone(&ctx);
            async move { reconcile(&ctx, &key).await }
        })
        .await;
}
