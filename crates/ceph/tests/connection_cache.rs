//! ConnectionCache against the real bed: reuse, keying by key hash, single connect under
//! concurrency, failures not cached, idle expiry.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use ceph::{Cluster, ConnectionCache, Credentials, Timeouts};
use serde::Deserialize;
use serde_json::json;

const WRONG_KEY: &str = "AQBKqwNr0aFhKxAAXD53fkfa5BAcBk1oDL/50g==";

fn timeouts() -> Timeouts {
    Timeouts {
        connect: Duration::from_secs(5),
        op: Duration::from_secs(30),
    }
}

#[tokio::test]
async fn same_credentials_share_one_connection_and_concurrent_gets_connect_once() {
    let cache = ConnectionCache::new(timeouts(), Duration::from_secs(300));
    let creds = common::creds();
    let (a, b, c, d) = tokio::join!(
        cache.get(&creds),
        cache.get(&creds),
        cache.get(&creds),
        cache.get(&creds)
    );
    let (a, b, c, d) = (a.unwrap(), b.unwrap(), c.unwrap(), d.unwrap());
    assert!(Cluster::ptr_eq(&a, &b) && Cluster::ptr_eq(&a, &c) && Cluster::ptr_eq(&a, &d));
    let again = cache.get(&creds).await.unwrap();
    assert!(Cluster::ptr_eq(&a, &again));
    assert_eq!(cache.len(), 1);
    // It is a live connection.
    assert_eq!(again.fsid().await.unwrap().len(), 36);
}

#[tokio::test]
async fn key_and_user_are_part_of_the_cache_key() {
    let bed = common::bed();
    let cache = ConnectionCache::new(timeouts(), Duration::from_secs(300));
    let admin = cache.get(&common::creds()).await.unwrap();

    // Same monitors and user, wrong key: must not be handed the cached admin connection.
    let wrong = Credentials::new(bed.monitors.clone(), bed.user.clone(), WRONG_KEY);
    assert!(cache.get(&wrong).await.is_err());
    assert_eq!(cache.len(), 1, "a failed connect is not cached");

    // Another user with its own (valid) key gets its own connection.
    #[derive(Deserialize)]
    struct Entity {
        key: String,
    }
    let user = bed.unique_name("sepia-cache");
    let out = admin
        .mon_command(json!({
            "prefix": "auth get-or-create", "entity": format!("client.{user}"),
            "caps": ["mon", "allow r"], "format": "json"
        }))
        .await
        .unwrap();
    let entities: Vec<Entity> = out.json().unwrap();
    let other = Credentials::new(bed.monitors.clone(), user.clone(), entities[0].key.clone());
    let other_cluster = cache.get(&other).await.unwrap();
    assert!(!Cluster::ptr_eq(&admin, &other_cluster));
    assert_eq!(cache.len(), 2);
    assert!(Cluster::ptr_eq(
        &admin,
        &cache.get(&common::creds()).await.unwrap()
    ));
    admin
        .mon_command(json!({"prefix": "auth del", "entity": format!("client.{user}")}))
        .await
        .unwrap();
}

#[tokio::test]
async fn idle_entries_expire() {
    let cache = ConnectionCache::new(timeouts(), Duration::from_secs(1));
    let creds = common::creds();
    let first = cache.get(&creds).await.unwrap();
    assert_eq!(cache.len(), 1);
    // The background sweep drops the entry without any further get.
    let swept = common::eventually(Duration::from_secs(10), || async { cache.is_empty() }).await;
    assert!(swept, "idle entry was not swept");
    let second = cache.get(&creds).await.unwrap();
    assert!(
        !Cluster::ptr_eq(&first, &second),
        "an expired entry reconnects"
    );
    // The old handle, still held here, keeps working on its own.
    assert_eq!(first.fsid().await.unwrap(), second.fsid().await.unwrap());
}
