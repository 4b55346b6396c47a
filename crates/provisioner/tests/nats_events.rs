//! Sepia events on NATS JetStream: the provisioner publishes `sepia.provisioner.volume.*`, and
//! provisioning does not wait for NATS — events queued while it is down arrive after it returns.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::Duration;

use events::OutcomeStatus;
use sepia_testbed::NatsServer;
use sidecar_testkit::nats::stored_events;
use support::{CLASS, World};

const WAIT: Duration = Duration::from_secs(60);
const CREATED: &str = "sepia.provisioner.volume.created";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provisioning_publishes_events_and_survives_nats_being_down() {
    let mut nats = NatsServer::start().await;
    let mut world = World::start(None).await;
    let url = format!("--nats-url={}", nats.url());
    let _p = world.provisioner(&[&url], &[]);

    let one = world.claim("one", "64Mi", CLASS, None);
    let pv = world.wait_bound("one", WAIT).await;
    let mut stored = Vec::new();
    for _ in 0..100 {
        stored = stored_events(&nats, CREATED).await;
        if !stored.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(stored.len(), 1, "{stored:?}");
    let event = &stored[0];
    assert_eq!(event.schema_version, 1);
    assert_eq!(
        (
            event.component.as_str(),
            event.object.as_str(),
            event.verb.as_str()
        ),
        ("provisioner", "volume", "created")
    );
    assert_eq!(
        event.csi.request_name.as_deref(),
        pv.metadata.name.as_deref()
    );
    assert_eq!(
        event.csi.volume_id.as_deref(),
        Some(
            pv.spec
                .as_ref()
                .unwrap()
                .csi
                .as_ref()
                .unwrap()
                .volume_handle
                .as_str()
        )
    );
    let kube = event.kubernetes.as_ref().unwrap();
    assert_eq!(
        (kube.kind.as_str(), kube.name.as_str()),
        ("PersistentVolumeClaim", "one")
    );
    assert_eq!(kube.uid, one.metadata.uid);
    assert_eq!(event.size_bytes, Some(64 << 20));
    assert_eq!(event.outcome.status, OutcomeStatus::Ok);

    // NATS goes away: provisioning must not notice.
    nats.stop().await;
    let two = world.claim("two", "64Mi", CLASS, None);
    world.wait_bound("two", WAIT).await;

    // NATS returns (same port and store): the queued event arrives, the first is not repeated.
    nats.run().await;
    let mut names = Vec::new();
    for _ in 0..150 {
        let stored = stored_events(&nats, CREATED).await;
        names = stored
            .iter()
            .filter_map(|e| e.kubernetes.as_ref().map(|k| k.name.clone()))
            .collect();
        if names.len() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(names, ["one", "two"], "events after NATS returned");
    let stored = stored_events(&nats, CREATED).await;
    assert_eq!(stored[1].kubernetes.as_ref().unwrap().uid, two.metadata.uid);
}
