//! Leader election against the in-process API stand-in: one holder at a time, take-over after
//! the holder stops renewing, fail-stop when renewals cannot reach the API server.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;
use kube_standin::StandIn;
use sidecar::SidecarError;
use sidecar::leader::{LeaderElectionConfig, LeaderElector};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

const LEASE: Duration = Duration::from_secs(2);

fn elector(standin: &StandIn, identity: &str) -> LeaderElector {
    LeaderElector::new(
        standin.client().unwrap(),
        LeaderElectionConfig {
            lease_name: "rbd-csi-sepia-io".into(),
            namespace: "default".into(),
            identity: identity.into(),
            lease_duration: LEASE,
            renew_deadline: Duration::from_millis(1500),
            retry_period: Duration::from_millis(300),
            labels: BTreeMap::from([("app".to_owned(), "sepia".to_owned())]),
        },
    )
}

fn holder(standin: &StandIn) -> Option<String> {
    standin
        .get::<Lease>("default", "rbd-csi-sepia-io")
        .unwrap()
        .and_then(|l| l.spec)
        .and_then(|s| s.holder_identity)
}

#[tokio::test]
async fn a_standby_takes_over_only_after_the_holder_stops_renewing() {
    let standin = StandIn::start().await.unwrap();
    let never = CancellationToken::new();
    let mut first = elector(&standin, "replica-a");
    assert!(first.acquire(&never).await);
    assert!(first.status().is_leader());
    assert_eq!(holder(&standin).as_deref(), Some("replica-a"));

    // The holder keeps renewing: a standby must not get the Lease.
    let keep = tokio::spawn(async move {
        let stop = CancellationToken::new();
        let _ = first.keep(&stop).await;
    });
    let mut second = elector(&standin, "replica-b");
    let standby = CancellationToken::new();
    let attempt = tokio::time::timeout(LEASE * 3, second.acquire(&standby)).await;
    assert!(
        attempt.is_err(),
        "the standby took a Lease that was being renewed"
    );
    assert_eq!(holder(&standin).as_deref(), Some("replica-a"));

    // The holder dies without releasing (SIGKILL): the standby takes over within a lease
    // duration of the last renewal, plus its retry period and jitter.
    keep.abort();
    let killed = Instant::now();
    assert!(second.acquire(&standby).await);
    let took = killed.elapsed();
    assert!(took <= LEASE * 2, "take-over took {took:?}");
    let lease = standin
        .get::<Lease>("default", "rbd-csi-sepia-io")
        .unwrap()
        .unwrap();
    assert_eq!(
        lease
            .metadata
            .labels
            .unwrap_or_default()
            .get("app")
            .map(String::as_str),
        Some("sepia"),
        "--leader-election-labels on the Lease"
    );
    let spec = lease.spec.unwrap();
    assert_eq!(spec.holder_identity.as_deref(), Some("replica-b"));
    assert_eq!(spec.lease_transitions, Some(1));
}

#[tokio::test]
async fn a_graceful_stop_releases_the_lease_at_once() {
    let standin = StandIn::start().await.unwrap();
    let mut first = elector(&standin, "replica-a");
    let stop = CancellationToken::new();
    assert!(first.acquire(&stop).await);
    let keep = tokio::spawn({
        let stop = stop.clone();
        async move {
            let kept = first.keep(&stop).await;
            first.release().await;
            kept
        }
    });
    stop.cancel();
    keep.await.unwrap().unwrap();
    assert_eq!(holder(&standin), None);
    let mut second = elector(&standin, "replica-b");
    let started = Instant::now();
    assert!(second.acquire(&CancellationToken::new()).await);
    assert!(
        started.elapsed() < LEASE,
        "a released Lease should be free at once"
    );
}

#[tokio::test]
async fn a_leader_that_cannot_renew_gives_up_after_the_renew_deadline() {
    let standin = StandIn::start().await.unwrap();
    let mut first = elector(&standin, "replica-a");
    let stop = CancellationToken::new();
    assert!(first.acquire(&stop).await);
    let status = first.status();
    standin.pause();
    let result = tokio::time::timeout(Duration::from_secs(10), first.keep(&stop))
        .await
        .expect("keep() must give up, not hang");
    assert!(
        matches!(result, Err(SidecarError::LeadershipLost { .. })),
        "{result:?}"
    );
    assert!(!status.is_leader());
    standin.resume();
}
