//! What the `SEPIA` stream of a test's [`NatsServer`] really holds, read through a JetStream
//! consumer — not the publisher's bookkeeping.

use std::time::Duration;

use futures::StreamExt;
use sepia_testbed::NatsServer;
use serde_json::{Value, json};

/// Every event stored under `filter`, in stream order.
pub async fn stored_events(nats: &NatsServer, filter: &str) -> Vec<events::Event> {
    stored(nats, filter)
        .await
        .into_iter()
        .map(|(_, payload)| serde_json::from_slice(&payload).expect("payload is an Event"))
        .collect()
}

/// Every event stored under `filter` as JSON, in stream order, with its NATS subject added as
/// `"subject"`.
pub async fn stored_json(nats: &NatsServer, filter: &str) -> Vec<Value> {
    stored(nats, filter)
        .await
        .into_iter()
        .map(|(subject, payload)| {
            let mut event: Value = serde_json::from_slice(&payload).unwrap();
            event["subject"] = json!(subject);
            event
        })
        .collect()
}

/// (subject, payload) of every message under `filter`; none while the stream does not exist
/// yet (no event was published).
async fn stored(nats: &NatsServer, filter: &str) -> Vec<(String, Vec<u8>)> {
    use async_nats::jetstream::{self, consumer};
    let client = async_nats::connect(nats.url())
        .await
        .expect("test client connects");
    let js = jetstream::new(client);
    let Ok(mut stream) = js.get_stream("SEPIA").await else {
        return Vec::new();
    };
    let total = stream.info().await.unwrap().state.messages;
    let consumer = stream
        .create_consumer(consumer::pull::Config {
            deliver_policy: consumer::DeliverPolicy::All,
            ack_policy: consumer::AckPolicy::None,
            filter_subject: filter.to_owned(),
            ..Default::default()
        })
        .await
        .expect("consumer");
    let pending = consumer.cached_info().num_pending.min(total);
    let mut messages = consumer.messages().await.expect("messages");
    let mut out = Vec::new();
    while (out.len() as u64) < pending {
        let message = tokio::time::timeout(Duration::from_secs(30), messages.next())
            .await
            .expect("message within 30 s")
            .expect("stream open")
            .expect("message");
        out.push((message.subject.to_string(), message.payload.to_vec()));
    }
    out
}
