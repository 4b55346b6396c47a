//! [`Sidecar`]: the pieces a sidecar binary wires together, and [`Sidecar::run`], the lifecycle
//! every sidecar shares — serve `/metrics` + `/healthz`, wait for the Lease (when
//! `--leader-election`), run the controllers while leading, and stop them cleanly on a signal
//! or, fail-stop, when the Lease is lost.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use events::Publisher;
use kube::Client;
use telemetry::prometheus_client::registry::Registry;
use telemetry::{HealthCheck, MetricsServer, TelemetryConfig, TelemetryGuard};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::args::SidecarArgs;
use crate::csi_conn::CsiConnection;
use crate::error::SidecarError;
use crate::k8s_events::EventRecorder;
use crate::kube_client::{load_config, throttled_client};
use crate::leader::{LeaderElectionConfig, LeaderElector, LeaderStatus};
use crate::lease_name;
use crate::nats::start_publisher;
use crate::retry::Backoff;
use crate::workers::LoopSettings;

/// How long controllers get to finish in-flight work after being told to stop.
const STOP_GRACE: Duration = Duration::from_secs(10);
/// How long queued NATS events may take to leave at shutdown.
const NATS_FLUSH: Duration = Duration::from_secs(5);

/// Installs logging and (with `--otlp-endpoint`) trace export for the process.
///
/// # Errors
/// A bad `--log-filter`, or telemetry already installed.
pub fn init_telemetry(args: &SidecarArgs, component: &str) -> Result<TelemetryGuard, SidecarError> {
    let config = TelemetryConfig {
        service_name: component.to_owned(),
        log_filter: args.log_filter.clone(),
        json: args.log_json,
        otlp_endpoint: args.otlp_endpoint.clone(),
    };
    let guard = telemetry::init(&config)?;
    if let Some(level) = args.klog_verbosity {
        tracing::info!(
            level,
            "--v (klog verbosity) is accepted for upstream manifests and ignored; \
             the log filter is --log-filter / RUST_LOG"
        );
    }
    Ok(guard)
}

/// Everything a sidecar's controllers use.
pub struct Sidecar {
    pub args: SidecarArgs,
    /// `sepia-provisioner` etc.: User-Agent, NATS client name, service name.
    pub component: String,
    /// This replica's Lease holder identity (also the Event reporting instance).
    pub identity: String,
    /// The throttled client for the controllers.
    pub client: Client,
    pub csi: CsiConnection,
    pub recorder: EventRecorder,
    pub publisher: Publisher,
    /// Register controller metrics here before [`Sidecar::run`].
    pub registry: Registry,
    pub shutdown: CancellationToken,
}

impl Sidecar {
    /// Validates the flags, builds the kube client, connects to the driver (waiting for it)
    /// and starts the NATS publisher. `shutdown` is cancelled on SIGTERM/SIGINT.
    ///
    /// # Errors
    /// Bad flags, no kube configuration, or a failed CSI handshake.
    pub async fn start(args: SidecarArgs, component: &str) -> Result<Self, SidecarError> {
        args.validate()?;
        let identity = lease_name::identity(
            &lease_name::host_name(),
            &uuid::Uuid::new_v4().simple().to_string()[..8],
        );
        let config = load_config(args.kubeconfig.as_deref()).await?;
        let user_agent = format!("{component}/{identity}");
        let client = throttled_client(config, args.kube_api_qps, args.kube_api_burst, &user_agent)?;
        let shutdown = CancellationToken::new();
        spawn_signal_handler(shutdown.clone())?;
        let mut registry = Registry::default();
        let csi = tokio::select! {
            connected = CsiConnection::connect(&args.csi_address, args.timeout, &mut registry) => connected?,
            () = shutdown.cancelled() => return Err(SidecarError::DriverUnusable {
                driver: args.csi_address.clone(),
                reason: "stopped while waiting for the driver".to_owned(),
            }),
        };
        let publisher = start_publisher(args.nats_url.as_deref(), component, &mut registry)?;
        let recorder = EventRecorder::new(client.clone(), component, &identity);
        Ok(Self {
            args,
            component: component.to_owned(),
            identity,
            client,
            csi,
            recorder,
            publisher,
            registry,
            shutdown,
        })
    }

    /// The per-object retry policy from `--retry-interval-start` / `--retry-interval-max`.
    pub fn backoff(&self) -> Backoff {
        Backoff {
            start: self.args.retry_interval_start,
            max: self.args.retry_interval_max,
        }
    }

    /// The controller loop's knobs: `--worker-threads`, the retry policy, and the binary's own
    /// resync flag (each upstream sidecar spells it differently).
    pub fn loop_settings(&self, resync: Duration) -> LoopSettings {
        LoopSettings {
            workers: self.args.worker_threads,
            resync,
            backoff: self.backoff(),
        }
    }

    /// Runs `controllers` (given a token that is cancelled when they must stop) until a
    /// signal, or — with `--leader-election` — only while holding Lease `lease_name`.
    ///
    /// # Errors
    /// [`SidecarError::LeadershipLost`] (the binary should exit non-zero so the pod restarts
    /// as a standby), or a failure to bind `--http-endpoint`.
    pub async fn run<F, Fut>(self, lease_name: String, controllers: F) -> Result<(), SidecarError>
    where
        F: FnOnce(CancellationToken) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let Sidecar {
            args,
            component,
            identity,
            publisher,
            registry,
            shutdown,
            ..
        } = self;
        let status = LeaderStatus::default();
        let mut elector = if args.leader_election {
            let config = load_config(args.kubeconfig.as_deref()).await?;
            let election_client = throttled_client(
                config,
                args.kube_api_qps,
                args.kube_api_burst,
                &format!("{component}-leader-election/{identity}"),
            )?;
            let elector = LeaderElector::new(
                election_client,
                LeaderElectionConfig {
                    lease_name,
                    namespace: args
                        .leader_election_namespace
                        .clone()
                        .unwrap_or_else(lease_name::default_namespace),
                    identity: identity.clone(),
                    lease_duration: args.leader_election_lease_duration,
                    renew_deadline: args.leader_election_renew_deadline,
                    retry_period: args.leader_election_retry_period,
                },
            );
            Some(elector)
        } else {
            None
        };
        let health = match &elector {
            Some(elector) => {
                let status = elector.status();
                let lease_duration = args.leader_election_lease_duration;
                HealthCheck::new(move || status.health(lease_duration, Instant::now()))
            }
            None => {
                drop(status);
                HealthCheck::always_healthy()
            }
        };
        if let Some(addr) = args.http_endpoint {
            let server =
                MetricsServer::bind(addr, &args.metrics_path, Arc::new(registry), health).await?;
            tracing::info!(addr = %server.local_addr(), "serving metrics and health");
            let stop = shutdown.clone();
            tokio::spawn(async move {
                if let Err(error) = server.serve(async move { stop.cancelled().await }).await {
                    tracing::error!(%error, "metrics server failed");
                }
            });
        }

        let result = match elector.as_mut() {
            None => {
                run_controllers(controllers, shutdown.clone(), async {
                    shutdown.cancelled().await;
                    Ok(())
                })
                .await
            }
            Some(elector) => {
                if !elector.acquire(&shutdown).await {
                    return Ok(());
                }
                let keep_shutdown = shutdown.clone();
                let result =
                    run_controllers(controllers, shutdown.clone(), elector.keep(&keep_shutdown))
                        .await;
                // Only now, with the controllers stopped, may a standby take over at once.
                if result.is_ok() {
                    elector.release().await;
                }
                result
            }
        };
        if let Err(error) = publisher.flush(NATS_FLUSH).await {
            tracing::warn!(%error, "not every event reached NATS before exit");
        }
        shutdown.cancel();
        result
    }
}

/// Runs the controllers until `until` finishes (a signal, or the end of leadership), then
/// stops them and waits up to [`STOP_GRACE`].
async fn run_controllers<F, Fut>(
    controllers: F,
    shutdown: CancellationToken,
    until: impl Future<Output = Result<(), SidecarError>>,
) -> Result<(), SidecarError>
where
    F: FnOnce(CancellationToken) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let stop = shutdown.child_token();
    let mut task = tokio::spawn(controllers(stop.clone()));
    let result = tokio::select! {
        result = until => result,
        joined = &mut task => {
            // Controllers end on their own only when told to, or when they crashed.
            return match joined {
                Ok(()) if shutdown.is_cancelled() => Ok(()),
                _ => Err(SidecarError::ControllersStopped),
            };
        }
    };
    if let Err(error) = &result {
        tracing::error!(%error, "stopping controllers");
    }
    stop.cancel();
    if tokio::time::timeout(STOP_GRACE, task).await.is_err() {
        tracing::warn!("controllers did not stop within {STOP_GRACE:?}");
    }
    result
}

fn spawn_signal_handler(shutdown: CancellationToken) -> Result<(), SidecarError> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).map_err(|source| SidecarError::Signal {
        signal: "SIGTERM",
        source,
    })?;
    let mut int = signal(SignalKind::interrupt()).map_err(|source| SidecarError::Signal {
        signal: "SIGINT",
        source,
    })?;
    tokio::spawn(async move {
        tokio::select! {
            _ = term.recv() => tracing::info!("SIGTERM: shutting down"),
            _ = int.recv() => tracing::info!("SIGINT: shutting down"),
        }
        shutdown.cancel();
    });
    Ok(())
}
