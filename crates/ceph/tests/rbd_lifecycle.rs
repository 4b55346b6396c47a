//! RBD image life cycle against the real bed, each test in its own rbd namespace:
//! create → snapshot → clone v2 → flatten → trash → mgr-purged trash.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use ceph::Error;
use ceph::rbd::{self, CreateOptions, Features, SnapNamespace};
use serde_json::json;

const MIB: u64 = 1 << 20;

fn layered() -> CreateOptions {
    CreateOptions {
        features: Some(Features::LAYERING | Features::DEEP_FLATTEN),
        ..Default::default()
    }
}

#[tokio::test]
async fn trash_entries_carry_source_and_times_and_a_deferment_holds_off_removal() {
    common::in_namespace("rbd-trash", true, |ns| async move {
        let io = &ns.io;
        rbd::create(io, "now", MIB, &layered()).await.unwrap();
        rbd::create(io, "later", MIB, &layered()).await.unwrap();
        rbd::trash_move(io, "now").await.unwrap();
        rbd::trash_move_deferred(io, "later", Duration::from_secs(3600))
            .await
            .unwrap();
        let trash = rbd::trash_list(io).await.unwrap();
        let entry = |name: &str| trash.iter().find(|e| e.name == name).unwrap().clone();
        let (now, later) = (entry("now"), entry("later"));
        for e in [&now, &later] {
            assert_eq!(e.source, rbd::TrashSource::User, "{e:?}");
            assert!(e.deletion_time > std::time::UNIX_EPOCH, "{e:?}");
        }
        assert_eq!(
            now.deferment_end_time, now.deletion_time,
            "no deferment: {now:?}"
        );
        assert_eq!(
            later
                .deferment_end_time
                .duration_since(later.deletion_time)
                .unwrap(),
            Duration::from_secs(3600),
            "{later:?}"
        );
        // librbd refuses to remove a deferred entry unless forced.
        let err = rbd::trash_remove(io, &later.id, false).await.unwrap_err();
        assert!(!err.is_not_found(), "{err:?}");
        rbd::trash_remove(io, &now.id, false).await.unwrap();
        rbd::trash_remove(io, &later.id, true).await.unwrap();
        assert!(rbd::trash_list(io).await.unwrap().is_empty());
    })
    .await;
}

#[tokio::test]
async fn clone_flatten_trash_and_mgr_purge() {
    common::in_namespace("rbd-life", true, |ns| async move {
        let io = &ns.io;
        rbd::create(io, "parent", 16 * MIB, &layered()).await.unwrap();
        let err = rbd::create(io, "parent", 16 * MIB, &layered()).await.unwrap_err();
        assert!(err.is_already_exists(), "{err:?}");

        let parent = rbd::open(io, "parent").await.unwrap();
        parent.snap_create("snap1").await.unwrap();
        let err = parent.snap_create("snap1").await.unwrap_err();
        assert!(err.is_already_exists(), "{err:?}");
        let parent_id = parent.id().await.unwrap();

        rbd::clone(io, "parent", "snap1", io, "child", &layered()).await.unwrap();
        let child = rbd::open(io, "child").await.unwrap();
        let info = child.parent().await.unwrap().expect("a clone has a parent");
        assert_eq!(info.image_name, "parent");
        assert_eq!(info.image_id, parent_id);
        assert_eq!(info.snap_name, "snap1");
        assert_eq!(info.pool_name, common::bed().pool);
        assert_eq!(info.pool_id, io.pool_id());
        assert_eq!(info.namespace, ns.name);
        assert!(!info.trash);
        assert_eq!(child.size().await.unwrap(), 16 * MIB, "clone inherits the size");

        child.flatten().await.unwrap();
        assert_eq!(child.parent().await.unwrap(), None);
        assert!(parent.parent().await.unwrap().is_none(), "a plain image has no parent");

        // No more children: the snapshot goes away for good, not to the trash namespace.
        parent.snap_remove("snap1").await.unwrap();
        assert!(parent.snap_list().await.unwrap().is_empty());
        assert!(parent.snap_remove("snap1").await.unwrap_err().is_not_found());
        parent.close().await.unwrap();

        rbd::trash_move(io, "parent").await.unwrap();
        let names: Vec<String> = rbd::list(io).await.unwrap().into_iter().map(|s| s.name).collect();
        assert_eq!(names, ["child"], "trashed images are not listed");
        let trash = rbd::trash_list(io).await.unwrap();
        assert_eq!(trash.len(), 1);
        assert_eq!(trash[0].name, "parent");
        assert_eq!(trash[0].id, parent_id);

        // ceph-csi's way to delete: let the mgr purge the trashed image in the background.
        let spec = format!("{}/{}/{}", common::bed().pool, ns.name, parent_id);
        let task: serde_json::Value = ns
            .cluster
            .mgr_command(json!({"prefix": "rbd task add trash remove", "image_id_spec": spec, "format": "json"}))
            .await
            .unwrap()
            .json()
            .unwrap();
        assert_eq!(task["refs"]["action"], "trash remove", "{task}");
        assert_eq!(task["refs"]["image_id"], parent_id.as_str(), "{task}");
        assert_eq!(task["refs"]["pool_namespace"], ns.name.as_str(), "{task}");
        // The mgr runs rbd tasks one at a time for the whole cluster, so on a shared bed this
        // waits behind other tests' tasks: generous bound.
        let purged = common::eventually(Duration::from_secs(180), || async {
            rbd::trash_list(io).await.unwrap().is_empty()
        })
        .await;
        if !purged {
            let queue = ns.cluster.mgr_command(json!({"prefix": "rbd task list", "format": "json"})).await.unwrap();
            let queue: Vec<serde_json::Value> = queue.json().unwrap();
            panic!("the mgr did not purge the trashed image within 180 s ({} rbd tasks queued)", queue.len());
        }
        let names: Vec<String> = rbd::list(io).await.unwrap().into_iter().map(|s| s.name).collect();
        assert_eq!(names, ["child"]);
        assert!(rbd::open(io, "parent").await.unwrap_err().is_not_found());

        child.close().await.unwrap();
        rbd::remove(io, "child").await.unwrap();
        assert!(rbd::list(io).await.unwrap().is_empty());
        assert!(rbd::remove(io, "child").await.unwrap_err().is_not_found());
    })
    .await;
}

#[tokio::test]
async fn removed_snapshot_with_a_clone_v2_child_moves_to_the_trash_namespace() {
    common::in_namespace("rbd-snaptrash", true, |ns| async move {
        let io = &ns.io;
        rbd::create(io, "base", 8 * MIB, &layered()).await.unwrap();
        let base = rbd::open(io, "base").await.unwrap();
        base.snap_create("s").await.unwrap();
        rbd::clone(io, "base", "s", io, "clone", &layered())
            .await
            .unwrap();

        // Clone v2: no protection needed, and the snapshot can be removed while it has a child.
        base.snap_remove("s").await.unwrap();
        let snaps = base.snap_list().await.unwrap();
        assert_eq!(snaps.len(), 1, "{snaps:?}");
        assert_eq!(
            snaps[0].namespace,
            SnapNamespace::Trash {
                original_name: "s".into()
            }
        );
        assert_ne!(snaps[0].name, "s", "trashed snapshots get a new name");
        assert_eq!(snaps[0].size, 8 * MIB);

        // The child still reads through it.
        let clone = rbd::open(io, "clone").await.unwrap();
        let parent = clone.parent().await.unwrap().unwrap();
        assert_eq!(parent.image_name, "base");
        assert_eq!(parent.snap_name, snaps[0].name);

        // An image with a (trashed) snapshot cannot be removed.
        base.close().await.unwrap();
        let err = rbd::remove(io, "base").await.unwrap_err();
        assert!(
            matches!(err, Error::NotEmpty { .. } | Error::Busy { .. }),
            "{err:?}"
        );

        // Once the last child is gone, librbd removes the trashed snapshot itself.
        clone.close().await.unwrap();
        rbd::remove(io, "clone").await.unwrap();
        let base = rbd::open(io, "base").await.unwrap();
        assert!(base.snap_list().await.unwrap().is_empty());
        base.close().await.unwrap();
        rbd::remove(io, "base").await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn namespaces_are_created_listed_and_removed() {
    let cluster = common::connect().await;
    let bed = common::bed();
    let pool_io = cluster.ioctx(&bed.pool, "").await.unwrap();
    let name = bed.unique_name("rbd-ns");
    rbd::namespace_create(&pool_io, &name).await.unwrap();
    let err = rbd::namespace_create(&pool_io, &name).await.unwrap_err();
    assert!(err.is_already_exists(), "{err:?}");
    assert!(rbd::namespace_list(&pool_io).await.unwrap().contains(&name));
    let cli = bed.cli(
        "rbd",
        &["namespace", "ls", "--pool", &bed.pool, "--format", "json"],
    );
    assert!(cli.contains(&name), "rbd CLI sees it: {cli}");

    // Refused from inside a namespace.
    let inside = cluster.ioctx(&bed.pool, &name).await.unwrap();
    assert!(matches!(
        rbd::namespace_list(&inside).await.unwrap_err(),
        Error::InvalidArgument { .. }
    ));

    rbd::namespace_remove(&pool_io, &name).await.unwrap();
    assert!(!rbd::namespace_list(&pool_io).await.unwrap().contains(&name));
    assert!(
        rbd::namespace_remove(&pool_io, &name)
            .await
            .unwrap_err()
            .is_not_found()
    );
}
