//! [`Publisher`]: the handle operations use to emit events. `publish` is synchronous and never
//! waits on NATS: it serialises the event and pushes it into the bounded outbox, which the
//! background sender drains. Without a NATS URL, [`Publisher::disabled`] logs events at debug.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use prometheus_client::registry::Registry;
use tokio_util::sync::CancellationToken;

use crate::config::PublisherConfig;
use crate::error::EventsError;
use crate::event::Event;
use crate::metrics::{DropReason, EventMetrics};
use crate::outbox::{Outbox, OutboxEntry};
use crate::sender::Sender;

/// Cheap to clone; all clones feed the same outbox. The background sender stops when the last
/// clone is dropped (call [`Publisher::flush`] first to send what is queued).
#[derive(Clone)]
pub struct Publisher {
    active: Option<Arc<Active>>,
}

struct Active {
    outbox: Arc<Outbox>,
    metrics: EventMetrics,
    shutdown: CancellationToken,
}

impl Drop for Active {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

impl Publisher {
    /// Validates `config`, registers the event metrics in `registry` and starts the background
    /// sender on the current Tokio runtime. Succeeds whether or not NATS is reachable: events
    /// queue until it is.
    pub fn start(config: PublisherConfig, registry: &mut Registry) -> Result<Self, EventsError> {
        let addrs = config.validate()?;
        let runtime =
            tokio::runtime::Handle::try_current().map_err(|_| EventsError::NoTokioRuntime)?;
        let metrics = EventMetrics::register(registry);
        let outbox = Arc::new(Outbox::new(config.outbox_capacity, metrics.clone()));
        let shutdown = CancellationToken::new();
        runtime.spawn(
            Sender {
                config,
                addrs,
                outbox: Arc::clone(&outbox),
                metrics: metrics.clone(),
                shutdown: shutdown.clone(),
            }
            .run(),
        );
        Ok(Self {
            active: Some(Arc::new(Active {
                outbox,
                metrics,
                shutdown,
            })),
        })
    }

    /// For components started without `--nats-url`: events are logged at debug, nothing else.
    pub fn disabled() -> Self {
        Self { active: None }
    }

    pub fn is_enabled(&self) -> bool {
        self.active.is_some()
    }

    /// Queues `event` for NATS. Never blocks and never fails the caller: an event that cannot be
    /// encoded is logged and counted as dropped, and a full outbox drops its oldest event.
    /// The current span's `traceparent` travels with the event as a NATS header.
    pub fn publish(&self, event: &Event) {
        let Some(active) = &self.active else {
            match serde_json::to_string(event) {
                Ok(json) => {
                    tracing::debug!(id = %event.id, event = %json, "event (NATS not configured)")
                }
                Err(error) => {
                    tracing::debug!(id = %event.id, %error, "event (NATS not configured) not encodable")
                }
            }
            return;
        };
        match outbox_entry(event) {
            Ok(entry) => {
                tracing::debug!(subject = %entry.subject, id = %entry.id, "event queued");
                active.outbox.push(entry);
            }
            Err(error) => {
                tracing::warn!(%error, "event dropped: it cannot be published");
                active.metrics.dropped(DropReason::Invalid);
            }
        }
    }

    /// Events waiting for NATS (including one being sent).
    pub fn queued(&self) -> usize {
        self.active.as_ref().map_or(0, |active| active.outbox.len())
    }

    /// Waits up to `timeout` for every queued event to be acknowledged by JetStream, for a
    /// graceful shutdown. A disabled publisher has nothing to flush.
    pub async fn flush(&self, timeout: Duration) -> Result<(), EventsError> {
        let Some(active) = &self.active else {
            return Ok(());
        };
        tokio::time::timeout(timeout, active.outbox.wait_drained())
            .await
            .map_err(|_| EventsError::FlushTimedOut {
                remaining: active.outbox.len(),
            })
    }
}

impl std::fmt::Debug for Publisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Publisher")
            .field("enabled", &self.is_enabled())
            .field("queued", &self.queued())
            .finish()
    }
}

fn outbox_entry(event: &Event) -> Result<OutboxEntry, EventsError> {
    let subject = event.subject()?;
    let payload = serde_json::to_vec(event).map_err(|source| EventsError::Encode {
        id: event.id.clone(),
        source,
    })?;
    Ok(OutboxEntry {
        subject: subject.to_string(),
        id: event.id.clone(),
        payload: Bytes::from(payload),
        headers: telemetry::current_trace_headers().into_iter().collect(),
    })
}
