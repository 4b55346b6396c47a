//! The publisher against a real nats-server (each test runs its own, so it can stop and restart
//! it): events land on the stream with the right subjects, headers and payloads; publishing
//! never blocks while NATS is down; queued events arrive after it returns; duplicates are stored
//! once; a full outbox drops the oldest events and counts them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::Duration;

use async_nats::jetstream::message::PublishMessage;
use async_nats::jetstream::stream::{RetentionPolicy, StorageType};
use events::{Event, EventsError, Publisher};
use sepia_testbed::NatsServer;
use support::stream_reader::{jetstream, read};
use support::{metric, start_publisher, test_config, volume_created};

const STREAM: &str = "SEPIA";
const FLUSH: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_arrive_on_the_stream_with_subject_message_id_and_payload() {
    let server = NatsServer::start().await;
    let (publisher, registry) = start_publisher(test_config(&server.url()));

    let created = volume_created(1);
    let deleted = Event::builder("snapshotter", "snapshot", "deleted")
        .operation_key("delete")
        .snapshot_id("0001-0009-rook-ceph-0000000000000002-snap")
        .build()
        .unwrap();
    publisher.publish(&created);
    publisher.publish(&deleted);
    publisher
        .flush(FLUSH)
        .await
        .expect("all events acknowledged");

    let stored = read(&server.url(), STREAM, ">").await;
    assert_eq!(stored.len(), 2);
    assert_eq!(stored[0].subject, "sepia.controller.volume.created");
    assert_eq!(stored[0].msg_id.as_deref(), Some(created.id.as_str()));
    assert_eq!(stored[0].event, created);
    assert_eq!(stored[1].subject, "sepia.snapshotter.snapshot.deleted");
    assert_eq!(stored[1].msg_id.as_deref(), Some(deleted.id.as_str()));
    assert_eq!(stored[1].event, deleted);

    let mut stream = jetstream(&server.url())
        .await
        .get_stream(STREAM)
        .await
        .unwrap();
    let config = &stream.info().await.unwrap().config;
    assert_eq!(config.subjects, ["sepia.>"]);
    assert_eq!(config.duplicate_window, Duration::from_secs(120));
    assert_eq!(config.storage, StorageType::File);
    assert_eq!(config.retention, RetentionPolicy::Limits);

    assert_eq!(metric(&registry, "sepia_events_published_total"), Some(2.0));
    assert_eq!(metric(&registry, "sepia_events_outbox_depth"), Some(0.0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publishing_never_blocks_while_nats_is_down_and_queued_events_arrive_after_restart() {
    let mut server = NatsServer::start().await;
    let (publisher, registry) = start_publisher(test_config(&server.url()));
    let first = volume_created(0);
    publisher.publish(&first);
    publisher
        .flush(FLUSH)
        .await
        .expect("stream created, first event stored");

    server.stop().await;
    let events: Vec<Event> = (1..=1000).map(volume_created).collect();
    let burst = {
        let publisher = publisher.clone();
        let events = events.clone();
        // On a blocking thread, so a publish that waited for NATS could not hide behind the
        // runtime: if it blocked, the timeout below would fire.
        tokio::task::spawn_blocking(move || {
            for event in &events {
                publisher.publish(event);
            }
        })
    };
    tokio::time::timeout(Duration::from_secs(60), burst)
        .await
        .expect("1000 publishes return while NATS is down")
        .unwrap();
    assert_eq!(publisher.queued(), 1000, "nothing can have been sent");

    server.run().await; // same port, same store
    publisher
        .flush(FLUSH)
        .await
        .expect("queued events delivered after restart");

    let stored = read(&server.url(), STREAM, ">").await;
    let stored_ids: Vec<&str> = stored.iter().map(|s| s.event.id.as_str()).collect();
    let expected_ids: Vec<&str> = std::iter::once(&first)
        .chain(&events)
        .map(|e| e.id.as_str())
        .collect();
    assert_eq!(
        stored_ids, expected_ids,
        "every event once, in publish order"
    );
    assert!(stored.windows(2).all(|w| w[0].sequence < w[1].sequence));
    assert_eq!(
        metric(&registry, "sepia_events_published_total"),
        Some(1001.0)
    );
    assert_eq!(
        metric(
            &registry,
            "sepia_events_dropped_total{reason=\"outbox_full\"}"
        ),
        None,
        "nothing dropped"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_longer_than_the_ack_timeout_delivers_each_event_once() {
    let mut server = NatsServer::start().await;
    let mut config = test_config(&server.url());
    config.publish_timeout = Duration::from_millis(300);
    let (publisher, registry) = start_publisher(config);
    publisher.publish(&volume_created(0));
    publisher.flush(FLUSH).await.unwrap();

    server.stop().await;
    let events: Vec<Event> = (1..=3).map(volume_created).collect();
    for event in &events {
        publisher.publish(event);
    }
    // Long enough for several attempts to time out; the NATS client keeps the abandoned
    // attempts buffered and sends them all on reconnect, so the stream sees duplicates.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(metric(&registry, "sepia_events_publish_errors_total").unwrap() >= 1.0);
    assert_eq!(publisher.queued(), 3);

    server.run().await;
    publisher.flush(FLUSH).await.unwrap();
    let stored: Vec<Event> = read(&server.url(), STREAM, ">")
        .await
        .into_iter()
        .map(|s| s.event)
        .collect();
    assert_eq!(stored[1..], events[..], "each event once, in order");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_lost_with_the_server_store_is_created_again() {
    let mut server = NatsServer::start().await;
    let (publisher, registry) = start_publisher(test_config(&server.url()));
    publisher.publish(&volume_created(0));
    publisher.flush(FLUSH).await.unwrap();

    server.stop().await;
    server.wipe_store();
    server.run().await;
    let event = volume_created(1);
    publisher.publish(&event);
    publisher
        .flush(FLUSH)
        .await
        .expect("stream re-created and event stored");

    let stored = read(&server.url(), STREAM, ">").await;
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].event, event);
    assert!(
        metric(&registry, "sepia_events_publish_errors_total").unwrap() >= 1.0,
        "the first attempt found no stream"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_component_starts_without_nats_and_delivers_once_nats_appears() {
    let mut server = NatsServer::reserve();
    let (publisher, _registry) = start_publisher(test_config(&server.url()));
    let events: Vec<Event> = (0..3).map(volume_created).collect();
    for event in &events {
        publisher.publish(event);
    }
    match publisher.flush(Duration::from_millis(300)).await {
        Err(EventsError::FlushTimedOut { remaining }) => assert_eq!(remaining, 3),
        other => panic!("flush without a server returned {other:?}"),
    }

    server.run().await;
    publisher
        .flush(FLUSH)
        .await
        .expect("delivered once NATS is up");
    let stored = read(&server.url(), STREAM, ">").await;
    assert_eq!(
        stored.iter().map(|s| &s.event).collect::<Vec<_>>(),
        events.iter().collect::<Vec<_>>()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_event_is_stored_once() {
    let server = NatsServer::start().await;
    let (publisher, registry) = start_publisher(test_config(&server.url()));

    let event = volume_created(7);
    // The CO retries the same CreateVolume: a new Event value, same operation → same id.
    let retry = Event {
        time: event.time + Duration::from_secs(3),
        ..volume_created(7)
    };
    assert_eq!(retry.id, event.id);
    publisher.publish(&event);
    publisher.publish(&event);
    publisher.publish(&retry);
    publisher.flush(FLUSH).await.unwrap();

    // A PubAck lost on the way back: the same message id sent again at the NATS level.
    let ack = jetstream(&server.url())
        .await
        .send_publish(
            "sepia.controller.volume.created",
            PublishMessage::build()
                .message_id(&event.id)
                .payload(serde_json::to_vec(&event).unwrap().into()),
        )
        .await
        .unwrap()
        .await
        .unwrap();
    assert!(
        ack.duplicate,
        "JetStream recognised the repeated message id"
    );

    let stored = read(&server.url(), STREAM, ">").await;
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].event, event);
    assert_eq!(metric(&registry, "sepia_events_published_total"), Some(3.0));

    let other = volume_created(8);
    publisher.publish(&other);
    publisher.flush(FLUSH).await.unwrap();
    assert_eq!(read(&server.url(), STREAM, ">").await.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_outbox_drops_the_oldest_events_and_counts_them() {
    let mut server = NatsServer::reserve();
    let mut config = test_config(&server.url());
    config.outbox_capacity = 5;
    let (publisher, registry) = start_publisher(config);
    let events: Vec<Event> = (0..8).map(volume_created).collect();
    for event in &events {
        publisher.publish(event);
    }
    assert_eq!(publisher.queued(), 5);
    assert_eq!(
        metric(
            &registry,
            "sepia_events_dropped_total{reason=\"outbox_full\"}"
        ),
        Some(3.0)
    );
    assert_eq!(metric(&registry, "sepia_events_outbox_depth"), Some(5.0));

    server.run().await;
    publisher.flush(FLUSH).await.unwrap();
    let stored: Vec<Event> = read(&server.url(), STREAM, ">")
        .await
        .into_iter()
        .map(|s| s.event)
        .collect();
    assert_eq!(stored.len(), 5);
    // The newest four always survive. The fifth is the oldest one not being sent at overflow
    // time: event 3, or event 0 if the sender already held it as the in-flight head.
    assert_eq!(stored[1..], events[4..]);
    assert!(
        stored[0] == events[3] || stored[0] == events[0],
        "unexpected survivor {}",
        stored[0].id
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disabled_publisher_accepts_events_and_has_nothing_to_flush() {
    let publisher = Publisher::disabled();
    assert!(!publisher.is_enabled());
    publisher.publish(&volume_created(1));
    assert_eq!(publisher.queued(), 0);
    publisher.flush(Duration::from_millis(1)).await.unwrap();
}
