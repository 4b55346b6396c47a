//! Two replicas with `--leader-election`: one holds both Leases
//! (`external-snapshotter-leader-<driver>` and `snapshot-controller-leader`) and does all the
//! work; when it dies, the other takes over and snapshots keep becoming ready.

use std::time::{Duration, Instant};

use snapshot_api::DeletionPolicy;

use crate::harness::*;

const MIB: i64 = 1 << 20;
const CONTROLLER_LEASE: &str = "snapshot-controller-leader";

async fn wait_holder(env: &Env, lease: &str, prefix: Option<&str>) -> String {
    let start = Instant::now();
    loop {
        if let Some(holder) = env.lease_holder(lease)
            && prefix.is_none_or(|p| holder.starts_with(p))
        {
            return holder;
        }
        if start.elapsed() > WAIT {
            env.dump_logs();
            panic!("Lease {lease} never held by {prefix:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_replica_leads_and_a_standby_takes_over_when_it_dies() {
    let mut env = Env::start("leader").await;
    let flags = [
        "--leader-election",
        "--leader-election-lease-duration=3s",
        "--leader-election-renew-deadline=2s",
        "--leader-election-retry-period=500ms",
    ];
    env.start_snapshotter("replica-a", &flags);
    env.start_snapshotter("replica-b", &flags);
    let volume_id = env.create_volume("pvc-leader-source", 16 * MIB).await;
    env.put_bound_claim("apps", "data", &volume_id, "16Mi");
    env.put_class("rbd-default", DeletionPolicy::Delete, true);

    let holder = wait_holder(&env, SNAPSHOTTER_LEASE, None).await;
    let (leader, standby) = if holder.starts_with("replica-a") {
        ("replica-a", "replica-b")
    } else {
        ("replica-b", "replica-a")
    };
    let controller_holder = wait_holder(&env, CONTROLLER_LEASE, None).await;
    assert!(
        controller_holder.starts_with(leader),
        "{controller_holder} vs {holder}"
    );

    env.put_snapshot("apps", "first", "data", None);
    env.wait_ready("apps", "first").await;
    env.wait_log(leader, "CreateSnapshot answered").await;
    assert!(
        !env.process(standby)
            .log_text()
            .contains("CreateSnapshot answered"),
        "the standby must not act"
    );

    let killed = Instant::now();
    env.process(leader).kill().await;
    let new_holder = wait_holder(&env, SNAPSHOTTER_LEASE, Some(standby)).await;
    wait_holder(&env, CONTROLLER_LEASE, Some(standby)).await;
    eprintln!(
        "leader killed → {new_holder} leads after {:?}",
        killed.elapsed()
    );

    env.put_snapshot("apps", "second", "data", None);
    env.wait_ready("apps", "second").await;
    env.wait_log(standby, "CreateSnapshot answered").await;

    for name in ["first", "second"] {
        env.delete::<snapshot_api::VolumeSnapshot>("apps", name);
        env.wait_gone::<snapshot_api::VolumeSnapshot>("apps", name, "snapshot gone")
            .await;
    }
    env.delete_volume(&volume_id).await;
    env.wait_images(&[]).await;
}
