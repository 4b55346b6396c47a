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
use node::NodeError;
use node::settings::flags::{NodeFlags, Started, run_to_exit};

const COMPONENT: &str = "sepia-cephfs-node";

/// Sepia's CSI node plugin for CephFS.
#[derive(Debug, Parser)]
#[command(name = "sepia-cephfs-node", version)]
struct Args {
    #[command(flatten)]
    shared: NodeFlags,
    #[arg(long, default_value = "cephfs.csi.sepia.io")]
    driver_name: String,
    /// Node-private state: stage records, short-lived key files.
    #[arg(long, default_value = "/var/lib/sepia-cephfs-node")]
    state_dir: PathBuf,
    /// The CephFS client when the volume context names none: auto (the kernel client where
    /// the ceph module is loaded, else ceph-fuse), fuse, kernel.
    #[arg(long, value_enum, default_value = "auto")]
    mounter: MounterChoice,
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
}

/// Why `sepia-cephfs-node` did not start, or stopped serving.
#[derive(Debug, thiserror::Error)]
enum StartError {
    #[error("metrics endpoint")]
    MetricsEndpoint(#[source] telemetry::TelemetryError),
    #[error("the CSI socket's path for kubelet")]
    KubeletEndpoint(#[source] csi::Error),
    #[error(transparent)]
    Serving(NodeError),
}

/// `--check-args`: the rules `run` would apply before serving.
fn check_args(args: &Args) -> Result<(), String> {
    args.shared.check()?;
    if args.connect_timeout < args.mount_timeout {
        Ok(())
    } else {
        Err("--connect-timeout must be below --mount-timeout".to_string())
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    if args.shared.check_args {
        return shutdown::exit::checked(COMPONENT, check_args(&args));
    }
    let log_level = args.shared.log_level.clone();
    run_to_exit(COMPONENT, &log_level, run(args)).await
}

async fn run(args: Args) -> Result<(), StartError> {
    let shared = args.shared;
    let Started {
        shutdown,
        clusters,
        grpc,
    } = shared.start().await.map_err(StartError::MetricsEndpoint)?;
    let support = Support::detect();
    tracing::info!(clients = %support.summary(), "CephFS clients on this node");

    let settings = CephfsNodeSettings {
        node_id: shared.node_id.clone(),
        driver_name: args.driver_name.clone(),
        state_dir: args.state_dir,
        kubelet_root: shared.kubelet_root.clone(),
        ceph_conf: shared.ceph_conf.clone(),
        mounter: args.mounter,
        max_volumes_per_node: shared.max_volumes_per_node,
        deadlines: Deadlines {
            mount: args.mount_timeout,
            connect: args.connect_timeout,
            unmount: args.unmount_timeout,
            command: args.command_timeout,
            probe: args.probe_timeout,
        },
    };
    let node = Arc::new(CephfsNode::new(settings, clusters, support));

    let options = ServeOptions {
        kubelet_endpoint: shared
            .kubelet_endpoint()
            .map_err(StartError::KubeletEndpoint)?,
        registration_socket: shared.registration_socket(&args.driver_name),
        csi_endpoint: shared.endpoint,
    };
    serve_with_metrics(node, options, grpc, shutdown.clone())
        .await
        .map_err(StartError::Serving)?;
    shutdown.cancel();
    tracing::info!("sepia-cephfs-node stopped; sockets removed");
    Ok(())
}
