//! kubelet's plugin registration, built in (no node-driver-registrar container): kubelet finds
//! `<driver>-reg.sock` in its plugins_registry directory, asks GetInfo, then reports whether it
//! accepted us. A rejection is fatal: the plugin exits non-zero so the pod restarts and kubelet
//! tries again, as node-driver-registrar does.

use csi::registration::registration_server::Registration;
use csi::registration::{InfoRequest, PluginInfo, RegistrationStatus, RegistrationStatusResponse};
use tokio::sync::watch;
use tonic::{Request, Response, Status};

/// The plugin type kubelet's CSI plugin handler registers.
pub const PLUGIN_TYPE: &str = "CSIPlugin";
/// CSI versions this plugin speaks, as kubelet expects them listed.
pub const SUPPORTED_VERSIONS: [&str; 1] = ["1.0.0"];

#[derive(Debug)]
pub struct KubeletRegistration {
    driver_name: String,
    /// Path of our CSI socket as kubelet (the host) sees it.
    endpoint: String,
    rejected: watch::Sender<Option<String>>,
}

impl KubeletRegistration {
    /// Returns the service and a receiver that gets kubelet's error if it rejects us.
    pub fn new(driver_name: String, endpoint: String) -> (Self, watch::Receiver<Option<String>>) {
        let (rejected, rx) = watch::channel(None);
        (
            Self {
                driver_name,
                endpoint,
                rejected,
            },
            rx,
        )
    }

    pub fn plugin_info(&self) -> PluginInfo {
        PluginInfo {
            r#type: PLUGIN_TYPE.to_string(),
            name: self.driver_name.clone(),
            endpoint: self.endpoint.clone(),
            supported_versions: SUPPORTED_VERSIONS.iter().map(|v| v.to_string()).collect(),
        }
    }
}

#[tonic::async_trait]
impl Registration for KubeletRegistration {
    async fn get_info(
        &self,
        _request: Request<InfoRequest>,
    ) -> Result<Response<PluginInfo>, Status> {
        tracing::info!(endpoint = %self.endpoint, "kubelet asked for plugin info");
        Ok(Response::new(self.plugin_info()))
    }

    async fn notify_registration_status(
        &self,
        request: Request<RegistrationStatus>,
    ) -> Result<Response<RegistrationStatusResponse>, Status> {
        let status = request.into_inner();
        if status.plugin_registered {
            tracing::info!(driver = %self.driver_name, "kubelet registered the plugin");
        } else {
            tracing::error!(driver = %self.driver_name, error = %status.error, "kubelet rejected the plugin registration");
            self.rejected.send_replace(Some(status.error));
        }
        Ok(Response::new(RegistrationStatusResponse {}))
    }
}
