//! The runtime's one error type. Messages name the flag, endpoint or object and the step that
//! failed; none carries a secret, because no CSI request or Secret payload ever reaches them.

use std::time::Duration;

/// Failures of start-up and of the long-running pieces (leader election, CSI connection).
#[derive(Debug, thiserror::Error)]
pub enum SidecarError {
    /// A flag value breaks a rule the flag parser cannot express.
    #[error("invalid value for --{flag}: {rule}")]
    InvalidFlag { flag: &'static str, rule: String },

    /// A binary's own flags break one of its rules; the message names the flag.
    #[error("{rule}")]
    InvalidArguments { rule: String },

    /// Neither `--kubeconfig` nor the in-cluster service account gave a client configuration.
    #[error("building the Kubernetes client configuration ({source_desc}): {message}")]
    KubeConfig {
        source_desc: String,
        message: String,
    },

    /// The kube client could not be built from its configuration.
    #[error("building the Kubernetes client: {0}")]
    KubeClient(#[source] kube::Error),

    /// A Kubernetes API call failed.
    #[error("{op}: {source}")]
    Kube {
        op: String,
        #[source]
        source: kube::Error,
    },

    /// A Secret a CSI call needs does not exist. `referenced_by` names the field that points
    /// at it (`the PV's controllerPublishSecretRef`), so the user knows what to fix.
    #[error("Secret {namespace}/{name} ({referenced_by}) does not exist")]
    SecretMissing {
        namespace: String,
        name: String,
        referenced_by: &'static str,
    },

    /// A Secret value is not UTF-8; CSI secrets are strings. Only the key is named, never a
    /// value.
    #[error("Secret {namespace}/{name}: the value of key {key:?} is not UTF-8 text")]
    SecretNotText {
        namespace: String,
        name: String,
        key: String,
    },

    /// Dialing the CSI driver failed for a reason waiting cannot fix (a malformed endpoint).
    #[error(transparent)]
    CsiEndpoint(#[from] csi::Error),

    /// A start-up CSI call failed; upstream exits here and lets the pod restart.
    #[error("CSI {method} failed during start-up: {code:?}: {message}")]
    CsiHandshake {
        method: &'static str,
        code: tonic::Code,
        message: String,
    },

    /// The driver behind `--csi-address` is not a controller plugin this sidecar can drive.
    #[error("CSI driver {driver:?} cannot be used: {reason}")]
    DriverUnusable { driver: String, reason: String },

    /// This replica could not renew the leader Lease by its renew deadline; another may lead
    /// soon, so the controllers were aborted and the process exits (fail-stop, as client-go).
    #[error(
        "lost leadership of Lease {namespace}/{name}: no successful renewal within {renew_deadline:?}"
    )]
    LeadershipLost {
        namespace: String,
        name: String,
        renew_deadline: Duration,
    },

    /// The fail-stop watchdog thread could not be started, so leading would be unsafe.
    #[error("starting the fail-stop watchdog thread: {source}")]
    Watchdog {
        #[source]
        source: std::io::Error,
    },

    /// The controllers stopped without being told to (a panic): exit so the pod restarts.
    #[error("the controllers stopped unexpectedly")]
    ControllersStopped,

    /// Telemetry (logging, tracing, the HTTP endpoint) could not start.
    #[error(transparent)]
    Telemetry(#[from] telemetry::TelemetryError),

    /// The NATS event publisher could not start (bad URL or settings; an absent server is fine).
    #[error(transparent)]
    Events(#[from] events::EventsError),
}
