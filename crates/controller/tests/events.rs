//! Lifecycle events: a controller started with a NATS URL publishes what its RPCs did, and the
//! test reads them back from JetStream (its own nats-server, so the stream holds only this
//! test's events): subjects, ids, outcomes, and no secret in any payload.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use async_nats::jetstream::{self, consumer};
use common::{Fixture, GIB, bed};
use csi::v1::CreateVolumeRequest;
use events::{Event, OutcomeStatus, Publisher, PublisherConfig};
use futures::StreamExt as _;
use prometheus_client::registry::Registry;
use sepia_testbed::NatsServer;
use tonic::Code;

/// Every message of the `SEPIA` stream as (subject, raw payload, decoded event), in order; none
/// while the stream does not exist yet.
async fn stored(url: &str) -> Vec<(String, String, Event)> {
    let client = async_nats::connect(url)
        .await
        .expect("test client connects");
    // The publisher makes the stream with its first event, which may still be on its way.
    let Ok(mut stream) = jetstream::new(client).get_stream("SEPIA").await else {
        return Vec::new();
    };
    let total = stream.info().await.expect("stream info").state.messages;
    let consumer = stream
        .create_consumer(consumer::pull::Config {
            deliver_policy: consumer::DeliverPolicy::All,
            ack_policy: consumer::AckPolicy::None,
            ..Default::default()
        })
        .await
        .expect("consumer");
    let mut messages = consumer.messages().await.expect("messages");
    let mut out = Vec::new();
    while (out.len() as u64) < total {
        let message = tokio::time::timeout(Duration::from_secs(30), messages.next())
            .await
            .expect("message within 30 s")
            .expect("stream open")
            .expect("message");
        let raw = String::from_utf8(message.payload.to_vec()).expect("utf-8 payload");
        let event = serde_json::from_str(&raw).expect("payload is an Event");
        out.push((message.subject.to_string(), raw, event));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_and_delete_publish_volume_events_with_the_volume_id() {
    let nats = NatsServer::start().await;
    let publisher = Publisher::start(PublisherConfig::new(nats.url()), &mut Registry::default())
        .expect("publisher starts");
    let volume_id = Fixture::builder()
        .events(publisher.clone())
        .run(|fx| async move {
            let volume = fx.create_volume("pvc-events", GIB).await;
            fx.delete_volume(&volume.volume_id).await;
            // A final failure: no capabilities (INVALID_ARGUMENT) is reported as failed.
            let refused = fx
                .client()
                .create_volume(CreateVolumeRequest {
                    name: "pvc-events-bad".to_owned(),
                    secrets: fx.secrets(),
                    ..Default::default()
                })
                .await
                .expect_err("no capabilities");
            assert_eq!(refused.code(), Code::InvalidArgument);
            volume.volume_id
        })
        .await;
    publisher
        .flush(Duration::from_secs(60))
        .await
        .expect("all events acknowledged");

    // The lifecycle events only: the purge's end is announced when the watch sees it, which
    // may be after the controller stopped (see the purge test below).
    let events: Vec<_> = stored(&nats.url())
        .await
        .into_iter()
        .filter(|(subject, _, _)| subject != "sepia.controller.volume.purged")
        .collect();
    let subjects: Vec<&str> = events.iter().map(|(s, _, _)| s.as_str()).collect();
    assert_eq!(
        subjects,
        [
            "sepia.controller.volume.created",
            "sepia.controller.volume.deleted",
            "sepia.controller.volume.failed",
        ]
    );
    let (_, _, created) = &events[0];
    assert_eq!(created.csi.volume_id.as_deref(), Some(volume_id.as_str()));
    assert_eq!(created.csi.request_name.as_deref(), Some("pvc-events"));
    assert_eq!(created.size_bytes, Some(GIB as u64));
    assert_eq!(created.outcome.status, OutcomeStatus::Ok);
    let (_, _, deleted) = &events[1];
    assert_eq!(deleted.csi.volume_id.as_deref(), Some(volume_id.as_str()));
    assert_eq!(deleted.outcome.status, OutcomeStatus::Ok);
    let (_, _, failed) = &events[2];
    assert_eq!(failed.csi.request_name.as_deref(), Some("pvc-events-bad"));
    assert_eq!(failed.outcome.status, OutcomeStatus::Error);
    assert_eq!(failed.outcome.code, "InvalidArgument");
    for (subject, raw, _) in &events {
        assert!(!raw.contains(&bed().key), "{subject} carries the cephx key");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_mgrs_purge_of_a_deleted_volume_is_announced_once_its_image_left_the_trash() {
    let nats = NatsServer::start().await;
    let url = nats.url();
    let publisher = Publisher::start(PublisherConfig::new(url.clone()), &mut Registry::default())
        .expect("publisher starts");
    Fixture::builder()
        .mgr_purge()
        .events(publisher.clone())
        .run(|fx| async move {
            let volume = fx.create_volume("pvc-purged", 64 << 20).await;
            fx.delete_volume(&volume.volume_id).await;
            // The mgr's task queue is the bed's (one task at a time for every suite): wait.
            let deadline = std::time::Instant::now() + Duration::from_secs(240);
            let purged = loop {
                let found: Vec<Event> = stored(&url)
                    .await
                    .into_iter()
                    .filter(|(subject, _, _)| subject == "sepia.controller.volume.purged")
                    .map(|(_, _, event)| event)
                    .collect();
                if !found.is_empty() {
                    break found;
                }
                assert!(
                    std::time::Instant::now() < deadline,
                    "no purge announced; trash: {:?}",
                    fx.trash().await
                );
                tokio::time::sleep(Duration::from_millis(500)).await;
            };
            assert_eq!(purged.len(), 1, "{purged:?}");
            assert_eq!(
                purged[0].csi.volume_id.as_deref(),
                Some(volume.volume_id.as_str())
            );
            assert_eq!(purged[0].outcome.status, OutcomeStatus::Ok);
            // Announced only once the image had left the trash.
            let trash = fx.trash().await;
            assert!(trash.is_empty(), "{trash:?}");
        })
        .await;
}
