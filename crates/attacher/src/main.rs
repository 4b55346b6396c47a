//! `sepia-attacher`: flags and wiring only; see the library's module map.

use std::process::ExitCode;

use attacher::args::Args;
use attacher::{AttacherError, watch};
use csi::v1::controller_service_capability::rpc::Type as ControllerCap;
use sidecar::leader_election::lease_name;

#[tokio::main]
async fn main() -> ExitCode {
    sidecar::launch(sidecar::startup::command::parse::<Args>(), run).await
}

async fn run(args: Args) -> Result<(), AttacherError> {
    let sidecar = sidecar::runtime::launch::start(&args).await?;
    let driver = sidecar.csi.driver_name().to_owned();
    if !sidecar
        .csi
        .driver()
        .has_controller(ControllerCap::PublishUnpublishVolume)
    {
        tracing::warn!(%driver, "driver has no PUBLISH_UNPUBLISH_VOLUME: attachments are marked attached without a call");
    }
    let settings = sidecar.loop_settings(args.resync);
    let handles = sidecar.handles();
    let default_fs_type = args.default_fstype;
    sidecar
        .run(lease_name::attacher(&driver), move |stop| {
            watch::run(handles, default_fs_type, settings, stop)
        })
        .await?;
    Ok(())
}
