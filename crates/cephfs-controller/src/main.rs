//! `sepia-cephfs-controller`: flags and wiring only. See the library's module map for the rest.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use cephfs_controller::Driver;
use clap::Parser;
use cluster_config::ClusterConfigWatcher;
use controller::advertised::AlphaCapabilities;
use controller::{Settings, State};
use events::{Publisher, PublisherConfig};
use failpoint::Failpoints;
use tracing::{error, info, warn};

/// How long a shutdown waits for queued events to reach NATS.
const EVENTS_FLUSH: Duration = Duration::from_secs(5);

/// CSI controller plugin for CephFS (ceph-csi compatible).
#[derive(Debug, Parser)]
#[command(version)]
struct Flags {
    /// CSI endpoint to serve on.
    #[arg(long, env = "CSI_ENDPOINT", default_value = "unix:///run/csi/csi.sock")]
    endpoint: String,
    /// CSI driver name (ceph-csi's, e.g. rook-ceph.cephfs.csi.ceph.com, to take over its volumes).
    #[arg(long, default_value = "cephfs.csi.sepia.io")]
    driver_name: String,
    /// ceph-csi cluster config (JSON list of clusterID, monitors, cephFS.subvolumeGroup, ...).
    #[arg(long, default_value = "/etc/ceph-csi-config/config.json")]
    cluster_config: PathBuf,
    /// How often the cluster config file is checked for changes.
    #[arg(long, default_value = "5s", value_parser = humantime::parse_duration)]
    cluster_config_poll: Duration,
    /// ceph-csi's instance id: names the journal directories (csi.volumes.<id>).
    #[arg(long, default_value = "default")]
    instance_id: String,
    /// NATS server for events (optional; without it the controller only logs).
    #[arg(long, env = "SEPIA_NATS_URL")]
    nats_url: Option<String>,
    /// Directory holding files userID and userKey (a mounted Secret): the identity for RPCs that
    /// CSI sends without secrets (GetCapacity, ValidateVolumeCapabilities without secrets).
    #[arg(long)]
    controller_credentials_dir: Option<PathBuf>,
    /// Overall budget of one RPC (a shorter client deadline wins).
    #[arg(long, default_value = "60s", value_parser = humantime::parse_duration)]
    rpc_timeout: Duration,
    /// Deadline of connecting to a Ceph cluster.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    ceph_connect_timeout: Duration,
    /// Deadline of every other Ceph call (mgr commands included).
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    ceph_op_timeout: Duration,
    /// How long an unused Ceph connection is kept.
    #[arg(long, default_value = "10m", value_parser = humantime::parse_duration)]
    connection_idle: Duration,
    /// How long a lock in RADOS outlives its holder's last renewal.
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    lock_duration: Duration,
    /// Async worker threads (Ceph calls run on the blocking pool, not here).
    #[arg(long, default_value_t = 2)]
    worker_threads: usize,
    /// Upper bound of threads running blocking Ceph calls.
    #[arg(long, default_value_t = 32)]
    max_blocking_threads: usize,
    /// Failpoints for crash testing, e.g. `cephfs.create.after_subvolume_created=fail`.
    #[arg(long, env = "SEPIA_FAILPOINTS", hide = true)]
    failpoints: Option<String>,
    /// Parse and check the flags, then exit: 0 when fine, 2 when not. Connects nowhere.
    #[arg(long, env = "SEPIA_CHECK_ARGS", value_parser = clap::builder::BoolishValueParser::new())]
    check_args: bool,
    #[command(flatten)]
    http: telemetry::HttpEndpointFlag,
}

fn check_args(flags: &Flags) -> ExitCode {
    let checked = csi::endpoint::socket_path(&flags.endpoint)
        .map(drop)
        .map_err(|e| e.to_string())
        .and_then(|()| match &flags.failpoints {
            Some(spec) => Failpoints::from_spec(spec)
                .map(drop)
                .map_err(|e| e.to_string()),
            None => Ok(()),
        });
    match checked {
        Ok(()) => {
            eprintln!("sepia-cephfs-controller: arguments OK");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("sepia-cephfs-controller: {message}");
            ExitCode::from(2)
        }
    }
}

fn main() -> ExitCode {
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
            eprintln!("sepia-cephfs-controller: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    // Logs, and spans over OTLP when OTEL_EXPORTER_OTLP_ENDPOINT is set; flushed when dropped.
    let Some(_telemetry) =
        telemetry::init_from_env(runtime.handle(), "sepia-cephfs-controller", None)
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
    let failpoints = match &flags.failpoints {
        Some(spec) => Failpoints::from_spec(spec).map_err(|e| e.to_string())?,
        None => Failpoints::disabled(),
    };
    let mut telemetry = telemetry::PluginTelemetry::new();
    ceph::observe_calls(telemetry.ceph_call_observer());
    let events = match &flags.nats_url {
        Some(url) => {
            let config = PublisherConfig {
                client_name: Some("sepia-cephfs-controller".to_owned()),
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
        lock_duration: flags.lock_duration,
        controller_credentials_dir: flags.controller_credentials_dir,
        failpoints,
        events: events.clone(),
        // No alpha RPCs on this side.
        alpha: AlphaCapabilities::none(),
        metrics: controller::metrics::Metrics::register(&mut telemetry),
        ..Settings::default()
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
    let driver = Driver::new(State::new(settings, config));
    let incoming = csi::server::bind(&flags.endpoint)
        .await
        .map_err(|e| e.to_string())?;
    info!(endpoint = %flags.endpoint, driver = %driver.state.settings.driver_name, "serving");
    let served = cephfs_controller::server::serve(driver, incoming, shutdown_signal())
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
