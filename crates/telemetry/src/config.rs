//! What a binary's logging and tracing flags turn into. A plain value passed to [`crate::init()`],
//! never a global, so tests and binaries build it the same way.

/// Logging and tracing settings of one process.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TelemetryConfig {
    /// `service.name` of exported spans and the tracer name, e.g. `sepia-provisioner`.
    pub service_name: String,
    /// A `RUST_LOG`-style filter, e.g. `info,sepia=debug,h2=warn`.
    pub log_filter: String,
    /// One JSON object per log line (for log collectors) instead of human-readable text.
    pub json: bool,
    /// OTLP/gRPC collector endpoint, e.g. `http://otel-collector:4317`. `None` installs no
    /// OpenTelemetry layer at all, so a process without a collector pays nothing for it.
    pub otlp_endpoint: Option<String>,
}

impl TelemetryConfig {
    /// Text logs at `info`, no trace export: the behaviour of a binary started without flags.
    pub fn new(service_name: impl Into<String>) -> Self {
        Self {
            service_name: service_name.into(),
            log_filter: "info".to_owned(),
            json: false,
            otlp_endpoint: None,
        }
    }
}
