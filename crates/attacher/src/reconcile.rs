//! One pass over one VolumeAttachment or PV: read the caches, take the step [`crate::plan`]
//! chose, write the result. Writes are conditional on the resourceVersion of the copy they
//! start from, so a stale cache costs a 409 and a retry, never a lost update.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use csi::v1::{ControllerPublishVolumeRequest, ControllerUnpublishVolumeRequest};
use events::Outcome as EventOutcome;
use k8s_openapi::api::core::v1::{Node, PersistentVolume};
use k8s_openapi::api::storage::v1::{CSINode, VolumeAttachment};
use k8s_openapi::jiff::Timestamp;
use kube::api::Api;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Client, Resource, ResourceExt};
use serde_json::json;
use sidecar::patch::{self, Part};
use sidecar::{CsiConnection, EventRecorder, Outcome, Progress, secrets, volume_capability};

use crate::announce::{self, Announcer};
use crate::attachment_status;
use crate::error::AttacherError;
use crate::keys::{self, NODE_ID_ANNOTATION, reason};
use crate::observed::{AttachmentView, NodeEntry, VolumeView};
use crate::plan::{self, DetachOutcome, Step};

/// Names the field pointing at the Secret in the error when it is missing.
const PUBLISH_SECRET_REF: &str = "the PV's controllerPublishSecretRef";

/// Work queue keys: attachments and volumes are reconciled separately.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Key {
    Attachment(String),
    Volume(String),
}

/// Everything a pass needs; shared by all workers.
pub struct Context {
    pub driver: String,
    pub finalizer: String,
    pub client: Client,
    pub csi: CsiConnection,
    /// The driver has no PUBLISH_UNPUBLISH_VOLUME: attach without calling it (upstream's
    /// trivial mode).
    pub trivial: bool,
    pub single_node_multi_writer: bool,
    pub publish_readonly: bool,
    pub default_fs_type: String,
    pub recorder: EventRecorder,
    pub publisher: events::Publisher,
    pub attachments: Store<VolumeAttachment>,
    pub volumes: Store<PersistentVolume>,
    pub csinodes: Store<CSINode>,
}

pub async fn reconcile(ctx: &Arc<Context>, key: &Key) -> Outcome {
    let result = match key {
        Key::Attachment(name) => attachment(ctx, name).await,
        Key::Volume(name) => volume(ctx, name).await,
    };
    match result {
        Ok(outcome) => outcome,
        Err(error) if error.is_conflict() => Outcome::Retry(Progress::InProgress),
        Err(error) => {
            tracing::warn!(?key, %error, "attacher pass failed");
            Outcome::Retry(Progress::Final)
        }
    }
}

async fn attachment(ctx: &Arc<Context>, name: &str) -> Result<Outcome, AttacherError> {
    let Some(va) = ctx.attachments.get(&ObjectRef::new(name)) else {
        return Ok(Outcome::Done);
    };
    let view = AttachmentView::of(&va, &ctx.driver, &ctx.finalizer);
    let pv = view
        .pv_name
        .as_deref()
        .and_then(|n| ctx.volumes.get(&ObjectRef::new(n)));
    let csinode = ctx.csinodes.get(&ObjectRef::new(&view.node_name));
    let node = NodeEntry::of(csinode.as_deref(), &ctx.driver);
    let step = plan::attachment_step(
        &view,
        pv.as_deref()
            .map(|p| VolumeView::of(p, &ctx.finalizer))
            .as_ref(),
        &node,
        &ctx.driver,
    );
    tracing::debug!(attachment = name, ?step, "decided");
    let va = (*va).clone();
    let volume_id = pv
        .as_deref()
        .and_then(|p| {
            p.spec
                .as_ref()?
                .csi
                .as_ref()
                .map(|c| c.volume_handle.clone())
        })
        .unwrap_or_default();
    match step {
        Step::Idle => Ok(Outcome::Done),
        Step::AttachError(message) => {
            let mut updated = va.clone();
            attachment_status::attach_failed(
                updated.status.get_or_insert_with(Default::default),
                &message,
                None,
                Timestamp::now(),
            );
            write_status(ctx, &va, &updated).await?;
            Ok(Outcome::Retry(Progress::Final))
        }
        Step::AddVolumeFinalizer => {
            let Some(pv) = pv else {
                return Ok(Outcome::Done);
            };
            let mut finalizers = pv.finalizers().to_vec();
            finalizers.push(ctx.finalizer.clone());
            patch_metadata::<PersistentVolume>(ctx, &pv, json!({"finalizers": finalizers})).await?;
            Ok(Outcome::Next)
        }
        Step::MarkAttachment { node_id } => {
            let mut finalizers = va.finalizers().to_vec();
            if !finalizers.contains(&ctx.finalizer) {
                finalizers.push(ctx.finalizer.clone());
            }
            patch_metadata::<VolumeAttachment>(
                ctx,
                &va,
                json!({"finalizers": finalizers, "annotations": {NODE_ID_ANNOTATION: node_id}}),
            )
            .await?;
            Ok(Outcome::Next)
        }
        Step::Publish { node_id } => match pv {
            Some(pv) => publish(ctx, va, &pv, &volume_id, &node_id).await,
            None => Ok(Outcome::Done),
        },
        Step::Unpublish { node_id } => unpublish(ctx, va, pv.as_deref(), &node_id).await,
        Step::Release => {
            release(ctx, &va).await?;
            Ok(Outcome::Done)
        }
    }
}

async fn publish(
    ctx: &Arc<Context>,
    va: VolumeAttachment,
    pv: &PersistentVolume,
    volume_id: &str,
    node_id: &str,
) -> Result<Outcome, AttacherError> {
    let announcer = Announcer {
        recorder: &ctx.recorder,
        publisher: &ctx.publisher,
        va: &va,
        volume_id,
        node_id,
    };
    let started = Instant::now();
    let answer = if ctx.trivial {
        Ok(HashMap::new())
    } else {
        call_publish(ctx, pv, volume_id, node_id).await?
    };
    let took = started.elapsed();
    let mut updated = va.clone();
    let status = updated.status.get_or_insert_with(Default::default);
    match answer {
        Ok(publish_context) => {
            attachment_status::attached(status, publish_context);
            write_status(ctx, &va, &updated).await?;
            announcer.normal(
                reason::ATTACHED,
                format!("Volume {volume_id} attached to node {node_id}"),
            );
            announcer.publish(announce::PUBLISHED, "attach", took, EventOutcome::ok());
            tracing::info!(attachment = %va.name_any(), volume_id, node_id, "attached");
            Ok(Outcome::Done)
        }
        Err(failure) => {
            attachment_status::attach_failed(
                status,
                &failure.message,
                failure.code.map(|c| c as i32),
                Timestamp::now(),
            );
            write_status(ctx, &va, &updated).await?;
            announcer.warning(reason::ATTACH_FAILED, failure.message.clone());
            let code = failure
                .code
                .map_or_else(|| "NotCalled".to_owned(), |c| format!("{c:?}"));
            announcer.publish(
                announce::FAILED,
                "attach",
                took,
                EventOutcome::error(code, &failure.message),
            );
            Ok(Outcome::Retry(
                failure.code.map_or(Progress::Final, sidecar::classify),
            ))
        }
    }
}

/// A failed step: the message for the status and, when the driver answered, its code.
struct Failure {
    message: String,
    code: Option<tonic::Code>,
}

async fn call_publish(
    ctx: &Context,
    pv: &PersistentVolume,
    volume_id: &str,
    node_id: &str,
) -> Result<Result<HashMap<String, String>, Failure>, AttacherError> {
    let Some(spec) = pv.spec.as_ref() else {
        return Ok(Err(Failure {
            message: "the PV has no spec".to_owned(),
            code: None,
        }));
    };
    let csi_spec = spec.csi.as_ref();
    let capability = match volume_capability::of_volume(
        spec,
        ctx.single_node_multi_writer,
        &ctx.default_fs_type,
    ) {
        Ok(cap) => cap,
        Err(message) => {
            return Ok(Err(Failure {
                message,
                code: None,
            }));
        }
    };
    let secrets = match secrets::fetch_referenced(
        &ctx.client,
        csi_spec.and_then(|c| c.controller_publish_secret_ref.as_ref()),
        PUBLISH_SECRET_REF,
    )
    .await
    {
        Ok(secrets) => secrets,
        Err(error) => {
            return Ok(Err(Failure {
                message: error.to_string(),
                code: None,
            }));
        }
    };
    let request = ControllerPublishVolumeRequest {
        volume_id: volume_id.to_owned(),
        node_id: node_id.to_owned(),
        volume_capability: Some(capability),
        // Upstream forces false unless the driver can publish read-only.
        readonly: ctx.publish_readonly && csi_spec.and_then(|c| c.read_only).unwrap_or(false),
        secrets: secrets.into_csi(),
        volume_context: csi_spec
            .and_then(|c| c.volume_attributes.clone())
            .unwrap_or_default()
            .into_iter()
            .collect(),
    };
    let answer = ctx
        .csi
        .call(
            keys::PUBLISH_METHOD,
            request,
            |mut client, request| async move { client.controller_publish_volume(request).await },
        )
        .await;
    Ok(answer.map(|r| r.publish_context).map_err(|status| Failure {
        message: format!(
            "rpc error: code = {:?} desc = {}",
            status.code(),
            status.message()
        ),
        code: Some(status.code()),
    }))
}

async fn unpublish(
    ctx: &Arc<Context>,
    va: VolumeAttachment,
    pv: Option<&PersistentVolume>,
    node_id: &str,
) -> Result<Outcome, AttacherError> {
    let csi_spec = pv.and_then(|p| p.spec.as_ref()?.csi.clone());
    let volume_id = csi_spec
        .as_ref()
        .map(|c| c.volume_handle.clone())
        .unwrap_or_default();
    let announcer = Announcer {
        recorder: &ctx.recorder,
        publisher: &ctx.publisher,
        va: &va,
        volume_id: &volume_id,
        node_id,
    };
    let started = Instant::now();
    let code = if ctx.trivial {
        tonic::Code::Ok
    } else if volume_id.is_empty() {
        // The PV is gone and with it the volume handle: nothing can be named in the call.
        // The provisioner deletes volumes only once no VA names them, so none is published.
        tonic::Code::NotFound
    } else {
        let secrets = match secrets::fetch_referenced(
            &ctx.client,
            csi_spec
                .as_ref()
                .and_then(|c| c.controller_publish_secret_ref.as_ref()),
            PUBLISH_SECRET_REF,
        )
        .await
        {
            Ok(secrets) => secrets,
            Err(error) => {
                return detach_error(ctx, &va, &announcer, &error.to_string(), None).await;
            }
        };
        let request = ControllerUnpublishVolumeRequest {
            volume_id: volume_id.clone(),
            node_id: node_id.to_owned(),
            secrets: secrets.into_csi(),
        };
        match ctx
            .csi
            .call(
                keys::UNPUBLISH_METHOD,
                request,
                |mut client, request| async move {
                    client.controller_unpublish_volume(request).await
                },
            )
            .await
        {
            Ok(_) => tonic::Code::Ok,
            Err(status) => {
                let node_gone = node_gone(ctx, &va.spec.node_name).await?;
                let message = format!(
                    "rpc error: code = {:?} desc = {}",
                    status.code(),
                    status.message()
                );
                match plan::after_unpublish(status.code(), node_gone) {
                    DetachOutcome::Retry => {
                        return detach_error(ctx, &va, &announcer, &message, Some(status.code()))
                            .await;
                    }
                    DetachOutcome::DetachedFromGoneNode => {
                        announcer.warning(
                            reason::NODE_GONE_DETACH,
                            format!("Node {} is gone; released the attachment although ControllerUnpublishVolume failed: {message}", va.spec.node_name),
                        );
                    }
                    DetachOutcome::Detached => {}
                }
                status.code()
            }
        }
    };
    let took = started.elapsed();
    release(ctx, &va).await?;
    announcer.normal(
        reason::DETACHED,
        format!("Volume {volume_id} detached from node {node_id}"),
    );
    let outcome = if code == tonic::Code::Ok {
        EventOutcome::ok()
    } else {
        EventOutcome::error(
            format!("{code:?}"),
            "released without a successful ControllerUnpublishVolume",
        )
    };
    announcer.publish(announce::UNPUBLISHED, "detach", took, outcome);
    tracing::info!(attachment = %va.name_any(), volume_id, node_id, ?code, "detached");
    Ok(Outcome::Done)
}

async fn detach_error(
    ctx: &Context,
    va: &VolumeAttachment,
    announcer: &Announcer<'_>,
    message: &str,
    code: Option<tonic::Code>,
) -> Result<Outcome, AttacherError> {
    let mut updated = va.clone();
    attachment_status::detach_failed(
        updated.status.get_or_insert_with(Default::default),
        message,
        code.map(|c| c as i32),
        Timestamp::now(),
    );
    write_status(ctx, va, &updated).await?;
    announcer.warning(reason::DETACH_FAILED, message.to_owned());
    Ok(Outcome::Retry(
        code.map_or(Progress::Final, sidecar::classify),
    ))
}

/// Whether the attachment's Node object is gone (the machine left the cluster).
async fn node_gone(ctx: &Context, node_name: &str) -> Result<bool, AttacherError> {
    Ok(Api::<Node>::all(ctx.client.clone())
        .get_metadata_opt(node_name)
        .await
        .map_err(AttacherError::kube(format!("reading Node {node_name}")))?
        .is_none())
}

/// Removes our finalizer from a VA being deleted (it then disappears unless others hold it,
/// in which case its status says detached). Upstream's order: finalizer first, so a crash
/// cannot leave a detached-looking VA that still needs an Unpublish.
async fn release(ctx: &Context, va: &VolumeAttachment) -> Result<(), AttacherError> {
    let finalizers: Vec<String> = va
        .finalizers()
        .iter()
        .filter(|f| **f != ctx.finalizer)
        .cloned()
        .collect();
    let remaining = finalizers.len();
    let released = match patch_metadata::<VolumeAttachment>(
        ctx,
        va,
        json!({"finalizers": finalizers}),
    )
    .await
    {
        Ok(released) => released,
        Err(error) if error.is_not_found() => return Ok(()),
        Err(error) => return Err(error),
    };
    if remaining > 0 {
        let mut updated = released.clone();
        attachment_status::detached(updated.status.get_or_insert_with(Default::default));
        match write_status(ctx, &released, &updated).await {
            Ok(()) => {}
            Err(error) if error.is_not_found() => {}
            Err(error) => return Err(error),
        }
    }
    Ok(())
}

async fn volume(ctx: &Arc<Context>, name: &str) -> Result<Outcome, AttacherError> {
    let Some(pv) = ctx.volumes.get(&ObjectRef::new(name)) else {
        return Ok(Outcome::Done);
    };
    let naming_it = ctx
        .attachments
        .state()
        .iter()
        .filter(|va| va.spec.source.persistent_volume_name.as_deref() == Some(name))
        .count();
    if !plan::release_volume(&VolumeView::of(&pv, &ctx.finalizer), naming_it) {
        return Ok(Outcome::Done);
    }
    let finalizers: Vec<String> = pv
        .finalizers()
        .iter()
        .filter(|f| **f != ctx.finalizer)
        .cloned()
        .collect();
    match patch_metadata::<PersistentVolume>(ctx, &pv, json!({"finalizers": finalizers})).await {
        Ok(_) => Ok(Outcome::Done),
        Err(error) if error.is_not_found() => Ok(Outcome::Done),
        Err(error) => Err(error),
    }
}

/// Merge-patches `metadata` of a cluster-scoped object, conditional on its resourceVersion.
async fn patch_metadata<K>(
    ctx: &Context,
    object: &K,
    metadata: serde_json::Value,
) -> Result<K, AttacherError>
where
    K: Resource<DynamicType = (), Scope = k8s_openapi::ClusterResourceScope>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
{
    patch::patch_if_unchanged(
        &Api::<K>::all(ctx.client.clone()),
        object,
        Part::Object,
        json!({"metadata": metadata}),
    )
    .await
    .map_err(AttacherError::kube(format!(
        "updating {} {}",
        K::kind(&()),
        object.name_any()
    )))
}

/// Patches what changed between the two statuses, conditional on `current`'s resourceVersion.
async fn write_status(
    ctx: &Context,
    current: &VolumeAttachment,
    updated: &VolumeAttachment,
) -> Result<(), AttacherError> {
    patch::write_changes(
        &Api::<VolumeAttachment>::all(ctx.client.clone()),
        current,
        updated,
        Part::Status,
    )
    .await
    .map_err(AttacherError::kube(format!(
        "updating the status of VolumeAttachment {}",
        current.name_any()
    )))?;
    Ok(())
}
