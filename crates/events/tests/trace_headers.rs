//! An event published inside a traced span carries that span's trace: `traceId` in the payload
//! and a W3C `traceparent` NATS header, so a consumer can continue the trace.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Duration;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::SdkTracerProvider;
use sepia_testbed::NatsServer;
use support::stream_reader::read;
use support::{start_publisher, test_config, volume_created};
use tracing_subscriber::layer::SubscriberExt;

#[tokio::test]
async fn events_carry_the_publishing_span_trace() {
    let provider = SdkTracerProvider::builder().build();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
    let _default = tracing::subscriber::set_default(subscriber);

    let server = NatsServer::start().await;
    let (publisher, _registry) = start_publisher(test_config(&server.url()));
    let span = tracing::info_span!("create_volume");
    let event = span.in_scope(|| {
        let event = volume_created(1);
        publisher.publish(&event);
        event
    });
    let trace_id = event
        .trace_id
        .clone()
        .expect("event built inside a traced span");
    assert_eq!(trace_id.len(), 32);
    publisher.flush(Duration::from_secs(60)).await.unwrap();

    let stored = read(&server.url(), "SEPIA", ">").await;
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].event.trace_id.as_deref(), Some(trace_id.as_str()));
    let traceparent = stored[0]
        .traceparent
        .as_deref()
        .expect("traceparent header");
    assert!(
        traceparent.starts_with(&format!("00-{trace_id}-")),
        "{traceparent}"
    );
}
