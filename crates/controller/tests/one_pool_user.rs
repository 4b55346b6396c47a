//! A controller whose cephx user may use one pool only (`osd 'profile rbd pool=<one>'`), as
//! an operator limits it: the walks over every pool (ListVolumes, ListSnapshots, the start-up
//! resume pass) cover the pool it can read and skip the others, rather than fail
//! PERMISSION_DENIED; credentials that can read no pool at all still fail.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;

use ceph::Cluster;
use common::{Fixture, GIB, code, uuid_of};
use csi::v1::{ListSnapshotsRequest, ListVolumesRequest};
use futures::FutureExt as _;
use serde::Deserialize;
use serde_json::json;
use tonic::Code;

/// A cephx user made for one test, removed afterwards.
struct User {
    name: String,
    key: String,
}

/// Creates `client.<unique>` with `profile rbd` on the monitors and on `pool` only.
async fn user_for_pool(admin: &Cluster, prefix: &str, pool: &str) -> User {
    #[derive(Deserialize)]
    struct Entity {
        key: String,
    }
    let name = common::bed().unique_name(prefix);
    let out = admin
        .mon_command(json!({
            "prefix": "auth get-or-create",
            "entity": format!("client.{name}"),
            "caps": ["mon", "profile rbd", "osd", format!("profile rbd pool={pool}")],
            "format": "json",
        }))
        .await
        .unwrap();
    let entities: Vec<Entity> = out.json().unwrap();
    User {
        name,
        key: entities[0].key.clone(),
    }
}

async fn remove(admin: &Cluster, user: &User) {
    admin
        .mon_command(json!({"prefix": "auth rm", "entity": format!("client.{}", user.name)}))
        .await
        .unwrap();
}

/// Pools of the bed other than the one the test's user may use: without one the test would
/// prove nothing.
async fn other_pools(admin: &Cluster) -> Vec<String> {
    #[derive(Deserialize)]
    struct Pool {
        poolname: String,
    }
    let out = admin
        .mon_command(json!({"prefix": "osd lspools", "format": "json"}))
        .await
        .unwrap();
    let pools: Vec<Pool> = out.json().unwrap();
    pools
        .into_iter()
        .map(|p| p.poolname)
        .filter(|p| *p != common::bed().pool)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_limited_to_one_pool_lists_and_resumes_what_it_can_read() {
    let admin = common::admin().await;
    let others = other_pools(&admin).await;
    assert!(
        !others.is_empty(),
        "the bed has no pool besides {}",
        common::bed().pool
    );
    let one_pool = user_for_pool(&admin, "sepia-one-pool", &common::bed().pool).await;
    // Caps on a pool that does not exist: it can read none.
    let no_pool = user_for_pool(&admin, "sepia-no-pool", "sepia-no-such-pool").await;
    let no_pool_secrets = HashMap::from([
        ("userID".to_owned(), no_pool.name.clone()),
        ("userKey".to_owned(), no_pool.key.clone()),
    ]);
    let body = Fixture::builder()
        .standing_user(&one_pool.name, &one_pool.key)
        .run(|fx| async move {
            let volume = fx.create_volume("pvc-one-pool", GIB).await;
            let snapshot = fx
                .create_snapshot_unprepared(
                    fx.snapshot_request("snapshot-one-pool", &volume.volume_id),
                )
                .await;

            // ListVolumes runs with the standing credentials, and so does ListSnapshots
            // without secrets: one page each (no token), holding what the namespace has.
            let volumes = fx
                .client()
                .list_volumes(ListVolumesRequest::default())
                .await
                .unwrap()
                .into_inner();
            assert!(volumes.next_token.is_empty());
            let snapshots = fx
                .client()
                .list_snapshots(ListSnapshotsRequest::default())
                .await
                .unwrap()
                .into_inner();
            assert!(snapshots.next_token.is_empty());
            let ids = |ids: Vec<Option<String>>| ids.into_iter().flatten().collect::<Vec<_>>();
            assert_eq!(
                ids(volumes
                    .entries
                    .into_iter()
                    .map(|e| e.volume.map(|v| v.volume_id))
                    .collect()),
                vec![volume.volume_id.clone()]
            );
            assert_eq!(
                ids(snapshots
                    .entries
                    .into_iter()
                    .map(|e| e.snapshot.map(|s| s.snapshot_id))
                    .collect()),
                vec![snapshot.snapshot_id.clone()]
            );

            // The start-up pass prepares the snapshot cut short.
            let prepared = controller::snapshot::resume::resume_unprepared(&fx.state)
                .await
                .unwrap();
            assert_eq!(prepared, 1);
            let oid = format!("csi.snap.{}", uuid_of(&snapshot.snapshot_id));
            assert!(fx.omap(&oid).await.contains_key("csi.imageid"));

            // Credentials that can read no pool: refused, not an empty list.
            let status = code(
                fx.client()
                    .list_snapshots(ListSnapshotsRequest {
                        secrets: no_pool_secrets,
                        ..Default::default()
                    })
                    .await,
            );
            assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");

            fx.delete_snapshot(&snapshot.snapshot_id).await;
            fx.delete_volume(&volume.volume_id).await;
            assert_eq!(fx.leftovers().await, Vec::<String>::new());
        });
    let outcome = AssertUnwindSafe(body).catch_unwind().await;
    remove(&admin, &one_pool).await;
    remove(&admin, &no_pool).await;
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}
