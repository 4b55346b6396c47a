//! The one error type of this crate. Messages name the setting that was wrong and the rule it
//! broke, so a misconfigured flag is fixable from the log line alone.

use std::net::SocketAddr;

/// Everything that can go wrong while setting up logging, tracing or the metrics endpoint.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    #[error("service_name must not be empty: it names the process in every exported span")]
    EmptyServiceName,

    #[error("log_filter {filter:?} is not a valid RUST_LOG-style filter: {source}")]
    InvalidLogFilter {
        filter: String,
        #[source]
        source: tracing_subscriber::filter::ParseError,
    },

    #[error("otlp_endpoint {endpoint:?} cannot be used for an OTLP/gRPC exporter: {source}")]
    OtlpExporter {
        endpoint: String,
        #[source]
        source: opentelemetry_otlp::ExporterBuildError,
    },

    /// tonic's channel is driven by Tokio tasks, so the exporter must be built inside a runtime.
    #[error(
        "otlp_endpoint is set but init was called outside a Tokio runtime; call it from inside one"
    )]
    NoTokioRuntime,

    #[error("a global tracing subscriber is already installed: init runs once per process")]
    AlreadyInitialized,

    #[error(
        "metrics_path {path:?} is invalid: it must start with '/', use only letters, digits, \
         '/', '-', '_' and '.', and differ from /healthz, /readyz and /livez"
    )]
    InvalidMetricsPath { path: String },

    #[error("cannot listen on the HTTP endpoint {addr}: {source}")]
    BindHttp {
        addr: String,
        #[source]
        source: std::io::Error,
    },

    #[error("the HTTP endpoint on {addr} stopped serving: {source}")]
    ServeHttp {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
}
