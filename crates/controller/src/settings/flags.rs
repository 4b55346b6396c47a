//! The flags both controller plugins take (`sepia-controller`, `sepia-cephfs-controller`), with
//! the same names, defaults and environment variables, and the start-up steps they take alike.
//! Each binary flattens [`ControllerFlags`] into its own flags and adds its driver name (the
//! default differs) and what only it has.

use std::error::Error;
use std::future::Future;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use cluster_config::ClusterConfigWatcher;
use events::{EventsError, Publisher, PublisherConfig};
use failpoint::{Failpoints, InvalidSpec};
use telemetry::prometheus_client::registry::Registry;

use crate::advertised::AlphaCapabilities;
use crate::settings::Settings;

/// The shared flags of the controller plugins.
#[derive(Debug, clap::Args)]
pub struct ControllerFlags {
    /// CSI endpoint to serve on.
    #[arg(long, env = "CSI_ENDPOINT", default_value = "unix:///run/csi/csi.sock")]
    pub endpoint: String,
    /// ceph-csi cluster config (JSON list of clusterID, monitors, rbd.radosNamespace,
    /// cephFS.subvolumeGroup, ...).
    #[arg(long, default_value = "/etc/ceph-csi-config/config.json")]
    pub cluster_config: PathBuf,
    /// How often the cluster config file is checked for changes.
    #[arg(long, default_value = "5s", value_parser = humantime::parse_duration)]
    pub cluster_config_poll: Duration,
    /// ceph-csi's instance id: names the journal directories (csi.volumes.<id>) and, for RBD,
    /// the node registry.
    #[arg(long, default_value = "default")]
    pub instance_id: String,
    /// NATS server for events (optional; without it the controller only logs).
    #[arg(long, env = "SEPIA_NATS_URL")]
    pub nats_url: Option<String>,
    /// Directory holding files userID and userKey (a mounted Secret): the identity for RPCs that
    /// CSI sends without secrets (GetCapacity, ValidateVolumeCapabilities; for RBD also
    /// ListVolumes, ControllerGetVolume, publish).
    #[arg(long)]
    pub controller_credentials_dir: Option<PathBuf>,
    /// Overall budget of one RPC (a shorter client deadline wins).
    #[arg(long, default_value = "60s", value_parser = humantime::parse_duration)]
    pub rpc_timeout: Duration,
    /// Deadline of connecting to a Ceph cluster.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    pub ceph_connect_timeout: Duration,
    /// Deadline of every other Ceph call (mgr commands included).
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    pub ceph_op_timeout: Duration,
    /// How long an unused Ceph connection is kept.
    #[arg(long, default_value = "10m", value_parser = humantime::parse_duration)]
    pub connection_idle: Duration,
    /// How long a lock in RADOS (request name, volume, snapshot) outlives its holder's last
    /// renewal; renewed at a third of it while the request runs. Also how long other
    /// processes wait for the locks of a crashed one.
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    pub lock_duration: Duration,
    /// Async worker threads (Ceph calls run on the blocking pool, not here).
    #[arg(long, default_value_t = 2)]
    pub worker_threads: usize,
    /// Upper bound of threads running blocking Ceph calls.
    #[arg(long, default_value_t = 32)]
    pub max_blocking_threads: usize,
    /// Failpoints for crash testing, e.g. `controller.create.after_image_created=fail`.
    #[arg(long, env = "SEPIA_FAILPOINTS", hide = true)]
    pub failpoints: Option<String>,
    /// Parse and check the flags (and the environment they read), then exit: 0 when fine, 2
    /// when not. Connects nowhere (scripts/validate-manifests.sh runs the manifests' args so).
    #[arg(long, env = "SEPIA_CHECK_ARGS", value_parser = clap::builder::BoolishValueParser::new())]
    pub check_args: bool,
    #[command(flatten)]
    pub http: telemetry::HttpEndpointFlag,
}

impl ControllerFlags {
    /// `--check-args`: the shared rules (the endpoint, the failpoints).
    ///
    /// # Errors
    /// The first broken rule, as its message.
    pub fn check(&self) -> Result<(), String> {
        csi::endpoint::socket_path(&self.endpoint).map_err(|e| e.to_string())?;
        self.failpoints().map(drop).map_err(|e| e.to_string())
    }

    /// `--failpoints`, or none armed.
    ///
    /// # Errors
    /// A malformed spec.
    pub fn failpoints(&self) -> Result<Failpoints, InvalidSpec> {
        match &self.failpoints {
            Some(spec) => Failpoints::from_spec(spec),
            None => Ok(Failpoints::disabled()),
        }
    }

    /// The async runtime: `--worker-threads`, and `--max-blocking-threads` for Ceph calls.
    ///
    /// # Errors
    /// The runtime's threads or driver could not be made.
    pub fn runtime(&self) -> std::io::Result<tokio::runtime::Runtime> {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(self.worker_threads.max(1))
            .max_blocking_threads(self.max_blocking_threads.max(1))
            .enable_all()
            .build()
    }

    /// The events publisher to `--nats-url` as `component`, or a disabled one without it.
    ///
    /// # Errors
    /// A bad URL or setting (an absent server is fine: events wait for it).
    pub fn publisher(
        &self,
        component: &str,
        registry: &mut Registry,
    ) -> Result<Publisher, EventsError> {
        match &self.nats_url {
            Some(url) => {
                let config = PublisherConfig {
                    client_name: Some(component.to_owned()),
                    ..PublisherConfig::new(url.clone())
                };
                Publisher::start(config, registry)
            }
            None => Ok(Publisher::disabled()),
        }
    }

    /// [`Settings`] from these flags, with no alpha capabilities and the defaults for the rest:
    /// a binary sets what only it has.
    pub fn settings(
        &self,
        driver_name: String,
        failpoints: Failpoints,
        events: Publisher,
        metrics: crate::metrics::Metrics,
    ) -> Settings {
        Settings {
            driver_name,
            instance_id: self.instance_id.clone(),
            ceph_timeouts: ceph::Timeouts {
                connect: self.ceph_connect_timeout,
                op: self.ceph_op_timeout,
            },
            rpc_timeout: self.rpc_timeout,
            connection_idle: self.connection_idle,
            lock_duration: self.lock_duration,
            controller_credentials_dir: self.controller_credentials_dir.clone(),
            failpoints,
            events,
            alpha: AlphaCapabilities::none(),
            metrics,
            ..Settings::default()
        }
    }

    /// The watched `--cluster-config`. A file not loaded yet is only a warning: Probe reports
    /// not ready until it is.
    pub async fn cluster_config(&self) -> ClusterConfigWatcher {
        let config =
            ClusterConfigWatcher::start(&self.cluster_config, self.cluster_config_poll).await;
        if let Some(e) = config.last_error() {
            tracing::warn!(error = %e, "cluster config not loaded yet; Probe reports not ready until it is");
        }
        config
    }
}

/// A controller plugin's `main` after its flags: `run` on `runtime` (from
/// [`ControllerFlags::runtime`], its error as the binary's) with telemetry from the environment,
/// and the exit code ([`shutdown::exit_code`]).
pub fn run_to_exit<E: Error + 'static>(
    component: &str,
    runtime: Result<tokio::runtime::Runtime, E>,
    run: impl Future<Output = Result<(), E>>,
) -> ExitCode {
    let runtime = match runtime {
        Ok(runtime) => runtime,
        Err(error) => return shutdown::exit_code(component, Err(error)),
    };
    // Logs, and spans over OTLP when OTEL_EXPORTER_OTLP_ENDPOINT is set; flushed when dropped.
    let Some(_telemetry) = telemetry::init_from_env(runtime.handle(), component, None) else {
        return ExitCode::FAILURE;
    };
    shutdown::exit_code(component, runtime.block_on(run))
}

/// Why a controller plugin did not start, or stopped serving: one enum for both binaries, so
/// their start-up failures read alike ([`shutdown::exit_code`] prints the cause chain).
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot start the async runtime")]
    Runtime(#[source] std::io::Error),
    #[error("{rule}")]
    Flags { rule: String },
    #[error("--failpoints")]
    Failpoints(#[source] failpoint::InvalidSpec),
    #[error("events publisher")]
    Events(#[source] events::EventsError),
    #[error("metrics endpoint")]
    MetricsEndpoint(#[source] telemetry::TelemetryError),
    #[error("listen socket")]
    ListenSocket(#[source] csi::Error),
    #[error("serving {endpoint}")]
    Serving {
        endpoint: String,
        #[source]
        source: tonic::transport::Error,
    },
}
