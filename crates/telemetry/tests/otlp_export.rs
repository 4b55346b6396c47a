//! `init` with an OTLP endpoint exports spans over gRPC to a collector. The collector here is
//! the OTLP TraceService itself (generated from the OpenTelemetry protos), listening on
//! loopback, so the test sees exactly what a real collector would receive. Its own test binary
//! because `init` installs the process-wide subscriber.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use telemetry::{TelemetryConfig, current_trace_id, init};
use tokio_stream::wrappers::TcpListenerStream;

#[derive(Debug, Clone)]
struct ReceivedSpan {
    service_name: Option<String>,
    name: String,
    trace_id: String,
    span_id: Vec<u8>,
    parent_span_id: Vec<u8>,
}

#[derive(Default, Clone)]
struct Collector {
    spans: Arc<Mutex<Vec<ReceivedSpan>>>,
}

#[tonic::async_trait]
impl TraceService for Collector {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let mut spans = self.spans.lock().unwrap();
        for resource_spans in request.into_inner().resource_spans {
            let service_name = resource_spans.resource.as_ref().and_then(|resource| {
                resource.attributes.iter().find_map(|kv| {
                    match kv.value.as_ref()?.value.as_ref()? {
                        Value::StringValue(name) if kv.key == "service.name" => Some(name.clone()),
                        _ => None,
                    }
                })
            });
            for scope_spans in resource_spans.scope_spans {
                for span in scope_spans.spans {
                    spans.push(ReceivedSpan {
                        service_name: service_name.clone(),
                        name: span.name,
                        trace_id: span.trace_id.iter().map(|b| format!("{b:02x}")).collect(),
                        span_id: span.span_id,
                        parent_span_id: span.parent_span_id,
                    });
                }
            }
        }
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn init_with_an_otlp_endpoint_exports_spans_with_their_trace_and_parent() {
    let collector = Collector::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(TraceServiceServer::new(collector.clone()))
            .serve_with_incoming(TcpListenerStream::new(listener)),
    );

    let mut config = TelemetryConfig::new("sepia-otlp-test");
    config.otlp_endpoint = Some(format!("http://{addr}"));
    let guard = init(&config).expect("init with OTLP");
    assert!(guard.exports_traces());

    let trace_id = {
        let operation = tracing::info_span!("create_volume", volume_id = "0001-abc");
        let _entered = operation.enter();
        let step = tracing::info_span!("rbd_create");
        let _step = step.enter();
        current_trace_id().expect("an exported span has a trace id")
    };
    // Dropping the guard flushes the batch; it blocks, so not on a runtime worker.
    tokio::task::spawn_blocking(move || drop(guard))
        .await
        .unwrap();

    let spans = collector.spans.lock().unwrap().clone();
    let find = |name: &str| {
        spans
            .iter()
            .find(|span| span.name == name)
            .unwrap_or_else(|| panic!("span {name} not exported; got {spans:?}"))
    };
    let operation = find("create_volume");
    let step = find("rbd_create");
    assert_eq!(operation.trace_id, trace_id);
    assert_eq!(step.trace_id, trace_id);
    assert_eq!(step.parent_span_id, operation.span_id);
    assert_eq!(operation.service_name.as_deref(), Some("sepia-otlp-test"));
}
