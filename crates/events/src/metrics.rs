//! The publisher's metrics, registered into the registry the binary owns (no global registry):
//! how many events JetStream acknowledged, how many were dropped and why, how many wait in the
//! outbox, and how many publish attempts failed.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

/// Why an event never reached NATS.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DropReason {
    /// The outbox was full (NATS away for long); the oldest queued event made room.
    OutboxFull,
    /// The event could not be turned into a message (hand-edited into an invalid subject, or not
    /// encodable as JSON).
    Invalid,
}

impl DropReason {
    fn label(self) -> &'static str {
        match self {
            Self::OutboxFull => "outbox_full",
            Self::Invalid => "invalid",
        }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DropLabels {
    reason: &'static str,
}

/// Cheap to clone; clones update the same series.
#[derive(Clone, Debug, Default)]
pub struct EventMetrics {
    published: Counter,
    dropped: Family<DropLabels, Counter>,
    outbox_depth: Gauge,
    publish_errors: Counter,
}

impl EventMetrics {
    /// Registers `sepia_events_published_total`, `sepia_events_dropped_total{reason}`,
    /// `sepia_events_outbox_depth` and `sepia_events_publish_errors_total`.
    pub fn register(registry: &mut Registry) -> Self {
        let metrics = Self::default();
        let events = registry.sub_registry_with_prefix("sepia_events");
        events.register(
            "published",
            "Events stored by JetStream (PubAck received, duplicates included)",
            metrics.published.clone(),
        );
        events.register(
            "dropped",
            "Events that never reached NATS, by reason",
            metrics.dropped.clone(),
        );
        events.register(
            "outbox_depth",
            "Events waiting in the local outbox for NATS",
            metrics.outbox_depth.clone(),
        );
        events.register(
            "publish_errors",
            "Failed attempts to publish an event (it stays queued and is retried)",
            metrics.publish_errors.clone(),
        );
        metrics
    }

    pub(crate) fn published(&self) {
        self.published.inc();
    }

    pub(crate) fn dropped(&self, reason: DropReason) {
        self.dropped
            .get_or_create(&DropLabels {
                reason: reason.label(),
            })
            .inc();
    }

    pub(crate) fn set_outbox_depth(&self, depth: usize) {
        self.outbox_depth
            .set(i64::try_from(depth).unwrap_or(i64::MAX));
    }

    pub(crate) fn publish_error(&self) {
        self.publish_errors.inc();
    }
}
