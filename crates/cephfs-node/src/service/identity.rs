//! CSI Identity service of the CephFS node plugin (no CONTROLLER_SERVICE: the controller is a
//! separate plugin, and no expansion capability: CephFS volumes grow on the server).

use std::sync::Arc;

use csi::v1::identity_server::Identity;
use csi::v1::{
    GetPluginCapabilitiesRequest, GetPluginCapabilitiesResponse, GetPluginInfoRequest,
    GetPluginInfoResponse, ProbeRequest, ProbeResponse,
};
use tonic::{Request, Response, Status};

use crate::driver::CephfsNode;

#[derive(Debug, Clone)]
pub struct IdentityService {
    node: Arc<CephfsNode>,
}

impl IdentityService {
    pub fn new(node: Arc<CephfsNode>) -> Self {
        Self { node }
    }
}

#[tonic::async_trait]
impl Identity for IdentityService {
    async fn get_plugin_info(
        &self,
        _request: Request<GetPluginInfoRequest>,
    ) -> Result<Response<GetPluginInfoResponse>, Status> {
        Ok(Response::new(GetPluginInfoResponse {
            name: self.node.settings.driver_name.clone(),
            vendor_version: env!("CARGO_PKG_VERSION").to_string(),
            manifest: Default::default(),
        }))
    }

    async fn get_plugin_capabilities(
        &self,
        _request: Request<GetPluginCapabilitiesRequest>,
    ) -> Result<Response<GetPluginCapabilitiesResponse>, Status> {
        Ok(Response::new(GetPluginCapabilitiesResponse {
            capabilities: Vec::new(),
        }))
    }

    /// Ready once a cluster config has been loaded and some CephFS client works here;
    /// otherwise FAILED_PRECONDITION saying why.
    async fn probe(
        &self,
        _request: Request<ProbeRequest>,
    ) -> Result<Response<ProbeResponse>, Status> {
        let snapshot = self.node.clusters.snapshot();
        if snapshot.config.is_empty()
            && let Some(error) = snapshot.error
        {
            return Err(Status::failed_precondition(format!(
                "no cluster config loaded: {error}"
            )));
        }
        if !self.node.support.any() {
            return Err(Status::failed_precondition(format!(
                "no CephFS client on this node: {}",
                self.node.support.summary()
            )));
        }
        Ok(Response::new(ProbeResponse { ready: Some(true) }))
    }
}
