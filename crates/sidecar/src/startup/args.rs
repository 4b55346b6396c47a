//! The flags every Sepia sidecar shares, spelled as kubernetes-csi's `standardflags` and
//! component-base's logging flags spell them, so manifests written for the upstream sidecars
//! keep working. `#[command(flatten)]` them into a binary's own flags.
//!
//! Upstream's flags are Go `flag`s: a boolean one is on as `--flag` and takes a value only as
//! `--flag=true` / `--flag=false` (kustomize bases and upstream docs use both); durations,
//! listen addresses and maps are read as in [`super::go_flag`]. Every boolean flag of a Sepia
//! sidecar is declared with the same `#[arg]` shape; see [`SidecarArgs::leader_election`].
//!
//! Flags Sepia accepts only so upstream command lines start (`--automaxprocs`, `--vmodule`,
//! klog's `--v`, ...) are `Option`s: [`SidecarArgs::ignored`] names the ones given, and
//! [`crate::launch()`] logs one warning naming them all.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use clap::{ArgAction, Args, ValueEnum};
use telemetry::{ListenAddress, TelemetryConfig};

use crate::error::SidecarError;
use crate::leader_election::fail_stop::FAIL_STOP_GRACE;
use crate::leader_election::leader::LeaderElectionConfig;
use crate::startup::go_flag::{self, Endpoint, FeatureGates, LeaseLabels};

/// client-go's `JitterFactor`: the renew deadline must exceed this many retry periods.
const RENEW_JITTER_FACTOR: f64 = 1.2;

/// `--logging-format`, as component-base spells the two formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LoggingFormat {
    Text,
    Json,
}

crate::upstream_only_flags! {
    /// component-base's logging flags and csi-lib-utils' `--automaxprocs` (GOMAXPROCS from the
    /// CPU quota, which Rust's thread count already follows): accepted, no effect.
    pub struct LoggingOnly {
        bools {
            "log-text-split-stream" => log_text_split_stream,
            "log-json-split-stream" => log_json_split_stream,
            "automaxprocs" => automaxprocs,
        }
        values {
            "vmodule" => vmodule: String = clap::builder::NonEmptyStringValueParser::new(),
            "log-flush-frequency" => log_flush_frequency: Duration = go_flag::duration,
            "log-text-info-buffer-size" => log_text_info_buffer_size: String
                = clap::builder::NonEmptyStringValueParser::new(),
            "log-json-info-buffer-size" => log_json_info_buffer_size: String
                = clap::builder::NonEmptyStringValueParser::new(),
        }
    }
}

/// Shared sidecar flags. Defaults are upstream's except where noted ("beat"); a binary sets
/// its own upstream default of `--timeout` through [`super::command::SidecarCommand::DEFAULTS`].
#[derive(Debug, Clone, Args)]
pub struct SidecarArgs {
    /// The CSI driver's unix socket (`unix:///path` or a plain path).
    #[arg(long = "csi-address", default_value = "/run/csi/socket")]
    pub csi_address: String,

    /// A kubeconfig file; without it the in-cluster service account is used.
    #[arg(long)]
    pub kubeconfig: Option<PathBuf>,

    /// Deadline of each CSI call; a timeout only means "ask again". Each sidecar's default is
    /// its upstream's (provisioner and resizer 10s, attacher 15s, snapshotter 1m).
    #[arg(long, value_parser = go_flag::duration, default_value = "10s")]
    pub timeout: Duration,

    /// Run the controllers only while holding a `coordination.k8s.io/v1` Lease.
    ///
    /// A Go-style boolean: `--leader-election` or `--leader-election=true|false` (the value
    /// only after `=`, as Go's `flag` package reads it; also `1`/`0`, `t`/`f`, `yes`/`no`).
    /// Given twice, the last one wins (an overlay may append `=false` to a base's flags).
    #[arg(
        long = "leader-election",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        default_value = "false",
        value_parser = clap::builder::BoolishValueParser::new(),
        action = ArgAction::Set,
        overrides_with = "leader_election",
    )]
    pub leader_election: bool,

    /// Namespace of the Lease; default: `POD_NAMESPACE`, else the service account's, else
    /// `default` (as upstream).
    #[arg(long = "leader-election-namespace")]
    pub leader_election_namespace: Option<String>,

    /// How long a Lease is valid after its last renewal: the earliest a standby may act.
    #[arg(long = "leader-election-lease-duration", value_parser = go_flag::duration, default_value = "15s")]
    pub leader_election_lease_duration: Duration,

    /// How long the leader keeps trying to renew before it gives up: its workers are aborted
    /// and the process exits. Plus 500ms it must stay below the lease duration.
    #[arg(long = "leader-election-renew-deadline", value_parser = go_flag::duration, default_value = "10s")]
    pub leader_election_renew_deadline: Duration,

    /// Interval between acquire and renew attempts.
    #[arg(long = "leader-election-retry-period", value_parser = go_flag::duration, default_value = "5s")]
    pub leader_election_retry_period: Duration,

    /// Labels the leader puts on its Lease: `key:value,key:value` (repeatable).
    #[arg(long = "leader-election-labels", action = ArgAction::Append)]
    pub leader_election_labels: Vec<LeaseLabels>,

    /// Steady request rate against the API server. Beat: upstream's 5 (burst 10) alone caps
    /// provisioning at a few volumes per second.
    #[arg(long = "kube-api-qps", default_value_t = 200.0)]
    pub kube_api_qps: f64,

    /// Requests allowed in a burst above the steady rate.
    #[arg(long = "kube-api-burst", default_value_t = 400)]
    pub kube_api_burst: u32,

    /// Where `/metrics`, `/healthz` and `/healthz/leader-election` are served: `:port` (every
    /// interface), `host:port` or `[ipv6]:port`; none when empty.
    #[arg(long = "http-endpoint", default_value = "")]
    pub http_endpoint: Endpoint,

    /// Deprecated upstream name of `--http-endpoint`; only one of the two may be set.
    #[arg(long = "metrics-address", default_value = "")]
    pub metrics_address: Endpoint,

    /// Path of the Prometheus endpoint on `--http-endpoint`.
    #[arg(long = "metrics-path", default_value = "/metrics")]
    pub metrics_path: String,

    /// First retry delay of a failed object; doubles per failure.
    #[arg(long = "retry-interval-start", value_parser = go_flag::duration, default_value = "1s")]
    pub retry_interval_start: Duration,

    /// Cap of the per-object retry delay.
    #[arg(long = "retry-interval-max", value_parser = go_flag::duration, default_value = "5m")]
    pub retry_interval_max: Duration,

    /// Objects processed concurrently (tasks, not OS threads). Beat: 100 in every sidecar
    /// (upstream: provisioner 100, the others 10), as a task costs next to nothing and the
    /// API rate and the driver bound the real concurrency.
    #[arg(long = "worker-threads", default_value_t = 100)]
    pub worker_threads: usize,

    /// `Name=true|false,...` (repeatable). Each sidecar knows its upstream's gates; one Sepia
    /// does not switch is named in the start-up warning unless its value is what Sepia does.
    #[arg(long = "feature-gates", action = ArgAction::Append)]
    pub feature_gates: Vec<FeatureGates>,

    /// NATS server(s) for Sepia events (`nats://host:4222`, comma-separated); none = log only.
    #[arg(long = "nats-url", env = "SEPIA_NATS_URL")]
    pub nats_url: Option<String>,

    /// OTLP/gRPC collector for traces, e.g. `http://otel-collector:4317`.
    #[arg(long = "otlp-endpoint", env = "OTEL_EXPORTER_OTLP_ENDPOINT")]
    pub otlp_endpoint: Option<String>,

    /// `RUST_LOG`-style log filter.
    #[arg(long = "log-filter", env = "RUST_LOG", default_value = "info")]
    pub log_filter: String,

    /// One JSON object per log line. A Go-style boolean, as `--leader-election`.
    #[arg(
        long = "log-json",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        default_value = "false",
        value_parser = clap::builder::BoolishValueParser::new(),
        action = ArgAction::Set,
        overrides_with = "log_json",
    )]
    pub log_json: bool,

    /// component-base's name for the log format: `json` is `--log-json`.
    #[arg(long = "logging-format", value_enum, ignore_case = true)]
    pub logging_format: Option<LoggingFormat>,

    /// Parse and check the flags (and the environment they read), print what would be
    /// ignored, and exit: 0 when they are fine, 2 when not. Connects nowhere.
    #[arg(
        long = "check-args",
        env = "SEPIA_CHECK_ARGS",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        default_value = "false",
        value_parser = clap::builder::BoolishValueParser::new(),
        action = ArgAction::Set,
    )]
    pub check_args: bool,

    /// klog's verbosity (`--v=5`), accepted so manifests written for the upstream sidecars
    /// start unchanged, and otherwise ignored: there is no faithful mapping from one klog
    /// number onto per-crate log filters (`--v=5` would turn on trace logging in every
    /// library). Sepia's verbosity is `--log-filter` / `RUST_LOG`.
    #[arg(long = "v", short = 'v', value_name = "LEVEL")]
    pub klog_verbosity: Option<u32>,

    #[command(flatten)]
    pub logging_only: LoggingOnly,
}

impl SidecarArgs {
    /// Checks the rules between flags that clap cannot express.
    ///
    /// # Errors
    /// [`SidecarError::InvalidFlag`] naming the flag and the rule.
    pub fn validate(&self) -> Result<(), SidecarError> {
        let invalid = |flag, rule: &str| {
            Err(SidecarError::InvalidFlag {
                flag,
                rule: rule.to_owned(),
            })
        };
        if !(self.kube_api_qps > 0.0 && self.kube_api_qps.is_finite()) {
            return invalid("kube-api-qps", "it must be a positive number");
        }
        if self.kube_api_burst == 0 {
            return invalid("kube-api-burst", "it must be at least 1");
        }
        if self.timeout.is_zero() {
            return invalid("timeout", "it must be longer than zero");
        }
        if self.worker_threads == 0 {
            return invalid("worker-threads", "it must be at least 1");
        }
        if self.retry_interval_start.is_zero() {
            return invalid("retry-interval-start", "it must be longer than zero");
        }
        if self.retry_interval_max < self.retry_interval_start {
            return invalid(
                "retry-interval-max",
                "it must not be shorter than --retry-interval-start",
            );
        }
        if self.http_endpoint.0.is_some() && self.metrics_address.0.is_some() {
            return invalid(
                "metrics-address",
                "only one of --metrics-address and --http-endpoint may be set",
            );
        }
        if self.leader_election {
            // client-go's own checks, and fail-stop: a leader that gave up at the renew
            // deadline must be gone before a standby may act (see crate::leader_election::leader).
            if self.leader_election_retry_period.is_zero() {
                return invalid(
                    "leader-election-retry-period",
                    "it must be longer than zero",
                );
            }
            if self.leader_election_renew_deadline.as_secs_f64()
                <= RENEW_JITTER_FACTOR * self.leader_election_retry_period.as_secs_f64()
            {
                return invalid(
                    "leader-election-renew-deadline",
                    "it must be longer than 1.2 × --leader-election-retry-period (client-go's \
                     rule: at least one jittered retry fits before the leader gives up)",
                );
            }
            if self.leader_election_lease_duration
                <= self.leader_election_renew_deadline + FAIL_STOP_GRACE
            {
                return Err(SidecarError::InvalidFlag {
                    flag: "leader-election-lease-duration",
                    rule: format!(
                        "it must be longer than --leader-election-renew-deadline ({:?}) plus \
                         {FAIL_STOP_GRACE:?}, the time a leader that could not renew has to \
                         stop before a standby may take the Lease",
                        self.leader_election_renew_deadline
                    ),
                });
            }
        }
        Ok(())
    }

    /// Where to serve HTTP: `--http-endpoint`, else the deprecated `--metrics-address`.
    pub fn http_address(&self) -> Option<&ListenAddress> {
        self.http_endpoint
            .0
            .as_ref()
            .or(self.metrics_address.0.as_ref())
    }

    /// Every `--feature-gates` flag merged, later ones winning.
    pub fn feature_gates(&self) -> BTreeMap<String, bool> {
        go_flag::merged(&self.feature_gates)
    }

    /// The leader-election settings for Lease `lease_name` held as `identity`.
    pub fn election_config(&self, lease_name: String, identity: &str) -> LeaderElectionConfig {
        LeaderElectionConfig {
            lease_name,
            namespace: self
                .leader_election_namespace
                .clone()
                .unwrap_or_else(crate::leader_election::lease_name::default_namespace),
            identity: identity.to_owned(),
            lease_duration: self.leader_election_lease_duration,
            renew_deadline: self.leader_election_renew_deadline,
            retry_period: self.leader_election_retry_period,
            labels: go_flag::merged(&self.leader_election_labels),
        }
    }

    /// Logging and tracing as the flags ask.
    pub fn telemetry_config(&self, component: &str) -> TelemetryConfig {
        TelemetryConfig {
            service_name: component.to_owned(),
            log_filter: self.log_filter.clone(),
            json: self.log_json || self.logging_format == Some(LoggingFormat::Json),
            otlp_endpoint: self.otlp_endpoint.clone(),
        }
    }

    /// The shared flags on this command line that are accepted for upstream's manifests and
    /// do nothing, as `--name`.
    pub fn ignored(&self) -> Vec<String> {
        let mut ignored: Vec<String> = self
            .klog_verbosity
            .iter()
            .map(|_| "--v".to_owned())
            .collect();
        ignored.extend(self.logging_only.given());
        ignored
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        sidecar: SidecarArgs,
    }

    fn parse(args: &[&str]) -> SidecarArgs {
        let mut argv = vec!["sidecar"];
        argv.extend_from_slice(args);
        Cli::try_parse_from(argv).unwrap().sidecar
    }

    #[test]
    fn defaults_are_upstreams_except_the_api_rate() {
        let args = parse(&[]);
        assert_eq!(args.csi_address, "/run/csi/socket");
        assert_eq!(args.leader_election_lease_duration, Duration::from_secs(15));
        assert_eq!(args.leader_election_renew_deadline, Duration::from_secs(10));
        assert_eq!(args.leader_election_retry_period, Duration::from_secs(5));
        assert_eq!(args.retry_interval_start, Duration::from_secs(1));
        assert_eq!(args.retry_interval_max, Duration::from_secs(300));
        assert_eq!(args.metrics_path, "/metrics");
        assert!(!args.leader_election);
        assert!(args.kube_api_qps > 5.0 && args.kube_api_burst > 10);
        args.validate().unwrap();
    }

    #[test]
    fn upstream_flag_spellings_parse() {
        let args = parse(&[
            "--csi-address=unix:///csi/csi.sock",
            "--kubeconfig=/k",
            "--timeout=2m",
            "--leader-election",
            "--leader-election-namespace=kube-system",
            "--leader-election-lease-duration=3s",
            "--leader-election-renew-deadline=2s",
            "--leader-election-retry-period=500ms",
            "--kube-api-qps=5",
            "--kube-api-burst=10",
            "--http-endpoint=:8080",
            "--metrics-path=/m",
            "--retry-interval-start=2s",
            "--retry-interval-max=1m",
            "--worker-threads=7",
        ]);
        assert_eq!(args.timeout, Duration::from_secs(120));
        assert_eq!(
            args.leader_election_retry_period,
            Duration::from_millis(500)
        );
        assert_eq!(args.kube_api_burst, 10);
        assert_eq!(args.worker_threads, 7);
        let http = args.http_address().unwrap();
        assert_eq!(
            (http.host(), http.port()),
            (None, 8080),
            "every interface, as Go"
        );
        args.validate().unwrap();
    }

    #[test]
    fn boolean_flags_take_both_the_bare_and_the_go_value_form() {
        let cases: [(&[&str], bool, bool); 8] = [
            (&[], false, false),
            (&["--leader-election", "--log-json"], true, true),
            (&["--leader-election=true", "--log-json=true"], true, true),
            (
                &["--leader-election=false", "--log-json=false"],
                false,
                false,
            ),
            (&["--leader-election=True", "--log-json=FALSE"], true, false),
            (&["--leader-election=1", "--log-json=0"], true, false),
            // The last occurrence wins, as with Go's flag package.
            (
                &["--leader-election", "--leader-election=false"],
                false,
                false,
            ),
            (&["--log-json=false", "--log-json"], false, true),
        ];
        for (argv, leader_election, log_json) in cases {
            let args = parse(argv);
            assert_eq!(args.leader_election, leader_election, "{argv:?}");
            assert_eq!(args.log_json, log_json, "{argv:?}");
        }
    }

    #[test]
    fn a_boolean_takes_its_value_only_after_an_equals_sign_and_only_a_boolean() {
        // Go reads `--leader-election false` as the flag plus a stray argument; so do we.
        for argv in [
            &["--leader-election", "false"][..],
            &["--leader-election=maybe"][..],
            &["--log-json="][..],
        ] {
            let mut full = vec!["sidecar"];
            full.extend_from_slice(argv);
            assert!(Cli::try_parse_from(&full).is_err(), "{argv:?} was accepted");
        }
    }

    #[test]
    fn klog_verbosity_is_accepted_in_upstream_spellings_and_leaves_the_log_filter_alone() {
        for argv in [
            &["--v=5"][..],
            &["--v", "5"][..],
            &["-v=5"][..],
            &["-v5"][..],
        ] {
            let args = parse(argv);
            assert_eq!(args.klog_verbosity, Some(5), "{argv:?}");
            assert_eq!(args.log_filter, parse(&[]).log_filter, "{argv:?}");
        }
        assert_eq!(parse(&[]).klog_verbosity, None);
        assert_eq!(
            parse(&["--v=2", "--log-filter=debug"]).log_filter,
            "debug",
            "--log-filter still decides"
        );
    }

    #[test]
    fn upstream_only_flags_are_accepted_and_named_as_ignored() {
        let args = parse(&[
            "--v=2",
            "--vmodule=foo=3",
            "--log-flush-frequency=5s",
            "--log-text-split-stream",
            "--log-text-info-buffer-size=1Ki",
            "--log-json-split-stream=false",
            "--log-json-info-buffer-size=2Mi",
            "--automaxprocs",
            "--metrics-address=:9090",
            "--leader-election-labels=app:sepia",
            "--feature-gates=Topology=true",
        ]);
        assert_eq!(
            args.ignored(),
            [
                "--v",
                "--log-text-split-stream",
                "--log-json-split-stream",
                "--automaxprocs",
                "--vmodule",
                "--log-flush-frequency",
                "--log-text-info-buffer-size",
                "--log-json-info-buffer-size",
            ]
        );
        assert_eq!(
            args.http_address().unwrap().port(),
            9090,
            "--metrics-address serves"
        );
        assert!(parse(&[]).ignored().is_empty());
        assert!(parse(&[]).http_address().is_none());
        assert!(
            parse(&["--http-endpoint="]).http_address().is_none(),
            "empty = off"
        );
    }

    #[test]
    fn logging_format_json_turns_on_json_logs() {
        assert!(parse(&["--logging-format=json"]).telemetry_config("x").json);
        assert!(!parse(&["--logging-format=text"]).telemetry_config("x").json);
        assert!(parse(&["--log-json"]).telemetry_config("x").json);
        assert!(Cli::try_parse_from(["sidecar", "--logging-format=yaml"]).is_err());
    }

    #[test]
    fn lease_labels_merge_into_the_election_config() {
        let args = parse(&[
            "--leader-election-labels=app:sepia,tier:a",
            "--leader-election-labels=tier:b",
            "--leader-election-namespace=ns",
        ]);
        let config = args.election_config("lease".into(), "me");
        assert_eq!(
            config.labels,
            BTreeMap::from([("app".into(), "sepia".into()), ("tier".into(), "b".into())])
        );
        assert_eq!(config.namespace, "ns");
        assert!(
            Cli::try_parse_from(["sidecar", "--leader-election-labels=app=sepia"]).is_err(),
            "key:value only"
        );
    }

    #[test]
    fn a_leader_must_be_able_to_stop_before_its_lease_can_pass() {
        // RD + 500 ms must stay below LD: 10 s + 500 ms < 11 s is fine, < 10.5 s is not.
        let fine = [
            "--leader-election",
            "--leader-election-lease-duration=11s",
            "--leader-election-renew-deadline=10s",
        ];
        parse(&fine).validate().unwrap();
        let tight = [
            "--leader-election",
            "--leader-election-lease-duration=10500ms",
            "--leader-election-renew-deadline=10s",
        ];
        match parse(&tight).validate() {
            Err(SidecarError::InvalidFlag { flag, rule }) => {
                assert_eq!(flag, "leader-election-lease-duration");
                assert!(rule.contains("--leader-election-renew-deadline"), "{rule}");
            }
            other => panic!("{other:?}"),
        }
        // Without leader election the durations are not used, so not checked.
        parse(&tight[1..]).validate().unwrap();
    }

    #[test]
    fn inconsistent_flags_name_the_flag() {
        let cases: [(&[&str], &str); 8] = [
            (&["--kube-api-qps=0"], "kube-api-qps"),
            (&["--kube-api-burst=0"], "kube-api-burst"),
            (&["--worker-threads=0"], "worker-threads"),
            (
                &["--retry-interval-start=10s", "--retry-interval-max=1s"],
                "retry-interval-max",
            ),
            (
                &["--leader-election", "--leader-election-renew-deadline=5s"],
                "leader-election-renew-deadline",
            ),
            (
                &["--leader-election", "--leader-election-lease-duration=10s"],
                "leader-election-lease-duration",
            ),
            (
                // client-go: RD > 1.2 × RP.
                &[
                    "--leader-election",
                    "--leader-election-renew-deadline=6s",
                    "--leader-election-retry-period=5s",
                ],
                "leader-election-renew-deadline",
            ),
            (
                &["--http-endpoint=:8080", "--metrics-address=:9090"],
                "metrics-address",
            ),
        ];
        for (argv, flag) in cases {
            match parse(argv).validate() {
                Err(SidecarError::InvalidFlag { flag: f, .. }) => assert_eq!(f, flag, "{argv:?}"),
                other => panic!("{argv:?}: {other:?}"),
            }
        }
    }
}
