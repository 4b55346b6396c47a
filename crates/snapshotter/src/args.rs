//! `sepia-snapshotter` flags: the shared sidecar flags under upstream's names, csi-snapshotter's
//! own (`--snapshot-name-prefix`, `--snapshot-name-uuid-length`, `--extra-create-metadata`),
//! the switch for the built-in snapshot controller, and the readiness poll.

use std::time::Duration;

use clap::{ArgAction, Args, Parser, Subcommand};
use sidecar::SidecarArgs;

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
    /// (`csi.storage.k8s.io/volumesnapshot/*` parameters). Default on (upstream: off; ceph-csi
    /// deploys it on).
    #[arg(long = "extra-create-metadata", action = ArgAction::Set, num_args = 0..=1,
        default_value_t = true, default_missing_value = "true")]
    pub extra_create_metadata: bool,

    /// Also run the cluster-wide snapshot controller (VolumeSnapshot ↔ VolumeSnapshotContent
    /// binding) under Lease `snapshot-controller-leader`; `=false` where upstream's
    /// snapshot-controller already runs.
    #[arg(long = "enable-snapshot-controller", action = ArgAction::Set, num_args = 0..=1,
        default_value_t = true, default_missing_value = "true")]
    pub enable_snapshot_controller: bool,

    /// First delay before asking the driver again about a snapshot it called not ready.
    #[arg(long = "ready-poll-start", value_parser = humantime::parse_duration, default_value = "100ms")]
    pub ready_poll_start: Duration,

    /// Longest delay between such polls: readyToUse shows at most this long after the driver
    /// reports it (upstream backs off up to --retry-interval-max, 5 minutes).
    #[arg(long = "ready-poll-max", value_parser = humantime::parse_duration, default_value = "500ms")]
    pub ready_poll_max: Duration,

    /// Every object is looked at again this often, changed or not.
    #[arg(long = "resync-period", value_parser = humantime::parse_duration, default_value = "15m")]
    pub resync_period: Duration,
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
    use super::*;

    fn parse(argv: &[&str]) -> Cli {
        let mut full = vec!["sepia-snapshotter"];
        full.extend_from_slice(argv);
        Cli::try_parse_from(full).unwrap()
    }

    #[test]
    fn defaults() {
        let cli = parse(&[]);
        assert_eq!(cli.command, None);
        let args = cli.args;
        assert!(args.extra_create_metadata);
        assert!(args.enable_snapshot_controller);
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
            "--enable-snapshot-controller=false",
            "--timeout=150s",
        ])
        .args;
        assert!(!args.extra_create_metadata);
        assert!(!args.enable_snapshot_controller);
        assert_eq!(args.naming().uuid_length, Some(8));
        assert_eq!(args.sidecar.timeout, Duration::from_secs(150));
        assert!(
            parse(&["--extra-create-metadata"])
                .args
                .extra_create_metadata
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
