//! The attacher's command line: the shared sidecar flags, external-attacher's own, and the
//! ones it accepts from upstream's manifests without acting on them.

use std::time::Duration;

use clap::Parser;
use sidecar::startup::command::longer_than_zero;
use sidecar::startup::go_flag;
use sidecar::{Gate, SidecarArgs, SidecarCommand};

/// Attaches and detaches volumes for VolumeAttachments through a CSI driver.
#[derive(Debug, Parser)]
#[command(name = "sepia-attacher", version)]
pub struct Args {
    #[command(flatten)]
    pub sidecar: SidecarArgs,

    /// How often every VolumeAttachment and PV is looked at again even without a change.
    #[arg(long = "resync", value_parser = go_flag::duration, default_value = "10m")]
    pub resync: Duration,

    /// fsType for a filesystem PV that names none.
    #[arg(long = "default-fstype", default_value = "")]
    pub default_fstype: String,

    #[command(flatten)]
    pub upstream_only: AttacherOnly,
}

sidecar::upstream_only_flags! {
    /// external-attacher's flags Sepia accepts and does not act on: it does not reconcile
    /// attachments against ListVolumes, and logs no gRPC payloads to shorten.
    pub struct AttacherOnly {
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
        longer_than_zero("--resync", self.resync)
    }
}

#[cfg(test)]
mod tests {
    use sidecar::startup::command::{check_status, parse_from};

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
