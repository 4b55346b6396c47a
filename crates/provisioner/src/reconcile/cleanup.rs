//! The clean-up path of the durable in-flight record: a claim that no longer wants the volume
//! a CreateVolume may have made (deleted, or bound to another PV). The call the record names
//! is repeated to a final answer — the only way to learn the volume id — and whatever it
//! returns is deleted; then the record goes. Starts from the claim as the API has it, never
//! the cache; and from the recorded call, never today's StorageClass (which may point at
//! another pool or cluster by now).

use std::time::Instant;

use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim};
use k8s_openapi::api::storage::v1::StorageClass;
use kube::api::Api;

use crate::announce;
use crate::claim_decision;
use crate::context::Context;
use crate::csi_calls::{create_volume, delete_volume};
use crate::error::ProvisionerError;
use crate::in_flight;
use crate::in_flight::recorded_call::{RecordedCall, record_error};
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
        return in_flight::finish(&ctx.client, &ctx.claims, claim).await;
    }
    let started = Instant::now();
    let call = match RecordedCall::from_claim(claim).map_err(record_error)? {
        Some(call) => call,
        // A record written before calls were recorded: today's class is all there is.
        None => {
            let Some(class) = class else {
                return Err(ProvisionerError::Claim(format!(
                    "cannot clean up in-flight volume {pv_name}: its record names no call and \
                     its StorageClass is gone; restore the class so CreateVolume can be \
                     repeated and the volume deleted"
                )));
            };
            RecordedCall::of(&plan(claim, class, &ctx.settings)?, None)
        }
    };
    let content = in_flight::recorded_source(claim)?;
    let secrets = secrets::read(&ctx.client, call.secret.as_ref()).await?;
    let request = call
        .request(pv_name, secrets.clone(), content)
        .map_err(record_error)?;
    match create_volume(ctx, request).await {
        Ok(volume) => {
            delete_volume(ctx, &volume.volume_id, secrets).await?;
            tracing::info!(request_name = %pv_name, volume_id = %volume.volume_id,
                "deleted the volume of a claim that went away during provisioning");
            announce::volume_deleted(
                ctx,
                &announce::Deleted {
                    request_name: pv_name,
                    volume_id: &volume.volume_id,
                    claim: Some(announce::claim_reference(claim)),
                    class: claim_decision::class_name(claim).unwrap_or(""),
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
            tracing::info!(request_name = %pv_name, %error,
                "in-flight CreateVolume ended without a volume");
        }
    }
    in_flight::finish(&ctx.client, &ctx.claims, claim).await
}
