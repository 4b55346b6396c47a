//! Leader election with kube-lease-manager (server-side apply on a Lease): two managers, one
//! holder at a time, hand-over on release, and loss when someone else takes the Lease.

use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;
use kube_lease_manager::{LeaseManager, LeaseManagerBuilder};
use kube_standin::{Gvr, StandIn};
use serde_json::json;
use tokio::sync::watch;

const LEASE: &str = "sepia-provisioner";

async fn manager(client: kube::Client, identity: &str) -> LeaseManager {
    LeaseManagerBuilder::new(client, LEASE)
        .with_namespace("default")
        .with_identity(identity)
        .with_duration(3)
        .with_grace(1)
        .build()
        .await
        .unwrap()
}

fn holder(standin: &StandIn) -> Option<String> {
    standin
        .get_json(&Gvr::of::<Lease>(), "default", LEASE)
        .and_then(|l| l["spec"]["holderIdentity"].as_str().map(str::to_owned))
}

async fn until_leader(rx: &mut watch::Receiver<bool>) {
    tokio::time::timeout(Duration::from_secs(30), rx.wait_for(|leader| *leader))
        .await
        .expect("leadership within 30s")
        .unwrap();
}

#[tokio::test]
async fn two_lease_managers_never_lead_together_and_hand_over_on_release() {
    let standin = StandIn::start().await.unwrap();
    let (mut rx_a, task_a) = manager(standin.client().unwrap(), "replica-a")
        .await
        .watch()
        .await;
    let (mut rx_b, task_b) = manager(standin.client().unwrap(), "replica-b")
        .await
        .watch()
        .await;

    // Whoever wins, exactly one leads and the Lease names it; watch through several renewals.
    tokio::time::timeout(Duration::from_secs(30), async {
        while !*rx_a.borrow() && !*rx_b.borrow() {
            tokio::select! {
                _ = rx_a.changed() => {}
                _ = rx_b.changed() => {}
            }
        }
    })
    .await
    .expect("a leader within 30s");
    for _ in 0..80 {
        let (a, b) = (*rx_a.borrow(), *rx_b.borrow());
        assert!(!(a && b), "both replicas think they lead");
        assert!(a || b, "leadership lost without cause");
        let expected = if a { "replica-a" } else { "replica-b" };
        assert_eq!(holder(&standin).as_deref(), Some(expected));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // The leader steps down (its receiver dropped → release); the other takes over.
    let (mut follower_rx, follower_task, leader_task, follower) = if *rx_a.borrow() {
        drop(rx_a);
        (rx_b, task_b, task_a, "replica-b")
    } else {
        drop(rx_b);
        (rx_a, task_a, task_b, "replica-a")
    };
    leader_task.await.unwrap().unwrap();
    until_leader(&mut follower_rx).await;
    assert_eq!(holder(&standin).as_deref(), Some(follower));
    drop(follower_rx);
    follower_task.await.unwrap().unwrap();
}

#[tokio::test]
async fn a_leader_notices_when_another_holder_takes_the_lease() {
    let standin = StandIn::start().await.unwrap();
    let (mut rx, task) = manager(standin.client().unwrap(), "replica-a")
        .await
        .watch()
        .await;
    until_leader(&mut rx).await;

    // Another party (e.g. a replica whose clock ran ahead) overwrites the Lease.
    let now = "2099-01-01T00:00:00.000000Z";
    let mut lease = standin
        .get_json(&Gvr::of::<Lease>(), "default", LEASE)
        .unwrap();
    lease["spec"] = json!({
        "holderIdentity": "intruder", "acquireTime": now, "renewTime": now, "leaseDurationSeconds": 3600
    });
    standin.put_object(&Gvr::of::<Lease>(), lease).unwrap();

    tokio::time::timeout(Duration::from_secs(30), rx.wait_for(|leader| !*leader))
        .await
        .expect("loss noticed within 30s")
        .unwrap();
    assert_eq!(holder(&standin).as_deref(), Some("intruder"));
    drop(rx);
    task.await.unwrap().unwrap();
}
