//! Serving: the CSI socket (Identity + Node) and kubelet's registration socket, until shutdown
//! or until kubelet rejects the registration. Both socket files are removed when serving stops
//! (the csi crate's socket guards), so kubelet never dials a dead endpoint.

use std::path::PathBuf;
use std::sync::Arc;

use csi::registration::registration_server::RegistrationServer;
use csi::v1::identity_server::IdentityServer;
use csi::v1::node_server::NodeServer;
use tokio_util::sync::CancellationToken;
use tonic::transport::Server;

use crate::driver::NodeDriver;
use crate::error::NodeError;
use crate::registration::kubelet::KubeletRegistration;
use crate::service::{IdentityService, NodeService};

#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// `unix:///csi/csi.sock` as this process sees it.
    pub csi_endpoint: String,
    /// `<registration-dir>/<driver>-reg.sock`, or `None` to leave registration to someone else.
    pub registration_socket: Option<PathBuf>,
    /// The CSI socket's path as kubelet (the host) sees it, for GetInfo.
    pub kubelet_endpoint: String,
}

/// Serves until `shutdown` is cancelled (Ok) or kubelet rejects us (Err).
pub async fn serve(
    driver: Arc<NodeDriver>,
    options: ServeOptions,
    shutdown: CancellationToken,
) -> Result<(), NodeError> {
    serve_with_metrics(driver, options, telemetry::GrpcMetrics::default(), shutdown).await
}

/// [`serve`], counting the CSI socket's RPCs in `metrics` (the binary's served registry).
pub async fn serve_with_metrics(
    driver: Arc<NodeDriver>,
    options: ServeOptions,
    metrics: telemetry::GrpcMetrics,
    shutdown: CancellationToken,
) -> Result<(), NodeError> {
    let serve_err = |what: &'static str| {
        move |e: csi::Error| NodeError::Serve {
            what,
            message: e.to_string(),
        }
    };
    // Before serving: nothing a killed predecessor left may stay on disk.
    driver.sweep_keys().await;
    let csi_incoming = csi::server::bind(&options.csi_endpoint)
        .await
        .map_err(serve_err("the CSI socket"))?;
    let registration = match &options.registration_socket {
        Some(path) => {
            let incoming = csi::server::bind(&path.to_string_lossy())
                .await
                .map_err(serve_err("the registration socket"))?;
            let (service, rejected) = KubeletRegistration::new(
                driver.settings.driver_name.clone(),
                options.kubelet_endpoint.clone(),
            );
            Some((incoming, service, rejected))
        }
        None => None,
    };

    // Whatever ends first (shutdown, a rejection, a server failing) stops everything, so the
    // plugin never half-serves: kubelet sees both sockets or neither.
    let stop = shutdown.child_token();
    let csi_server = {
        let stop = stop.clone();
        let server = Server::builder()
            // Each request's span continues the caller's trace (its `traceparent`).
            .trace_fn(telemetry::grpc_server_span)
            .layer(metrics.layer())
            .add_service(IdentityServer::new(IdentityService::new(driver.clone())))
            .add_service(NodeServer::new(NodeService::new(driver.clone())))
            .serve_with_incoming_shutdown(csi_incoming, stop.clone().cancelled_owned());
        async move {
            let result = server.await;
            stop.cancel();
            result.map_err(transport_err("the CSI socket"))
        }
    };

    let Some((incoming, service, mut rejected)) = registration else {
        return csi_server.await;
    };
    let registration_server = {
        let stop = stop.clone();
        let server = Server::builder()
            .add_service(RegistrationServer::new(service))
            .serve_with_incoming_shutdown(incoming, stop.clone().cancelled_owned());
        async move {
            let result = server.await;
            stop.cancel();
            result.map_err(transport_err("the registration socket"))
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
    // A rejection wins over how the servers ended: it is why they ended.
    if let Some(error) = outcome.borrow().clone() {
        return Err(NodeError::RegistrationRejected { error });
    }
    csi?;
    registration
}

fn transport_err(what: &'static str) -> impl FnOnce(tonic::transport::Error) -> NodeError {
    move |e| NodeError::Serve {
        what,
        message: e.to_string(),
    }
}
