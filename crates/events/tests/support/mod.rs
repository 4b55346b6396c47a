//! Test support for the publisher's integration tests (each runs a private nats-server from
//! `sepia_testbed`, so it can stop and restart it): publisher settings, sample events, metrics,
//! and a reader that takes events back out of the stream with a JetStream consumer.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, dead_code)]

pub mod stream_reader;

use events::{Event, Publisher, PublisherConfig};
use prometheus_client::registry::Registry;
use std::time::Duration;

/// Publisher settings for tests: fast retries so a restart is noticed within a second.
pub fn test_config(url: &str) -> PublisherConfig {
    let mut config = PublisherConfig::new(url);
    config.client_name = Some("sepia-events-test".to_owned());
    config.publish_timeout = Duration::from_secs(2);
    config.backoff = events::Backoff {
        initial: Duration::from_millis(50),
        max: Duration::from_millis(500),
    };
    config
}

pub fn start_publisher(config: PublisherConfig) -> (Publisher, Registry) {
    let mut registry = Registry::default();
    let publisher = Publisher::start(config, &mut registry).expect("publisher starts");
    (publisher, registry)
}

/// A volume-created event; `n` makes the operation (and so the message id) distinct.
pub fn volume_created(n: usize) -> Event {
    Event::builder("controller", "volume", "created")
        .operation_key(format!("create-{n}"))
        .request_name(format!("pvc-{n}"))
        .volume_id(format!("0001-0009-rook-ceph-0000000000000002-{n:08}"))
        .size_bytes(1 << 30)
        .duration(Duration::from_millis(40))
        .build()
        .expect("valid event")
}

/// The value of one sample line of the OpenMetrics text, e.g. `sepia_events_published_total`.
pub fn metric(registry: &Registry, series: &str) -> Option<f64> {
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, registry).unwrap();
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}
