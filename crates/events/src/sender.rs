//! The background task that owns the NATS connection and drains the outbox, one event at a
//! time: publish the head with its message id, await the PubAck, remove it; on failure keep it
//! and retry after a capped exponential backoff. One event in flight keeps the order and is
//! plenty for Sepia's event rate.
//!
//! The client ([`crate::connection`]) keeps connecting, so a NATS that is down at start-up
//! delays events instead of failing the component.

use std::sync::Arc;
use std::time::Duration;

use async_nats::ServerAddr;
use async_nats::jetstream::{self, message::PublishMessage};
use tokio_util::sync::CancellationToken;

use crate::config::PublisherConfig;
use crate::connection;
use crate::metrics::EventMetrics;
use crate::outbox::{Outbox, OutboxEntry};
use crate::stream::stream_config;

pub(crate) struct Sender {
    pub config: PublisherConfig,
    pub addrs: Vec<ServerAddr>,
    pub outbox: Arc<Outbox>,
    pub metrics: EventMetrics,
    pub shutdown: CancellationToken,
}

/// Why one attempt failed; only logged, since the event stays queued either way.
#[derive(Debug, thiserror::Error)]
enum AttemptError {
    #[error("cannot connect to NATS: {0}")]
    Connect(#[from] async_nats::ConnectError),
    #[error("cannot create or look up the JetStream stream: {0}")]
    Stream(#[from] jetstream::context::CreateStreamError),
    #[error("JetStream did not acknowledge the event: {0}")]
    Publish(#[from] jetstream::context::PublishError),
    #[error("no answer within {0:?}")]
    TimedOut(Duration),
}

impl Sender {
    pub(crate) async fn run(self) {
        let Some(jetstream) = self.connect().await else {
            return;
        };
        let mut stream_ready = false;
        let mut failures = 0u32;
        loop {
            tokio::select! {
                () = self.shutdown.cancelled() => return,
                () = self.outbox.wait_for_entry() => {}
            }
            let Some((seq, entry)) = self.outbox.take_head() else {
                continue;
            };
            match self.attempt(&jetstream, &mut stream_ready, &entry).await {
                Ok(()) => {
                    self.outbox.acknowledge(seq);
                    self.metrics.published();
                    if failures > 0 {
                        tracing::info!(failures, "publishing events to NATS again");
                    }
                    failures = 0;
                }
                Err(error) => {
                    self.outbox.release(seq);
                    self.metrics.publish_error();
                    // A missing stream answers "no responders": look it up again next time.
                    stream_ready = false;
                    failures = failures.saturating_add(1);
                    let delay = self.config.backoff.delay(failures);
                    if failures == 1 {
                        tracing::warn!(%error, queued = self.outbox.len(), "event not published; keeping it queued and retrying");
                    } else {
                        tracing::debug!(%error, failures, ?delay, "event publish retry failed");
                    }
                    tokio::select! {
                        () = self.shutdown.cancelled() => return,
                        () = tokio::time::sleep(delay) => {}
                    }
                }
            }
        }
    }

    /// A JetStream context on a client that keeps (re)connecting in the background. Returns
    /// `None` only when shut down first.
    async fn connect(&self) -> Option<jetstream::Context> {
        let mut failures = 0u32;
        loop {
            match self.client().await {
                Ok(client) => {
                    return Some(
                        jetstream::ContextBuilder::new()
                            .timeout(self.config.publish_timeout)
                            .build(client),
                    );
                }
                Err(error) => {
                    failures = failures.saturating_add(1);
                    tracing::warn!(%error, failures, "NATS client not created; retrying");
                }
            }
            tokio::select! {
                () = self.shutdown.cancelled() => return None,
                () = tokio::time::sleep(self.config.backoff.delay(failures)) => {}
            }
        }
    }

    async fn client(&self) -> Result<async_nats::Client, AttemptError> {
        Ok(connection::client(
            &self.config,
            &self.addrs,
            "publisher: events wait in the outbox",
        )
        .await?)
    }

    async fn attempt(
        &self,
        jetstream: &jetstream::Context,
        stream_ready: &mut bool,
        entry: &OutboxEntry,
    ) -> Result<(), AttemptError> {
        // JetStream calls are bounded by the context timeout already; this outer bound covers
        // the whole attempt (stream lookup + publish + ack) in case any step is not.
        let bound = self.config.publish_timeout.saturating_mul(3);
        tokio::time::timeout(bound, async {
            if !*stream_ready {
                jetstream
                    .get_or_create_stream(stream_config(&self.config))
                    .await?;
                *stream_ready = true;
            }
            publish(jetstream, entry).await
        })
        .await
        .map_err(|_| AttemptError::TimedOut(bound))?
    }
}

async fn publish(jetstream: &jetstream::Context, entry: &OutboxEntry) -> Result<(), AttemptError> {
    let mut message = PublishMessage::build()
        .payload(entry.payload.clone())
        .message_id(&entry.id);
    for (name, value) in &entry.headers {
        message = message.header(name.as_str(), value.as_str());
    }
    let ack = jetstream
        .send_publish(entry.subject.clone(), message)
        .await?
        .await?;
    tracing::debug!(
        subject = %entry.subject,
        id = %entry.id,
        stream = %ack.stream,
        sequence = ack.sequence,
        duplicate = ack.duplicate,
        "event stored"
    );
    Ok(())
}
