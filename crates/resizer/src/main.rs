//! `sepia-resizer`: flags and wiring only; see the library's module map.

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use csi::v1::controller_service_capability::rpc::Type as ControllerCap;
use resizer::ResizerError;
use resizer::controller::{self, Caches};
use resizer::reconcile::Context;
use sidecar::{Sidecar, SidecarArgs, lease_name};

const COMPONENT: &str = "sepia-resizer";

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
    sidecar::launch(COMPONENT, Args::parse(), |args| &args.sidecar, run).await
}

async fn run(args: Args) -> Result<(), ResizerError> {
    let sidecar = Sidecar::start(args.sidecar, COMPONENT).await?;
    let driver = sidecar.csi.driver_name().to_owned();
    if !sidecar
        .csi
        .driver()
        .has_controller(ControllerCap::ExpandVolume)
    {
        return Err(ResizerError::NoExpandCapability { driver });
    }
    let settings = sidecar.loop_settings(args.resync_period);
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The shared flags in upstream's spellings next to this binary's own: no clash.
    #[test]
    fn an_upstream_manifests_flags_parse() {
        let argv = [
            COMPONENT,
            "--leader-election=true",
            "--v=5",
            "--resync-period=5m",
        ];
        let args = Args::try_parse_from(argv).unwrap();
        assert!(args.sidecar.leader_election);
        assert_eq!(args.resync_period, Duration::from_secs(300));
    }
}
