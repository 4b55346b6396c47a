//! `sepia-node`: flags in, pieces built, servers run. Wiring only; everything else is in the
//! library.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use node::NodeError;
use node::driver::NodeDriver;
use node::mapper::Support;
use node::mapper_kind::MapperChoice;
use node::registration::node_registry::{NodeRegistrar, RegistrarSettings};
use node::server::{ServeOptions, serve_with_metrics};
use node::settings::flags::{NodeFlags, Started, run_to_exit};
use node::settings::{Deadlines, NodeSettings};

const COMPONENT: &str = "sepia-node";

/// Sepia's CSI node plugin for Ceph RBD.
#[derive(Debug, Parser)]
#[command(name = "sepia-node", version)]
struct Args {
    #[command(flatten)]
    shared: NodeFlags,
    #[arg(long, default_value = "rbd.csi.sepia.io")]
    driver_name: String,
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
    /// Node-private state: rbd-fuse mount points and short-lived key files.
    #[arg(long, default_value = "/var/lib/sepia-node")]
    state_dir: PathBuf,
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
}

/// Why `sepia-node` did not start, or stopped serving.
#[derive(Debug, thiserror::Error)]
enum StartError {
    #[error("metrics endpoint")]
    MetricsEndpoint(#[source] telemetry::TelemetryError),
    #[error("the CSI socket's path for kubelet")]
    KubeletEndpoint(#[source] csi::Error),
    #[error(transparent)]
    Serving(NodeError),
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    if args.shared.check_args {
        // The rules `run` would apply before serving.
        return shutdown::exit::checked(COMPONENT, args.shared.check());
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
    tracing::info!(mappers = %support.summary(), "mapper support on this node");

    let settings = NodeSettings {
        node_id: shared.node_id.clone(),
        driver_name: args.driver_name.clone(),
        state_dir: args.state_dir,
        kubelet_root: shared.kubelet_root.clone(),
        ceph_conf: shared.ceph_conf.clone(),
        mapper: args.mapper,
        max_volumes_per_node: shared.max_volumes_per_node,
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
                    node_id: shared.node_id.clone(),
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

    let options = ServeOptions {
        kubelet_endpoint: shared
            .kubelet_endpoint()
            .map_err(StartError::KubeletEndpoint)?,
        registration_socket: shared.registration_socket(&args.driver_name),
        csi_endpoint: shared.endpoint,
    };
    serve_with_metrics(driver, options, grpc, shutdown.clone())
        .await
        .map_err(StartError::Serving)?;
    shutdown.cancel();
    tracing::info!("sepia-node stopped; sockets removed");
    Ok(())
}
