//! The children a snapshot lists, against the real bed: what proves a clone complete before
//! its source snapshot may be removed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use ceph::rbd::{self, CreateOptions, Features};

const MIB: u64 = 1 << 20;

fn layered() -> CreateOptions {
    CreateOptions {
        features: Some(Features::LAYERING),
        ..Default::default()
    }
}

#[tokio::test]
async fn a_snapshot_lists_its_clones_and_only_them() {
    common::in_namespace("rbd-children", true, |ns| async move {
        let io = &ns.io;
        rbd::create(io, "parent", 4 * MIB, &layered())
            .await
            .unwrap();
        let parent = rbd::open(io, "parent").await.unwrap();
        parent.snap_create("a").await.unwrap();
        parent.snap_create("b").await.unwrap();
        parent.close().await.unwrap();
        assert!(rbd::children(io, "parent", "a").await.unwrap().is_empty());

        rbd::clone(io, "parent", "a", io, "child-a", &layered())
            .await
            .unwrap();
        rbd::clone(io, "parent", "b", io, "child-b", &layered())
            .await
            .unwrap();
        // A plain image under a clone's name is nobody's child.
        rbd::create(io, "impostor", 4 * MIB, &layered())
            .await
            .unwrap();

        let listed = rbd::children(io, "parent", "a").await.unwrap();
        assert_eq!(listed.len(), 1, "{listed:?}");
        let child = &listed[0];
        assert_eq!(child.image_name, "child-a");
        assert_eq!(child.namespace, ns.name);
        assert_eq!(child.pool_id, io.pool_id());
        assert_eq!(child.pool_name, common::bed().pool);
        assert!(!child.trash);
        let child_img = rbd::open(io, "child-a").await.unwrap();
        assert_eq!(child.image_id, child_img.id().await.unwrap());
        child_img.close().await.unwrap();

        let names: Vec<String> = rbd::children(io, "parent", "b")
            .await
            .unwrap()
            .into_iter()
            .map(|c| c.image_name)
            .collect();
        assert_eq!(names, ["child-b"]);

        // Listing leaves no watch behind on the parent.
        let parent = rbd::open(io, "parent").await.unwrap();
        assert_eq!(parent.watchers().await.unwrap().len(), 1);
        parent.close().await.unwrap();

        let err = rbd::children(io, "parent", "missing").await.unwrap_err();
        assert!(err.is_not_found(), "{err:?}");
        let err = rbd::children(io, "absent", "a").await.unwrap_err();
        assert!(err.is_not_found(), "{err:?}");

        for image in ["child-a", "child-b", "impostor"] {
            rbd::remove(io, image).await.unwrap();
        }
        assert!(rbd::children(io, "parent", "a").await.unwrap().is_empty());
        let parent = rbd::open(io, "parent").await.unwrap();
        parent.snap_remove("a").await.unwrap();
        parent.snap_remove("b").await.unwrap();
        parent.close().await.unwrap();
        rbd::remove(io, "parent").await.unwrap();
    })
    .await;
}
