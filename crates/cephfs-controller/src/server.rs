//! Serving Identity (the RBD controller's, which reads the driver name from the settings) and
//! the CephFS Controller on a bound unix socket until `shutdown` resolves. Used by the binary
//! and, in-process, by the tests.

use std::future::Future;
use std::sync::Arc;

use controller::service::IdentityService;
use csi::v1::controller_server::ControllerServer;
use csi::v1::identity_server::IdentityServer;

use crate::driver::Driver;
use crate::service::ControllerService;

pub async fn serve(
    driver: Arc<Driver>,
    incoming: csi::server::UnixIncoming,
    shutdown: impl Future<Output = ()>,
) -> Result<(), tonic::transport::Error> {
    tonic::transport::Server::builder()
        // Each request's span continues the caller's trace (its `traceparent`).
        .trace_fn(telemetry::grpc_server_span)
        .layer(driver.state.settings.metrics.grpc.layer())
        .add_service(IdentityServer::new(IdentityService::new(Arc::clone(
            &driver.state,
        ))))
        .add_service(ControllerServer::new(ControllerService::new(driver)))
        .serve_with_incoming_shutdown(incoming, shutdown)
        .await
}
