//! The two controller RPCs the provisioner makes, timed and metered through the sidecar's
//! connection.

use csi::SecretMap;
use csi::v1::{CreateVolumeRequest, DeleteVolumeRequest, Volume};
use tracing::Instrument as _;

use crate::context::Context;
use crate::error::ProvisionerError;

pub async fn create_volume(
    ctx: &Context,
    request: CreateVolumeRequest,
) -> Result<Volume, ProvisionerError> {
    let mut client = ctx.csi.controller();
    // The client's span of the call: the request carries it as the driver's parent.
    let span = tracing::info_span!("csi_call", rpc.method = "/csi.v1.Controller/CreateVolume");
    let response = async {
        ctx.csi
            .observe(
                "/csi.v1.Controller/CreateVolume",
                client.create_volume(ctx.csi.request(request)),
            )
            .await
    }
    .instrument(span)
    .await
    .map_err(|status| ProvisionerError::csi("CreateVolume", &status))?;
    response.volume.ok_or_else(|| ProvisionerError::Csi {
        method: "CreateVolume",
        code: tonic::Code::Internal,
        message: "the driver returned no volume".to_owned(),
    })
}

pub async fn delete_volume(
    ctx: &Context,
    volume_id: &str,
    secrets: SecretMap,
) -> Result<(), ProvisionerError> {
    let mut client = ctx.csi.controller();
    let span = tracing::info_span!("csi_call", rpc.method = "/csi.v1.Controller/DeleteVolume");
    async {
        ctx.csi
            .observe(
                "/csi.v1.Controller/DeleteVolume",
                client.delete_volume(ctx.csi.request(DeleteVolumeRequest {
                    volume_id: volume_id.to_owned(),
                    secrets: secrets.into_csi(),
                })),
            )
            .await
    }
    .instrument(span)
    .await
    .map(|_| ())
    .map_err(|status| ProvisionerError::csi("DeleteVolume", &status))
}
