//! The flags every Sepia sidecar shares, spelled as kubernetes-csi's `standardflags` spell them
//! so manifests written for the upstream sidecars keep working. `#[command(flatten)]` them into
//! a binary's own flags.
//!
//! Upstream's flags are Go `flag`s: a boolean one is on as `--flag` and takes a value only as
//! `--flag=true` / `--flag=false` (kustomize bases and upstream docs use both). Every boolean
//! flag of a Sepia sidecar is declared with the same `#[arg]` shape to accept both; see
//! [`SidecarArgs::leader_election`] for it.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{ArgAction, Args};

use crate::error::SidecarError;

/// Shared sidecar flags. Defaults are upstream's except where noted ("beat").
#[derive(Debug, Clone, Args)]
pub struct SidecarArgs {
    /// The CSI driver's unix socket (`unix:///path` or a plain path).
    #[arg(long = "csi-address", default_value = "/run/csi/socket")]
    pub csi_address: String,

    /// A kubeconfig file; without it the in-cluster service account is used.
    #[arg(long)]
    pub kubeconfig: Option<PathBuf>,

    /// Deadline of each CSI call. Longer than upstream's 10 s because clones of big images
    /// legitimately take longer, and a timeout only means "ask again".
    #[arg(long, value_parser = humantime::parse_duration, default_value = "30s")]
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

    /// How long a Lease is valid after its last renewal.
    #[arg(long = "leader-election-lease-duration", value_parser = humantime::parse_duration, default_value = "15s")]
    pub leader_election_lease_duration: Duration,

    /// How long the leader keeps trying to renew before it gives up leadership (and exits).
    #[arg(long = "leader-election-renew-deadline", value_parser = humantime::parse_duration, default_value = "10s")]
    pub leader_election_renew_deadline: Duration,

    /// Interval between acquire and renew attempts.
    #[arg(long = "leader-election-retry-period", value_parser = humantime::parse_duration, default_value = "5s")]
    pub leader_election_retry_period: Duration,

    /// Steady request rate against the API server. Beat: upstream's 5 (burst 10) alone caps
    /// provisioning at a few volumes per second.
    #[arg(long = "kube-api-qps", default_value_t = 200.0)]
    pub kube_api_qps: f64,

    /// Requests allowed in a burst above the steady rate.
    #[arg(long = "kube-api-burst", default_value_t = 400)]
    pub kube_api_burst: u32,

    /// `host:port` for `/metrics` and `/healthz`; none when empty.
    #[arg(long = "http-endpoint")]
    pub http_endpoint: Option<SocketAddr>,

    /// Path of the Prometheus endpoint on `--http-endpoint`.
    #[arg(long = "metrics-path", default_value = "/metrics")]
    pub metrics_path: String,

    /// First retry delay of a failed object; doubles per failure.
    #[arg(long = "retry-interval-start", value_parser = humantime::parse_duration, default_value = "1s")]
    pub retry_interval_start: Duration,

    /// Cap of the per-object retry delay.
    #[arg(long = "retry-interval-max", value_parser = humantime::parse_duration, default_value = "5m")]
    pub retry_interval_max: Duration,

    /// Objects processed concurrently (tasks, not OS threads).
    #[arg(long = "worker-threads", default_value_t = 100)]
    pub worker_threads: usize,

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

    /// klog's verbosity (`--v=5`), accepted so manifests written for the upstream sidecars
    /// start unchanged, and otherwise ignored: there is no faithful mapping from one klog
    /// number onto per-crate log filters (`--v=5` would turn on trace logging in every
    /// library). Sepia's verbosity is `--log-filter` / `RUST_LOG`; a note is logged at start
    /// when `--v` is given.
    #[arg(long = "v", short = 'v', value_name = "LEVEL")]
    pub klog_verbosity: Option<u32>,
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
        if self.leader_election {
            // client-go's own checks: a leader must give up before others may take over.
            if self.leader_election_retry_period.is_zero() {
                return invalid(
                    "leader-election-retry-period",
                    "it must be longer than zero",
                );
            }
            if self.leader_election_renew_deadline <= self.leader_election_retry_period {
                return invalid(
                    "leader-election-renew-deadline",
                    "it must be longer than --leader-election-retry-period",
                );
            }
            if self.leader_election_lease_duration <= self.leader_election_renew_deadline {
                return invalid(
                    "leader-election-lease-duration",
                    "it must be longer than --leader-election-renew-deadline",
                );
            }
        }
        Ok(())
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
            "--http-endpoint=127.0.0.1:8080",
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
        assert_eq!(args.http_endpoint.unwrap().port(), 8080);
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
    fn inconsistent_flags_name_the_flag() {
        let cases: [(&[&str], &str); 6] = [
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
        ];
        for (argv, flag) in cases {
            match parse(argv).validate() {
                Err(SidecarError::InvalidFlag { flag: f, .. }) => assert_eq!(f, flag, "{argv:?}"),
                other => panic!("{argv:?}: {other:?}"),
            }
        }
    }
}
