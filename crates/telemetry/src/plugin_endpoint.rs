//! The CSI plugins' HTTP endpoint (`sepia-controller`, `sepia-node` and their CephFS twins),
//! set up once here so the four binaries serve the same paths and metrics:
//!
//! - `/metrics`: [`GrpcMetrics`] of the CSI server, [`CephCallMetrics`] of every Ceph call, and
//!   whatever the binary registers in [`PluginTelemetry::registry`] (events, locks, background
//!   work);
//! - `/healthz` and `/healthz/<name>`, and the same under `/readyz` (readiness): `config` (the
//!   cluster config file as it is now parsed and is the one in use) and `ceph` (every
//!   configured cluster has a monitor that accepts a TCP connection, probed every
//!   [`PROBE_INTERVAL`]);
//! - `/livez` (liveness): the process serves HTTP. Nothing else on purpose: restarting a
//!   plugin fixes neither a broken config file (the watcher keeps serving the last good one)
//!   nor an unreachable cluster, and a restart loop would only add a gap in service. So the
//!   manifests probe `/livez` for liveness and `/readyz` for readiness; `/healthz` tells a
//!   human or a monitoring system what is wrong.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use cluster_config::ClusterConfigWatcher;
use cluster_config::reachability::reachable_monitor;
use prometheus_client::registry::Registry;
use tokio::sync::watch;

use crate::ceph_call_metrics::CephCallMetrics;
use crate::error::TelemetryError;
use crate::grpc_metrics::GrpcMetrics;
use crate::health::{Health, HealthCheck, HealthChecks};
use crate::http_server::MetricsServer;
use crate::listen_address::ListenAddress;

/// How often the monitors of every configured cluster are probed for `/readyz/ceph`.
pub const PROBE_INTERVAL: Duration = Duration::from_secs(10);

/// The flag, shared by the four plugins (`#[command(flatten)]`), spelled as the sidecars'.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct HttpEndpointFlag {
    /// Where `/metrics`, `/healthz` and `/readyz` (the cluster config parses, and every
    /// configured cluster's monitors accept connections; also `/healthz/config`,
    /// `/healthz/ceph` and the same under `/readyz`) and `/livez` (liveness: the process
    /// serves) are served: `:port` (every interface),
    /// `host:port` or `[ipv6]:port`; none when unset. Ceph being down makes the plugin unready,
    /// never restarts it.
    #[arg(long = "http-endpoint", value_name = "ADDR:PORT")]
    pub http_endpoint: Option<ListenAddress>,
}

/// The registry and the metrics every plugin has, until [`PluginTelemetry::serve`] hands them
/// to the HTTP server.
#[derive(Debug)]
pub struct PluginTelemetry {
    registry: Registry,
    grpc: GrpcMetrics,
    ceph_calls: CephCallMetrics,
}

impl Default for PluginTelemetry {
    fn default() -> Self {
        Self::new()
    }
}

impl PluginTelemetry {
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let grpc = GrpcMetrics::register(&mut registry);
        let ceph_calls = CephCallMetrics::register(&mut registry);
        Self {
            registry,
            grpc,
            ceph_calls,
        }
    }

    /// For the binary's own metrics; register them before [`PluginTelemetry::serve`].
    pub fn registry(&mut self) -> &mut Registry {
        &mut self.registry
    }

    /// The CSI server's metrics: its layer goes in front of the gRPC services.
    pub fn grpc(&self) -> GrpcMetrics {
        self.grpc.clone()
    }

    /// For `ceph::observe_calls`.
    pub fn ceph_call_observer(
        &self,
    ) -> impl Fn(&'static str, &'static str, Duration) + Send + Sync + 'static {
        self.ceph_calls.observer()
    }

    /// Binds the endpoint named by `flag` (a clash fails start-up) and serves it in the
    /// background until `shutdown`; starts the monitor probe. Returns the bound address, or
    /// `None` without an endpoint.
    pub async fn serve(
        self,
        flag: &HttpEndpointFlag,
        config: ClusterConfigWatcher,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<Option<SocketAddr>, TelemetryError> {
        let Some(addr) = flag.http_endpoint.clone() else {
            return Ok(None);
        };
        let checks = checks(config);
        let server = MetricsServer::bind_with_readiness(
            addr,
            "/metrics",
            Arc::new(self.registry),
            checks.clone(),
            Some(checks),
        )
        .await?;
        let local = server.local_addr();
        tokio::spawn(async move {
            if let Err(error) = server.serve(shutdown).await {
                tracing::error!(%error, "the HTTP endpoint stopped; /metrics and probes fail");
            }
        });
        tracing::info!(address = %local, "serving /metrics, /healthz, /readyz and /livez");
        Ok(Some(local))
    }
}

/// `config` and `ceph`, see the module doc.
fn checks(config: ClusterConfigWatcher) -> HealthChecks {
    let (verdict, seen) = watch::channel(Health::Unhealthy("not probed yet".to_owned()));
    tokio::spawn(probe_monitors(config.clone(), verdict));
    HealthChecks::default()
        .with(
            "config",
            HealthCheck::new(move || match config.last_error() {
                None => Health::Healthy,
                Some(error) => Health::Unhealthy(error.to_string()),
            }),
        )
        .with("ceph", HealthCheck::new(move || seen.borrow().clone()))
}

/// Probes until the HTTP server (the last receiver) is gone.
async fn probe_monitors(config: ClusterConfigWatcher, verdict: watch::Sender<Health>) {
    let mut ticker = tokio::time::interval(PROBE_INTERVAL);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticker.tick().await; // the first tick is immediate; the first probe is now anyway
    let mut changed = config.subscribe();
    // A fixed configuration (no poller) never changes: then only the ticker wakes the probe.
    let mut reloads = true;
    loop {
        let mut unreachable = Vec::new();
        for entry in config.current().entries() {
            if reachable_monitor(&entry.monitors_arg()).await.is_none() {
                unreachable.push(format!("{} ({})", entry.cluster_id, entry.monitors_arg()));
            }
        }
        let health = if unreachable.is_empty() {
            Health::Healthy
        } else {
            Health::Unhealthy(format!(
                "no monitor accepts connections for cluster {}",
                unreachable.join(", ")
            ))
        };
        verdict.send_if_modified(|old| {
            let changed = *old != health;
            *old = health;
            changed
        });
        if verdict.is_closed() {
            return;
        }
        // A new config is probed at once, so a fixed cluster list turns ready without waiting.
        tokio::select! {
            _ = ticker.tick() => {}
            reloaded = changed.changed(), if reloads => reloads = reloaded.is_ok(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use cluster_config::ClusterConfig;
    use sepia_testbed::http::{get, until};

    use super::*;

    const SETTLES: Duration = Duration::from_secs(10);

    /// A plugin endpoint on a fixed config whose clusters' monitors are `monitors`.
    async fn serving(telemetry: PluginTelemetry, monitors: &[(&str, String)]) -> SocketAddr {
        let entries: Vec<_> = monitors
            .iter()
            .map(|(id, monitor)| format!(r#"{{"clusterID":"{id}","monitors":["{monitor}"]}}"#))
            .collect();
        let json = format!("[{}]", entries.join(","));
        let config = ClusterConfig::parse(Path::new("config.json"), json.as_bytes()).unwrap();
        let flag = HttpEndpointFlag {
            http_endpoint: Some("127.0.0.1:0".parse().unwrap()),
        };
        telemetry
            .serve(
                &flag,
                ClusterConfigWatcher::fixed(config),
                std::future::pending(),
            )
            .await
            .unwrap()
            .unwrap()
    }

    #[tokio::test]
    async fn ready_when_every_cluster_has_a_listening_monitor() {
        let monitor = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let telemetry = PluginTelemetry::new();
        (telemetry.ceph_call_observer())("rbd_open", "ok", Duration::from_millis(3));
        let addr = serving(
            telemetry,
            &[("up", monitor.local_addr().unwrap().to_string())],
        )
        .await;
        until(addr, "/readyz", SETTLES, |status, _| status == 200).await;
        assert_eq!(get(addr, "/readyz/ceph").await.0, 200);
        assert_eq!(get(addr, "/readyz/config").await.0, 200);
        assert_eq!(get(addr, "/healthz").await.0, 200);
        assert_eq!(get(addr, "/healthz/ceph").await.0, 200);
        assert_eq!(get(addr, "/livez").await.0, 200);
        let (status, metrics) = get(addr, "/metrics").await;
        assert_eq!(status, 200);
        assert!(
            metrics
                .contains(r#"sepia_ceph_call_seconds_count{operation="rbd_open",outcome="ok"} 1"#),
            "{metrics}"
        );
    }

    #[tokio::test]
    async fn a_cluster_without_a_listening_monitor_is_unready_and_unhealthy_but_alive() {
        let up = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let dead = closed.local_addr().unwrap().to_string();
        drop(closed);
        let addr = serving(
            PluginTelemetry::new(),
            &[
                ("up", up.local_addr().unwrap().to_string()),
                ("down", dead.clone()),
            ],
        )
        .await;
        let why = until(addr, "/readyz/ceph", SETTLES, |status, body| {
            status == 500 && body.contains("no monitor")
        })
        .await;
        assert!(why.contains(&format!("down ({dead})")), "{why}");
        assert!(!why.contains("up ("), "{why}");
        let (status, why) = get(addr, "/readyz").await;
        assert_eq!(status, 500);
        assert!(why.contains("ceph: no monitor"), "{why}");
        assert_eq!(get(addr, "/readyz/config").await.0, 200);
        let (status, why) = get(addr, "/healthz").await;
        assert_eq!(status, 500);
        assert!(why.contains("ceph: no monitor"), "{why}");
        assert_eq!(get(addr, "/healthz/config").await.0, 200);
        assert_eq!(get(addr, "/livez").await.0, 200);
    }
}
