//! `sepia-provisioner`'s flags: the shared sidecar flags plus external-provisioner's own
//! (same names and meanings).

use clap::Parser;
use sidecar::SidecarArgs;

#[derive(Debug, Clone, Parser)]
#[command(
    name = "sepia-provisioner",
    version,
    about = "CSI external-provisioner for Sepia (and any CSI driver)"
)]
pub struct Args {
    #[command(flatten)]
    pub sidecar: SidecarArgs,

    /// Prefix of CreateVolume names and PV names (`<prefix>-<PVC UID>`).
    #[arg(long = "volume-name-prefix", default_value = "pvc")]
    pub volume_name_prefix: String,

    /// Filesystem type when the StorageClass names none (empty: the driver decides).
    #[arg(long = "default-fstype", default_value = "")]
    pub default_fstype: String,

    /// Pass `csi.storage.k8s.io/pvc/name`, `…/pvc/namespace` and `…/pv/name` to CreateVolume.
    /// On by default: Sepia's controller tags images with them. A Go-style boolean, as
    /// `--leader-election`: `--extra-create-metadata` or `--extra-create-metadata=false`.
    #[arg(
        long = "extra-create-metadata",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        default_value = "true",
        value_parser = clap::builder::BoolishValueParser::new(),
        action = clap::ArgAction::Set,
        overrides_with = "extra_create_metadata",
    )]
    pub extra_create_metadata: bool,

    /// How often every claim and PV is looked at again even without a change.
    #[arg(long = "resync-period", value_parser = humantime::parse_duration, default_value = "10m")]
    pub resync_period: std::time::Duration,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstream_provisioner_flags_parse() {
        let args = Args::try_parse_from([
            "sepia-provisioner",
            "--csi-address=/csi/csi.sock",
            "--volume-name-prefix=vol",
            "--default-fstype=ext4",
            "--extra-create-metadata=false",
            "--worker-threads=10",
        ])
        .unwrap();
        assert_eq!(args.volume_name_prefix, "vol");
        assert_eq!(args.default_fstype, "ext4");
        assert!(!args.extra_create_metadata);
        assert_eq!(args.sidecar.worker_threads, 10);
        let defaults = Args::try_parse_from(["sepia-provisioner"]).unwrap();
        assert!(defaults.extra_create_metadata);
        assert_eq!(defaults.volume_name_prefix, "pvc");
    }

    #[test]
    fn boolean_flags_take_both_the_bare_and_the_go_value_form() {
        let cases: [(&[&str], bool, bool); 5] = [
            (&["--extra-create-metadata"], true, false),
            (&["--extra-create-metadata=true"], true, false),
            (
                &["--extra-create-metadata=false", "--leader-election"],
                false,
                true,
            ),
            (&["--leader-election=true"], true, true),
            (&["--leader-election=false", "--v=5"], true, false),
        ];
        for (flags, extra_create_metadata, leader_election) in cases {
            let mut argv = vec!["sepia-provisioner"];
            argv.extend_from_slice(flags);
            let args = Args::try_parse_from(argv).unwrap();
            assert_eq!(
                args.extra_create_metadata, extra_create_metadata,
                "{flags:?}"
            );
            assert_eq!(args.sidecar.leader_election, leader_election, "{flags:?}");
        }
        assert!(
            Args::try_parse_from(["sepia-provisioner", "--extra-create-metadata", "false"])
                .is_err(),
            "a value only after `=`, as Go reads it"
        );
    }
}
