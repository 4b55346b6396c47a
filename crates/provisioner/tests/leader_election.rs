//! Two provisioner replicas with leader election: only the Lease holder acts; when it is
//! killed (SIGKILL, no release) the standby takes over once the lease ran out, and no volume
//! is created twice. Lease timing is read from the Lease the replicas write, not the test's
//! clock.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::api::core::v1::PersistentVolume;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube_standin::{Gvr, Verb, WriteEffect};
use support::{CLASS, World};

const WAIT: Duration = Duration::from_secs(90);
const LEASE_DURATION: Duration = Duration::from_secs(4);

fn lease(world: &World) -> Option<LeaseSpec> {
    world
        .standin
        .get::<Lease>("default", "rbd-csi-sepia-io")
        .unwrap()
        .and_then(|l| l.spec)
}

fn holder(world: &World) -> Option<String> {
    lease(world).and_then(|s| s.holder_identity)
}

/// The Lease's renewTime and acquireTime, as the replicas wrote them.
fn lease_times(world: &World) -> (Timestamp, Timestamp) {
    let spec = lease(world).unwrap();
    (spec.renew_time.unwrap().0, spec.acquire_time.unwrap().0)
}

fn span(duration: Duration) -> SignedDuration {
    SignedDuration::try_from(duration).unwrap()
}

/// User agents of the processes that created PVs.
fn pv_creators(world: &World) -> Vec<String> {
    world
        .standin
        .events()
        .into_iter()
        .filter(|w| {
            w.gvr == Gvr::of::<PersistentVolume>()
                && w.verb == Verb::Create
                && w.effect == WriteEffect::Created
        })
        .map(|w| w.user_agent)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_leader_provisions_and_a_standby_takes_over_after_a_kill() {
    let mut world = World::start(None).await;
    let flags = [
        "--leader-election",
        "--leader-election-namespace=default",
        "--leader-election-lease-duration=4s",
        "--leader-election-renew-deadline=3s",
        "--leader-election-retry-period=500ms",
    ];
    let mut a = world.provisioner(&flags, &[("POD_NAME", "replica-a")]);
    world
        .eventually("replica-a leads", WAIT, || {
            holder(&world).is_some_and(|h| h.starts_with("replica-a"))
        })
        .await;
    let _b = world.provisioner(&flags, &[("POD_NAME", "replica-b")]);

    for i in 0..5 {
        world.claim(&format!("first-{i}"), "32Mi", CLASS, None);
    }
    for i in 0..5 {
        world.wait_bound(&format!("first-{i}"), WAIT).await;
    }
    let creators = pv_creators(&world);
    assert_eq!(creators.len(), 5);
    assert!(
        creators
            .iter()
            .all(|ua| ua.starts_with("sepia-provisioner/replica-a")),
        "{creators:?}"
    );
    let b_writes: Vec<_> = world
        .standin
        .events()
        .into_iter()
        .filter(|w| w.user_agent.starts_with("sepia-provisioner/replica-b"))
        .collect();
    assert!(b_writes.is_empty(), "the standby wrote: {b_writes:?}");

    // One of replica-a's renewals (its last, or an earlier one).
    let (renewed, _) = lease_times(&world);
    a.kill().await;
    world
        .eventually("replica-b takes over", WAIT, || {
            holder(&world).is_some_and(|h| h.starts_with("replica-b"))
        })
        .await;
    let (_, acquired) = lease_times(&world);
    assert!(
        acquired >= renewed + span(LEASE_DURATION),
        "replica-b took the Lease at {acquired}, before replica-a's (renewed {renewed}) ran out"
    );

    for i in 0..5 {
        world.claim(&format!("second-{i}"), "32Mi", CLASS, None);
    }
    for i in 0..5 {
        world.wait_bound(&format!("second-{i}"), WAIT).await;
    }
    let creators = pv_creators(&world);
    assert_eq!(creators.len(), 10);
    assert!(
        creators[5..]
            .iter()
            .all(|ua| ua.starts_with("sepia-provisioner/replica-b")),
        "{creators:?}"
    );
    assert_eq!(
        world.controller.images().len(),
        10,
        "exactly one image per claim"
    );
    assert_eq!(world.controller.journal_keys().len(), 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_stopped_with_sigterm_hands_over_without_waiting_for_the_lease_to_expire() {
    let mut world = World::start(None).await;
    // A long lease: a standby that had to wait for expiry would take 30 s.
    let flags = [
        "--leader-election",
        "--leader-election-namespace=default",
        "--leader-election-lease-duration=30s",
        "--leader-election-renew-deadline=20s",
        "--leader-election-retry-period=500ms",
    ];
    let mut a = world.provisioner(&flags, &[("POD_NAME", "replica-a")]);
    world
        .eventually("replica-a leads", WAIT, || {
            holder(&world).is_some_and(|h| h.starts_with("replica-a"))
        })
        .await;
    let _b = world.provisioner(&flags, &[("POD_NAME", "replica-b")]);
    world.claim("before", "32Mi", CLASS, None);
    world.wait_bound("before", WAIT).await;

    // One of replica-a's renewals (its last, or an earlier one).
    let (renewed, _) = lease_times(&world);
    a.sigterm();
    let status = tokio::time::timeout(Duration::from_secs(20), a.wait())
        .await
        .expect("the leader exits on SIGTERM");
    assert!(status.success(), "graceful stop exits 0: {status:?}");
    world
        .eventually("replica-b takes over", WAIT, || {
            holder(&world).is_some_and(|h| h.starts_with("replica-b"))
        })
        .await;
    let (_, acquired) = lease_times(&world);
    assert!(
        acquired < renewed + span(Duration::from_secs(30)),
        "replica-b took the Lease at {acquired}: it waited for replica-a's (renewed {renewed}) to \
         expire instead of taking the released one"
    );
    world.claim("after", "32Mi", CLASS, None);
    world.wait_bound("after", WAIT).await;
    let creators = pv_creators(&world);
    assert_eq!(creators.len(), 2);
    assert!(
        creators[1].starts_with("sepia-provisioner/replica-b"),
        "{creators:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_that_cannot_renew_stops_and_exits_non_zero() {
    let mut world = World::start(None).await;
    let flags = [
        "--leader-election",
        "--leader-election-namespace=default",
        "--leader-election-lease-duration=4s",
        "--leader-election-renew-deadline=3s",
        "--leader-election-retry-period=500ms",
    ];
    let mut a = world.provisioner(&flags, &[("POD_NAME", "replica-a")]);
    world
        .eventually("replica-a leads", WAIT, || {
            holder(&world).is_some_and(|h| h.starts_with("replica-a"))
        })
        .await;
    // The API server becomes unreachable: renewals fail, so after the renew deadline another
    // replica may lead — this one must stop acting and exit (the pod restarts as a standby).
    world.standin.pause();
    let status = tokio::time::timeout(Duration::from_secs(30), a.wait())
        .await
        .expect("the leader gives up instead of acting without a Lease");
    world.standin.resume();
    assert!(
        !status.success(),
        "losing the Lease is a failure exit: {status:?}"
    );
    assert!(a.log().contains("lost leadership"), "{}", a.log());
}
