//! Telemetry shared by every Sepia process: logs, traces, trace-context propagation and Prometheus
//! metrics, so that one trace shows PVC → CreateVolume → RBD calls and every binary exposes the
//! same `/metrics` and `/healthz`.
//!
//! Module map:
//! - [`config`] — [`TelemetryConfig`], what a binary's logging/tracing flags turn into.
//! - [`env_config`] — the same from `RUST_LOG` and the standard OpenTelemetry variables, and
//!   [`init_from_env`], the CSI plugins' whole telemetry start-up (no telemetry flags of their
//!   own).
//! - [`subscriber`] — [`init`] installs the process-wide `tracing` subscriber (text or JSON
//!   logs, plus an OTLP exporter when an endpoint is given) and returns the [`TelemetryGuard`]
//!   that flushes spans.
//! - [`trace_context`] — W3C `traceparent` into and out of string maps (NATS headers) and the
//!   current trace id for event payloads.
//! - [`grpc_trace`] — the same for tonic metadata: a client interceptor and server-side span
//!   parenting.
//! - [`health`] — [`HealthCheck`], a question `/healthz` asks the component, and
//!   [`HealthChecks`], all of them (named ones also under `/healthz/<name>`).
//! - [`listen_address`] — [`ListenAddress`], an HTTP endpoint in Go's spellings (`:8080`).
//! - [`http_server`] — the small HTTP server for `/metrics` and `/healthz`.
//! - [`csi_operation_metrics`] — `csi_sidecar_operations_seconds`, named like the kubernetes-csi
//!   sidecars' histogram so existing dashboards keep working.
//! - [`grpc_metrics`] — [`GrpcMetrics`], the CSI plugins' server side: a tower layer counting
//!   and timing every RPC by method and code, and the calls in flight.
//! - [`ceph_call_metrics`] — [`CephCallMetrics`], librados/librbd call latencies.
//! - [`plugin_endpoint`] — the four CSI plugins' `--http-endpoint` ([`HttpEndpointFlag`]) and
//!   what it serves ([`PluginTelemetry`]): the metrics above, liveness, and readiness from the
//!   cluster config and a monitor probe.
//! - [`error`] — [`TelemetryError`].
//! - `otlp_receiver` (feature `otlp-receiver`, tests only) — an in-process OTLP trace
//!   receiver and a span-tree printer, shared by every test that checks exported spans.
//!
//! How a request is traced: the caller's gRPC client runs [`inject_trace_context`] as an
//! interceptor; the server's `trace_fn` ([`grpc_server_span`]) opens the request span as a child
//! of the caller's; events published inside that span carry its trace id and `traceparent`.
//!
//! Nothing here is global except the one subscriber [`init`] installs: the propagator is built per
//! call and metrics live in a `Registry` the binary owns and passes in.

pub mod ceph_call_metrics;
pub mod config;
pub mod csi_operation_metrics;
pub mod env_config;
pub mod error;
pub mod grpc_metrics;
pub mod grpc_trace;
pub mod health;
pub mod http_server;
pub mod listen_address;
#[cfg(feature = "otlp-receiver")]
pub mod otlp_receiver;
pub mod plugin_endpoint;
pub mod subscriber;
pub mod trace_context;

pub use ceph_call_metrics::CephCallMetrics;
pub use config::TelemetryConfig;
pub use csi_operation_metrics::{CSI_OPERATION_BUCKETS, CsiOperationMetrics, grpc_code_name};
pub use env_config::{init_from_env, otlp_endpoint_from};
pub use error::TelemetryError;
pub use grpc_metrics::{GrpcMetrics, GrpcMetricsLayer};
pub use grpc_trace::{
    extract_from_metadata, grpc_server_span, inject_into_metadata, inject_trace_context,
    set_parent_from_metadata,
};
pub use health::{Health, HealthCheck, HealthChecks};
pub use http_server::{HEALTHZ_PATH, MetricsServer, READYZ_PATH, serve_http};
pub use listen_address::{InvalidListenAddress, ListenAddress};
pub use plugin_endpoint::{HttpEndpointFlag, PluginTelemetry};
pub use subscriber::{TelemetryGuard, init, validate};
pub use trace_context::{
    Extractor, Injector, current_trace_headers, current_trace_id, extract_context, inject_context,
    inject_current, set_parent_from,
};

/// Re-exported so callers can register metrics and encode them without naming the crate version.
pub use prometheus_client;
