//! `sepia-provisioner`'s flags: the shared sidecar flags plus external-provisioner's own
//! (same names and meanings).

use std::time::Duration;

use clap::Parser;
use clap::builder::NonEmptyStringValueParser;
use sidecar::startup::go_flag;
use sidecar::{Gate, SidecarArgs, SidecarCommand};

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

    /// Pass `csi.storage.k8s.io/pvc/name`, `…/pvc/namespace` and `…/pv/name` to CreateVolume
    /// (Sepia's controller tags images with them; the manifests turn it on). Off by default,
    /// as upstream. A Go-style boolean, as `--leader-election`.
    #[arg(
        long = "extra-create-metadata",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        default_value = "false",
        value_parser = clap::builder::BoolishValueParser::new(),
        action = clap::ArgAction::Set,
        overrides_with = "extra_create_metadata",
    )]
    pub extra_create_metadata: bool,

    /// Refuse a restore whose volume mode differs from the snapshot's source unless its
    /// content allows it (`snapshot.storage.kubernetes.io/allow-volume-mode-change`). On by
    /// default, as upstream.
    #[arg(
        long = "prevent-volume-mode-conversion",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        default_value = "true",
        value_parser = clap::builder::BoolishValueParser::new(),
        action = clap::ArgAction::Set,
        overrides_with = "prevent_volume_mode_conversion",
    )]
    pub prevent_volume_mode_conversion: bool,

    /// How often every claim and PV is looked at again even without a change (Sepia's; the
    /// upstream provisioner's informers resync every 15 minutes).
    #[arg(long = "resync-period", value_parser = go_flag::duration, default_value = "10m")]
    pub resync_period: Duration,

    #[command(flatten)]
    pub upstream_only: ProvisionerOnly,
}

sidecar::upstream_only_flags! {
    /// external-provisioner's flags Sepia accepts and does not act on: capacity tracking,
    /// node deployment, topology variants, profiling and name truncation are not implemented.
    pub struct ProvisionerOnly {
        bools {
            "strict-topology" => strict_topology,
            "immediate-topology" => immediate_topology,
            "enable-pprof" => enable_pprof,
            "enable-capacity" => enable_capacity,
            "capacity-for-immediate-binding" => capacity_for_immediate_binding,
            "node-deployment" => node_deployment,
            "node-deployment-immediate-binding" => node_deployment_immediate_binding,
            "controller-publish-readonly" => controller_publish_readonly,
        }
        values {
            "master" => master: String = NonEmptyStringValueParser::new(),
            "volume-name-uuid-length" => volume_name_uuid_length: i64
                = clap::value_parser!(i64).range(-1..),
            "cloning-protection-threads" => cloning_protection_threads: u32
                = clap::value_parser!(u32),
            "snapshot-orphan-sweep-interval" => snapshot_orphan_sweep_interval: Duration
                = go_flag::duration,
            "capacity-threads" => capacity_threads: u32 = clap::value_parser!(u32),
            "capacity-poll-interval" => capacity_poll_interval: Duration = go_flag::duration,
            "capacity-ownerref-level" => capacity_ownerref_level: i64
                = clap::value_parser!(i64).range(-1..),
            "kube-api-capacity-qps" => kube_api_capacity_qps: f64 = clap::value_parser!(f64),
            "kube-api-capacity-burst" => kube_api_capacity_burst: u32 = clap::value_parser!(u32),
            "node-deployment-base-delay" => node_deployment_base_delay: Duration
                = go_flag::duration,
            "node-deployment-max-delay" => node_deployment_max_delay: Duration
                = go_flag::duration,
        }
    }
}

impl SidecarCommand for Args {
    const COMPONENT: &'static str = "sepia-provisioner";
    /// external-provisioner's gates, plus `HonorPVReclaimPolicy` (GA and removed upstream,
    /// still passed by ceph-csi's manifests).
    const FEATURE_GATES: &'static [(&'static str, Gate)] = &[
        ("Topology", Gate::Fixed(true)),
        ("HonorPVReclaimPolicy", Gate::Fixed(true)),
        ("ReleaseLeaderElectionOnExit", Gate::Fixed(true)),
        ("VolumeAttributesClass", Gate::Fixed(false)),
        ("CrossNamespaceVolumeDataSource", Gate::Switch),
    ];

    fn shared(&self) -> &SidecarArgs {
        &self.sidecar
    }

    fn ignored_own(&self) -> Vec<String> {
        self.upstream_only.given()
    }

    fn validate_own(&self) -> Result<(), String> {
        if self.volume_name_prefix.is_empty() {
            return Err("invalid value for --volume-name-prefix: it must not be empty".into());
        }
        if self.resync_period.is_zero() {
            return Err("invalid value for --resync-period: it must be longer than zero".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use sidecar::startup::command::{check_status, parse_from};

    use super::*;

    #[test]
    fn upstream_provisioner_flags_parse() {
        let args: Args = parse_from([
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
        let defaults: Args = parse_from(["sepia-provisioner"]).unwrap();
        assert!(!defaults.extra_create_metadata, "off, as upstream");
        assert!(defaults.prevent_volume_mode_conversion, "on, as upstream");
        assert_eq!(defaults.volume_name_prefix, "pvc");
        assert_eq!(
            defaults.sidecar.timeout,
            Duration::from_secs(10),
            "upstream's"
        );
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
            (&["--leader-election=true"], false, true),
            (&["--leader-election=false", "--v=5"], false, false),
        ];
        for (flags, extra_create_metadata, leader_election) in cases {
            let mut argv = vec!["sepia-provisioner"];
            argv.extend_from_slice(flags);
            let args: Args = parse_from(argv).unwrap();
            assert_eq!(
                args.extra_create_metadata, extra_create_metadata,
                "{flags:?}"
            );
            assert_eq!(args.sidecar.leader_election, leader_election, "{flags:?}");
        }
        assert!(
            parse_from::<Args, _, _>(["sepia-provisioner", "--extra-create-metadata", "false"])
                .is_err(),
            "a value only after `=`, as Go reads it"
        );
    }

    /// ceph-csi's csi-rbdplugin-provisioner.yaml (csi-provisioner container), plus every
    /// other flag of external-provisioner's current release.
    #[test]
    fn ceph_csi_and_upstream_command_lines_are_accepted() {
        let ceph_csi = [
            "sepia-provisioner",
            "--csi-address=unix:///csi/csi-provisioner.sock",
            "--v=1",
            "--timeout=150s",
            "--retry-interval-start=500ms",
            "--leader-election=true",
            "--feature-gates=HonorPVReclaimPolicy=true",
            "--prevent-volume-mode-conversion=true",
            "--default-fstype=ext4",
            "--extra-create-metadata=true",
            "--immediate-topology=false",
            "--http-endpoint=10.0.0.7:8090",
        ];
        assert_eq!(check_status::<Args>(&ceph_csi), 0);
        let args: Args = parse_from(ceph_csi).unwrap();
        assert!(args.extra_create_metadata);
        assert_eq!(args.ignored(), ["--v", "--immediate-topology"]);

        let every_other = [
            "sepia-provisioner",
            "--master=https://api:6443",
            "--kubeconfig=/k",
            "--volume-name-uuid-length=8",
            "--worker-threads=100",
            "--cloning-protection-threads=1",
            "--snapshot-orphan-sweep-interval=5m",
            "--capacity-threads=1",
            "--strict-topology",
            "--enable-pprof=false",
            "--kube-api-capacity-qps=1",
            "--kube-api-capacity-burst=5",
            "--enable-capacity",
            "--capacity-for-immediate-binding=false",
            "--capacity-poll-interval=1m",
            "--capacity-ownerref-level=2",
            "--node-deployment=false",
            "--node-deployment-immediate-binding=true",
            "--node-deployment-base-delay=20s",
            "--node-deployment-max-delay=1m",
            "--controller-publish-readonly=false",
            "--leader-election-labels=a:b",
            "--metrics-address=:8080",
            "--metrics-path=/metrics",
            "--kube-api-qps=5",
            "--kube-api-burst=10",
            "--automaxprocs",
            "--logging-format=text",
            "--vmodule=x=1",
            "--feature-gates=Topology=true,CrossNamespaceVolumeDataSource=true",
        ];
        assert_eq!(check_status::<Args>(&every_other), 0);
        let ignored = parse_from::<Args, _, _>(every_other).unwrap().ignored();
        assert!(ignored.contains(&"--master".to_owned()), "{ignored:?}");
        // A switch Sepia implements is not named as ignored.
        assert!(
            !ignored
                .iter()
                .any(|f| f.contains("CrossNamespaceVolumeDataSource")),
            "{ignored:?}"
        );
        assert!(
            !ignored.iter().any(|f| f.contains("Topology=true")),
            "{ignored:?}"
        );
    }
}
