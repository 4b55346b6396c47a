//! The flags both node plugins take (`sepia-node`, `sepia-cephfs-node`), with the same names,
//! defaults and environment variables, and the start-up steps they take alike. Each binary
//! flattens [`NodeFlags`] into its own flags and adds its driver name and state directory (the
//! defaults differ) and what only it has.

use std::error::Error;
use std::future::Future;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use cluster_config::ClusterConfigWatcher;
use telemetry::{GrpcMetrics, TelemetryError};
use tokio_util::sync::CancellationToken;

/// The shared flags of the node plugins.
#[derive(Debug, clap::Args)]
pub struct NodeFlags {
    /// CSI endpoint this plugin serves, as the container sees it.
    #[arg(long, env = "CSI_ENDPOINT", default_value = "unix:///csi/csi.sock")]
    pub endpoint: String,
    /// This node's name in Kubernetes (usually from the downward API, spec.nodeName).
    #[arg(long, env = "NODE_ID")]
    pub node_id: String,
    /// ceph-csi's cluster config (a JSON list of clusters).
    #[arg(long, default_value = "/etc/ceph-csi-config/config.json")]
    pub cluster_config: PathBuf,
    /// How often the cluster config file is checked for changes.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    pub cluster_config_poll: Duration,
    /// kubelet's plugin registration directory; `<driver-name>-reg.sock` is served there.
    #[arg(long, default_value = "/var/lib/kubelet/plugins_registry")]
    pub registration_dir: PathBuf,
    /// Do not serve kubelet registration (when a node-driver-registrar sidecar does it).
    #[arg(long)]
    pub no_kubelet_registration: bool,
    /// The CSI socket's path as the host (kubelet) sees it; default: the --endpoint path.
    #[arg(long)]
    pub kubelet_socket_path: Option<PathBuf>,
    /// kubelet's root directory: staging and target paths must resolve below it (symlinks
    /// followed), anything else is refused.
    #[arg(long, default_value = "/var/lib/kubelet")]
    pub kubelet_root: PathBuf,
    /// ceph.conf for the Ceph tools the plugin runs (rbd, rbd-nbd, rbd-fuse; ceph-fuse);
    /// default none (monitors come from the cluster config).
    #[arg(long)]
    pub ceph_conf: Option<PathBuf>,
    /// NodeGetInfo's max_volumes_per_node (0: no limit announced).
    #[arg(long, default_value_t = 0)]
    pub max_volumes_per_node: i64,
    /// tracing filter, e.g. `info` or `node=debug,info`.
    #[arg(long, env = "RUST_LOG", default_value = "info")]
    pub log_level: String,
    /// Parse and check the flags (and the environment they read), then exit: 0 when fine, 2
    /// when not. Touches nothing (scripts/validate-manifests.sh runs the manifests' args so).
    #[arg(long, env = "SEPIA_CHECK_ARGS", value_parser = clap::builder::BoolishValueParser::new())]
    pub check_args: bool,
    #[command(flatten)]
    pub http: telemetry::HttpEndpointFlag,
}

/// What [`NodeFlags::start`] started.
pub struct Started {
    /// Cancelled on SIGTERM or SIGINT, and when serving ends.
    pub shutdown: CancellationToken,
    pub clusters: ClusterConfigWatcher,
    /// What the CSI server records into, served on `--http-endpoint`.
    pub grpc: GrpcMetrics,
}

impl NodeFlags {
    /// `--check-args`: the shared rules (the endpoint, the log filter).
    ///
    /// # Errors
    /// The first broken rule, as its message.
    pub fn check(&self) -> Result<(), String> {
        csi::endpoint::socket_path(&self.endpoint).map_err(|e| e.to_string())?;
        tracing_subscriber::EnvFilter::try_new(&self.log_level)
            .map(drop)
            .map_err(|e| format!("--log-level {:?}: {e}", self.log_level))
    }

    /// What both plugins start before their driver: the stop request, the watched
    /// `--cluster-config` (a file not usable yet is only a warning: it is re-read when it
    /// changes) and the `--http-endpoint`.
    ///
    /// # Errors
    /// The HTTP endpoint cannot be bound.
    pub async fn start(&self) -> Result<Started, TelemetryError> {
        let shutdown = shutdown::on_request();
        let clusters =
            ClusterConfigWatcher::start(&self.cluster_config, self.cluster_config_poll).await;
        let grpc =
            crate::http_endpoint::start(&self.http, clusters.clone(), shutdown.clone()).await?;
        if let Some(error) = clusters.last_error() {
            tracing::warn!(%error, "starting without a usable cluster config; it is re-read when it changes");
        }
        Ok(Started {
            shutdown,
            clusters,
            grpc,
        })
    }

    /// The CSI socket's path as kubelet sees it (GetInfo): `--kubelet-socket-path`, else the
    /// `--endpoint` path.
    ///
    /// # Errors
    /// `--endpoint` is not a unix socket endpoint.
    pub fn kubelet_endpoint(&self) -> Result<String, csi::Error> {
        let path = match &self.kubelet_socket_path {
            Some(path) => path.clone(),
            None => csi::endpoint::socket_path(&self.endpoint)?,
        };
        Ok(path.to_string_lossy().into_owned())
    }

    /// `<registration-dir>/<driver_name>-reg.sock`, or `None` with `--no-kubelet-registration`.
    pub fn registration_socket(&self, driver_name: &str) -> Option<PathBuf> {
        (!self.no_kubelet_registration).then(|| {
            self.registration_dir
                .join(format!("{driver_name}-reg.sock"))
        })
    }
}

/// A node plugin's `main` after its flags: telemetry from the environment and `log_level`
/// (`--log-level`), `run`, and the exit code ([`shutdown::exit_code`]).
pub async fn run_to_exit<E: Error + 'static>(
    component: &str,
    log_level: &str,
    run: impl Future<Output = Result<(), E>>,
) -> ExitCode {
    // Logs, and spans over OTLP when OTEL_EXPORTER_OTLP_ENDPOINT is set; flushed when dropped.
    let runtime = tokio::runtime::Handle::current();
    let Some(_telemetry) = telemetry::init_from_env(&runtime, component, Some(log_level)) else {
        return ExitCode::FAILURE;
    };
    shutdown::exit_code(component, run.await)
}
