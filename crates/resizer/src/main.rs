//! `sepia-resizer`: flags and wiring only; see the library's module map.

use std::process::ExitCode;

use csi::v1::controller_service_capability::rpc::Type as ControllerCap;
use resizer::args::Args;
use resizer::{ResizerError, watch};
use sidecar::leader_election::lease_name;

#[tokio::main]
async fn main() -> ExitCode {
    sidecar::launch(sidecar::startup::command::parse::<Args>(), run).await
}

async fn run(mut args: Args) -> Result<(), ResizerError> {
    if let Some(workers) = args.workers {
        args.sidecar.worker_threads = workers;
    }
    let sidecar = sidecar::runtime::launch::start(&args).await?;
    let driver = sidecar.csi.driver_name().to_owned();
    if !sidecar
        .csi
        .driver()
        .has_controller(ControllerCap::ExpandVolume)
    {
        return Err(ResizerError::NoExpandCapability { driver });
    }
    let settings = sidecar.loop_settings(args.resync_period);
    let handles = sidecar.handles();
    sidecar
        .run(lease_name::resizer(&driver), move |stop| {
            watch::run(handles, settings, stop)
        })
        .await?;
    Ok(())
}
