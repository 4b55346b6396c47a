//! `sepia-snapshotter` flags: the shared sidecar flags under upstream's names, csi-snapshotter's
//! own (`--snapshot-name-prefix`, `--snapshot-name-uuid-length`, `--extra-create-metadata`),
//! the switch for the built-in snapshot controller (off, as most clusters run upstream's
//! snapshot-controller), the readiness poll, and the flags of csi-snapshotter and
//! snapshot-controller that Sepia accepts without acting on them.

use std::time::Duration;

use clap::builder::{BoolishValueParser, NonEmptyStringValueParser};
use clap::{ArgAction, Args, Parser, Subcommand};
use sidecar::startup::go_flag;
use sidecar::{Gate, SidecarArgs, SidecarCommand};

use crate::create_request::NamingOptions;
use crate::error::SnapshotterError;
use crate::ready_poll::ReadyPoll;

/// The command line.
#[derive(Debug, Parser)]
#[command(
    name = "sepia-snapshotter",
    version,
    about = "VolumeSnapshot controller and CSI snapshotter for Sepia (compatible with kubernetes-csi's)",
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub args: SnapshotterArgs,
}

/// Subcommands; without one the snapshotter runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Subcommand)]
pub enum Command {
    /// Print the snapshot.storage.k8s.io/v1 CRDs (VolumeSnapshotClass, VolumeSnapshotContent,
    /// VolumeSnapshot) as YAML, for deploy/.
    Crds,
}

/// Flags of a running snapshotter.
#[derive(Debug, Clone, Args)]
pub struct SnapshotterArgs {
    #[command(flatten)]
    pub sidecar: SidecarArgs,

    /// CreateSnapshot names are `<prefix>-<VolumeSnapshot UID>`.
    #[arg(long = "snapshot-name-prefix", default_value = snapshot_api::naming::DEFAULT_SNAPSHOT_NAME_PREFIX)]
    pub snapshot_name_prefix: String,

    /// Use only this many characters of the UID in CreateSnapshot names (-1: all of it).
    #[arg(long = "snapshot-name-uuid-length", default_value_t = -1, allow_negative_numbers = true)]
    pub snapshot_name_uuid_length: i64,

    /// Pass the VolumeSnapshot's name and namespace and the content's name to CreateSnapshot
    /// (`csi.storage.k8s.io/volumesnapshot/*` parameters; the manifests turn it on). Off by
    /// default, as upstream. A Go-style boolean, as `--leader-election`.
    #[arg(long = "extra-create-metadata", num_args = 0..=1, require_equals = true,
        default_missing_value = "true", default_value = "false",
        value_parser = BoolishValueParser::new(), action = ArgAction::Set,
        overrides_with = "extra_create_metadata")]
    pub extra_create_metadata: bool,

    /// Also run the cluster-wide snapshot controller (VolumeSnapshot ↔ VolumeSnapshotContent
    /// binding), under upstream snapshot-controller's Lease `snapshot-controller-leader` (in
    /// the `--leader-election-namespace`). Off by default: turn it on only where no upstream
    /// snapshot-controller runs.
    #[arg(long = "enable-snapshot-controller", num_args = 0..=1, require_equals = true,
        default_missing_value = "true", default_value = "false",
        value_parser = BoolishValueParser::new(), action = ArgAction::Set,
        overrides_with = "enable_snapshot_controller")]
    pub enable_snapshot_controller: bool,

    /// First delay before asking the driver again about a snapshot it called not ready.
    #[arg(long = "ready-poll-start", value_parser = go_flag::duration, default_value = "100ms")]
    pub ready_poll_start: Duration,

    /// Longest delay between such polls: readyToUse shows at most this long after the driver
    /// reports it (upstream backs off up to --retry-interval-max, 5 minutes).
    #[arg(long = "ready-poll-max", value_parser = go_flag::duration, default_value = "500ms")]
    pub ready_poll_max: Duration,

    /// Every object is looked at again this often, changed or not.
    #[arg(long = "resync-period", value_parser = go_flag::duration, default_value = "15m")]
    pub resync_period: Duration,

    #[command(flatten)]
    pub upstream_only: SnapshotterOnly,
}

sidecar::upstream_only_flags! {
    /// Flags of csi-snapshotter (group snapshots, node deployment, and ceph-csi's older
    /// `--enable-volume-group-snapshots`) and of snapshot-controller (distributed
    /// snapshotting, CRD wait, volume-mode conversion, which the binding half always
    /// records as upstream's default does) that Sepia accepts and does not act on.
    pub struct SnapshotterOnly {
        bools {
            "node-deployment" => node_deployment,
            "enable-volume-group-snapshots" => enable_volume_group_snapshots,
            "enable-distributed-snapshotting" => enable_distributed_snapshotting,
            "prevent-volume-mode-conversion" => prevent_volume_mode_conversion,
        }
        values {
            "groupsnapshot-name-prefix" => groupsnapshot_name_prefix: String
                = NonEmptyStringValueParser::new(),
            "groupsnapshot-name-uuid-length" => groupsnapshot_name_uuid_length: i64
                = clap::value_parser!(i64).range(-1..),
            "retry-crd-interval-max" => retry_crd_interval_max: Duration = go_flag::duration,
        }
    }
}

impl SidecarCommand for Cli {
    const COMPONENT: &'static str = "sepia-snapshotter";
    const DEFAULTS: &'static [(&'static str, &'static str)] = &[("timeout", "1m")];
    const FEATURE_GATES: &'static [(&'static str, Gate)] = &[
        ("CSIVolumeGroupSnapshot", Gate::Fixed(false)),
        ("ReleaseLeaderElectionOnExit", Gate::Fixed(true)),
    ];

    fn shared(&self) -> &SidecarArgs {
        &self.args.sidecar
    }

    fn ignored_own(&self) -> Vec<String> {
        self.args.upstream_only.given()
    }

    fn validate_own(&self) -> Result<(), String> {
        self.args.validate().map_err(|e| e.to_string())
    }
}

impl SnapshotterArgs {
    /// The rules between flags clap cannot check.
    ///
    /// # Errors
    /// [`SnapshotterError::InvalidFlag`] naming the flag, or the sidecar's own flag errors.
    pub fn validate(&self) -> Result<(), SnapshotterError> {
        self.sidecar.validate()?;
        let invalid = |flag, rule: &str| {
            Err(SnapshotterError::InvalidFlag {
                flag,
                rule: rule.to_owned(),
            })
        };
        if self.snapshot_name_prefix.is_empty() {
            return invalid("snapshot-name-prefix", "it must not be empty");
        }
        if self.snapshot_name_uuid_length == 0 || self.snapshot_name_uuid_length < -1 {
            return invalid(
                "snapshot-name-uuid-length",
                "it must be -1 (whole UID) or positive",
            );
        }
        if self.ready_poll_start.is_zero() {
            return invalid("ready-poll-start", "it must be longer than zero");
        }
        if self.ready_poll_max < self.ready_poll_start {
            return invalid(
                "ready-poll-max",
                "it must not be shorter than --ready-poll-start",
            );
        }
        if self.resync_period.is_zero() {
            return invalid("resync-period", "it must be longer than zero");
        }
        Ok(())
    }

    pub fn naming(&self) -> NamingOptions {
        NamingOptions {
            prefix: self.snapshot_name_prefix.clone(),
            uuid_length: usize::try_from(self.snapshot_name_uuid_length).ok(),
            extra_create_metadata: self.extra_create_metadata,
        }
    }

    pub fn ready_poll(&self) -> ReadyPoll {
        ReadyPoll {
            start: self.ready_poll_start,
            cap: self.ready_poll_max,
        }
    }
}

#[cfg(test)]
mod tests {
    use sidecar::startup::command::{check_status, parse_from};

    use super::*;

    fn parse(argv: &[&str]) -> Cli {
        let mut full = vec!["sepia-snapshotter"];
        full.extend_from_slice(argv);
        parse_from(full).unwrap()
    }

    #[test]
    fn defaults() {
        let cli = parse(&[]);
        assert_eq!(cli.command, None);
        let args = cli.args;
        assert!(!args.extra_create_metadata, "off, as upstream");
        assert!(
            !args.enable_snapshot_controller,
            "off: upstream's controller usually runs"
        );
        assert_eq!(args.sidecar.timeout, Duration::from_secs(60), "upstream's");
        assert_eq!(args.naming().prefix, "snapshot");
        assert_eq!(args.naming().uuid_length, None);
        assert_eq!(args.ready_poll(), ReadyPoll::default());
        args.validate().unwrap();
    }

    #[test]
    fn upstream_spellings_parse() {
        let args = parse(&[
            "--csi-address=/csi/csi.sock",
            "--leader-election",
            "--extra-create-metadata=false",
            "--snapshot-name-prefix=snap",
            "--snapshot-name-uuid-length=8",
            "--enable-snapshot-controller",
            "--timeout=150s",
        ])
        .args;
        assert!(!args.extra_create_metadata);
        assert!(args.enable_snapshot_controller);
        assert_eq!(args.naming().uuid_length, Some(8));
        assert_eq!(args.sidecar.timeout, Duration::from_secs(150));
        assert!(
            parse(&["--extra-create-metadata"])
                .args
                .extra_create_metadata
        );
    }

    /// ceph-csi's csi-snapshotter container, plus the other flags of csi-snapshotter and
    /// snapshot-controller.
    #[test]
    fn ceph_csi_and_upstream_command_lines_are_accepted() {
        let argv = [
            "sepia-snapshotter",
            "--csi-address=unix:///csi/csi-provisioner.sock",
            "--v=1",
            "--timeout=150s",
            "--leader-election=true",
            "--extra-create-metadata=true",
            "--enable-volume-group-snapshots=true",
            "--http-endpoint=10.0.0.7:8092",
            "--node-deployment=false",
            "--groupsnapshot-name-prefix=groupsnapshot",
            "--groupsnapshot-name-uuid-length=-1",
            "--worker-threads=10",
            "--resync-period=15m",
            "--feature-gates=CSIVolumeGroupSnapshot=false",
            "--enable-distributed-snapshotting=false",
            "--retry-crd-interval-max=30s",
            "--prevent-volume-mode-conversion=true",
        ];
        assert_eq!(check_status::<Cli>(&argv), 0);
        let cli = parse(&argv[1..]);
        assert!(cli.args.extra_create_metadata);
        assert_eq!(
            cli.ignored(),
            [
                "--v",
                "--node-deployment",
                "--enable-volume-group-snapshots",
                "--enable-distributed-snapshotting",
                "--prevent-volume-mode-conversion",
                "--groupsnapshot-name-prefix",
                "--groupsnapshot-name-uuid-length",
                "--retry-crd-interval-max",
            ]
        );
        assert_eq!(
            check_status::<Cli>(&["sepia-snapshotter", "--ready-poll-max=1ms"]),
            2,
            "own rules are checked too"
        );
    }

    #[test]
    fn the_crds_subcommand_parses() {
        assert_eq!(parse(&["crds"]).command, Some(Command::Crds));
    }

    #[test]
    fn bad_flags_are_named() {
        let cases: [(&[&str], &str); 4] = [
            (&["--snapshot-name-prefix="], "snapshot-name-prefix"),
            (
                &["--snapshot-name-uuid-length=0"],
                "snapshot-name-uuid-length",
            ),
            (
                &["--ready-poll-start=1s", "--ready-poll-max=100ms"],
                "ready-poll-max",
            ),
            (&["--ready-poll-start=0s"], "ready-poll-start"),
        ];
        for (argv, flag) in cases {
            match parse(argv).args.validate() {
                Err(SnapshotterError::InvalidFlag { flag: f, .. }) => assert_eq!(f, flag),
                other => panic!("{argv:?}: {other:?}"),
            }
        }
    }
}
