//! CSI Identity service of the node plugin (no CONTROLLER_SERVICE: the controller is a
//! separate binary).

use std::sync::Arc;

use csi::v1::identity_server::Identity;
use csi::v1::plugin_capability::{Type as CapabilityType, VolumeExpansion, volume_expansion};
use csi::v1::{
    GetPluginCapabilitiesRequest, GetPluginCapabilitiesResponse, GetPluginInfoRequest,
    GetPluginInfoResponse, PluginCapability, ProbeRequest, ProbeResponse,
};
use tonic::{Request, Response, Status};

use crate::driver::NodeDriver;

#[derive(Debug, Clone)]
pub struct IdentityService {
    driver: Arc<NodeDriver>,
}

impl IdentityService {
    pub fn new(driver: Arc<NodeDriver>) -> Self {
        Self { driver }
    }
}

#[tonic::async_trait]
impl Identity for IdentityService {
    async fn get_plugin_info(
        &self,
        _request: Request<GetPluginInfoRequest>,
    ) -> Result<Response<GetPluginInfoResponse>, Status> {
        Ok(Response::new(GetPluginInfoResponse {
            name: self.driver.settings.driver_name.clone(),
            vendor_version: env!("CARGO_PKG_VERSION").to_string(),
            manifest: Default::default(),
        }))
    }

    async fn get_plugin_capabilities(
        &self,
        _request: Request<GetPluginCapabilitiesRequest>,
    ) -> Result<Response<GetPluginCapabilitiesResponse>, Status> {
        // The node grows mounted file systems, so expansion is online.
        let online = PluginCapability {
            r#type: Some(CapabilityType::VolumeExpansion(VolumeExpansion {
                r#type: volume_expansion::Type::Online as i32,
            })),
        };
        Ok(Response::new(GetPluginCapabilitiesResponse {
            capabilities: vec![online],
        }))
    }

    /// Ready once a cluster config has been loaded, some mapper works here and start-up
    /// recovery is done. While recovery runs the answer is `ready: false` (the spec's "still
    /// initializing, but healthy"); otherwise FAILED_PRECONDITION saying why (the spec's
    /// answer for an unhealthy plugin).
    async fn probe(
        &self,
        _request: Request<ProbeRequest>,
    ) -> Result<Response<ProbeResponse>, Status> {
        let snapshot = self.driver.clusters.snapshot();
        if snapshot.config.is_empty()
            && let Some(error) = snapshot.error
        {
            return Err(Status::failed_precondition(format!(
                "no cluster config loaded: {error}"
            )));
        }
        let support = self.driver.mappers.support();
        if support.first_supported().is_none() {
            return Err(Status::failed_precondition(format!(
                "no way to map RBD images on this node: {}",
                support.summary()
            )));
        }
        Ok(Response::new(ProbeResponse {
            ready: Some(!self.driver.recovery.is_pending()),
        }))
    }
}
