//! Both node plugins' (`sepia-node`, `sepia-cephfs-node`) `--http-endpoint`: the shared
//! plugin endpoint of `telemetry::plugin_endpoint` (metrics, `/healthz`, `/readyz`) with this
//! process's Ceph calls observed, started in one call from either binary.

use cluster_config::ClusterConfigWatcher;
use telemetry::{GrpcMetrics, HttpEndpointFlag, PluginTelemetry, TelemetryError};
use tokio_util::sync::CancellationToken;

/// Serves the endpoint `flag` names (if any) until `shutdown`; the metrics the CSI server's
/// layer records into (`crate::server::serve_with_metrics`).
///
/// # Errors
/// The endpoint cannot be bound.
pub async fn start(
    flag: &HttpEndpointFlag,
    clusters: ClusterConfigWatcher,
    shutdown: CancellationToken,
) -> Result<GrpcMetrics, TelemetryError> {
    let telemetry = PluginTelemetry::new();
    ceph::observe_calls(telemetry.ceph_call_observer());
    let grpc = telemetry.grpc();
    telemetry
        .serve(flag, clusters, shutdown.cancelled_owned())
        .await?;
    Ok(grpc)
}
