use std::time::Duration;

use prometheus_client::registry::Registry;

use super::*;

fn entry(id: &str) -> OutboxEntry {
    OutboxEntry {
        subject: "sepia.controller.volume.created".to_owned(),
        id: id.to_owned(),
        payload: Bytes::from_static(b"{}"),
        headers: Vec::new(),
    }
}

fn encoded(registry: &Registry) -> String {
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, registry).expect("encode");
    text
}

fn outbox(capacity: usize) -> (Outbox, Registry) {
    let mut registry = Registry::default();
    let metrics = EventMetrics::register(&mut registry);
    (Outbox::new(capacity, metrics), registry)
}

fn head_id(outbox: &Outbox) -> String {
    let (seq, entry) = outbox.take_head().expect("non-empty");
    outbox.release(seq);
    entry.id.clone()
}

#[test]
fn a_full_outbox_drops_the_oldest_and_counts_it() {
    let (outbox, registry) = outbox(3);
    for id in ["a", "b", "c"] {
        assert_eq!(outbox.push(entry(id)), Pushed::Queued);
    }
    assert_eq!(
        outbox.push(entry("d")),
        Pushed::DroppedOldest {
            dropped_id: "a".to_owned()
        }
    );
    assert_eq!(outbox.len(), 3);
    assert_eq!(head_id(&outbox), "b");
    let text = encoded(&registry);
    assert!(
        text.contains("sepia_events_dropped_total{reason=\"outbox_full\"} 1\n"),
        "{text}"
    );
    assert!(text.contains("sepia_events_outbox_depth 3\n"), "{text}");
}

#[test]
fn the_head_being_sent_is_never_the_one_dropped() {
    let (outbox, _registry) = outbox(2);
    outbox.push(entry("a"));
    outbox.push(entry("b"));
    let (seq, head) = outbox.take_head().expect("head");
    assert_eq!(head.id, "a");
    assert_eq!(
        outbox.push(entry("c")),
        Pushed::DroppedOldest {
            dropped_id: "b".to_owned()
        }
    );
    outbox.acknowledge(seq);
    assert_eq!(head_id(&outbox), "c");
}

#[test]
fn with_capacity_one_and_the_head_in_flight_the_incoming_event_is_dropped() {
    let (outbox, registry) = outbox(1);
    outbox.push(entry("a"));
    let (seq, _) = outbox.take_head().expect("head");
    assert_eq!(outbox.push(entry("b")), Pushed::DroppedIncoming);
    outbox.acknowledge(seq);
    assert_eq!(outbox.len(), 0);
    assert!(encoded(&registry).contains("reason=\"outbox_full\"} 1\n"));
}

#[test]
fn a_failed_publish_keeps_the_head_in_place() {
    let (outbox, _registry) = outbox(4);
    outbox.push(entry("a"));
    outbox.push(entry("b"));
    let (seq, _) = outbox.take_head().expect("head");
    outbox.release(seq);
    assert_eq!(outbox.len(), 2);
    assert_eq!(head_id(&outbox), "a");
}

#[tokio::test]
async fn wait_drained_returns_when_the_last_entry_is_acknowledged() {
    let (outbox, _registry) = outbox(4);
    let outbox = Arc::new(outbox);
    outbox.push(entry("a"));
    let waiter = tokio::spawn({
        let outbox = Arc::clone(&outbox);
        async move { outbox.wait_drained().await }
    });
    tokio::task::yield_now().await;
    assert!(!waiter.is_finished());
    let (seq, _) = outbox.take_head().expect("head");
    outbox.acknowledge(seq);
    tokio::time::timeout(Duration::from_secs(10), waiter)
        .await
        .expect("flush woke up")
        .expect("task");
}
