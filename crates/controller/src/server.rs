//! Serving both CSI services on a bound unix socket until `shutdown` resolves. Used by the
//! binary and, in-process, by the tests.

use std::future::Future;
use std::sync::Arc;

use csi::v1::controller_server::ControllerServer;
use csi::v1::identity_server::IdentityServer;

use crate::service::{ControllerService, IdentityService};
use crate::state::State;

pub async fn serve(
    state: Arc<State>,
    incoming: csi::server::UnixIncoming,
    shutdown: impl Future<Output = ()>,
) -> Result<(), tonic::transport::Error> {
    tonic::transport::Server::builder()
        // Each request's span continues the caller's trace (its `traceparent`).
        .trace_fn(telemetry::grpc_server_span)
        .layer(state.settings.metrics.grpc.layer())
        .add_service(IdentityServer::new(IdentityService::new(Arc::clone(
            &state,
        ))))
        .add_service(ControllerServer::new(ControllerService::new(state)))
        .serve_with_incoming_shutdown(incoming, shutdown)
        .await
}
