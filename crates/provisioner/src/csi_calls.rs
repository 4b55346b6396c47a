//! The two controller RPCs the provisioner makes, timed and metered through the sidecar's
//! connection.

use csi::SecretMap;
use csi::v1::{CreateVolumeRequest, DeleteVolumeRequest, Volume};

use crate::context::Context;
use crate::error::ProvisionerError;

pub async fn create_volume(
    ctx: &Context,
    request: CreateVolumeRequest,
) -> Result<Volume, ProvisionerError> {
    let response = ctx
        .csi
        .call(
            "/csi.v1.Controller/CreateVolume",
            request,
            |mut client, request| async move { client.create_volume(request).await },
        )
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
    let request = DeleteVolumeRequest {
        volume_id: volume_id.to_owned(),
        secrets: secrets.into_csi(),
    };
    ctx.csi
        .call(
            "/csi.v1.Controller/DeleteVolume",
            request,
            |mut client, request| async move { client.delete_volume(request).await },
        )
        .await
        .map(|_| ())
        .map_err(|status| ProvisionerError::csi("DeleteVolume", &status))
}
