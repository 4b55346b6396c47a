//! Installs the process-wide `tracing` subscriber: an env-filter, a text or JSON log layer and,
//! only when an OTLP endpoint is configured, the OpenTelemetry layer with a batching gRPC
//! exporter. Without an endpoint the OpenTelemetry layer is `None`, which `tracing-subscriber`
//! treats as absent, so spans cost what plain `tracing` costs.

use std::io::IsTerminal as _;
use std::time::Duration;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{SpanExporter, WithExportConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, fmt};

use crate::config::TelemetryConfig;
use crate::error::TelemetryError;

/// How long dropping the guard may wait for the last spans to reach the collector: long enough
/// for a healthy collector, short enough that a dead one does not hold up pod termination.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);

/// Keeps the span exporter alive; dropping it flushes queued spans and shuts the exporter down.
/// Hold it in `main` until the process is about to exit.
#[must_use = "dropping the guard shuts the span exporter down"]
pub struct TelemetryGuard {
    provider: Option<SdkTracerProvider>,
}

impl TelemetryGuard {
    /// Whether spans are exported over OTLP (an endpoint was configured).
    pub fn exports_traces(&self) -> bool {
        self.provider.is_some()
    }
}

impl std::fmt::Debug for TelemetryGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TelemetryGuard")
            .field("exports_traces", &self.exports_traces())
            .finish()
    }
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        if let Some(provider) = self.provider.take()
            && let Err(error) = provider.shutdown_with_timeout(SHUTDOWN_TIMEOUT)
        {
            // The subscriber may already be gone at exit; stderr is the one sink left.
            eprintln!("sepia-telemetry: flushing spans at shutdown failed: {error}");
        }
    }
}

/// Installs logging (and tracing export when `config.otlp_endpoint` is set) for this process.
///
/// Runs once per process: a second call returns [`TelemetryError::AlreadyInitialized`] rather
/// than silently keeping the first configuration. With an OTLP endpoint it must be called inside
/// a Tokio runtime, and the guard should be dropped while the runtime still runs (tonic needs it
/// to send the last batch).
pub fn init(config: &TelemetryConfig) -> Result<TelemetryGuard, TelemetryError> {
    let filter = checked_filter(config)?;
    let provider = config
        .otlp_endpoint
        .as_deref()
        .map(|endpoint| otlp_provider(&config.service_name, endpoint))
        .transpose()?;

    let log_layer = if config.json {
        fmt::layer()
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .boxed()
    } else {
        // Colours only for a person at a terminal, never into a container's log file.
        fmt::layer()
            .with_ansi(std::io::stdout().is_terminal())
            .boxed()
    };
    let otel_layer = provider.as_ref().map(|provider| {
        tracing_opentelemetry::layer().with_tracer(provider.tracer(config.service_name.clone()))
    });

    tracing_subscriber::registry()
        .with(filter)
        .with(log_layer)
        .with(otel_layer)
        .try_init()
        .map_err(|_| TelemetryError::AlreadyInitialized)?;
    Ok(TelemetryGuard { provider })
}

/// Checks what [`init`] would refuse without installing anything: an empty service name or a
/// bad log filter. For binaries' parse-only modes.
///
/// # Errors
/// [`TelemetryError::EmptyServiceName`] or [`TelemetryError::InvalidLogFilter`].
pub fn validate(config: &TelemetryConfig) -> Result<(), TelemetryError> {
    checked_filter(config).map(drop)
}

fn checked_filter(config: &TelemetryConfig) -> Result<EnvFilter, TelemetryError> {
    if config.service_name.trim().is_empty() {
        return Err(TelemetryError::EmptyServiceName);
    }
    EnvFilter::builder()
        .parse(&config.log_filter)
        .map_err(|source| TelemetryError::InvalidLogFilter {
            filter: config.log_filter.clone(),
            source,
        })
}

/// A tracer provider that batches spans to an OTLP/gRPC collector. The batch processor runs on
/// its own thread, so exporting never blocks a request; the tonic channel connects lazily, so a
/// collector that is down at start-up costs dropped spans, not a failed start.
fn otlp_provider(service_name: &str, endpoint: &str) -> Result<SdkTracerProvider, TelemetryError> {
    if tokio::runtime::Handle::try_current().is_err() {
        return Err(TelemetryError::NoTokioRuntime);
    }
    let exporter = SpanExporter::builder()
        .with_tonic()
        .with_endpoint(endpoint)
        .build()
        .map_err(|source| TelemetryError::OtlpExporter {
            endpoint: endpoint.to_owned(),
            source,
        })?;
    Ok(SdkTracerProvider::builder()
        .with_resource(
            Resource::builder()
                .with_service_name(service_name.to_owned())
                .build(),
        )
        .with_batch_exporter(exporter)
        .build())
}
