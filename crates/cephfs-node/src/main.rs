//! `sepia-cephfs-node`: flags in, pieces built, servers run. Wiring only; everything else is
//! in the library.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use cephfs_node::driver::CephfsNode;
use cephfs_node::mounter::{MounterChoice, Support};
use cephfs_node::server::{ServeOptions, serve_with_metrics};
use cephfs_node::settings::{CephfsNodeSettings, Deadlines};
use clap::Parser;
use cluster_config::ClusterConfigWatcher;
use tokio::signal::unix::{SignalKind, signal};
use tokio_util::sync::CancellationToken;

/// Sepia's CSI node plugin for CephFS.
#[derive(Debug, Parser)]
#[command(name = "sepia-cephfs-node", version)]
struct Args {
    /// CSI endpoint this plugin serves, as the container sees it.
    #[arg(long, env = "CSI_ENDPOINT", default_value = "unix:///csi/csi.sock")]
    endpoint: String,
    #[arg(long, default_value = "cephfs.csi.sepia.io")]
    driver_name: String,
    /// This node's name in Kubernetes (usually from the downward API, spec.nodeName).
    #[arg(long, env = "NODE_ID")]
    node_id: String,
    /// ceph-csi's cluster config (a JSON list of clusters).
    #[arg(long, default_value = "/etc/ceph-csi-config/config.json")]
    cluster_config: PathBuf,
    /// How often the cluster config file is checked for changes.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    cluster_config_poll: Duration,
    /// kubelet's plugin registration directory; `<driver-name>-reg.sock` is served there.
    #[arg(long, default_value = "/var/lib/kubelet/plugins_registry")]
    registration_dir: PathBuf,
    /// Do not serve kubelet registration (when a node-driver-registrar sidecar does it).
    #[arg(long)]
    no_kubelet_registration: bool,
    /// The CSI socket's path as the host (kubelet) sees it; default: the --endpoint path.
    #[arg(long)]
    kubelet_socket_path: Option<PathBuf>,
    /// kubelet's root directory: staging and target paths must resolve below it.
    #[arg(long, default_value = "/var/lib/kubelet")]
    kubelet_root: PathBuf,
    /// Node-private state: stage records, short-lived key files.
    #[arg(long, default_value = "/var/lib/sepia-cephfs-node")]
    state_dir: PathBuf,
    /// ceph.conf for ceph-fuse; default none (monitors come from the cluster config).
    #[arg(long)]
    ceph_conf: Option<PathBuf>,
    /// The CephFS client when the volume context names none: auto (the kernel client where
    /// the ceph module is loaded, else ceph-fuse), fuse, kernel.
    #[arg(long, value_enum, default_value = "auto")]
    mounter: MounterChoice,
    /// NodeGetInfo's max_volumes_per_node (0: no limit announced).
    #[arg(long, default_value_t = 0)]
    max_volumes_per_node: i64,
    #[arg(long, default_value = "60s", value_parser = humantime::parse_duration)]
    mount_timeout: Duration,
    /// How long ceph-fuse tries to reach and authenticate with the cluster
    /// (client_mount_timeout); keep it below --mount-timeout.
    #[arg(long, default_value = "45s", value_parser = humantime::parse_duration)]
    connect_timeout: Duration,
    #[arg(long, default_value = "60s", value_parser = humantime::parse_duration)]
    unmount_timeout: Duration,
    /// Deadline of quick commands (bind mounts, umount of a bind).
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    command_timeout: Duration,
    /// How long a statfs of a mount may take before stats report it abnormal.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    probe_timeout: Duration,
    /// tracing filter, e.g. `info` or `cephfs_node=debug,info`.
    #[arg(long, env = "RUST_LOG", default_value = "info")]
    log_level: String,
    /// Parse and check the flags (and the environment they read), then exit: 0 when fine, 2
    /// when not. Touches nothing (scripts/validate-manifests.sh runs the manifests' args so).
    #[arg(long, env = "SEPIA_CHECK_ARGS", value_parser = clap::builder::BoolishValueParser::new())]
    check_args: bool,
    #[command(flatten)]
    http: telemetry::HttpEndpointFlag,
}

/// `--check-args`: the rules `run` would apply before serving.
fn check_args(args: &Args) -> ExitCode {
    let checked = csi::endpoint::socket_path(&args.endpoint)
        .map(drop)
        .map_err(|e| e.to_string())
        .and_then(|()| {
            tracing_subscriber::EnvFilter::try_new(&args.log_level)
                .map(drop)
                .map_err(|e| format!("--log-level {:?}: {e}", args.log_level))
        })
        .and_then(|()| {
            if args.connect_timeout < args.mount_timeout {
                Ok(())
            } else {
                Err("--connect-timeout must be below --mount-timeout".to_string())
            }
        });
    match checked {
        Ok(()) => {
            eprintln!("sepia-cephfs-node: arguments OK");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("sepia-cephfs-node: {message}");
            ExitCode::from(2)
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    if args.check_args {
        return check_args(&args);
    }
    // Logs, and spans over OTLP when OTEL_EXPORTER_OTLP_ENDPOINT is set; flushed when dropped.
    let runtime = tokio::runtime::Handle::current();
    let Some(_telemetry) =
        telemetry::init_from_env(&runtime, "sepia-cephfs-node", Some(&args.log_level))
    else {
        return ExitCode::FAILURE;
    };
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(error = %error, "sepia-cephfs-node stops");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> anyhow::Result<()> {
    let shutdown = CancellationToken::new();
    spawn_signal_handler(shutdown.clone())?;

    let clusters =
        ClusterConfigWatcher::start(&args.cluster_config, args.cluster_config_poll).await;
    let grpc = node::http_endpoint::start(&args.http, clusters.clone(), shutdown.clone()).await?;
    if let Some(error) = clusters.last_error() {
        tracing::warn!(%error, "starting without a usable cluster config; it is re-read when it changes");
    }
    let support = Support::detect();
    tracing::info!(clients = %support.summary(), "CephFS clients on this node");

    let settings = CephfsNodeSettings {
        node_id: args.node_id,
        driver_name: args.driver_name.clone(),
        state_dir: args.state_dir,
        kubelet_root: args.kubelet_root,
        ceph_conf: args.ceph_conf,
        mounter: args.mounter,
        max_volumes_per_node: args.max_volumes_per_node,
        deadlines: Deadlines {
            mount: args.mount_timeout,
            connect: args.connect_timeout,
            unmount: args.unmount_timeout,
            command: args.command_timeout,
            probe: args.probe_timeout,
        },
    };
    let node = Arc::new(CephfsNode::new(settings, clusters, support));

    let kubelet_endpoint = match args.kubelet_socket_path {
        Some(path) => path.to_string_lossy().into_owned(),
        None => csi::endpoint::socket_path(&args.endpoint)?
            .to_string_lossy()
            .into_owned(),
    };
    let registration_socket = (!args.no_kubelet_registration).then(|| {
        args.registration_dir
            .join(format!("{}-reg.sock", args.driver_name))
    });
    let options = ServeOptions {
        csi_endpoint: args.endpoint,
        registration_socket,
        kubelet_endpoint,
    };
    serve_with_metrics(node, options, grpc, shutdown.clone()).await?;
    shutdown.cancel();
    tracing::info!("sepia-cephfs-node stopped; sockets removed");
    Ok(())
}

/// SIGTERM (kubelet stopping the pod) and SIGINT end serving gracefully.
fn spawn_signal_handler(shutdown: CancellationToken) -> anyhow::Result<()> {
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    tokio::spawn(async move {
        tokio::select! {
            _ = term.recv() => tracing::info!("SIGTERM: shutting down"),
            _ = int.recv() => tracing::info!("SIGINT: shutting down"),
        }
        shutdown.cancel();
    });
    Ok(())
}
