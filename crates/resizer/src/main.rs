//! `sepia-resizer`: flags and wiring only; see the library's module map.

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use csi::v1::controller_service_capability::rpc::Type as ControllerCap;
use resizer::ResizerError;
use resizer::controller::{self, Caches, LoopSettings};
use resizer::reconcile::Context;
use sidecar::{Sidecar, SidecarArgs, lease_name};

/// Expands PersistentVolumeClaims through a CSI driver's ControllerExpandVolume.
#[derive(Debug, Parser)]
#[command(name = "sepia-resizer", version)]
struct Args {
    #[command(flatten)]
    sidecar: SidecarArgs,

    /// How often every claim is looked at again even without a change.
    #[arg(long = "resync-period", value_parser = humantime::parse_duration, default_value = "10m")]
    resync_period: Duration,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let _telemetry = match sidecar::runtime::init_telemetry(&args.sidecar, "sepia-resizer") {
        Ok(guard) => guard,
        Err(error) => {
            eprintln!("sepia-resizer: {error}");
            return ExitCode::FAILURE;
        }
    };
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(%error, "sepia-resizer stops");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<(), ResizerError> {
    let sidecar = Sidecar::start(args.sidecar, "sepia-resizer").await?;
    let driver = sidecar.csi.driver_name().to_owned();
    if !sidecar
        .csi
        .driver()
        .has_controller(ControllerCap::ExpandVolume)
    {
        return Err(ResizerError::NoExpandCapability { driver });
    }
    let settings = LoopSettings {
        workers: sidecar.args.worker_threads,
        resync: args.resync_period,
        backoff: sidecar.backoff(),
    };
    let caches = Caches::new(&sidecar.client);
    let (client, csi, recorder, publisher) = (
        sidecar.client.clone(),
        sidecar.csi.clone(),
        sidecar.recorder.clone(),
        sidecar.publisher.clone(),
    );
    let lease = lease_name::resizer(&driver);
    sidecar
        .run(lease, move |stop| {
            controller::run(
                caches,
                move |caches| Context {
                    driver,
                    client,
                    csi,
                    recorder,
                    publisher,
                    claims: caches.claims.clone(),
                    volumes: caches.volumes.clone(),
                    classes: caches.classes.clone(),
                },
                settings,
                stop,
            )
        })
        .await?;
    Ok(())
}
