//! `sepia orphans`: every kind of leftover made on purpose — the real controller crashed at its
//! failpoints, images and journal objects deleted behind its back — is listed, nothing else is,
//! and `--delete` removes exactly those while the healthy volume and snapshot stay.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeSet;

use common::findings::{finding, findings};
use common::{Fixture, bed, uuid_of};
use failpoint::Action;

/// The fields the findings are compared by.
const WHAT_UUID: &[&str] = &["what", "uuid"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orphans_lists_exactly_the_leftovers_made_and_delete_removes_exactly_those() {
    Fixture::run(|fx| async move {
        let pool = bed().pool.clone();
        let io = &fx.ns.io;
        // Healthy: a volume and a snapshot of it.
        let healthy = fx.create_volume("pvc-healthy").await;
        let snapshot = fx.create_snapshot("snap-healthy", &healthy.volume_id).await;

        // 1. Image deleted behind the controller's back: entry without image.
        let lost = fx.create_volume("pvc-lost-image").await;
        let lost_uuid = uuid_of(&lost.volume_id);
        ceph::rbd::remove(io, &format!("csi-vol-{lost_uuid}"))
            .await
            .unwrap();

        // 2. DeleteVolume crashed after the image went, before the journal: entry without image.
        let crashed = fx.create_volume("pvc-crashed-delete").await;
        let crashed_uuid = uuid_of(&crashed.volume_id);
        let point = controller::failpoints::delete::AFTER_PURGE_QUEUED;
        fx.failpoints.set(point, Action::Fail);
        let mut client = fx.controller.clone();
        let failed = client
            .delete_volume(fx.ns.delete_volume_request(&crashed.volume_id))
            .await;
        assert!(failed.is_err(), "the failpoint did not crash DeleteVolume");
        fx.failpoints.set(point, Action::Off);

        // 3. CreateVolume crashed after the directory key, before the entry object.
        let point = journal::failpoints::VOLUME_RESERVE_AFTER_DIRECTORY_KEY;
        fx.failpoints.set(point, Action::Fail);
        let failed = client
            .create_volume(fx.ns.create_request("pvc-crashed-create", 1 << 20))
            .await;
        assert!(failed.is_err(), "the failpoint did not crash CreateVolume");
        fx.failpoints.set(point, Action::Off);
        let dangling = fx.ns.omap("csi.volumes.default").await;
        let dangling_value = dangling
            .get("csi.volume.pvc-crashed-create")
            .expect("the crash left the directory key");
        // `<uuid>` or `<pool hex>/<uuid>`.
        let dangling_uuid = dangling_value[dangling_value.len() - 36..].to_owned();

        // 4. Journal entry deleted behind the controller's back: image without entry.
        let unjournaled = fx.create_volume("pvc-lost-entry").await;
        let unjournaled_uuid = uuid_of(&unjournaled.volume_id);
        io.remove(&format!("csi.volume.{unjournaled_uuid}"))
            .await
            .unwrap();
        io.omap_remove_keys("csi.volumes.default", &["csi.volume.pvc-lost-entry"])
            .await
            .unwrap();

        let report = fx.sepia_json(&["orphans", "--pool", &pool]).await;
        let expected = BTreeSet::from([
            finding(&["entry-without-image", &lost_uuid]),
            finding(&["entry-without-image", &crashed_uuid]),
            finding(&["dangling-key", &dangling_uuid]),
            finding(&["image-without-entry", &unjournaled_uuid]),
        ]);
        assert_eq!(findings(&report, WHAT_UUID), expected, "{report:#}");
        for finding in report["findings"].as_array().unwrap() {
            assert!(finding["why"].as_str().is_some_and(|w| !w.is_empty()));
            assert!(finding["age_seconds"].is_u64(), "no age: {finding:#}");
            assert_eq!(finding["removable"], true);
        }

        // Not confirmed (stdin is empty): nothing is removed.
        let out = fx.sepia(&["orphans", "--pool", &pool, "--delete"]).await;
        assert!(!out.status.success());
        let again = fx.sepia_json(&["orphans", "--pool", &pool]).await;
        assert_eq!(findings(&again, WHAT_UUID), expected);

        let deleted = fx
            .sepia_json(&["orphans", "--pool", &pool, "--delete", "--yes"])
            .await;
        common::findings::assert_all_removed(&deleted, 4);
        let after = fx.sepia_json(&["orphans", "--pool", &pool]).await;
        assert_eq!(
            findings(&after, WHAT_UUID),
            BTreeSet::<Vec<String>>::new(),
            "{after:#}"
        );

        // Exactly those went: Ceph holds the healthy volume and snapshot, and none of the rest.
        let images: BTreeSet<String> = fx.ns.images().await.into_iter().collect();
        let healthy_image = format!("csi-vol-{}", uuid_of(&healthy.volume_id));
        let snapshot_image = format!("csi-snap-{}", uuid_of(&snapshot.snapshot_id));
        assert!(images.contains(&healthy_image), "{images:?}");
        assert!(images.contains(&snapshot_image), "{images:?}");
        assert!(
            !images.contains(&format!("csi-vol-{unjournaled_uuid}")),
            "{images:?}"
        );
        let directory = fx.ns.omap("csi.volumes.default").await;
        let keys: BTreeSet<&str> = directory.keys().map(String::as_str).collect();
        assert_eq!(keys, BTreeSet::from(["csi.volume.pvc-healthy"]));
        for uuid in [&lost_uuid, &crashed_uuid, &dangling_uuid] {
            assert!(
                !io.exists(&format!("csi.volume.{uuid}")).await.unwrap(),
                "{uuid}"
            );
        }
        let inspect = fx.sepia_json(&["inspect", &healthy.volume_id]).await;
        assert_eq!(inspect["journal"]["directory_points_here"], true);
        assert!(inspect["image"].is_object());
    })
    .await;
}
