//! `init` with an OTLP endpoint exports spans over gRPC to a collector. The collector here is
//! the shared test receiver ([`telemetry::otlp_receiver`]): the OTLP TraceService itself on
//! loopback, so the test sees exactly what a real collector would receive. Its own test binary
//! because `init` installs the process-wide subscriber.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use telemetry::otlp_receiver::{OtlpReceiver, span_tree};
use telemetry::{TelemetryConfig, current_trace_id, init};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn init_with_an_otlp_endpoint_exports_spans_with_their_trace_and_parent() {
    let receiver = OtlpReceiver::start().unwrap();
    let mut config = TelemetryConfig::new("sepia-otlp-test");
    config.otlp_endpoint = Some(receiver.endpoint().to_owned());
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

    let spans = receiver.spans();
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
    assert!(operation.is_root());
    assert_eq!(operation.service_name, "sepia-otlp-test");
    assert_eq!(operation.field("volume_id"), Some("0001-abc"));
    let tree = span_tree(&spans);
    assert!(
        tree.contains(&format!(
            "  sepia-otlp-test create_volume{{volume_id=0001-abc}} span={} parent=-\n",
            operation.span_id
        )),
        "{tree}"
    );
    assert!(
        tree.contains(&format!(
            "    sepia-otlp-test rbd_create span={} parent={}\n",
            step.span_id, operation.span_id
        )),
        "{tree}"
    );
}
