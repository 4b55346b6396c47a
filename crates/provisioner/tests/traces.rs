//! One trace per user action across processes: a claim's provisioning, with the real
//! `sepia-provisioner` and `sepia-controller` exporting over OTLP to a receiver inside the test
//! (the collector's TraceService, [`telemetry::otlp_receiver`]), on the API stand-in, real Ceph
//! and a real nats-server. The provisioner's reconcile span, its CSI call, the controller's
//! CreateVolume request span under that (from the `traceparent` in gRPC metadata), and the
//! provisioner's handling of the event the controller published in that request (from the
//! `traceparent` NATS header) share one trace id, each a child of the one before. Work a request leaves
//! running (a snapshot's preparation after the CreateSnapshot reply) stays in that request's
//! trace, and so does the consumer of the event it publishes when done. The printed span tree
//! is the evidence; the assertions are on structure only, never on timing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::Duration;

use sepia_testbed::NatsServer;
use support::snapshots::put_ready_snapshot;
use support::{CLASS, World};
use telemetry::otlp_receiver::{OtlpReceiver, ReceivedSpan, span_tree};

const WAIT: Duration = Duration::from_secs(90);

/// The spans of one provisioning, found by their structure.
struct ProvisioningTrace<'a> {
    reconcile: &'a ReceivedSpan,
    call: &'a ReceivedSpan,
    request: &'a ReceivedSpan,
    create_volume: &'a ReceivedSpan,
    consumed: &'a ReceivedSpan,
}

/// The controller's CreateVolume and everything around it, once all of it has arrived.
fn find(spans: &[ReceivedSpan]) -> Option<ProvisioningTrace<'_>> {
    let by_id = |id: &str| spans.iter().find(|span| span.span_id == id);
    let create_volume = spans.iter().find(|span| {
        span.service_name == "sepia-controller"
            && span.name == "csi"
            && span.field("rpc") == Some("CreateVolume")
    })?;
    let request = by_id(&create_volume.parent_span_id)?;
    let call = by_id(&request.parent_span_id)?;
    let reconcile = by_id(&call.parent_span_id)?;
    let consumed = spans.iter().find(|span| {
        span.service_name == "sepia-provisioner"
            && span.name == "handle_event"
            && span.field("event") == Some("volume.created")
            && span.trace_id == create_volume.trace_id
    })?;
    by_id(&consumed.parent_span_id)?;
    Some(ProvisioningTrace {
        reconcile,
        call,
        request,
        create_volume,
        consumed,
    })
}

/// A snapshot's background preparation and what it leads to.
struct PreparationTrace<'a> {
    create_snapshot: &'a ReceivedSpan,
    preparation: &'a ReceivedSpan,
    consumed: &'a ReceivedSpan,
}

fn find_preparation(spans: &[ReceivedSpan]) -> Option<PreparationTrace<'_>> {
    spans.iter().find_map(|preparation| {
        if preparation.service_name != "sepia-controller" || preparation.name != "prepare_snapshot"
        {
            return None;
        }
        let create_snapshot = spans
            .iter()
            .find(|span| span.span_id == preparation.parent_span_id)?;
        let consumed = spans.iter().find(|span| {
            span.service_name == "sepia-provisioner"
                && span.name == "handle_event"
                && span.field("event") == Some("snapshot.prepared")
                && span.parent_span_id == preparation.span_id
        })?;
        Some(PreparationTrace {
            create_snapshot,
            preparation,
            consumed,
        })
    })
}

#[test]
fn a_claims_provisioning_is_one_trace_across_provisioner_controller_and_the_event_consumer() {
    // The controller is spawned by shared support that passes on the test's environment, so
    // the collector's address goes there, before any runtime thread exists.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    // SAFETY: the only test of this binary, and no other thread of it exists yet that could
    // read the environment concurrently (the runtime is built below).
    unsafe {
        std::env::set_var("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint);
        // Batches leave every 200 ms instead of 5 s: the test waits on what arrives.
        std::env::set_var("OTEL_BSP_SCHEDULE_DELAY", "200");
    }
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(provision_and_check(listener, endpoint));
}

async fn provision_and_check(listener: std::net::TcpListener, endpoint: String) {
    let receiver = OtlpReceiver::start_on(listener).unwrap();
    let nats = NatsServer::start().await;
    let nats_flag = format!("--nats-url={}", nats.url());
    let mut world = World::start_with(None, &[&nats_flag]).await;
    let mut provisioner = world.provisioner(
        &[&nats_flag],
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
            ("OTEL_BSP_SCHEDULE_DELAY", "200"),
        ],
    );
    // The consumer starts at new events: the claim comes once it listens.
    provisioner
        .wait_for_log_line("the wake-up consumer subscribed", WAIT, |line| {
            line.contains("subscribed to NATS events")
        })
        .await;

    world.claim("traced", "64Mi", CLASS, None);
    let pv = world.wait_bound("traced", WAIT).await;
    let volume_id = pv.spec.and_then(|spec| spec.csi).unwrap().volume_handle;
    // The test plays the snapshotter: its CreateSnapshot starts the background preparation.
    put_ready_snapshot(&world, "default", "snap", &volume_id).await;

    let (complete, spans) = receiver
        .wait_for(WAIT, |spans| {
            find(spans).is_some() && find_preparation(spans).is_some()
        })
        .await;
    let tree = span_tree(&spans);
    println!("spans received (service name span-id parent-id):\n{tree}");
    assert!(
        complete,
        "the provisioning's spans did not all arrive:\n{tree}\n{}",
        world.logs()
    );
    let trace = find(&spans).unwrap();

    // provisioner: reconcile of the claim → its CSI call → controller: the CreateVolume
    // request → its RPC span.
    assert_eq!(trace.reconcile.service_name, "sepia-provisioner");
    assert_eq!(trace.reconcile.name, "claim");
    assert_eq!(trace.reconcile.field("claim"), Some("default/traced"));
    assert_eq!(trace.call.service_name, "sepia-provisioner");
    assert_eq!(trace.call.name, "csi_call");
    assert_eq!(
        trace.call.field("rpc.method"),
        Some("/csi.v1.Controller/CreateVolume")
    );
    assert_eq!(trace.call.parent_span_id, trace.reconcile.span_id);
    assert_eq!(trace.request.service_name, "sepia-controller");
    assert_eq!(trace.request.name, "grpc_request");
    assert_eq!(
        trace.request.field("rpc.method"),
        Some("/csi.v1.Controller/CreateVolume")
    );
    assert_eq!(trace.create_volume.parent_span_id, trace.request.span_id);
    assert_eq!(trace.request.parent_span_id, trace.call.span_id);

    // The event the controller published in that request is handled under the span that
    // published it.
    let publisher = spans
        .iter()
        .find(|span| span.span_id == trace.consumed.parent_span_id)
        .unwrap();
    assert_eq!(publisher.service_name, "sepia-controller");
    assert!(
        [&trace.request.span_id, &trace.create_volume.span_id].contains(&&publisher.span_id),
        "the event's span {} is not the CreateVolume request's:\n{tree}",
        publisher.span_id
    );

    // One trace across the reconcile, the driver and the event consumer.
    let trace_id = &trace.reconcile.trace_id;
    for span in [
        trace.call,
        trace.request,
        trace.create_volume,
        trace.consumed,
        publisher,
    ] {
        assert_eq!(&span.trace_id, trace_id, "{span:?}\n{tree}");
    }
    assert!(trace.reconcile.is_root(), "{tree}");

    // The preparation runs on after the CreateSnapshot reply, still in its trace; the event
    // it publishes when done is handled under it.
    let preparation = find_preparation(&spans).unwrap();
    assert_eq!(preparation.create_snapshot.service_name, "sepia-controller");
    assert_eq!(preparation.create_snapshot.name, "csi");
    assert_eq!(
        preparation.create_snapshot.field("rpc"),
        Some("CreateSnapshot")
    );
    for span in [preparation.preparation, preparation.consumed] {
        assert_eq!(
            span.trace_id, preparation.create_snapshot.trace_id,
            "{span:?}\n{tree}"
        );
    }
}
