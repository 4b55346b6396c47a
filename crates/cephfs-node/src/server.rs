//! Serving: the CSI socket (Identity + Node) and, unless a node-driver-registrar sidecar does
//! it, kubelet's registration socket ([`node::registration::kubelet::KubeletRegistration`]), until shutdown
//! or a rejection. Socket files are removed when serving stops (the csi crate's guards).

use std::path::PathBuf;
use std::sync::Arc;

use csi::registration::registration_server::RegistrationServer;
use csi::v1::identity_server::IdentityServer;
use csi::v1::node_server::NodeServer;
use node::NodeError;
use node::registration::kubelet::KubeletRegistration;
use tokio_util::sync::CancellationToken;
use tonic::transport::Server;

use crate::driver::CephfsNode;
use crate::service::{IdentityService, NodeService};

#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// `unix:///csi/csi.sock` as this process sees it.
    pub csi_endpoint: String,
    /// `<registration-dir>/<driver>-reg.sock`, or `None` to leave registration to a sidecar.
    pub registration_socket: Option<PathBuf>,
    /// The CSI socket's path as kubelet (the host) sees it, for GetInfo.
    pub kubelet_endpoint: String,
}

fn serve_error(what: &'static str) -> impl Fn(String) -> NodeError {
    move |message| NodeError::Serve { what, message }
}

/// Serves until `shutdown` is cancelled (Ok) or kubelet rejects the registration (Err).
pub async fn serve(
    node: Arc<CephfsNode>,
    options: ServeOptions,
    shutdown: CancellationToken,
) -> Result<(), NodeError> {
    serve_with_metrics(node, options, telemetry::GrpcMetrics::default(), shutdown).await
}

/// [`serve`], counting the CSI socket's RPCs in `metrics` (the binary's served registry).
pub async fn serve_with_metrics(
    node: Arc<CephfsNode>,
    options: ServeOptions,
    metrics: telemetry::GrpcMetrics,
    shutdown: CancellationToken,
) -> Result<(), NodeError> {
    // Nothing a killed predecessor left may stay on disk.
    node.sweep_keys().await;
    let csi_incoming = csi::server::bind(&options.csi_endpoint)
        .await
        .map_err(|e| serve_error("the CSI socket")(e.to_string()))?;
    let stop = shutdown.child_token();
    let csi_server = Server::builder()
        // Each request's span continues the caller's trace (its `traceparent`).
        .trace_fn(telemetry::grpc_server_span)
        .layer(metrics.layer())
        .add_service(IdentityServer::new(IdentityService::new(node.clone())))
        .add_service(NodeServer::new(NodeService::new(node.clone())))
        .serve_with_incoming_shutdown(csi_incoming, stop.clone().cancelled_owned());
    let csi_server = {
        let stop = stop.clone();
        async move {
            let result = csi_server.await;
            stop.cancel();
            result.map_err(|e| serve_error("the CSI socket")(e.to_string()))
        }
    };
    let Some(path) = &options.registration_socket else {
        return csi_server.await;
    };
    let incoming = csi::server::bind(&path.to_string_lossy())
        .await
        .map_err(|e| serve_error("the registration socket")(e.to_string()))?;
    let (service, mut rejected) = KubeletRegistration::new(
        node.settings.driver_name.clone(),
        options.kubelet_endpoint.clone(),
    );
    let registration_server = {
        let stop = stop.clone();
        let server = Server::builder()
            .add_service(RegistrationServer::new(service))
            .serve_with_incoming_shutdown(incoming, stop.clone().cancelled_owned());
        async move {
            let result = server.await;
            stop.cancel();
            result.map_err(|e| serve_error("the registration socket")(e.to_string()))
        }
    };
    let outcome = rejected.clone();
    let watch_rejection = async {
        tokio::select! {
            _ = stop.cancelled() => {}
            _ = rejected.wait_for(Option::is_some) => stop.cancel(),
        }
    };
    let (csi, registration, ()) = tokio::join!(csi_server, registration_server, watch_rejection);
    if let Some(error) = outcome.borrow().clone() {
        return Err(NodeError::RegistrationRejected { error });
    }
    csi?;
    registration
}
