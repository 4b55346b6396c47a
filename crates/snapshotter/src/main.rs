//! `sepia-snapshotter`: `crds` prints the CRDs; otherwise flags → telemetry → sidecar
//! runtime (kube client, CSI handshake, NATS) → both halves, run while holding the Lease.
//! Wiring only; see the library's module map.

use std::process::ExitCode;

use csi::v1::controller_service_capability::rpc::Type as ControllerCap;
use sidecar::leader_election::lease_name;
use sidecar::{SidecarCommand, SidecarError};
use snapshotter::SnapshotterError;
use snapshotter::args::{Cli, Command};
use snapshotter::metrics::SnapshotMetrics;
use snapshotter::watch::{self, RunParts};

const COMPONENT: &str = Cli::COMPONENT;

#[tokio::main]
async fn main() -> ExitCode {
    let cli: Cli = sidecar::startup::command::parse();
    if let Some(Command::Crds) = cli.command {
        return print_crds();
    }
    sidecar::launch(cli, serve).await
}

fn print_crds() -> ExitCode {
    match snapshot_api::crds::all().and_then(|crds| snapshot_api::crds::to_yaml(&crds)) {
        Ok(yaml) => {
            print!("{yaml}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("{COMPONENT}: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(cli: Cli) -> Result<(), SnapshotterError> {
    let mut sidecar = sidecar::runtime::launch::start(&cli).await?;
    let driver = sidecar.csi.driver().clone();
    if !driver.has_controller(ControllerCap::CreateDeleteSnapshot) {
        return Err(SidecarError::DriverUnusable {
            driver: driver.name,
            reason: "it does not advertise CREATE_DELETE_SNAPSHOT".to_owned(),
        }
        .into());
    }
    let metrics = SnapshotMetrics::register(&mut sidecar.registry);
    let parts = RunParts {
        settings: sidecar.loop_settings(cli.args.resync_period),
        handles: sidecar.handles(),
        metrics,
        identity: sidecar.identity.clone(),
        wakeups: sidecar.wakeups.clone(),
        args: cli.args,
    };
    sidecar
        .run(lease_name::snapshotter(&driver.name), move |stop| {
            watch::run(parts, stop)
        })
        .await?;
    Ok(())
}
