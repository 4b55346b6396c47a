use std::collections::HashMap;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tonic::codegen::http;
use tracing_subscriber::layer::SubscriberExt;

use super::*;
use crate::grpc_trace::{grpc_server_span, inject_trace_context, set_parent_from_metadata};

/// Runs `f` under a subscriber with an OpenTelemetry layer (no exporter: spans get real ids but
/// go nowhere), the way `init` wires it when an endpoint is configured.
fn with_otel<R>(f: impl FnOnce() -> R) -> R {
    let provider = SdkTracerProvider::builder().build();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
    tracing::subscriber::with_default(subscriber, f)
}

fn trace_id_in(span: &Span) -> Option<String> {
    span.in_scope(current_trace_id)
}

#[test]
fn traceparent_round_trip_through_a_string_map_keeps_the_trace_id() {
    with_otel(|| {
        let caller = tracing::info_span!("caller");
        let (headers, caller_trace) =
            caller.in_scope(|| (current_trace_headers(), current_trace_id()));
        let caller_trace = caller_trace.expect("the caller span has an OTel context");
        let traceparent = &headers["traceparent"];
        assert!(
            traceparent.starts_with(&format!("00-{caller_trace}-")),
            "traceparent {traceparent} does not carry trace {caller_trace}"
        );

        let receiver = tracing::info_span!("receiver");
        assert!(set_parent_from(&receiver, &headers));
        assert_eq!(trace_id_in(&receiver), Some(caller_trace));
    });
}

#[test]
fn without_an_otel_layer_nothing_is_injected_and_there_is_no_trace_id() {
    let subscriber = tracing_subscriber::registry();
    tracing::subscriber::with_default(subscriber, || {
        let span = tracing::info_span!("plain");
        let _entered = span.enter();
        assert!(current_trace_headers().is_empty());
        assert_eq!(current_trace_id(), None);
    });
}

#[test]
fn a_malformed_traceparent_starts_a_fresh_trace() {
    with_otel(|| {
        let headers = HashMap::from([("traceparent".to_owned(), "00-nonsense".to_owned())]);
        let span = tracing::info_span!("receiver");
        assert!(!set_parent_from(&span, &headers));
        let trace = trace_id_in(&span).expect("a root span still gets a trace id");
        assert_ne!(trace, "0".repeat(32));
    });
}

#[test]
fn grpc_interceptor_and_server_metadata_share_the_trace() {
    with_otel(|| {
        let caller = tracing::info_span!("sidecar_call");
        let caller_trace = trace_id_in(&caller).expect("caller trace");
        let request = caller
            .in_scope(|| inject_trace_context(tonic::Request::new(())))
            .expect("the interceptor never rejects a request");
        assert!(request.metadata().get("traceparent").is_some());

        let handler = tracing::info_span!("handler");
        assert!(set_parent_from_metadata(&handler, request.metadata()));
        assert_eq!(trace_id_in(&handler), Some(caller_trace.clone()));

        // The same headers as the tonic server's trace_fn sees them.
        let mut http_request = http::Request::builder()
            .uri("/csi.v1.Controller/CreateVolume")
            .body(())
            .expect("valid request");
        *http_request.headers_mut() = request.metadata().clone().into_headers();
        let server_span = grpc_server_span(&http_request);
        assert_eq!(trace_id_in(&server_span), Some(caller_trace));
    });
}
