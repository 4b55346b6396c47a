//! Leader election against the in-process API stand-in: one holder at a time, take-over after
//! the holder stops renewing, fail-stop when renewals cannot reach the API server.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube_standin::StandIn;
use sidecar::SidecarError;
use sidecar::leader_election::leader::{LeaderElectionConfig, LeaderElector};
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

const LEASE_PATH: &str = "/apis/coordination.k8s.io/v1/namespaces/default/leases/rbd-csi-sepia-io";

fn holder(standin: &StandIn) -> Option<String> {
    standin
        .get::<Lease>("default", "rbd-csi-sepia-io")
        .unwrap()
        .and_then(|l| l.spec)
        .and_then(|s| s.holder_identity)
}

fn lease_spec(standin: &StandIn) -> LeaseSpec {
    standin
        .get::<Lease>("default", "rbd-csi-sepia-io")
        .unwrap()
        .and_then(|l| l.spec)
        .unwrap()
}

fn renew_time(spec: &LeaseSpec) -> Timestamp {
    spec.renew_time.as_ref().unwrap().0
}

fn lease_span() -> SignedDuration {
    SignedDuration::try_from(LEASE).unwrap()
}

/// Waits until the holder has renewed the Lease past `until`, by the renewTime it writes: the
/// Lease itself says how long it was kept, not the test's clock.
async fn renewed_past(standin: &StandIn, until: Timestamp) {
    let renewed = async {
        let mut watch = tokio::time::interval(Duration::from_millis(100));
        while renew_time(&lease_spec(standin)) <= until {
            watch.tick().await;
        }
    };
    tokio::time::timeout(Duration::from_secs(60), renewed)
        .await
        .expect("the holder stopped renewing");
}

#[tokio::test]
async fn a_standby_takes_over_only_after_the_holder_stops_renewing() {
    let standin = StandIn::start().await.unwrap();
    let never = CancellationToken::new();
    let mut first = elector(&standin, "replica-a");
    assert!(first.acquire(&never).await);
    assert!(first.status().is_leader());
    assert_eq!(holder(&standin).as_deref(), Some("replica-a"));

    // The holder keeps renewing: a standby trying all along must not get the Lease, however
    // many lease durations the renewals span.
    let keep = tokio::spawn(async move {
        let stop = CancellationToken::new();
        let _ = first.keep(&stop).await;
    });
    let mut second = elector(&standin, "replica-b");
    let trying_since = renew_time(&lease_spec(&standin));
    let standby = tokio::spawn(async move {
        let acquired = second.acquire(&CancellationToken::new()).await;
        (acquired, second)
    });
    renewed_past(&standin, trying_since + lease_span() * 2).await;
    assert!(
        !standby.is_finished(),
        "the standby took a Lease that was being renewed"
    );
    assert_eq!(holder(&standin).as_deref(), Some("replica-a"));

    // The holder dies without releasing (SIGKILL): the standby takes over, and not before a
    // lease duration has passed since the dead holder's renewals stopped (`renewed` is one of
    // them, so no later than its last).
    let renewed = renew_time(&lease_spec(&standin));
    keep.abort();
    let (acquired, _second) = standby.await.unwrap();
    assert!(acquired);
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
    let acquired_at = spec.acquire_time.unwrap().0;
    assert!(
        acquired_at >= renewed + lease_span(),
        "taken over at {acquired_at}, a lease duration after {renewed} had not passed"
    );
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
    let released = standin.requests().len();
    let mut second = elector(&standin, "replica-b");
    assert!(second.acquire(&CancellationToken::new()).await);
    // Free at once: the standby's first look at the released Lease took it (one read, one
    // write), no waiting for a lease duration to pass.
    let attempts: Vec<String> = standin.requests()[released..]
        .iter()
        .filter(|r| r.path == LEASE_PATH)
        .map(|r| r.method.clone())
        .collect();
    assert_eq!(
        attempts,
        ["GET", "PUT"],
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
