//! `sepia-attacher`: flags and wiring only; see the library's module map.

use std::process::ExitCode;
use std::time::Duration;

use attacher::AttacherError;
use attacher::controller::{self, Caches};
use attacher::keys;
use attacher::reconcile::Context;
use clap::Parser;
use csi::v1::controller_service_capability::rpc::Type as ControllerCap;
use sidecar::go_flag;
use sidecar::{Gate, Sidecar, SidecarArgs, SidecarCommand, lease_name};

/// Attaches and detaches volumes for VolumeAttachments through a CSI driver.
#[derive(Debug, Parser)]
#[command(name = "sepia-attacher", version)]
struct Args {
    #[command(flatten)]
    sidecar: SidecarArgs,

    /// How often every VolumeAttachment and PV is looked at again even without a change.
    #[arg(long = "resync", value_parser = go_flag::duration, default_value = "10m")]
    resync: Duration,

    /// fsType for a filesystem PV that names none.
    #[arg(long = "default-fstype", default_value = "")]
    default_fstype: String,

    #[command(flatten)]
    upstream_only: AttacherOnly,
}

sidecar::upstream_only_flags! {
    /// external-attacher's flags Sepia accepts and does not act on: it does not reconcile
    /// attachments against ListVolumes, and logs no gRPC payloads to shorten.
    struct AttacherOnly {
        bools {}
        values {
            "reconcile-sync" => reconcile_sync: Duration = go_flag::duration,
            "max-entries" => max_entries: i64 = clap::value_parser!(i64).range(0..),
            "max-grpc-log-length" => max_grpc_log_length: i64 = clap::value_parser!(i64),
        }
    }
}

impl SidecarCommand for Args {
    const COMPONENT: &'static str = "sepia-attacher";
    const DEFAULTS: &'static [(&'static str, &'static str)] = &[("timeout", "15s")];
    const FEATURE_GATES: &'static [(&'static str, Gate)] = &[
        ("MutableCSINodeAllocatableCount", Gate::Fixed(true)),
        ("ReleaseLeaderElectionOnExit", Gate::Fixed(true)),
    ];

    fn shared(&self) -> &SidecarArgs {
        &self.sidecar
    }

    fn ignored_own(&self) -> Vec<String> {
        self.upstream_only.given()
    }

    fn validate_own(&self) -> Result<(), String> {
        if self.resync.is_zero() {
            return Err("invalid value for --resync: it must be longer than zero".into());
        }
        Ok(())
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    sidecar::launch(sidecar::command::parse::<Args>(), run).await
}

async fn run(args: Args) -> Result<(), AttacherError> {
    args.validate_own()
        .map_err(|rule| sidecar::SidecarError::InvalidArguments { rule })?;
    let sidecar = Sidecar::start(args.sidecar, Args::COMPONENT).await?;
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
    use sidecar::command::{check_status, parse_from};

    use super::*;

    /// The shared flags in upstream's spellings next to this binary's own: no clash.
    #[test]
    fn an_upstream_manifests_flags_parse() {
        let argv = [
            Args::COMPONENT,
            "--leader-election=true",
            "--v=5",
            "--default-fstype=ext4",
        ];
        let args: Args = parse_from(argv).unwrap();
        assert!(args.sidecar.leader_election);
        assert_eq!(args.default_fstype, "ext4");
        assert_eq!(args.sidecar.timeout, Duration::from_secs(15), "upstream's");
    }

    /// ceph-csi's csi-attacher container, plus external-attacher's other flags.
    #[test]
    fn ceph_csi_and_upstream_command_lines_are_accepted() {
        let argv = [
            Args::COMPONENT,
            "--v=1",
            "--csi-address=unix:///csi/csi-provisioner.sock",
            "--leader-election=true",
            "--retry-interval-start=500ms",
            "--default-fstype=ext4",
            "--http-endpoint=10.0.0.7:8093",
            "--reconcile-sync=1m",
            "--max-entries=0",
            "--max-grpc-log-length=-1",
            "--worker-threads=10",
            "--resync=10m",
            "--feature-gates=MutableCSINodeAllocatableCount=true",
        ];
        assert_eq!(check_status::<Args>(&argv), 0);
        let args: Args = parse_from(argv).unwrap();
        assert_eq!(
            args.ignored(),
            [
                "--v",
                "--reconcile-sync",
                "--max-entries",
                "--max-grpc-log-length"
            ]
        );
    }
}
