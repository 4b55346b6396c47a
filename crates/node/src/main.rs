//! `sepia-node`: flags in, pieces built, servers run. Wiring only; everything else is in the
//! library.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use cluster_config::ClusterConfigWatcher;
use node::driver::NodeDriver;
use node::mapper::{MapperChoice, Support};
use node::node_registry::{NodeRegistrar, RegistrarSettings};
use node::server::{ServeOptions, serve_with_metrics};
use node::settings::{Deadlines, NodeSettings};
use tokio::signal::unix::{SignalKind, signal};
use tokio_util::sync::CancellationToken;

/// Sepia's CSI node plugin for Ceph RBD.
#[derive(Debug, Parser)]
#[command(name = "sepia-node", version)]
struct Args {
    /// CSI endpoint this plugin serves, as the container sees it.
    #[arg(long, env = "CSI_ENDPOINT", default_value = "unix:///csi/csi.sock")]
    endpoint: String,
    #[arg(long, default_value = "rbd.csi.sepia.io")]
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
    /// How images are mapped: auto (first of krbd, nbd, fuse this node supports), krbd, nbd, fuse.
    #[arg(long, default_value = "auto")]
    mapper: MapperChoice,
    /// A mounted Secret with files userID and userKey, used to register this node in RADOS.
    /// Without it the plugin serves volumes but does not register.
    #[arg(long)]
    node_credentials_dir: Option<PathBuf>,
    /// Instance ID of the driver deployment (names the registration object sepia.nodes.<id>).
    #[arg(long, default_value = "default")]
    instance_id: String,
    #[arg(long, default_value = "60s", value_parser = humantime::parse_duration)]
    registration_interval: Duration,
    /// kubelet's root directory: staging and target paths must resolve below it (symlinks
    /// followed), anything else is refused.
    #[arg(long, default_value = "/var/lib/kubelet")]
    kubelet_root: PathBuf,
    /// Node-private state: rbd-fuse mount points and short-lived key files.
    #[arg(long, default_value = "/var/lib/sepia-node")]
    state_dir: PathBuf,
    /// ceph.conf for rbd, rbd-nbd and rbd-fuse; default none (monitors come from the cluster config).
    #[arg(long)]
    ceph_conf: Option<PathBuf>,
    /// NodeGetInfo's max_volumes_per_node (0: no limit announced).
    #[arg(long, default_value_t = 0)]
    max_volumes_per_node: i64,
    #[arg(long, default_value = "60s", value_parser = humantime::parse_duration)]
    map_timeout: Duration,
    /// How long rbd/rbd-nbd/rbd-fuse try to reach and authenticate with the cluster
    /// (their client_mount_timeout); keep it below --map-timeout. Also how long `rbd-nbd
    /// list-mapped` is watched after an rbd-nbd map killed at --map-timeout, for a device its
    /// detached daemon maps late (then unmapped): the two together stay below kubelet's
    /// two-minute deadline for NodeStageVolume.
    #[arg(long, default_value = "45s", value_parser = humantime::parse_duration)]
    connect_timeout: Duration,
    #[arg(long, default_value = "60s", value_parser = humantime::parse_duration)]
    unmap_timeout: Duration,
    #[arg(long, default_value = "120s", value_parser = humantime::parse_duration)]
    mkfs_timeout: Duration,
    #[arg(long, default_value = "120s", value_parser = humantime::parse_duration)]
    resize_timeout: Duration,
    /// rbd-nbd's --reattach-timeout: how long the kernel keeps an nbd device waiting for a new
    /// rbd-nbd after its daemon died with the container. The restarted plugin re-attaches
    /// within it (before Probe answers ready); longer than a rollout takes on this node.
    #[arg(long, default_value = "300s", value_parser = humantime::parse_duration)]
    nbd_reattach_timeout: Duration,
    /// Deadline of quick commands (mount, umount, blkid, losetup), and how long
    /// NodeGetVolumeStats waits for a volume's measurement before answering from the last one
    /// (abnormal).
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    command_timeout: Duration,
    /// tracing filter, e.g. `info` or `node=debug,info`.
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
        });
    match checked {
        Ok(()) => {
            eprintln!("sepia-node: arguments OK");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("sepia-node: {message}");
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
    let Some(_telemetry) = telemetry::init_from_env(&runtime, "sepia-node", Some(&args.log_level))
    else {
        return ExitCode::FAILURE;
    };
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(error = %error, "sepia-node stops");
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
    tracing::info!(mappers = %support.summary(), "mapper support on this node");

    let settings = NodeSettings {
        node_id: args.node_id.clone(),
        driver_name: args.driver_name.clone(),
        state_dir: args.state_dir,
        kubelet_root: args.kubelet_root,
        ceph_conf: args.ceph_conf,
        mapper: args.mapper,
        max_volumes_per_node: args.max_volumes_per_node,
        deadlines: Deadlines {
            map: args.map_timeout,
            connect: args.connect_timeout,
            unmap: args.unmap_timeout,
            mkfs: args.mkfs_timeout,
            resize: args.resize_timeout,
            command: args.command_timeout,
            nbd_reattach: args.nbd_reattach_timeout,
        },
    };
    let driver = Arc::new(NodeDriver::new(settings, clusters.clone(), support));
    // Volumes staged before this start (a restart, an upgrade, a take-over from ceph-csi):
    // re-established and reported while the sockets already answer, Probe saying "not ready".
    driver.recovery.begin();
    tokio::spawn(node::recovery::run(
        driver.clone(),
        args.node_credentials_dir.clone(),
    ));

    match args.node_credentials_dir {
        Some(credentials_dir) => {
            let registrar = NodeRegistrar::new(
                RegistrarSettings {
                    node_id: args.node_id,
                    driver_name: args.driver_name.clone(),
                    instance_id: args.instance_id,
                    credentials_dir,
                    interval: args.registration_interval,
                },
                clusters,
            );
            tokio::spawn(registrar.run(shutdown.clone()));
        }
        None => tracing::warn!(
            "no --node-credentials-dir: this node is not registered for ControllerPublish"
        ),
    }

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
    serve_with_metrics(driver, options, grpc, shutdown.clone()).await?;
    shutdown.cancel();
    tracing::info!("sepia-node stopped; sockets removed");
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
