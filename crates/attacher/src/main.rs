//! `sepia-attacher`: flags and wiring only; see the library's module map.

use std::process::ExitCode;
use std::time::Duration;

use attacher::AttacherError;
use attacher::controller::{self, Caches};
use attacher::keys;
use attacher::reconcile::Context;
use clap::Parser;
use csi::v1::controller_service_capability::rpc::Type as ControllerCap;
use sidecar::{Sidecar, SidecarArgs, lease_name};

const COMPONENT: &str = "sepia-attacher";

/// Attaches and detaches volumes for VolumeAttachments through a CSI driver.
#[derive(Debug, Parser)]
#[command(name = "sepia-attacher", version)]
struct Args {
    #[command(flatten)]
    sidecar: SidecarArgs,

    /// How often every VolumeAttachment and PV is looked at again even without a change.
    #[arg(long = "resync", value_parser = humantime::parse_duration, default_value = "10m")]
    resync: Duration,

    /// fsType for a filesystem PV that names none.
    #[arg(long = "default-fstype", default_value = "")]
    default_fstype: String,
}

#[tokio::main]
async fn main() -> ExitCode {
    sidecar::launch(COMPONENT, Args::parse(), |args| &args.sidecar, run).await
}

async fn run(args: Args) -> Result<(), AttacherError> {
    let sidecar = Sidecar::start(args.sidecar, COMPONENT).await?;
    let info = sidecar.csi.driver().clone();
    let driver = info.name.clone();
    let trivial = !info.has_controller(ControllerCap::PublishUnpublishVolume);
    if trivial {
        tracing::warn!(%driver, "driver has no PUBLISH_UNPUBLISH_VOLUME: attachments are marked attached without a call");
    }
    let settings = sidecar.loop_settings(args.resync);
    let caches = Caches::new(&sidecar.client);
    let (client, csi, recorder, publisher) = (
        sidecar.client.clone(),
        sidecar.csi.clone(),
        sidecar.recorder.clone(),
        sidecar.publisher.clone(),
    );
    let lease = lease_name::attacher(&driver);
    let default_fs_type = args.default_fstype;
    sidecar
        .run(lease, move |stop| {
            controller::run(
                caches,
                move |caches| Context {
                    finalizer: keys::finalizer(&driver),
                    driver,
                    client,
                    csi,
                    trivial,
                    single_node_multi_writer: info
                        .has_controller(ControllerCap::SingleNodeMultiWriter),
                    publish_readonly: info.has_controller(ControllerCap::PublishReadonly),
                    default_fs_type,
                    recorder,
                    publisher,
                    attachments: caches.attachments.clone(),
                    volumes: caches.volumes.clone(),
                    csinodes: caches.csinodes.clone(),
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
            "--default-fstype=ext4",
        ];
        let args = Args::try_parse_from(argv).unwrap();
        assert!(args.sidecar.leader_election);
        assert_eq!(args.default_fstype, "ext4");
    }
}
