//! The small HTTP server every Sepia process runs for Prometheus and the kubelet: the metrics
//! path (configurable, like the kubernetes-csi sidecars' `--metrics-path`), `/healthz` (every
//! check) and `/healthz/<name>` (one named check, e.g. `/healthz/leader-election`), `/livez`
//! (the process serves: nothing more, as the API server's own `/livez`), and for components
//! whose liveness and readiness differ (the CSI plugins: a dead Ceph cluster makes them
//! unready, not worth a restart) `/readyz` and `/readyz/<name>` the same way.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;

use crate::error::TelemetryError;
use crate::health::{Health, HealthChecks};
use crate::listen_address::ListenAddress;

/// Fixed, because liveness probes in the manifests point at it.
pub const HEALTHZ_PATH: &str = "/healthz";

/// Fixed, because readiness probes in the manifests point at it.
pub const READYZ_PATH: &str = "/readyz";

/// Fixed, because the CSI plugins' liveness probes point at it: answered whenever the process
/// serves HTTP, whatever its checks say.
pub const LIVEZ_PATH: &str = "/livez";

/// prometheus-client encodes OpenMetrics text; saying so lets Prometheus parse it as such.
const OPENMETRICS_CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Clone)]
struct Endpoints {
    registry: Arc<Registry>,
    health: HealthChecks,
    readiness: HealthChecks,
}

/// A bound but not yet serving endpoint. Binding and serving are split so a caller (or a test
/// listening on port 0) learns the real address before requests arrive, and a port clash fails
/// start-up instead of a background task.
pub struct MetricsServer {
    listener: TcpListener,
    local_addr: SocketAddr,
    router: Router,
}

impl MetricsServer {
    /// Listens on `addr` and routes `metrics_path`, [`HEALTHZ_PATH`] and one
    /// `/healthz/<name>` per named check. The registry is shared read-only: register every
    /// metric before wrapping it in the `Arc`.
    pub async fn bind(
        addr: ListenAddress,
        metrics_path: &str,
        registry: Arc<Registry>,
        health: impl Into<HealthChecks>,
    ) -> Result<Self, TelemetryError> {
        Self::bind_with_readiness(addr, metrics_path, registry, health, None).await
    }

    /// [`MetricsServer::bind`], plus [`READYZ_PATH`] and `/readyz/<name>` when `readiness` is
    /// given: ready when every liveness check and every readiness check is healthy.
    pub async fn bind_with_readiness(
        addr: ListenAddress,
        metrics_path: &str,
        registry: Arc<Registry>,
        health: impl Into<HealthChecks>,
        readiness: Option<HealthChecks>,
    ) -> Result<Self, TelemetryError> {
        validate_metrics_path(metrics_path)?;
        let bind_error = |source| TelemetryError::BindHttp {
            addr: addr.to_string(),
            source,
        };
        let listener = addr.bind().await.map_err(bind_error)?;
        let local_addr = listener.local_addr().map_err(bind_error)?;
        let mut router = Router::new()
            .route(metrics_path, get(metrics))
            .route(HEALTHZ_PATH, get(healthz))
            .route(&format!("{HEALTHZ_PATH}/{{name}}"), get(healthz_named))
            .route(LIVEZ_PATH, get(livez));
        if readiness.is_some() {
            router = router
                .route(READYZ_PATH, get(readyz))
                .route(&format!("{READYZ_PATH}/{{name}}"), get(readyz_named));
        }
        let router = router.with_state(Endpoints {
            registry,
            health: health.into(),
            readiness: readiness.unwrap_or_default(),
        });
        Ok(Self {
            listener,
            local_addr,
            router,
        })
    }

    /// The address actually listened on (the real port when bound to port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Serves until `shutdown` completes, then finishes in-flight requests and returns.
    pub async fn serve(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), TelemetryError> {
        let addr = self.local_addr;
        axum::serve(self.listener, self.router)
            .with_graceful_shutdown(shutdown)
            .await
            .map_err(|source| TelemetryError::ServeHttp { addr, source })
    }
}

/// Binds and serves in one call, for binaries that do not need the bound address.
pub async fn serve_http(
    addr: ListenAddress,
    metrics_path: &str,
    registry: Arc<Registry>,
    health: impl Into<HealthChecks>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), TelemetryError> {
    MetricsServer::bind(addr, metrics_path, registry, health)
        .await?
        .serve(shutdown)
        .await
}

/// The router panics on paths it cannot parse (`{capture}`, `*wildcard`), so anything outside
/// a plain path is refused up front with the flag's name.
fn validate_metrics_path(path: &str) -> Result<(), TelemetryError> {
    let plain = path.starts_with('/')
        && path
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '-' | '_' | '.'))
        && !path.contains("//");
    if plain && path != HEALTHZ_PATH && path != READYZ_PATH && path != LIVEZ_PATH {
        Ok(())
    } else {
        Err(TelemetryError::InvalidMetricsPath {
            path: path.to_owned(),
        })
    }
}

async fn metrics(State(endpoints): State<Endpoints>) -> Response {
    let mut body = String::new();
    match prometheus_client::encoding::text::encode(&mut body, &endpoints.registry) {
        Ok(()) => ([(CONTENT_TYPE, OPENMETRICS_CONTENT_TYPE)], body).into_response(),
        Err(_) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "encoding metrics failed\n",
        )
            .into_response(),
    }
}

async fn healthz(State(endpoints): State<Endpoints>) -> Response {
    answer(endpoints.health.check())
}

async fn livez() -> Response {
    answer(Health::Healthy)
}

/// One named check; 404 for a name nobody registered, as a mux without that path answers.
async fn healthz_named(State(endpoints): State<Endpoints>, Path(name): Path<String>) -> Response {
    match endpoints.health.named(&name) {
        Some(check) => answer(check.check()),
        None => (StatusCode::NOT_FOUND, "no such health check\n").into_response(),
    }
}

/// Ready: alive and every readiness check healthy.
async fn readyz(State(endpoints): State<Endpoints>) -> Response {
    answer(match endpoints.health.check() {
        Health::Healthy => endpoints.readiness.check(),
        unhealthy => unhealthy,
    })
}

async fn readyz_named(State(endpoints): State<Endpoints>, Path(name): Path<String>) -> Response {
    match endpoints.readiness.named(&name) {
        Some(check) => answer(check.check()),
        None => (StatusCode::NOT_FOUND, "no such readiness check\n").into_response(),
    }
}

fn answer(health: Health) -> Response {
    match health {
        Health::Healthy => (StatusCode::OK, "ok\n".to_owned()).into_response(),
        Health::Unhealthy(reason) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("unhealthy: {reason}\n"),
        )
            .into_response(),
    }
}

#[cfg(test)]
mod tests;
