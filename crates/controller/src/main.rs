//! `sepia-controller`: flags and wiring only. See the library's module map for the rest.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use cluster_config::ClusterConfigWatcher;
use controller::advertised::AlphaCapabilities;
use controller::settings::TrashPurge;
use controller::{CloneDepth, Settings, State};
use events::{Publisher, PublisherConfig};
use failpoint::Failpoints;
use tracing::{error, info, warn};

/// How long a shutdown waits for queued events to reach NATS.
const EVENTS_FLUSH: Duration = Duration::from_secs(5);

/// CSI controller plugin for Ceph RBD (ceph-csi compatible).
#[derive(Debug, Parser)]
#[command(version)]
struct Flags {
    /// CSI endpoint to serve on.
    #[arg(long, env = "CSI_ENDPOINT", default_value = "unix:///run/csi/csi.sock")]
    endpoint: String,
    /// CSI driver name (ceph-csi's, e.g. rook-ceph.rbd.csi.ceph.com, to take over its volumes).
    #[arg(long, default_value = "rbd.csi.sepia.io")]
    driver_name: String,
    /// ceph-csi cluster config (JSON list of clusterID, monitors, rbd.radosNamespace, ...).
    #[arg(long, default_value = "/etc/ceph-csi-config/config.json")]
    cluster_config: PathBuf,
    /// How often the cluster config file is checked for changes.
    #[arg(long, default_value = "5s", value_parser = humantime::parse_duration)]
    cluster_config_poll: Duration,
    /// ceph-csi's instance id: names the journal directories (csi.volumes.<id>) and the node registry.
    #[arg(long, default_value = "default")]
    instance_id: String,
    /// NATS server for events (optional; without it the controller only logs).
    #[arg(long, env = "SEPIA_NATS_URL")]
    nats_url: Option<String>,
    /// Directory holding files userID and userKey (a mounted Secret): the identity for RPCs that
    /// CSI sends without secrets (ListVolumes, GetCapacity, ControllerGetVolume, publish).
    #[arg(long)]
    controller_credentials_dir: Option<PathBuf>,
    /// Overall budget of one RPC (a shorter client deadline wins).
    #[arg(long, default_value = "60s", value_parser = humantime::parse_duration)]
    rpc_timeout: Duration,
    /// Deadline of connecting to a Ceph cluster.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    ceph_connect_timeout: Duration,
    /// Deadline of every other Ceph call.
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    ceph_op_timeout: Duration,
    /// How long an unused Ceph connection is kept.
    #[arg(long, default_value = "10m", value_parser = humantime::parse_duration)]
    connection_idle: Duration,
    /// How long a lock in RADOS (request name, volume, snapshot) outlives its holder's last
    /// renewal; renewed at a third of it while the request runs. Also how long other
    /// processes wait for the locks of a crashed one.
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    lock_duration: Duration,
    /// Clone depth at which intermediate images are flattened in the background.
    #[arg(long, default_value_t = 4)]
    rbd_soft_max_clone_depth: u32,
    /// Clone depth at which restores and clones wait (ABORTED) for a flatten.
    #[arg(long, default_value_t = 8)]
    rbd_hard_max_clone_depth: u32,
    /// How trashed images are purged: `mgr` (ceph-csi's background task per image), `direct`
    /// (within the call), or `schedule` (a mgr trash purge schedule on the driver's namespace).
    #[arg(long, default_value = "mgr")]
    trash_purge: TrashPurge,
    /// Alpha capabilities of CSI to advertise and serve, comma-separated, or `all` / `none`:
    /// `single-node-multi-writer` (the RWO/RWOP access modes), `get-volume` (the
    /// ControllerGetVolume RPC), `volume-condition` (its volume health), `get-snapshot` (the
    /// GetSnapshot RPC, new in CSI 1.12: COs and csi-sanity up to v5.4 reject it as an unknown
    /// capability). An alpha RPC not listed answers UNIMPLEMENTED. None is on unless listed; the
    /// manifests list the first three, which Kubernetes has relied on for years.
    #[arg(long, default_value = AlphaCapabilities::DEFAULT)]
    alpha_capabilities: AlphaCapabilities,
    /// Async worker threads (Ceph calls run on the blocking pool, not here).
    #[arg(long, default_value_t = 2)]
    worker_threads: usize,
    #[command(flatten)]
    http: telemetry::HttpEndpointFlag,
    /// Upper bound of threads running blocking Ceph calls.
    #[arg(long, default_value_t = 32)]
    max_blocking_threads: usize,
    /// Connects to Ceph in flight at once; must be below --max-blocking-threads, whose rest
    /// stays for calls on connections already made. A request needing a new connection beyond
    /// this answers UNAVAILABLE at once (a connect with a wrong key holds a thread until
    /// --ceph-connect-timeout).
    #[arg(long, default_value_t = ceph::ConnectLimits::default().total)]
    max_concurrent_connects: usize,
    /// Connects in flight at once as one Ceph user (whatever the key).
    #[arg(long, default_value_t = ceph::ConnectLimits::default().per_identity)]
    max_connects_per_user: usize,
    /// Failpoints for crash testing, e.g. `controller.create.after_image_created=fail`.
    #[arg(long, env = "SEPIA_FAILPOINTS", hide = true)]
    failpoints: Option<String>,
    /// Parse and check the flags (and the environment they read), then exit: 0 when fine, 2
    /// when not. Connects nowhere (scripts/validate-manifests.sh runs the manifests' args so).
    #[arg(long, env = "SEPIA_CHECK_ARGS", value_parser = clap::builder::BoolishValueParser::new())]
    check_args: bool,
}

/// `--check-args`: every rule `run` would apply before connecting.
fn check_args(flags: &Flags) -> ExitCode {
    let checked = csi::endpoint::socket_path(&flags.endpoint)
        .map(drop)
        .map_err(|e| e.to_string())
        .and_then(|()| {
            CloneDepth::new(
                flags.rbd_soft_max_clone_depth,
                flags.rbd_hard_max_clone_depth,
            )
        })
        .and_then(|_| connect_limits(flags).map(drop))
        .and_then(|_| match &flags.failpoints {
            Some(spec) => Failpoints::from_spec(spec)
                .map(drop)
                .map_err(|e| e.to_string()),
            None => Ok(()),
        });
    match checked {
        Ok(()) => {
            eprintln!("sepia-controller: arguments OK");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("sepia-controller: {message}");
            ExitCode::from(2)
        }
    }
}

/// `--max-concurrent-connects` and `--max-connects-per-user`, checked against the blocking pool.
fn connect_limits(flags: &Flags) -> Result<ceph::ConnectLimits, String> {
    let limits = ceph::ConnectLimits {
        total: flags.max_concurrent_connects,
        per_identity: flags.max_connects_per_user,
    };
    if limits.total == 0 || limits.total >= flags.max_blocking_threads {
        return Err(format!(
            "--max-concurrent-connects {} must be at least 1 and below --max-blocking-threads {}",
            limits.total, flags.max_blocking_threads
        ));
    }
    if limits.per_identity == 0 || limits.per_identity > limits.total {
        return Err(format!(
            "--max-connects-per-user {} must be within 1..={}",
            limits.per_identity, limits.total
        ));
    }
    Ok(limits)
}

/// glibc gives every thread that allocates its own arena (up to 8 per core); with librados'
/// threads and the blocking pool that multiplies the heap for no gain in a process this size.
fn limit_malloc_arenas() {
    // SAFETY: mallopt only adjusts allocator tuning; called before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

fn main() -> ExitCode {
    limit_malloc_arenas();
    let flags = Flags::parse();
    if flags.check_args {
        return check_args(&flags);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(flags.worker_threads.max(1))
        .max_blocking_threads(flags.max_blocking_threads.max(1))
        .enable_all()
        .build();
    let runtime = match runtime {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("sepia-controller: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    // Logs, and spans over OTLP when OTEL_EXPORTER_OTLP_ENDPOINT is set; flushed when dropped.
    let Some(_telemetry) = telemetry::init_from_env(runtime.handle(), "sepia-controller", None)
    else {
        return ExitCode::FAILURE;
    };
    match runtime.block_on(run(flags)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            error!("{message}");
            ExitCode::FAILURE
        }
    }
}

async fn run(flags: Flags) -> Result<(), String> {
    let clone_depth = CloneDepth::new(
        flags.rbd_soft_max_clone_depth,
        flags.rbd_hard_max_clone_depth,
    )?;
    let connect_limits = connect_limits(&flags)?;
    let failpoints = match &flags.failpoints {
        Some(spec) => Failpoints::from_spec(spec).map_err(|e| e.to_string())?,
        None => Failpoints::disabled(),
    };
    let mut telemetry = telemetry::PluginTelemetry::new();
    ceph::observe_calls(telemetry.ceph_call_observer());
    let events = match &flags.nats_url {
        Some(url) => {
            let config = PublisherConfig {
                client_name: Some("sepia-controller".to_owned()),
                ..PublisherConfig::new(url.clone())
            };
            Publisher::start(config, telemetry.registry()).map_err(|e| e.to_string())?
        }
        None => Publisher::disabled(),
    };
    let settings = Settings {
        driver_name: flags.driver_name,
        instance_id: flags.instance_id,
        ceph_timeouts: ceph::Timeouts {
            connect: flags.ceph_connect_timeout,
            op: flags.ceph_op_timeout,
        },
        rpc_timeout: flags.rpc_timeout,
        connection_idle: flags.connection_idle,
        connect_limits,
        lock_duration: flags.lock_duration,
        clone_depth,
        trash_purge: flags.trash_purge,
        controller_credentials_dir: flags.controller_credentials_dir,
        failpoints,
        events: events.clone(),
        alpha: flags.alpha_capabilities,
        metrics: controller::metrics::Metrics::register(&mut telemetry),
    };
    let config =
        ClusterConfigWatcher::start(&flags.cluster_config, flags.cluster_config_poll).await;
    if let Some(e) = config.last_error() {
        warn!(error = %e, "cluster config not loaded yet; Probe reports not ready until it is");
    }
    telemetry
        .serve(&flags.http, config.clone(), std::future::pending())
        .await
        .map_err(|e| e.to_string())?;
    let state = State::new(settings, config);
    // Only with standing credentials: requests' secrets are not kept after the request.
    if state.settings.controller_credentials_dir.is_some() {
        controller::snapshot::resume::spawn_resume(&state);
    }
    let incoming = csi::server::bind(&flags.endpoint)
        .await
        .map_err(|e| e.to_string())?;
    info!(endpoint = %flags.endpoint, driver = %state.settings.driver_name, "serving");
    let served = controller::server::serve(state, incoming, shutdown_signal())
        .await
        .map_err(|e| format!("serving {}: {e}", flags.endpoint));
    if let Err(e) = events.flush(EVENTS_FLUSH).await {
        warn!(error = %e, "events not sent before shutdown");
    }
    served
}

async fn shutdown_signal() {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(term) => term,
        Err(e) => {
            warn!(error = %e, "cannot watch SIGTERM; stopping on Ctrl-C only");
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = term.recv() => info!("SIGTERM: shutting down"),
        _ = tokio::signal::ctrl_c() => info!("interrupted: shutting down"),
    }
}
