//! The CSI Identity service: name and version, capabilities, and readiness (the cluster config
//! must have parsed; Probe says why not).

use std::sync::Arc;

use csi::v1::identity_server::Identity;
use csi::v1::plugin_capability::{self, service, volume_expansion};
use csi::v1::{
    GetPluginCapabilitiesRequest, GetPluginCapabilitiesResponse, GetPluginInfoRequest,
    GetPluginInfoResponse, PluginCapability, ProbeRequest, ProbeResponse,
};
use tonic::{Request, Response, Status};

use crate::state::State;

pub struct IdentityService {
    state: Arc<State>,
}

impl IdentityService {
    pub fn new(state: Arc<State>) -> Self {
        IdentityService { state }
    }
}

#[tonic::async_trait]
impl Identity for IdentityService {
    async fn get_plugin_info(
        &self,
        _: Request<GetPluginInfoRequest>,
    ) -> Result<Response<GetPluginInfoResponse>, Status> {
        Ok(Response::new(GetPluginInfoResponse {
            name: self.state.settings.driver_name.clone(),
            vendor_version: env!("CARGO_PKG_VERSION").to_owned(),
            manifest: Default::default(),
        }))
    }

    async fn get_plugin_capabilities(
        &self,
        _: Request<GetPluginCapabilitiesRequest>,
    ) -> Result<Response<GetPluginCapabilitiesResponse>, Status> {
        let service = |kind: service::Type| PluginCapability {
            r#type: Some(plugin_capability::Type::Service(
                plugin_capability::Service {
                    r#type: kind as i32,
                },
            )),
        };
        let expansion = PluginCapability {
            r#type: Some(plugin_capability::Type::VolumeExpansion(
                plugin_capability::VolumeExpansion {
                    r#type: volume_expansion::Type::Online as i32,
                },
            )),
        };
        Ok(Response::new(GetPluginCapabilitiesResponse {
            capabilities: vec![service(service::Type::ControllerService), expansion],
        }))
    }

    async fn probe(&self, _: Request<ProbeRequest>) -> Result<Response<ProbeResponse>, Status> {
        match self.state.config.last_error() {
            None => Ok(Response::new(ProbeResponse { ready: Some(true) })),
            // CSI: a plugin that is not healthy answers FAILED_PRECONDITION; the message is the
            // only place to say why.
            Some(e) => Err(Status::failed_precondition(format!("not ready: {e}"))),
        }
    }
}
