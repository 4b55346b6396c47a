//! The resizer's command line: the shared sidecar flags, external-resizer's own, and the ones
//! it accepts from upstream's manifests without acting on them.

use std::time::Duration;

use clap::Parser;
use clap::builder::NonEmptyStringValueParser;
use sidecar::startup::command::longer_than_zero;
use sidecar::startup::go_flag;
use sidecar::{Gate, SidecarArgs, SidecarCommand};

/// Expands PersistentVolumeClaims through a CSI driver's ControllerExpandVolume.
#[derive(Debug, Parser)]
#[command(name = "sepia-resizer", version)]
pub struct Args {
    #[command(flatten)]
    pub sidecar: SidecarArgs,

    /// How often every claim is looked at again even without a change.
    #[arg(long = "resync-period", value_parser = go_flag::duration, default_value = "10m")]
    pub resync_period: Duration,

    /// external-resizer's name for the number of concurrent claims; wins over
    /// `--worker-threads`.
    #[arg(long = "workers", value_parser = clap::value_parser!(usize))]
    pub workers: Option<usize>,

    #[command(flatten)]
    pub upstream_only: ResizerOnly,
}

sidecar::upstream_only_flags! {
    /// external-resizer's flags Sepia accepts and does not act on: it watches no Pods (so
    /// there is no volume-in-use handling to switch) and has no ControllerModifyVolume.
    pub struct ResizerOnly {
        bools {
            "handle-volume-inuse-error" => handle_volume_inuse_error,
            "extra-modify-metadata" => extra_modify_metadata,
        }
        values {
            "master" => master: String = NonEmptyStringValueParser::new(),
        }
    }
}

impl SidecarCommand for Args {
    const COMPONENT: &'static str = "sepia-resizer";
    const FEATURE_GATES: &'static [(&'static str, Gate)] = &[
        ("AnnotateFsResize", Gate::Fixed(true)),
        ("RecoverVolumeExpansionFailure", Gate::Fixed(true)),
        ("ReleaseLeaderElectionOnExit", Gate::Fixed(true)),
        ("VolumeAttributesClass", Gate::Fixed(false)),
    ];

    fn shared(&self) -> &SidecarArgs {
        &self.sidecar
    }

    fn ignored_own(&self) -> Vec<String> {
        self.upstream_only.given()
    }

    fn validate_own(&self) -> Result<(), String> {
        if self.workers == Some(0) {
            return Err("invalid value for --workers: it must be at least 1".into());
        }
        longer_than_zero("--resync-period", self.resync_period)
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
            "--resync-period=5m",
        ];
        let args: Args = parse_from(argv).unwrap();
        assert!(args.sidecar.leader_election);
        assert_eq!(args.resync_period, Duration::from_secs(300));
        assert_eq!(args.sidecar.timeout, Duration::from_secs(10), "upstream's");
    }

    /// ceph-csi's csi-resizer container, plus external-resizer's other flags.
    #[test]
    fn ceph_csi_and_upstream_command_lines_are_accepted() {
        let argv = [
            Args::COMPONENT,
            "--csi-address=unix:///csi/csi-provisioner.sock",
            "--v=1",
            "--timeout=150s",
            "--leader-election",
            "--retry-interval-start=500ms",
            "--handle-volume-inuse-error=false",
            "--feature-gates=RecoverVolumeExpansionFailure=true",
            "--http-endpoint=10.0.0.7:8091",
            "--master=https://api:6443",
            "--workers=7",
            "--extra-modify-metadata",
            "--metrics-path=/metrics",
        ];
        assert_eq!(check_status::<Args>(&argv), 0);
        let args: Args = parse_from(argv).unwrap();
        assert_eq!(args.workers, Some(7));
        assert_eq!(
            args.ignored(),
            [
                "--v",
                "--handle-volume-inuse-error",
                "--extra-modify-metadata",
                "--master"
            ]
        );
        assert_eq!(check_status::<Args>(&[Args::COMPONENT, "--workers=0"]), 2);
    }
}
