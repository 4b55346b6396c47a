//! The clean-up path of the durable in-flight record: a claim that no longer wants the volume
//! a CreateVolume may have made (deleted, or bound to another PV). The same CreateVolume is
//! repeated to a final answer — the only way to learn the volume id — and whatever it returns
//! is deleted; then the record goes. Starts from the claim as the API has it, never the cache.

use std::time::Instant;

use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim};
use k8s_openapi::api::storage::v1::StorageClass;
use kube::api::Api;

use crate::claim_worker::{create_request, finish};
use crate::class_params::SecretKind;
use crate::context::Context;
use crate::csi_calls::{create_volume, delete_volume};
use crate::error::ProvisionerError;
use crate::in_flight;
use crate::keys::ANN_PROVISIONING_SOURCE;
use crate::outcome;
use crate::plan::plan;
use crate::secrets;

/// The claim no longer wants the volume a CreateVolume may have made: repeat that call to a
/// final answer, delete what it returns, then drop the record.
pub async fn clean_up(
    ctx: &Context,
    claim: &PersistentVolumeClaim,
    class: Option<&StorageClass>,
    pv_name: &str,
) -> Result<(), ProvisionerError> {
    let Some(claim) = in_flight::current_with_record(&ctx.client, claim).await? else {
        return Ok(());
    };
    let claim = &claim;
    // The cache may lag: deleting a volume whose PV exists would lose data, so ask the API.
    let pvs: Api<PersistentVolume> = Api::all(ctx.client.clone());
    let pv = pvs
        .get_opt(pv_name)
        .await
        .map_err(|e| ProvisionerError::kube(format!("reading PV {pv_name}"), e))?;
    if pv.is_some() {
        return finish(ctx, claim).await;
    }
    let Some(class) = class else {
        return Err(ProvisionerError::Claim(format!(
            "cannot clean up in-flight volume {pv_name}: its StorageClass is gone; restore it so \
             CreateVolume can be repeated and the volume deleted"
        )));
    };
    let started = Instant::now();
    let plan = plan(claim, class, &ctx.settings)?;
    let recorded = claim
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(ANN_PROVISIONING_SOURCE))
        .map(String::as_str);
    let content = in_flight::decode_source(recorded).map_err(ProvisionerError::Claim)?;
    let secrets =
        secrets::read(&ctx.client, plan.secret_refs.get(&SecretKind::Provisioner)).await?;
    let request = create_request(&plan, secrets.clone(), content, None);
    match create_volume(ctx, request).await {
        Ok(volume) => {
            delete_volume(ctx, &volume.volume_id, secrets).await?;
            tracing::info!(request_name = %plan.request_name, volume_id = %volume.volume_id,
                "deleted the volume of a claim that went away during provisioning");
            outcome::volume_deleted(
                ctx,
                &outcome::Deleted {
                    request_name: &plan.request_name,
                    volume_id: &volume.volume_id,
                    claim: Some(outcome::claim_reference(claim)),
                    class: class.metadata.name.as_deref().unwrap_or(""),
                    took: started.elapsed(),
                    operation: "cleanup",
                },
            );
        }
        Err(error) => {
            if !error.created_nothing() {
                return Err(error);
            }
            // A final CSI error: the call created nothing, so there is nothing to delete.
            tracing::info!(request_name = %plan.request_name, %error,
                "in-flight CreateVolume ended without a volume");
        }
    }
    finish(ctx, claim).await
}
