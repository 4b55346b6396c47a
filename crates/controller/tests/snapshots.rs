//! CreateSnapshot / DeleteSnapshot / restore (CreateVolume from a snapshot): ceph-csi's
//! clone-based layout, readiness, idempotency and refusals.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::{Fixture, GIB, MIB, code, snapshot_image, uuid_of};
use csi::v1::{CreateSnapshotRequest, DeleteSnapshotRequest};
use tonic::Code;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_snapshot_is_a_clone_image_with_its_own_snapshot() {
    Fixture::run(|fx| async move {
        let volume = fx.create_volume("pvc-src", 2 * GIB).await;
        let vol_image = format!("csi-vol-{}", uuid_of(&volume.volume_id));
        let mut req = fx.snapshot_request("snapshot-1", &volume.volume_id);
        req.parameters.insert(
            "csi.storage.k8s.io/volumesnapshot/name".into(),
            "snap".into(),
        );
        let started = Instant::now();
        let first = fx
            .client()
            .create_snapshot(req.clone())
            .await
            .unwrap()
            .into_inner()
            .snapshot
            .unwrap();
        let first_reply = started.elapsed();
        let ready = fx.create_snapshot_ready(req.clone()).await;
        eprintln!(
            "CreateSnapshot: first reply after {first_reply:?}, ready after {:?}",
            started.elapsed()
        );

        assert!(first.ready_to_use, "ready at the cut");
        assert_eq!(first.snapshot_id, ready.snapshot_id);
        assert_eq!(
            first.creation_time, ready.creation_time,
            "creation time must not move"
        );
        assert_eq!(ready.size_bytes, 2 * GIB);
        assert_eq!(ready.source_volume_id, volume.volume_id);
        let snap_uuid = uuid_of(&ready.snapshot_id);
        let snap_image = format!("csi-snap-{snap_uuid}");

        // The seeds' layout: csi-snap-<u> cloned from the source's (now trashed) csi-snap-<u>,
        // carrying its own csi-snap-<u>.
        assert_eq!(
            fx.images().await,
            vec![snap_image.clone(), vol_image.clone()]
        );
        // Its parent snapshot was removed from the source, so it sits in the trash namespace.
        let parent = fx.parent_of(&snap_image).await.unwrap();
        assert!(parent.starts_with(&format!("{vol_image}@")), "{parent}");
        assert_eq!(
            fx.snapshots_of(&snap_image).await,
            vec![("user".to_owned(), snap_image.clone())]
        );
        assert_eq!(
            fx.snapshots_of(&vol_image).await,
            vec![("trash".to_owned(), snap_image.clone())]
        );
        let img = ceph::rbd::open(&fx.io, &snap_image).await.unwrap();
        let features = img.features().await.unwrap();
        // librbd adds `operations` to every clone v2 child.
        assert!(
            features.contains(ceph::rbd::Features::LAYERING | ceph::rbd::Features::DEEP_FLATTEN),
            "{features}"
        );
        assert_eq!(
            img.metadata_get("csi.storage.k8s.io/volumesnapshot/name")
                .await
                .unwrap()
                .as_deref(),
            Some("snap")
        );
        let image_id = img.id().await.unwrap();
        img.close().await.unwrap();

        let entry = fx.omap(&format!("csi.snap.{snap_uuid}")).await;
        assert_eq!(
            entry.get("csi.snapname").map(String::as_str),
            Some("snapshot-1")
        );
        assert_eq!(entry.get("csi.imagename"), Some(&snap_image));
        assert_eq!(entry.get("csi.source"), Some(&vol_image));
        assert_eq!(entry.get("csi.imageid"), Some(&image_id));
        assert_eq!(
            fx.omap("csi.snaps.default")
                .await
                .get("csi.snap.snapshot-1"),
            Some(&snap_uuid)
        );

        // Repeats answer the same snapshot, ready, and make nothing new.
        for _ in 0..10 {
            let again = fx
                .client()
                .create_snapshot(req.clone())
                .await
                .unwrap()
                .into_inner()
                .snapshot
                .unwrap();
            assert_eq!(again, ready);
        }
        assert_eq!(fx.images().await.len(), 2);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_reply_is_ready_after_one_snapshot_commit() {
    Fixture::run(|fx| async move {
        let volume = fx.create_volume("pvc-fast", GIB).await;
        let mut first_replies = Vec::new();
        for i in 0..3 {
            let req = fx.snapshot_request(&format!("snapshot-fast-{i}"), &volume.volume_id);
            let started = Instant::now();
            let reply = fx
                .client()
                .create_snapshot(req.clone())
                .await
                .unwrap()
                .into_inner()
                .snapshot
                .unwrap();
            first_replies.push(started.elapsed());
            assert!(
                reply.ready_to_use,
                "ready at the cut; the preparation follows"
            );
            fx.create_snapshot_ready(req).await;
        }
        eprintln!("CreateSnapshot first replies: {first_replies:?}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_name_conflicts_and_missing_sources_are_refused() {
    Fixture::run(|fx| async move {
        let a = fx.create_volume("pvc-a", GIB).await;
        let b = fx.create_volume("pvc-b", GIB).await;
        fx.create_snapshot_ready(fx.snapshot_request("snapshot-x", &a.volume_id))
            .await;
        let status = code(
            fx.client()
                .create_snapshot(fx.snapshot_request("snapshot-x", &b.volume_id))
                .await,
        );
        assert_eq!(status.code(), Code::AlreadyExists, "{status:?}");
        assert!(
            status.message().contains("snapshot-x"),
            "{}",
            status.message()
        );

        let missing = "0001-0003-bed-0000000000000001-6e0a4ba4-7f2d-11ee-a6e5-52540039b1a6";
        let status = code(
            fx.client()
                .create_snapshot(fx.snapshot_request("snapshot-y", missing))
                .await,
        );
        assert_eq!(status.code(), Code::NotFound, "{status:?}");
        let status = code(
            fx.client()
                .create_snapshot(fx.snapshot_request("", &a.volume_id))
                .await,
        );
        assert_eq!(status.code(), Code::InvalidArgument);
        assert!(status.message().contains("name"));
        let status = code(
            fx.client()
                .create_snapshot(fx.snapshot_request("snapshot-z", ""))
                .await,
        );
        assert_eq!(status.code(), Code::InvalidArgument);
        assert!(status.message().contains("source_volume_id"));
        let mut bad = fx.snapshot_request("snapshot-z", &a.volume_id);
        bad.parameters
            .insert("imageFeatures".into(), "layering".into());
        let status = code(fx.client().create_snapshot(bad).await);
        assert_eq!(status.code(), Code::InvalidArgument);
        assert!(status.message().contains("imageFeatures"));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restores_clone_the_snapshot_and_grow_to_the_request() {
    Fixture::run(|fx| async move {
        let volume = fx.create_volume("pvc-origin", GIB).await;
        let snapshot = fx
            .create_snapshot_ready(fx.snapshot_request("snapshot-r", &volume.volume_id))
            .await;
        let snap_image = format!("csi-snap-{}", uuid_of(&snapshot.snapshot_id));

        let same = fx
            .client()
            .create_volume(fx.restore_request("pvc-restored", GIB, &snapshot.snapshot_id))
            .await
            .unwrap()
            .into_inner()
            .volume
            .unwrap();
        let same_image = format!("csi-vol-{}", uuid_of(&same.volume_id));
        assert_eq!(same.capacity_bytes, GIB);
        assert_eq!(
            fx.parent_of(&same_image).await,
            Some(format!("{snap_image}@{snap_image}"))
        );
        assert!(same.content_source.is_some());

        let bigger = fx
            .client()
            .create_volume(fx.restore_request("pvc-restored-big", 3 * GIB, &snapshot.snapshot_id))
            .await
            .unwrap()
            .into_inner()
            .volume
            .unwrap();
        assert_eq!(bigger.capacity_bytes, 3 * GIB);
        assert_eq!(
            fx.image_size(&format!("csi-vol-{}", uuid_of(&bigger.volume_id)))
                .await,
            3 * GIB as u64
        );

        // Idempotent, and the same name from another source is another volume.
        let again = fx
            .client()
            .create_volume(fx.restore_request("pvc-restored", GIB, &snapshot.snapshot_id))
            .await
            .unwrap()
            .into_inner()
            .volume
            .unwrap();
        assert_eq!(again.volume_id, same.volume_id);
        let status = code(
            fx.client()
                .create_volume(fx.create_request("pvc-restored", GIB))
                .await,
        );
        assert_eq!(status.code(), Code::AlreadyExists, "{status:?}");

        let status = code(
            fx.client()
                .create_volume(fx.restore_request(
                    "pvc-too-small",
                    100 * MIB,
                    &snapshot.snapshot_id,
                ))
                .await,
        );
        assert_eq!(status.code(), Code::OutOfRange, "{status:?}");
        let missing = "0001-0003-bed-0000000000000001-6e0a4ba4-7f2d-11ee-a6e5-52540039b1a6";
        let status = code(
            fx.client()
                .create_volume(fx.restore_request("pvc-nowhere", GIB, missing))
                .await,
        );
        assert_eq!(status.code(), Code::NotFound, "{status:?}");
        assert!(
            !fx.omap("csi.volumes.default")
                .await
                .contains_key("csi.volume.pvc-nowhere")
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restore_right_after_the_first_reply_waits_for_the_preparation() {
    Fixture::run(|fx| async move {
        let volume = fx.create_volume("pvc-eager", GIB).await;
        let first = fx
            .client()
            .create_snapshot(fx.snapshot_request("snapshot-eager", &volume.volume_id))
            .await
            .unwrap()
            .into_inner()
            .snapshot
            .unwrap();
        assert!(first.ready_to_use);
        let restored = fx
            .client()
            .create_volume(fx.restore_request("pvc-eager-restore", GIB, &first.snapshot_id))
            .await
            .unwrap()
            .into_inner()
            .volume
            .unwrap();
        let snap_image = format!("csi-snap-{}", uuid_of(&first.snapshot_id));
        let image = format!("csi-vol-{}", uuid_of(&restored.volume_id));
        assert_eq!(
            fx.parent_of(&image).await,
            Some(format!("{snap_image}@{snap_image}"))
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_snapshots_and_volumes_in_any_order_leaves_nothing() {
    Fixture::run(|fx| async move {
        let volume = fx.create_volume("pvc-order", GIB).await;
        let snapshot = fx
            .create_snapshot_ready(fx.snapshot_request("snapshot-order", &volume.volume_id))
            .await;
        let restored = fx.create_volume_from(&snapshot.snapshot_id).await;
        // A volume whose snapshot image is still alive is deleted at once (its source snapshot
        // waits in the trash namespace).
        fx.delete_volume(&volume.volume_id).await;
        fx.delete_volume(&restored).await;
        fx.delete_snapshot(&snapshot.snapshot_id).await;
        fx.delete_snapshot(&snapshot.snapshot_id).await;
        assert!(fx.images().await.is_empty(), "{:?}", fx.images().await);
        assert!(fx.omap("csi.snaps.default").await.is_empty());
        assert!(fx.omap("csi.volumes.default").await.is_empty());
        // The source volume waited in the trash for its last clone; purging that took it along.
        assert!(
            fx.trash().await.is_empty(),
            "trash left: {:?}",
            fx.trash().await
        );
    })
    .await;
}

/// A volume made without `layering` (CreateVolume accepts `imageFeatures: deep-flatten`)
/// cannot be snapshotted: refused as FAILED_PRECONDITION naming the feature, before the name is
/// reserved, so no journal key or entry object is left for a snapshot that never was.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_volume_without_layering_is_refused_before_anything_is_reserved() {
    Fixture::run(|fx| async move {
        let volume = fx
            .create_volume_with_features("pvc-flat", GIB, "deep-flatten")
            .await;
        let status = code(
            fx.client()
                .create_snapshot(fx.snapshot_request("snapshot-flat", &volume.volume_id))
                .await,
        );
        assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
        for part in [volume.volume_id.as_str(), "no layering feature"] {
            assert!(status.message().contains(part), "{}", status.message());
        }
        assert!(fx.omap("csi.snaps.default").await.is_empty());
        let image = common::volume_image(&volume.volume_id);
        assert!(fx.snapshots_of(&image).await.is_empty());
        fx.delete_volume(&volume.volume_id).await;
        assert_eq!(fx.leftovers().await, Vec::<String>::new());
    })
    .await;
}

/// Ceph refuses the cut (the source's snapshot limit is reached) after the name was reserved:
/// the reservation is undone, as the CO got no snapshot ID it could ever delete.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_cut_leaves_no_reservation() {
    Fixture::run(|fx| async move {
        let volume = fx.create_volume("pvc-limited", GIB).await;
        let image = common::volume_image(&volume.volume_id);
        let spec = fx.spec(&image);
        let bed = common::bed();
        bed.cli("rbd", &["snap", "create", &format!("{spec}@blocker")]);
        bed.cli("rbd", &["snap", "limit", "set", "--limit", "1", &spec]);

        let status = code(
            fx.client()
                .create_snapshot(fx.snapshot_request("snapshot-limited", &volume.volume_id))
                .await,
        );
        // EDQUOT from librbd.
        assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
        assert!(fx.omap("csi.snaps.default").await.is_empty());
        assert_eq!(
            fx.snapshots_of(&image).await,
            vec![("user".to_owned(), "blocker".to_owned())]
        );

        bed.cli("rbd", &["snap", "limit", "clear", &spec]);
        bed.cli("rbd", &["snap", "rm", &format!("{spec}@blocker")]);
        fx.delete_volume(&volume.volume_id).await;
        assert_eq!(fx.leftovers().await, Vec::<String>::new());
    })
    .await;
}

/// A volume with a prepared snapshot, and the snapshot's image.
async fn prepared_snapshot(fx: &Fixture, name: &str) -> (String, String, String) {
    let volume = fx.create_volume(&format!("pvc-{name}"), GIB).await;
    let snapshot = fx
        .create_snapshot_ready(fx.snapshot_request(name, &volume.volume_id))
        .await;
    let image = snapshot_image(&snapshot.snapshot_id);
    (volume.volume_id, snapshot.snapshot_id, image)
}

/// Another client (a process that crashed with it open keeps its watch for the OSD's watch
/// timeout) holds the snapshot image: the delete is refused as in use, and nothing goes to the
/// trash where librbd would refuse to purge it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watched_snapshot_image_is_refused_and_left_intact() {
    Fixture::run(|fx| async move {
        let (volume_id, snapshot_id, image) = prepared_snapshot(&fx, "snapshot-watched").await;
        let held = fx.hold_open(&image).await;

        let status = code(
            fx.client()
                .delete_snapshot(fx.delete_snapshot_request(&snapshot_id))
                .await,
        );
        assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
        for part in [snapshot_id.as_str(), image.as_str(), "1 watcher"] {
            assert!(status.message().contains(part), "{}", status.message());
        }
        assert!(
            fx.images().await.contains(&image),
            "{:?}",
            fx.images().await
        );
        assert!(fx.trash().await.is_empty(), "{:?}", fx.trash().await);
        assert_eq!(fx.omap("csi.snaps.default").await.len(), 1);

        held.close().await;
        fx.delete_snapshot(&snapshot_id).await;
        fx.delete_volume(&volume_id).await;
        assert_eq!(fx.leftovers().await, Vec::<String>::new());
    })
    .await;
}

/// An earlier attempt moved the snapshot image to the trash and died; someone still watches
/// it. librbd refuses the purge (EBUSY): the delete must fail, to be retried, instead of
/// answering OK with the image left in the trash for good.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trashed_image_still_watched_fails_the_delete_until_the_watch_is_gone() {
    Fixture::run(|fx| async move {
        let (volume_id, snapshot_id, image) = prepared_snapshot(&fx, "snapshot-trashed").await;
        let held = fx.hold_open(&image).await;
        held.image.snap_remove(&image).await.unwrap();
        ceph::rbd::trash_move(&held.io, &image).await.unwrap();

        let status = code(
            fx.client()
                .delete_snapshot(fx.delete_snapshot_request(&snapshot_id))
                .await,
        );
        assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
        assert!(status.message().contains("trash"), "{}", status.message());
        assert_eq!(fx.trash().await, vec![image.clone()]);
        assert_eq!(fx.omap("csi.snaps.default").await.len(), 1, "entry kept");

        held.close().await;
        fx.delete_snapshot(&snapshot_id).await;
        assert!(fx.trash().await.is_empty(), "{:?}", fx.trash().await);
        fx.delete_volume(&volume_id).await;
        assert_eq!(fx.leftovers().await, Vec::<String>::new());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn absent_and_malformed_snapshots_are_already_deleted() {
    Fixture::run(|fx| async move {
        for id in [
            "reallyfakesnapshotid",
            "0001-0003-bed-0000000000000001-6e0a4ba4-7f2d-11ee-a6e5-52540039b1a6",
        ] {
            fx.delete_snapshot(id).await;
        }
        let status = code(
            fx.client()
                .delete_snapshot(DeleteSnapshotRequest {
                    snapshot_id: String::new(),
                    secrets: fx.secrets(),
                })
                .await,
        );
        assert_eq!(status.code(), Code::InvalidArgument);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delete_during_the_preparation_waits_for_it() {
    Fixture::run(|fx| async move {
        let volume = fx.create_volume("pvc-prep", GIB).await;
        fx.failpoints.set(
            controller::failpoints::snapshot::AFTER_CLONE,
            failpoint::Action::Pause,
        );
        let req: CreateSnapshotRequest = fx.snapshot_request("snapshot-prep", &volume.volume_id);
        let first = fx
            .client()
            .create_snapshot(req.clone())
            .await
            .unwrap()
            .into_inner()
            .snapshot
            .unwrap();
        assert!(first.ready_to_use);
        fx.failpoints
            .wait_for_hits(controller::failpoints::snapshot::AFTER_CLONE, 1)
            .await;
        // The delete waits for the preparation (here: until its own deadline).
        let mut delete = tonic::Request::new(DeleteSnapshotRequest {
            snapshot_id: first.snapshot_id.clone(),
            secrets: fx.secrets(),
        });
        delete.set_timeout(Duration::from_secs(2));
        let status = code(fx.client().delete_snapshot(delete).await);
        assert_eq!(status.code(), Code::DeadlineExceeded, "{status:?}");
        // Repeats answer at once, ready.
        let again = fx
            .client()
            .create_snapshot(req.clone())
            .await
            .unwrap()
            .into_inner()
            .snapshot
            .unwrap();
        assert!(again.ready_to_use);
        assert_eq!(again.creation_time, first.creation_time);
        // The source volume cannot be deleted under the preparation.
        let status = code(
            fx.client()
                .delete_volume(csi::v1::DeleteVolumeRequest {
                    volume_id: volume.volume_id.clone(),
                    secrets: fx.secrets(),
                })
                .await,
        );
        assert_eq!(status.code(), Code::Aborted, "{status:?}");
        fx.failpoints
            .resume(controller::failpoints::snapshot::AFTER_CLONE);
        fx.delete_snapshot(&first.snapshot_id).await;
        fx.delete_volume(&volume.volume_id).await;
        assert!(fx.images().await.is_empty());
        assert!(fx.trash().await.is_empty());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_deleted_before_its_snapshot_was_prepared_prepares_it_first() {
    Fixture::run(|fx| async move {
        let volume = fx.create_volume("pvc-hurry", GIB).await;
        // The preparation dies (as in a controller restart) right after the cut's reply.
        fx.failpoints.set(
            controller::failpoints::snapshot::AFTER_CLONE,
            failpoint::Action::Fail,
        );
        let snapshot = fx
            .client()
            .create_snapshot(fx.snapshot_request("snapshot-hurry", &volume.volume_id))
            .await
            .unwrap()
            .into_inner()
            .snapshot
            .unwrap();
        assert!(snapshot.ready_to_use);
        fx.failpoints
            .wait_for_hits(controller::failpoints::snapshot::AFTER_CLONE, 1)
            .await;
        fx.failpoints.set(
            controller::failpoints::snapshot::AFTER_CLONE,
            failpoint::Action::Off,
        );
        let uuid = uuid::Uuid::parse_str(&uuid_of(&snapshot.snapshot_id)).unwrap();
        let key = controller::locks::prepare_key(&uuid);
        assert!(
            common::eventually(Duration::from_secs(10), || async {
                !fx.state.names.is_held(&key)
            })
            .await
        );

        // Deleting the source first finishes the snapshot, which then outlives it.
        fx.delete_volume(&volume.volume_id).await;
        let restored = fx.create_volume_from(&snapshot.snapshot_id).await;
        let snap_image = format!("csi-snap-{uuid}");
        let image = format!("csi-vol-{}", uuid_of(&restored));
        assert_eq!(
            fx.parent_of(&image).await,
            Some(format!("{snap_image}@{snap_image}"))
        );
        fx.delete_volume(&restored).await;
        fx.delete_snapshot(&snapshot.snapshot_id).await;
        assert!(fx.images().await.is_empty(), "{:?}", fx.images().await);
        assert!(fx.trash().await.is_empty(), "{:?}", fx.trash().await);
    })
    .await;
}

/// A preparation cut short (the background task "crashed" right after its clone) is finished
/// by the start-up pass with the standing credentials, not left for the snapshot's next user:
/// the cut leaves the source's user snapshots, the snapshot image gets its inner snapshot and
/// the journal its image id. A second pass finds nothing to do.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_start_up_pass_finishes_a_preparation_a_crash_cut_short() {
    Fixture::run(|fx| async move {
        let source = fx.create_volume("pvc-resume", GIB).await;
        let source_image = format!("csi-vol-{}", uuid_of(&source.volume_id));
        let snapshot = fx
            .create_snapshot_unprepared(fx.snapshot_request("snapshot-resume", &source.volume_id))
            .await;
        let uuid = uuid_of(&snapshot.snapshot_id);
        let snap_image = format!("csi-snap-{uuid}");
        let oid = format!("csi.snap.{uuid}");
        assert!(!fx.omap(&oid).await.contains_key("csi.imageid"));
        assert!(
            fx.snapshots_of(&source_image)
                .await
                .iter()
                .any(|(ns, name)| ns == "user" && *name == snap_image),
            "the cut should still be a user snapshot of the source"
        );

        let prepared = controller::snapshot::resume::resume_unprepared(&fx.state)
            .await
            .unwrap();
        assert_eq!(prepared, 1);
        assert!(fx.omap(&oid).await.contains_key("csi.imageid"));
        assert!(
            !fx.snapshots_of(&source_image)
                .await
                .iter()
                .any(|(ns, _)| ns == "user"),
            "the cut is still a user snapshot of the source"
        );
        assert!(
            fx.snapshots_of(&snap_image)
                .await
                .iter()
                .any(|(_, name)| *name == snap_image),
            "the snapshot image has no inner snapshot"
        );
        let again = controller::snapshot::resume::resume_unprepared(&fx.state)
            .await
            .unwrap();
        assert_eq!(again, 0);

        fx.delete_snapshot(&snapshot.snapshot_id).await;
        fx.delete_volume(&source.volume_id).await;
    })
    .await;
}
