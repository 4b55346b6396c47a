//! An OTLP/gRPC trace receiver for tests: the collector's `TraceService` (generated from the
//! OpenTelemetry protos) on a loopback port, keeping every span it is sent. A test points
//! `OTEL_EXPORTER_OTLP_ENDPOINT` (or [`crate::TelemetryConfig::otlp_endpoint`]) at
//! [`OtlpReceiver::endpoint`] and sees exactly what a real collector would receive.
//!
//! Behind the `otlp-receiver` feature: test support, never in a shipped binary.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use tokio::sync::watch;
use tokio_stream::wrappers::TcpListenerStream;

/// One received span, ids as lowercase hex (`parent_span_id` empty for a root span).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReceivedSpan {
    /// The exporting process's `service.name` resource attribute.
    pub service_name: String,
    pub name: String,
    pub trace_id: String,
    pub span_id: String,
    pub parent_span_id: String,
    /// String-valued attributes (e.g. `rpc.method`, `rpc`).
    pub attributes: BTreeMap<String, String>,
}

impl ReceivedSpan {
    pub fn is_root(&self) -> bool {
        self.parent_span_id.is_empty()
    }

    /// One string attribute, e.g. `field("rpc.method")`.
    pub fn field(&self, key: &str) -> Option<&str> {
        self.attributes.get(key).map(String::as_str)
    }

    /// The span's own fields (`rpc.method`, `claim`, ...), without what the tracing bridge adds
    /// to every span (source location, thread, timings).
    pub fn fields(&self) -> impl Iterator<Item = (&str, &str)> {
        const BRIDGE: [&str; 5] = ["code.", "thread.", "target", "busy_ns", "idle_ns"];
        self.attributes
            .iter()
            .filter(|(key, _)| !BRIDGE.iter().any(|prefix| key.starts_with(prefix)))
            .map(|(key, value)| (key.as_str(), value.as_str()))
    }
}

/// The receiving server; it stops when dropped.
pub struct OtlpReceiver {
    endpoint: String,
    spans: Arc<Mutex<Vec<ReceivedSpan>>>,
    received: watch::Receiver<usize>,
    server: tokio::task::JoinHandle<()>,
}

impl OtlpReceiver {
    /// Listens on a free loopback port of the current Tokio runtime.
    ///
    /// # Errors
    /// The port could not be bound.
    pub fn start() -> std::io::Result<Self> {
        Self::start_on(std::net::TcpListener::bind("127.0.0.1:0")?)
    }

    /// Serves on `listener`, bound before (e.g. before a runtime exists, to put its address
    /// into the environment of processes the test spawns).
    ///
    /// # Errors
    /// The listener cannot be handed to the current Tokio runtime.
    pub fn start_on(listener: std::net::TcpListener) -> std::io::Result<Self> {
        listener.set_nonblocking(true)?;
        let listener = tokio::net::TcpListener::from_std(listener)?;
        let endpoint = format!("http://{}", listener.local_addr()?);
        let spans = Arc::new(Mutex::new(Vec::new()));
        let (notify, received) = watch::channel(0);
        let service = Collector {
            spans: Arc::clone(&spans),
            notify: Arc::new(notify),
        };
        let server = tokio::spawn(async move {
            let served = tonic::transport::Server::builder()
                .add_service(TraceServiceServer::new(service))
                .serve_with_incoming(TcpListenerStream::new(listener))
                .await;
            if let Err(error) = served {
                eprintln!("otlp receiver stopped: {error}");
            }
        });
        Ok(Self {
            endpoint,
            spans,
            received,
            server,
        })
    }

    /// `http://127.0.0.1:<port>`, for `OTEL_EXPORTER_OTLP_ENDPOINT`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Every span received so far, in arrival order.
    pub fn spans(&self) -> Vec<ReceivedSpan> {
        self.spans
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Waits until the spans received so far satisfy `done` (checked after every export), at
    /// most `limit`; returns them either way, with whether `done` held.
    pub async fn wait_for(
        &self,
        limit: Duration,
        done: impl Fn(&[ReceivedSpan]) -> bool,
    ) -> (bool, Vec<ReceivedSpan>) {
        let mut received = self.received.clone();
        let reached = tokio::time::timeout(limit, async {
            loop {
                if done(&self.spans()) {
                    return;
                }
                if received.changed().await.is_err() {
                    // The server is gone: nothing more will come.
                    std::future::pending::<()>().await;
                }
            }
        })
        .await
        .is_ok();
        (reached, self.spans())
    }
}

impl Drop for OtlpReceiver {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// `spans` as indented trees, one line per span: service, name{fields}, span id, parent id. Roots
/// first in arrival order, children under their parent; spans whose parent was not received
/// are shown as roots marked `(parent not received)`.
pub fn span_tree(spans: &[ReceivedSpan]) -> String {
    let known: std::collections::HashSet<&str> =
        spans.iter().map(|span| span.span_id.as_str()).collect();
    let mut out = String::new();
    for root in spans
        .iter()
        .filter(|span| span.is_root() || !known.contains(span.parent_span_id.as_str()))
    {
        let _ = writeln!(out, "trace {}", root.trace_id);
        write_subtree(&mut out, spans, root, 1);
    }
    out
}

fn write_subtree(out: &mut String, spans: &[ReceivedSpan], span: &ReceivedSpan, depth: usize) {
    let parent = if span.is_root() {
        "-"
    } else {
        &span.parent_span_id
    };
    let orphan = !span.is_root() && !spans.iter().any(|s| s.span_id == span.parent_span_id);
    let fields: Vec<String> = span
        .fields()
        .map(|(key, value)| format!("{key}={value}"))
        .collect();
    let _ = writeln!(
        out,
        "{:indent$}{} {}{} span={} parent={}{}",
        "",
        span.service_name,
        span.name,
        if fields.is_empty() {
            String::new()
        } else {
            format!("{{{}}}", fields.join(" "))
        },
        span.span_id,
        parent,
        if orphan { " (parent not received)" } else { "" },
        indent = depth * 2,
    );
    for child in spans.iter().filter(|s| s.parent_span_id == span.span_id) {
        write_subtree(out, spans, child, depth + 1);
    }
}

#[derive(Clone)]
struct Collector {
    spans: Arc<Mutex<Vec<ReceivedSpan>>>,
    notify: Arc<watch::Sender<usize>>,
}

#[tonic::async_trait]
impl TraceService for Collector {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let mut received = Vec::new();
        for resource_spans in request.into_inner().resource_spans {
            let service_name = resource_spans
                .resource
                .as_ref()
                .and_then(|resource| string_attributes(&resource.attributes).remove("service.name"))
                .unwrap_or_default();
            for scope_spans in resource_spans.scope_spans {
                for span in scope_spans.spans {
                    received.push(ReceivedSpan {
                        service_name: service_name.clone(),
                        name: span.name,
                        trace_id: hex(&span.trace_id),
                        span_id: hex(&span.span_id),
                        parent_span_id: hex(&span.parent_span_id),
                        attributes: string_attributes(&span.attributes),
                    });
                }
            }
        }
        let total = {
            let mut spans = self.spans.lock().unwrap_or_else(PoisonError::into_inner);
            spans.extend(received);
            spans.len()
        };
        self.notify.send_replace(total);
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

fn string_attributes(
    attributes: &[opentelemetry_proto::tonic::common::v1::KeyValue],
) -> BTreeMap<String, String> {
    attributes
        .iter()
        .filter_map(|kv| match kv.value.as_ref()?.value.as_ref()? {
            Value::StringValue(value) => Some((kv.key.clone(), value.clone())),
            _ => None,
        })
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut out, byte| {
        let _ = write!(out, "{byte:02x}");
        out
    })
}
