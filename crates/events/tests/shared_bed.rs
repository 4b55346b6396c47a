//! The publisher against the shared test bed's NATS (`scripts/bed.sh up`), the server the other
//! components' tests use: events land and a retry is stored once there too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Duration;

use events::Event;
use support::stream_reader::read;
use support::{start_publisher, test_config};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_reach_the_bed_nats_once() {
    let bed = sepia_testbed::Bed::get();
    let (publisher, _registry) = start_publisher(test_config(&bed.nats_url));
    // A subject of its own, so other tests' events on the shared stream do not interfere.
    let component: String = bed
        .unique_name("events-test")
        .to_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let event = Event::builder(component.as_str(), "volume", "created")
        .operation_key("create")
        .request_name("pvc-bed")
        .build()
        .unwrap();
    publisher.publish(&event);
    publisher.publish(&event);
    publisher.flush(Duration::from_secs(60)).await.unwrap();

    let subject = format!("sepia.{component}.volume.created");
    let stored = read(&bed.nats_url, "SEPIA", &subject).await;
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].subject, subject);
    assert_eq!(stored[0].event, event);
}
