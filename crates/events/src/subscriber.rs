//! [`Subscriber`]: one JetStream pull consumer per process on the Sepia stream, filtered to
//! one subject pattern, handing decoded [`Event`]s to the caller, who acks each
//! ([`Delivery::ack`]) once it has acted on it. Unacked events are delivered again (after
//! `ack_wait`), so an event is never lost to a crash between delivery and action; callers must
//! therefore make acting twice harmless (see the sidecars' de-duplication by event id).
//!
//! The consumer is durable, named by the caller (one name per process), so a NATS restart on
//! the same store keeps its position: events published while NATS was away or the consumer
//! was disconnected arrive once it is back. It starts at new events only (what happened before
//! the process subscribed is covered by the caller's own polling), and the server deletes it
//! after `inactive_threshold` without a reader, so processes that went away leave nothing.
//!
//! Debian's nats-server is 2.9: one filter subject per consumer (2.10's `filter_subjects`
//! would be refused), so callers filter on a pattern and skip what they do not handle.

use std::time::Duration;

use async_nats::jetstream::{self, consumer};
use futures::StreamExt as _;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::config::PublisherConfig;
use crate::connection;
use crate::error::EventsError;
use crate::event::Event;
use crate::stream::stream_config;
use crate::subject::validate_token;
use crate::trace_headers::HeaderExtractor;

/// Where to subscribe and as whom.
#[derive(Clone, Debug)]
pub struct SubscriberConfig {
    /// URL, client name, stream, timeouts and reconnect backoff, as for publishing.
    pub nats: PublisherConfig,
    /// The durable consumer's name: unique per process (two processes sharing one would split
    /// the events between them).
    pub consumer_name: String,
    /// One subject pattern, e.g. `sepia.controller.>`.
    pub filter_subject: String,
    /// How long an unacked delivery waits before it is delivered again.
    pub ack_wait: Duration,
    /// How long the server keeps the consumer without a reader.
    pub inactive_threshold: Duration,
}

impl SubscriberConfig {
    pub fn new(
        nats: PublisherConfig,
        consumer_name: impl Into<String>,
        filter_subject: impl Into<String>,
    ) -> Self {
        Self {
            nats,
            consumer_name: consumer_name.into(),
            filter_subject: filter_subject.into(),
            ack_wait: Duration::from_secs(30),
            inactive_threshold: Duration::from_secs(3600),
        }
    }
}

/// One event from the stream; ack it once acted on.
pub struct Delivery {
    pub event: Event,
    message: jetstream::Message,
}

impl Delivery {
    /// Makes `span` (the consumer's handling span) a child of the span that published this
    /// event, from the message's `traceparent` header; returns whether there was one. So the
    /// trace of a user's action runs on through whoever acts on its events.
    pub fn continue_trace(&self, span: &tracing::Span) -> bool {
        self.message
            .headers
            .as_ref()
            .is_some_and(|headers| telemetry::set_parent_from(span, &HeaderExtractor(headers)))
    }

    /// Tells JetStream the event was handled. A lost ack only means a second delivery.
    pub async fn ack(self) {
        if let Err(error) = self.message.ack().await {
            tracing::debug!(id = %self.event.id, %error, "ack of an event not sent; it will be delivered again");
        }
    }
}

/// The receiving end: [`Subscriber::next`] yields deliveries until shut down.
pub struct Subscriber {
    deliveries: mpsc::Receiver<Delivery>,
}

/// Deliveries handed over but not yet taken; the consumer waits beyond that.
const IN_FLIGHT: usize = 64;

impl Subscriber {
    /// Validates `config` and starts the consumer's task on the current Tokio runtime. Succeeds
    /// whether or not NATS is reachable: the task keeps trying, with the configured backoff.
    /// The task stops when `shutdown` is cancelled or the subscriber is dropped.
    pub fn start(
        config: SubscriberConfig,
        shutdown: CancellationToken,
    ) -> Result<Self, EventsError> {
        let addrs = config.nats.validate()?;
        validate_consumer_name(&config.consumer_name)?;
        let runtime =
            tokio::runtime::Handle::try_current().map_err(|_| EventsError::NoTokioRuntime)?;
        let (sender, deliveries) = mpsc::channel(IN_FLIGHT);
        runtime.spawn(async move {
            let client = tokio::select! {
                () = shutdown.cancelled() => return,
                client = connection::client(&config.nats, &addrs, "subscriber: waiters fall back to their backoff") => client,
            };
            let client = match client {
                Ok(client) => client,
                Err(error) => {
                    tracing::warn!(%error, "NATS subscriber not started");
                    return;
                }
            };
            let jetstream = jetstream::ContextBuilder::new()
                .timeout(config.nats.publish_timeout)
                .build(client);
            let mut failures = 0u32;
            loop {
                let outcome = tokio::select! {
                    () = shutdown.cancelled() => return,
                    () = sender.closed() => return,
                    outcome = consume(&config, &jetstream, &sender) => outcome,
                };
                match outcome {
                    Ok(()) => failures = 0,
                    Err(error) => {
                        failures = failures.saturating_add(1);
                        if failures == 1 {
                            tracing::warn!(%error, "NATS consumer interrupted; subscribing again");
                        } else {
                            tracing::debug!(%error, failures, "NATS consumer still unavailable");
                        }
                    }
                }
                tokio::select! {
                    () = shutdown.cancelled() => return,
                    () = tokio::time::sleep(config.nats.backoff.delay(failures.max(1))) => {}
                }
            }
        });
        Ok(Self { deliveries })
    }

    /// The next event; `None` once the subscriber has stopped.
    pub async fn next(&mut self) -> Option<Delivery> {
        self.deliveries.recv().await
    }
}

/// Why a subscription ended; the task subscribes again after a backoff.
#[derive(Debug, thiserror::Error)]
enum ConsumeError {
    #[error("cannot create or look up the JetStream stream: {0}")]
    Stream(#[from] jetstream::context::CreateStreamError),
    #[error("cannot create or look up the consumer: {0}")]
    Consumer(#[from] jetstream::stream::ConsumerError),
    #[error("cannot pull from the consumer: {0}")]
    Pull(#[from] consumer::StreamError),
    #[error("delivery failed: {0}")]
    Messages(#[from] consumer::pull::MessagesError),
    #[error("no answer within {0:?}")]
    TimedOut(Duration),
}

/// Subscribes and hands over deliveries until the subscription fails. Returns `Ok` when the
/// message stream ends without an error (the server closed it).
async fn consume(
    config: &SubscriberConfig,
    jetstream: &jetstream::Context,
    sender: &mpsc::Sender<Delivery>,
) -> Result<(), ConsumeError> {
    let bound = config.nats.publish_timeout.saturating_mul(3);
    let consumer = tokio::time::timeout(bound, async {
        let stream = jetstream
            .get_or_create_stream(stream_config(&config.nats))
            .await?;
        let consumer: consumer::PullConsumer = stream
            .get_or_create_consumer(
                &config.consumer_name,
                consumer::pull::Config {
                    durable_name: Some(config.consumer_name.clone()),
                    description: Some("a Sepia sidecar's wake-ups".to_owned()),
                    filter_subject: config.filter_subject.clone(),
                    deliver_policy: consumer::DeliverPolicy::New,
                    ack_policy: consumer::AckPolicy::Explicit,
                    ack_wait: config.ack_wait,
                    inactive_threshold: config.inactive_threshold,
                    ..Default::default()
                },
            )
            .await?;
        Ok::<_, ConsumeError>(consumer)
    })
    .await
    .map_err(|_| ConsumeError::TimedOut(bound))??;
    let mut messages = consumer.messages().await?;
    tracing::info!(consumer = %config.consumer_name, filter = %config.filter_subject, "subscribed to NATS events");
    while let Some(message) = messages.next().await {
        let message = message?;
        match serde_json::from_slice::<Event>(&message.payload) {
            Ok(event) => {
                if sender.send(Delivery { event, message }).await.is_err() {
                    return Ok(());
                }
            }
            Err(error) => {
                // Not an event this schema reads: nothing will ever handle it; drop it.
                tracing::warn!(subject = %message.subject, %error, "undecodable event skipped");
                if let Err(error) = message.ack().await {
                    tracing::debug!(%error, "ack of an undecodable event not sent");
                }
            }
        }
    }
    Ok(())
}

/// Consumer names become subjects of the JetStream API: the subject token rules, plus upper
/// case (identities carry host names).
fn validate_consumer_name(name: &str) -> Result<(), EventsError> {
    validate_token("consumer_name", &name.to_ascii_lowercase())
}
