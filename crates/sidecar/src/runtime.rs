//! [`Sidecar`]: the pieces a sidecar binary wires together, and [`Sidecar::run`], the lifecycle
//! every sidecar shares — serve `/metrics`, `/healthz` and `/healthz/leader-election`, wait for
//! the Lease (when `--leader-election`), run the controllers while leading, and stop them
//! cleanly on a signal or, fail-stop, when the Lease is lost
//! ([`crate::leader_election::leadership`]).

pub mod launch;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use events::Publisher;
use kube::Client;
use telemetry::prometheus_client::registry::Registry;
use telemetry::{HealthCheck, HealthChecks, MetricsServer};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::control_loop::retry::Backoff;
use crate::control_loop::workers::LoopSettings;
use crate::csi_conn::CsiConnection;
use crate::error::SidecarError;
use crate::k8s_events::EventRecorder;
use crate::kube_client::{load_config, throttled_client};
use crate::leader_election::leader::LeaderElector;
use crate::leader_election::leadership::{lead, run_unelected};
use crate::leader_election::lease_name;
use crate::nats::start_publisher;
use crate::startup::args::SidecarArgs;
use crate::wakeups::Wakeups;

/// The named health check upstream's manifests probe (`/healthz/leader-election`).
pub const LEADER_ELECTION_CHECK: &str = "leader-election";
/// How long queued NATS events may take to leave at shutdown.
const NATS_FLUSH: Duration = Duration::from_secs(5);

/// What a sidecar's watch loop calls through: cloned out of the [`Sidecar`] before
/// [`Sidecar::run`] consumes it, and moved into the loop.
#[derive(Clone)]
pub struct Handles {
    /// The throttled client.
    pub client: Client,
    pub csi: CsiConnection,
    pub recorder: EventRecorder,
    pub publisher: Publisher,
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
    /// Background-work events from the controller; run among the controllers (leader only).
    pub wakeups: Wakeups,
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
        let shutdown = shutdown::on_request();
        let mut registry = Registry::default();
        let csi = tokio::select! {
            connected = CsiConnection::connect(&args.csi_address, args.timeout, &mut registry) => connected?,
            () = shutdown.cancelled() => return Err(SidecarError::DriverUnusable {
                driver: args.csi_address.clone(),
                reason: "stopped while waiting for the driver".to_owned(),
            }),
        };
        let publisher = start_publisher(args.nats_url.as_deref(), component, &mut registry)?;
        let wakeups = Wakeups::new(args.nats_url.as_deref(), component, &mut registry);
        let recorder = EventRecorder::new(client.clone(), component, &identity);
        Ok(Self {
            args,
            component: component.to_owned(),
            identity,
            client,
            csi,
            recorder,
            publisher,
            wakeups,
            registry,
            shutdown,
        })
    }

    /// The client, driver connection and event outlets the watch loops call through.
    pub fn handles(&self) -> Handles {
        Handles {
            client: self.client.clone(),
            csi: self.csi.clone(),
            recorder: self.recorder.clone(),
            publisher: self.publisher.clone(),
        }
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
    /// signal, or — with `--leader-election` — only while holding Lease `lease_name`,
    /// fail-stop ([`crate::leader_election::leadership`]).
    ///
    /// # Errors
    /// [`SidecarError::LeadershipLost`] (the binary must exit non-zero at once, so the pod
    /// restarts as a standby), or a failure to bind `--http-endpoint`.
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
        let mut elector = if args.leader_election {
            Some(elector(&args, &component, lease_name, &identity).await?)
        } else {
            None
        };
        let leader_election = match &elector {
            Some(elector) => {
                let status = elector.status();
                let lease_duration = args.leader_election_lease_duration;
                HealthCheck::new(move || status.health(lease_duration, Instant::now()))
            }
            None => HealthCheck::always_healthy(),
        };
        if let Some(addr) = args.http_address() {
            let health = HealthChecks::default().with(LEADER_ELECTION_CHECK, leader_election);
            let server =
                MetricsServer::bind(addr.clone(), &args.metrics_path, Arc::new(registry), health)
                    .await?;
            tracing::info!(addr = %server.local_addr(), "serving metrics and health");
            let stop = shutdown.clone();
            tokio::spawn(async move {
                if let Err(error) = server.serve(async move { stop.cancelled().await }).await {
                    tracing::error!(%error, "metrics server failed");
                }
            });
        }

        let result = match elector.as_mut() {
            None => run_unelected(controllers, &shutdown).await,
            Some(elector) => lead(elector, controllers, &shutdown).await,
        };
        // After a lost Lease the deadline is close: exit without waiting for NATS.
        if result.is_ok()
            && let Err(error) = publisher.flush(NATS_FLUSH).await
        {
            tracing::warn!(%error, "not every event reached NATS before exit");
        }
        shutdown.cancel();
        result
    }
}

/// The elector of Lease `lease_name`, on a client of its own so a throttled controller client
/// cannot starve renewals (as upstream).
async fn elector(
    args: &SidecarArgs,
    component: &str,
    lease_name: String,
    identity: &str,
) -> Result<LeaderElector, SidecarError> {
    let config = load_config(args.kubeconfig.as_deref()).await?;
    let election_client = throttled_client(
        config,
        args.kube_api_qps,
        args.kube_api_burst,
        &format!("{component}-leader-election/{identity}"),
    )?;
    Ok(LeaderElector::new(
        election_client,
        args.election_config(lease_name, identity),
    ))
}
