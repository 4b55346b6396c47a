//! Carries out a PV decision: DeleteVolume for a released PV with reclaim policy Delete (never
//! while a VolumeAttachment still names it), then delete the PV and drop our finalizer; or only
//! manage the finalizer; or, for a PV deleted while its claim still holds it, say why it stays.

use std::time::Instant;

use k8s_openapi::api::core::v1::PersistentVolume;
use kube::api::{Api, DeleteParams};
use sidecar::Outcome;
use sidecar::patch::{self, Part};
use sidecar::secret_template::{Scope, SecretRef, resolve};
use tracing::Instrument;

use crate::announce;
use crate::context::Context;
use crate::csi_calls::delete_volume;
use crate::error::ProvisionerError;
use crate::keys::{ANN_DELETION_SECRET_NAME, ANN_DELETION_SECRET_NAMESPACE, FINALIZER_PV};
use crate::plan::class_params;
use crate::plan::class_params::SecretKind;
use crate::secrets;
use crate::volume_decision::{self, VolumeAction};

/// One pass over the PV `name`, as a worker of the volume queue runs it: a failure gets its
/// Event and metrics and is retried after the key's backoff.
pub async fn reconcile(ctx: &Context, name: &str) -> Outcome {
    let span = tracing::info_span!("volume", pv = %name);
    match pass(ctx, name).instrument(span).await {
        Ok(()) => Outcome::Done,
        Err((error, pv)) => {
            if let Some(pv) = &pv {
                announce::delete_failed(ctx, pv, &class_of(pv), &error);
            }
            tracing::warn!(pv = %name, %error, "volume deletion failed; will retry");
            Outcome::Retry(error.progress())
        }
    }
}

/// One pass over one PV. On error, the PV (for the failure event) and the error.
async fn pass(
    ctx: &Context,
    name: &str,
) -> Result<(), (ProvisionerError, Option<PersistentVolume>)> {
    let Some(pv) = ctx.volume(name) else {
        return Ok(());
    };
    let action = volume_decision::decide(&pv, &ctx.driver);
    tracing::debug!(pv = %name, ?action, "volume decision");
    let result = match action {
        VolumeAction::Ignore(_) => Ok(()),
        VolumeAction::AddFinalizer => set_finalizer(ctx, name, true).await,
        VolumeAction::RemoveFinalizer => set_finalizer(ctx, name, false).await,
        VolumeAction::DeletePending => {
            announce::delete_pending(ctx, &pv);
            Ok(())
        }
        VolumeAction::Delete => delete(ctx, &pv).await,
    };
    result.map_err(|e| (e, Some(pv)))
}

fn class_of(pv: &PersistentVolume) -> String {
    pv.spec
        .as_ref()
        .and_then(|s| s.storage_class_name.clone())
        .unwrap_or_default()
}

async fn delete(ctx: &Context, pv: &PersistentVolume) -> Result<(), ProvisionerError> {
    let started = Instant::now();
    let name = pv.metadata.name.clone().unwrap_or_default();
    if let Some(attachments) = &ctx.attachments
        && let Some(attachment) = attachments
            .state()
            .iter()
            .find(|va| va.spec.source.persistent_volume_name.as_deref() == Some(name.as_str()))
    {
        return Err(ProvisionerError::StillAttached {
            pv: name,
            node: attachment.spec.node_name.clone(),
        });
    }
    let spec = pv.spec.clone().unwrap_or_default();
    let volume_id = spec.csi.map(|c| c.volume_handle).unwrap_or_default();
    let secret_ref = deletion_secret(ctx, pv)?;
    let secrets = secrets::read(&ctx.client, secret_ref.as_ref()).await?;
    delete_volume(ctx, &volume_id, secrets).await?;
    let api: Api<PersistentVolume> = Api::all(ctx.client.clone());
    if pv.metadata.deletion_timestamp.is_none() {
        match api.delete(&name, &DeleteParams::default()).await {
            Ok(_) => {}
            Err(kube::Error::Api(status)) if status.code == 404 => {}
            Err(e) => return Err(ProvisionerError::kube(format!("deleting PV {name}"), e)),
        }
    }
    set_finalizer(ctx, &name, false).await?;
    tracing::info!(pv = %name, %volume_id, "deleted volume and PV");
    announce::volume_deleted(
        ctx,
        &announce::Deleted {
            request_name: &name,
            volume_id: &volume_id,
            claim: None,
            class: &class_of(pv),
            took: started.elapsed(),
            operation: "delete",
        },
    );
    Ok(())
}

/// The secret for DeleteVolume: from the PV's annotations (so it works after the class and
/// claim are gone), else re-resolved from the StorageClass as upstream does for old PVs.
fn deletion_secret(
    ctx: &Context,
    pv: &PersistentVolume,
) -> Result<Option<SecretRef>, ProvisionerError> {
    let annotations = pv.metadata.annotations.clone().unwrap_or_default();
    if let (Some(name), Some(namespace)) = (
        annotations.get(ANN_DELETION_SECRET_NAME),
        annotations.get(ANN_DELETION_SECRET_NAMESPACE),
    ) {
        return Ok(
            (!name.is_empty() && !namespace.is_empty()).then(|| SecretRef {
                name: name.clone(),
                namespace: namespace.clone(),
            }),
        );
    }
    let Some(class) = ctx.class(&class_of(pv)) else {
        return Ok(None);
    };
    let params = class_params::parse(&class.parameters.unwrap_or_default())
        .map_err(|e| ProvisionerError::Claim(e.to_string()))?;
    let Some(template) = params.secrets.get(&SecretKind::Provisioner) else {
        return Ok(None);
    };
    let claim_ref = pv
        .spec
        .as_ref()
        .and_then(|s| s.claim_ref.clone())
        .unwrap_or_default();
    let pv_name = pv.metadata.name.clone().unwrap_or_default();
    let claim_namespace = claim_ref.namespace.unwrap_or_default();
    let resolved = resolve(
        template,
        &Scope::Provisioner {
            pv_name: &pv_name,
            claim_namespace: &claim_namespace,
        },
    )
    .map_err(|e| ProvisionerError::Claim(e.to_string()))?;
    Ok(Some(resolved))
}

async fn set_finalizer(ctx: &Context, name: &str, present: bool) -> Result<(), ProvisionerError> {
    let api: Api<PersistentVolume> = Api::all(ctx.client.clone());
    let op = format!("updating {FINALIZER_PV} on PV {name}");
    let Some(current) = api
        .get_opt(name)
        .await
        .map_err(|e| ProvisionerError::kube(op.clone(), e))?
    else {
        return Ok(());
    };
    let mut pv = current.clone();
    let finalizers = pv.metadata.finalizers.get_or_insert_with(Vec::new);
    let has = finalizers.iter().any(|f| f == FINALIZER_PV);
    if has == present {
        return Ok(());
    }
    if present {
        finalizers.push(FINALIZER_PV.to_owned());
    } else {
        finalizers.retain(|f| f != FINALIZER_PV);
    }
    match patch::write_changes(&api, &current, &pv, Part::Object).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
        Err(e) => Err(ProvisionerError::kube(op, e)),
    }
}
