//! Wake-ups on background work: the controllers announce work that ends after its CSI reply
//! (a snapshot's preparation, a flatten, a purge, a CephFS clone;
//! [`events::vocabulary::background`]), and the sidecar requeues the object waiting on it at
//! once instead of after its backoff.
//!
//! One durable JetStream consumer per process ([`events::Subscriber`]) on every Sepia subject
//! (one filter covering both controllers), started only while this replica leads (the caller
//! runs [`Wakeups::run`] among its controllers), so only the leader acts. Only background events
//! of this sidecar's driver are handed on (two drivers may share one NATS; the payload names
//! its publisher's driver). Each event is handed to the binary's `act` once: the
//! ids of handled events are remembered ([`Seen`]), so a redelivery (a lost ack, NATS back
//! after a restart) does nothing twice. Without `--nats-url`, or while NATS is away, nothing
//! here runs and every waiter keeps its backoff: wake-ups only ever shorten a wait.

use std::collections::{HashSet, VecDeque};
use std::future::Future;

use events::vocabulary::background;
use events::{Event, PublisherConfig, Subscriber, SubscriberConfig};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use telemetry::prometheus_client::registry::Registry;
use tokio_util::sync::CancellationToken;

/// Every Sepia subject: the RBD and the CephFS controller publish under different components,
/// and Debian's nats-server 2.9 takes one filter per consumer (see [`background::FILTER`]).
const FILTER: &str = background::FILTER;

/// Handled event ids remembered for de-duplication; far more than the events of the
/// consumer's `ack_wait`, the window in which a redelivery can come.
const REMEMBERED: usize = 4096;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct WakeupLabels {
    verb: String,
    /// `acted` (the binary requeued something), `unrelated` (nothing waits on it here),
    /// `duplicate` (seen before), `ignored` (not a background event), `other-driver` (a
    /// background event of another driver sharing this NATS).
    result: &'static str,
}

/// What a binary's `act` did with an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Acted {
    /// Requeued at least one object (and recorded its Kubernetes Event).
    Requeued,
    /// Nothing of this sidecar waits on it.
    Unrelated,
}

/// The wake-up consumer of one sidecar process; inert without a NATS URL.
#[derive(Clone, Debug)]
pub struct Wakeups {
    config: Option<SubscriberConfig>,
    counts: Family<WakeupLabels, Counter>,
}

impl Wakeups {
    /// Registers `sidecar_background_events_total` in `registry`. The consumer is named
    /// `<component>-<random>`: unique per process. The URL is the publisher's, validated there.
    pub fn new(nats_url: Option<&str>, component: &str, registry: &mut Registry) -> Self {
        let counts = Family::<WakeupLabels, Counter>::default();
        registry.register(
            "sidecar_background_events",
            "Controller background-work events received, by verb and what this sidecar did with them",
            counts.clone(),
        );
        let config = nats_url.filter(|url| !url.trim().is_empty()).map(|url| {
            let mut nats = PublisherConfig::new(url);
            nats.client_name = Some(format!("{component}-wakeups"));
            let name = format!(
                "{component}-{}",
                &uuid::Uuid::new_v4().simple().to_string()[..12]
            );
            SubscriberConfig::new(nats, name, FILTER)
        });
        Self { config, counts }
    }

    pub fn is_enabled(&self) -> bool {
        self.config.is_some()
    }

    /// Hands every new background event of `driver` to `act` until `stop` is cancelled; acks
    /// each after `act` returns. Returns at once without NATS.
    pub async fn run<F, Fut>(&self, stop: CancellationToken, driver: &str, act: F)
    where
        F: Fn(Event) -> Fut,
        Fut: Future<Output = Acted>,
    {
        let Some(config) = &self.config else {
            return;
        };
        let mut subscriber = match Subscriber::start(config.clone(), stop.child_token()) {
            Ok(subscriber) => subscriber,
            Err(error) => {
                tracing::warn!(%error, "no wake-ups from NATS; waiters keep their backoff");
                return;
            }
        };
        let mut seen = Seen::new(REMEMBERED);
        loop {
            let delivery = tokio::select! {
                () = stop.cancelled() => return,
                delivery = subscriber.next() => delivery,
            };
            let Some(delivery) = delivery else { return };
            // A child of the span that published the event: the user's action's trace goes on.
            let span = tracing::info_span!("handle_event", id = %delivery.event.id,
                event = %format!("{}.{}", delivery.event.object, delivery.event.verb));
            delivery.continue_trace(&span);
            let handling = span.enter();
            let event = &delivery.event;
            let result = if !background::is_background(&event.component, &event.object, &event.verb)
            {
                "ignored"
            } else if !is_for(event, driver) {
                "other-driver"
            } else if !seen.insert(&event.id) {
                "duplicate"
            } else {
                match act(event.clone()).await {
                    Acted::Requeued => "acted",
                    Acted::Unrelated => "unrelated",
                }
            };
            tracing::debug!(id = %event.id, subject = %format!("{}.{}.{}", event.component, event.object, event.verb), result, "background event");
            self.counts
                .get_or_create(&WakeupLabels {
                    verb: event.verb.clone(),
                    result,
                })
                .inc();
            drop(handling);
            delivery.ack().await;
        }
    }
}

/// Whether `event` was published by `driver`'s controller. An event without a driver name
/// (a publisher that predates the field) is taken: matching by CSI ids still applies.
fn is_for(event: &Event, driver: &str) -> bool {
    event.driver.as_deref().is_none_or(|d| d == driver)
}

/// The ids of the last `capacity` handled events.
#[derive(Debug)]
struct Seen {
    capacity: usize,
    order: VecDeque<String>,
    ids: HashSet<String>,
}

impl Seen {
    fn new(capacity: usize) -> Self {
        Self {
            capacity,
            order: VecDeque::new(),
            ids: HashSet::new(),
        }
    }

    /// Whether `id` is new (and remembers it).
    fn insert(&mut self, id: &str) -> bool {
        if self.ids.contains(id) {
            return false;
        }
        if self.order.len() == self.capacity
            && let Some(oldest) = self.order.pop_front()
        {
            self.ids.remove(&oldest);
        }
        self.order.push_back(id.to_owned());
        self.ids.insert(id.to_owned());
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_is_new_once_and_the_oldest_are_forgotten() {
        let mut seen = Seen::new(2);
        assert!(seen.insert("a"));
        assert!(!seen.insert("a"));
        assert!(seen.insert("b"));
        assert!(seen.insert("c"));
        assert!(!seen.insert("b"));
        assert!(!seen.insert("c"));
        assert!(seen.insert("a"), "a was forgotten after two newer ids");
    }

    #[test]
    fn only_our_drivers_events_are_ours() {
        let event = |driver: Option<&str>| {
            let mut builder = Event::builder("controller", "snapshot", "prepared")
                .operation_key("prepare")
                .snapshot_id("0001-id");
            if let Some(driver) = driver {
                builder = builder.driver(driver);
            }
            builder.build().expect("valid event")
        };
        assert!(is_for(&event(Some("rbd.csi.ceph.com")), "rbd.csi.ceph.com"));
        assert!(!is_for(
            &event(Some("other.rbd.csi.ceph.com")),
            "rbd.csi.ceph.com"
        ));
        assert!(is_for(&event(None), "rbd.csi.ceph.com"));
    }

    #[test]
    fn without_a_url_nothing_runs() {
        let mut registry = Registry::default();
        assert!(!Wakeups::new(None, "sepia-provisioner", &mut registry).is_enabled());
        let mut registry = Registry::default();
        assert!(!Wakeups::new(Some(" "), "sepia-provisioner", &mut registry).is_enabled());
    }
}
