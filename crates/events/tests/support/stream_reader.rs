//! Reads what the stream really stored, through a JetStream pull consumer, so the tests check
//! NATS's state rather than the publisher's own bookkeeping.

use std::time::Duration;

use async_nats::jetstream::{self, consumer};
use events::Event;
use futures::StreamExt;

/// One message as JetStream stored it.
#[derive(Debug)]
pub struct Stored {
    pub sequence: u64,
    pub subject: String,
    pub msg_id: Option<String>,
    pub traceparent: Option<String>,
    pub event: Event,
}

pub async fn jetstream(url: &str) -> jetstream::Context {
    let client = async_nats::connect(url)
        .await
        .expect("test client connects");
    jetstream::new(client)
}

/// Every message in `stream` whose subject matches `filter` (`>` for all), in stream order.
pub async fn read(url: &str, stream: &str, filter: &str) -> Vec<Stored> {
    let jetstream = jetstream(url).await;
    let mut stream = jetstream.get_stream(stream).await.expect("stream exists");
    let total = stream.info().await.expect("stream info").state.messages;
    let consumer = stream
        .create_consumer(consumer::pull::Config {
            deliver_policy: consumer::DeliverPolicy::All,
            ack_policy: consumer::AckPolicy::None,
            filter_subject: filter.to_owned(),
            ..Default::default()
        })
        .await
        .expect("consumer");
    let pending = consumer.cached_info().num_pending;
    assert!(pending <= total);
    let mut messages = consumer.messages().await.expect("messages");
    let mut stored = Vec::new();
    while (stored.len() as u64) < pending {
        let message = tokio::time::timeout(Duration::from_secs(30), messages.next())
            .await
            .expect("message within 30 s")
            .expect("stream open")
            .expect("message");
        let header = |name: &str| {
            message
                .headers
                .as_ref()
                .and_then(|headers| headers.get(name))
                .map(|value| value.as_str().to_owned())
        };
        stored.push(Stored {
            sequence: message.info().expect("jetstream message").stream_sequence,
            subject: message.subject.to_string(),
            msg_id: header("Nats-Msg-Id"),
            traceparent: header("traceparent"),
            event: serde_json::from_slice(&message.payload).expect("payload is an Event"),
        });
    }
    stored
}
