//! The inventory against the real bed: it sees journal keys, entry objects, images and trash,
//! and calls a namespace empty only when they are all gone (an empty directory object and
//! librbd's bookkeeping may stay).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::panic::AssertUnwindSafe;
use std::time::Duration;

use ceph::rbd::{self, CreateOptions, Features};
use ceph::{Cluster, Credentials, Timeouts};
use futures::FutureExt as _;
use journal::{Config, Journal, Request};
use rig::inventory::Inventory;
use rig::scratch::{ScratchNamespace, wait_for_trash_purge};
use sepia_testbed::Bed;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inventory_sees_every_leftover_until_all_are_gone() {
    let bed = Bed::get();
    let creds = Credentials::new(&bed.monitors, &bed.user, &bed.key);
    let cluster = Cluster::connect(&creds, &Timeouts::default())
        .await
        .unwrap();
    let scratch = ScratchNamespace::create(&cluster, &bed.pool, &bed.unique_name("bench-inv"))
        .await
        .unwrap();
    let io = scratch.io.clone();
    let body = async {
        assert!(
            Inventory::take(&io).await.unwrap().holds_nothing(),
            "a fresh namespace"
        );

        let volumes = Journal::volumes(cluster.clone(), io.clone(), &Config::default()).unwrap();
        let entry = volumes
            .reserve(&Request::new("pvc-left"))
            .await
            .unwrap()
            .entry;
        let options = CreateOptions {
            features: Some(Features::LAYERING),
            ..Default::default()
        };
        rbd::create(&io, &entry.image_name, 4 << 20, &options)
            .await
            .unwrap();
        rbd::create(&io, "trashed", 4 << 20, &options)
            .await
            .unwrap();
        rbd::trash_move(&io, "trashed").await.unwrap();

        let left = Inventory::take(&io).await.unwrap();
        assert!(!left.holds_nothing());
        assert_eq!(left.images.len(), 1);
        assert_eq!(left.images[0].name, entry.image_name);
        assert_eq!(left.trash.len(), 1);
        assert_eq!(left.directory_key_count(), 1);
        assert_eq!(left.directories[0].oid, "csi.volumes.default");
        assert_eq!(left.directories[0].keys, ["csi.volume.pvc-left"]);
        assert_eq!(
            left.journal_entries,
            [format!("csi.volume.{}", entry.location.uuid)]
        );
        assert!(
            left.image_objects
                .iter()
                .any(|o| o.starts_with("rbd_header.")),
            "{left:?}"
        );

        // Remove the image, purge the trash, undo the journal: nothing left but the directory
        // object (now without keys) and librbd's own objects.
        rbd::remove(&io, &entry.image_name).await.unwrap();
        let trashed = rbd::trash_list(&io).await.unwrap();
        rbd::trash_remove(&io, &trashed[0].id, true).await.unwrap();
        wait_for_trash_purge(&io, Duration::from_secs(30))
            .await
            .unwrap();
        volumes.delete(&entry.location).await.unwrap();
        let left = Inventory::take(&io).await.unwrap();
        assert!(left.holds_nothing(), "{left:?}");
        assert_eq!(left.directories.len(), 1);
        assert!(left.directories[0].keys.is_empty());
    };
    let outcome = AssertUnwindSafe(body).catch_unwind().await;
    let before = scratch.remove().await.unwrap();
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
    assert!(before.holds_nothing());
    let pool_io = cluster.ioctx(&bed.pool, "").await.unwrap();
    let name = io.namespace().to_owned();
    assert!(!rbd::namespace_list(&pool_io).await.unwrap().contains(&name));
    assert!(
        io.list_objects().await.unwrap().is_empty(),
        "no object survives the namespace"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removing_a_scratch_namespace_clears_clone_chains_and_trash_first() {
    let bed = Bed::get();
    let creds = Credentials::new(&bed.monitors, &bed.user, &bed.key);
    let cluster = Cluster::connect(&creds, &Timeouts::default())
        .await
        .unwrap();
    let scratch = ScratchNamespace::create(&cluster, &bed.pool, &bed.unique_name("bench-rm"))
        .await
        .unwrap();
    let io = scratch.io.clone();
    let name = scratch.name.clone();
    let options = CreateOptions {
        features: Some(Features::LAYERING),
        ..Default::default()
    };
    // What a failed run leaves: a parent whose snapshot went to the trash namespace because a
    // clone needs it, the clone, a trashed image, and journal objects.
    rbd::create(&io, "parent", 4 << 20, &options).await.unwrap();
    let parent = rbd::open(&io, "parent").await.unwrap();
    parent.snap_create("s").await.unwrap();
    rbd::clone(&io, "parent", "s", &io, "child", &options)
        .await
        .unwrap();
    parent.snap_remove("s").await.unwrap();
    parent.close().await.unwrap();
    rbd::create(&io, "trashed", 4 << 20, &options)
        .await
        .unwrap();
    rbd::trash_move(&io, "trashed").await.unwrap();
    let volumes = Journal::volumes(cluster.clone(), io.clone(), &Config::default()).unwrap();
    volumes.reserve(&Request::new("pvc-x")).await.unwrap();

    let before = scratch.remove().await.unwrap();
    assert_eq!(before.images.len(), 2);
    assert_eq!(before.trash.len(), 1);
    assert_eq!(before.directory_key_count(), 1);
    let pool_io = cluster.ioctx(&bed.pool, "").await.unwrap();
    assert!(!rbd::namespace_list(&pool_io).await.unwrap().contains(&name));
    assert!(io.list_objects().await.unwrap().is_empty());
}
