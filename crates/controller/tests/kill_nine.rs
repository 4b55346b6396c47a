//! Real crashes: a `sepia-controller` process is held at a step right before a blocking Ceph
//! call (a clone, a cut, a journal write), `kill -9`ed there, and the request is retried
//! through a fresh process, as the sidecar does after its controller container restarts.
//!
//! Afterwards: exactly one result; the namespace holds exactly what that result needs (no
//! orphan image, snapshot, trash entry or journal key); a restore of every ready snapshot
//! holds the data written before its cut; and once everything is deleted through CSI nothing
//! the controller made is left. A lock the killed process held is never released by it: the
//! retries wait (on observed state, with a generous deadline) until it expires.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::calls::{self, until_ok};
use common::processes::{CONVERGE, Controller, Processes};
use common::{DATA_VOLUME, snapshot_image, uuid_of, volume_image};
use controller::failpoints as points;
use tonic::Code;

/// What a controller logs when it removes an image that failed the clone proof.
const HALF_MADE: &str = "not a complete clone";

/// Starts the process that will crash: held (`pause`) at `point`.
async fn doomed(px: &Processes, point: &str) -> Controller {
    px.start("doomed", &format!("{point}=pause")).await
}

/// Waits until `process` is held at `point`, kills it -9 and starts its successor.
async fn crash_and_restart(px: &Processes, process: Controller, point: &str) -> Controller {
    process.wait_reached(point).await;
    process.kill9().await;
    px.start("successor", "").await
}

/// The user snapshots (not those in the trash namespace) of `image`.
async fn user_snapshots(px: &Processes, image: &str) -> Vec<String> {
    px.snapshots_of(image)
        .await
        .into_iter()
        .filter(|(namespace, _)| namespace == "user")
        .map(|(_, name)| name)
        .collect()
}

/// After a ready snapshot of `source`: the images are exactly `expected`, the cut is gone from
/// the source (only a trash-namespace snapshot may stay while clones need it), the trash is
/// empty and each directory holds exactly the keys of the requests made.
async fn exactly(
    px: &Processes,
    expected: &[String],
    source: &str,
    volumes: usize,
    snapshots: usize,
) {
    let mut expected = expected.to_vec();
    expected.sort();
    assert_eq!(px.images().await, expected, "images");
    assert_eq!(
        user_snapshots(px, source).await,
        Vec::<String>::new(),
        "cuts left on {source}"
    );
    assert_eq!(px.trash().await, Vec::<String>::new(), "trash");
    assert_eq!(
        px.omap("csi.volumes.default").await.len(),
        volumes,
        "volume directory"
    );
    assert_eq!(
        px.omap("csi.snaps.default").await.len(),
        snapshots,
        "snapshot directory"
    );
}

/// A snapshot whose process dies at `point` of its CreateSnapshot or preparation, finished
/// through a fresh process.
async fn snapshot_survives_a_kill_at(point: &'static str, cut_before_reply: bool) {
    Processes::run(|px| async move {
        let first = doomed(&px, point).await;
        let source = px.volume_with_data(&first, "pvc-source").await;
        let req = px.snapshot_request("snapshot-1", &source);
        let call = tokio::spawn({
            let mut client = first.client();
            let req = req.clone();
            async move { client.create_snapshot(req).await }
        });
        if cut_before_reply {
            // The cut answers ready; the preparation goes on in the background.
            let reply = call.await.unwrap().unwrap().into_inner().snapshot.unwrap();
            assert!(reply.ready_to_use);
        }
        let second = crash_and_restart(&px, first, point).await;

        let snapshot = px.snapshot_prepared(&second, req).await;
        exactly(
            &px,
            &[volume_image(&source), snapshot_image(&snapshot.snapshot_id)],
            &volume_image(&source),
            1,
            1,
        )
        .await;
        let restored = px
            .restore_holds_the_data(&second, &snapshot.snapshot_id, 0)
            .await;
        px.delete_all(&second, &[&restored, &source], &[&snapshot.snapshot_id])
            .await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_while_a_snapshot_is_cut_loses_nothing() {
    snapshot_survives_a_kill_at(points::snapshot::BEFORE_CUT, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_while_the_snapshot_image_is_cloned_loses_nothing() {
    snapshot_survives_a_kill_at(points::snapshot::BEFORE_CLONE, true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_while_the_inner_snapshot_is_made_loses_nothing() {
    snapshot_survives_a_kill_at(points::snapshot::BEFORE_INNER_SNAPSHOT, true).await;
}

/// The killed process leaves its watch on the snapshot image until the OSD's watch timeout; a
/// delete within that time must neither fail for good nor leave the image in the trash.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_with_the_snapshot_image_open_then_a_prompt_delete_leaves_nothing() {
    snapshot_survives_a_kill_at(points::snapshot::AFTER_INNER_SNAPSHOT, true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_while_the_snapshot_is_recorded_prepared_loses_nothing() {
    snapshot_survives_a_kill_at(points::snapshot::BEFORE_IMAGE_ID_STORED, true).await;
}

/// Kills `process` once `rbd_clone` of `image` is under way: held right before the clone, the
/// hold released, then killed as soon as the clone's first object (`rbd_id.<image>`) exists,
/// while the clone's later steps (header, parent link, registration with the parent) may still
/// be in flight. Where exactly the kill lands varies; what the retry must achieve does not.
async fn kill_inside_the_clone(px: &Processes, process: &Controller, point: &str, image: &str) {
    process.wait_reached(point).await;
    px.release("clone");
    let oid = format!("rbd_id.{image}");
    let deadline = tokio::time::Instant::now() + CONVERGE;
    while !px.io.exists(&oid).await.unwrap() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the clone of {image} never started"
        );
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    }
    process.kill9().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_inside_the_clone_of_the_snapshot_image_loses_nothing() {
    Processes::run(|px| async move {
        let point = points::snapshot::BEFORE_CLONE;
        let first = px
            .start("doomed", &format!("{point}={}", px.hold("clone")))
            .await;
        let source = px.volume_with_data(&first, "pvc-source").await;
        let req = px.snapshot_request("snapshot-1", &source);
        let reply = calls::create_snapshot_until_ready(first.client(), req.clone()).await;
        kill_inside_the_clone(&px, &first, point, &snapshot_image(&reply.snapshot_id)).await;
        let second = px.start("successor", "").await;

        let snapshot = px.snapshot_prepared(&second, req).await;
        eprintln!(
            "the successor {}",
            if second.log().await.contains(HALF_MADE) {
                "remade a half-made clone"
            } else {
                "found the clone complete"
            }
        );
        exactly(
            &px,
            &[volume_image(&source), snapshot_image(&snapshot.snapshot_id)],
            &volume_image(&source),
            1,
            1,
        )
        .await;
        let restored = px
            .restore_holds_the_data(&second, &snapshot.snapshot_id, 0)
            .await;
        px.delete_all(&second, &[&restored, &source], &[&snapshot.snapshot_id])
            .await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_inside_the_clone_of_a_restore_leaves_one_volume_with_the_data() {
    Processes::run(|px| async move {
        let point = points::restore::BEFORE_CLONE;
        let first = px
            .start("doomed", &format!("{point}={}", px.hold("clone")))
            .await;
        let source = px.volume_with_data(&first, "pvc-source").await;
        let snapshot = px
            .snapshot_prepared(&first, px.snapshot_request("snapshot-1", &source))
            .await;
        let restore = px.restore_of(&snapshot.snapshot_id, 0);
        let _call = tokio::spawn({
            let mut client = first.client();
            let restore = restore.clone();
            async move { client.create_volume(restore).await }
        });
        first.wait_reached(point).await;
        let target = px.reserved_volume_image(&restore.name).await;
        kill_inside_the_clone(&px, &first, point, &target).await;
        let second = px.start("successor", "").await;

        let restored = px
            .restore_holds_the_data(&second, &snapshot.snapshot_id, 0)
            .await;
        eprintln!(
            "the successor {}",
            if second.log().await.contains(HALF_MADE) {
                "remade a half-made clone"
            } else {
                "found the clone complete"
            }
        );
        assert_eq!(volume_image(&restored), target);
        let snap = snapshot_image(&snapshot.snapshot_id);
        exactly(
            &px,
            &[volume_image(&source), snap.clone(), target.clone()],
            &volume_image(&source),
            2,
            1,
        )
        .await;
        px.delete_all(&second, &[&restored, &source], &[&snapshot.snapshot_id])
            .await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_while_a_restore_clones_leaves_one_volume_with_the_data() {
    Processes::run(|px| async move {
        let first = doomed(&px, points::restore::BEFORE_CLONE).await;
        let source = px.volume_with_data(&first, "pvc-source").await;
        let snapshot = px
            .snapshot_prepared(&first, px.snapshot_request("snapshot-1", &source))
            .await;
        let restore = px.restore_of(&snapshot.snapshot_id, 0);
        let _call = tokio::spawn({
            let mut client = first.client();
            async move { client.create_volume(restore).await }
        });
        let second = crash_and_restart(&px, first, points::restore::BEFORE_CLONE).await;

        let restored = px
            .restore_holds_the_data(&second, &snapshot.snapshot_id, 0)
            .await;
        let snap = snapshot_image(&snapshot.snapshot_id);
        exactly(
            &px,
            &[volume_image(&source), snap.clone(), volume_image(&restored)],
            &volume_image(&source),
            2,
            1,
        )
        .await;
        assert_eq!(
            px.parent_of(&volume_image(&restored)).await,
            Some(format!("{snap}@{snap}"))
        );
        px.delete_all(&second, &[&restored, &source], &[&snapshot.snapshot_id])
            .await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_while_a_pvc_clone_clones_leaves_one_volume_with_the_data() {
    Processes::run(|px| async move {
        let first = doomed(&px, points::clone::BEFORE_CLONE).await;
        let source = px.volume_with_data(&first, "pvc-source").await;
        let req = px.clone_request("pvc-clone", 0, &source);
        let _call = tokio::spawn({
            let mut client = first.client();
            let req = req.clone();
            async move { client.create_volume(req).await }
        });
        let second = crash_and_restart(&px, first, points::clone::BEFORE_CLONE).await;

        let clone = until_ok("clone", CONVERGE, &[Code::Aborted], async || {
            second.client().create_volume(req.clone()).await
        })
        .await
        .volume
        .unwrap()
        .volume_id;
        let image = volume_image(&clone);
        assert_eq!(
            px.read_data(&image, common::DATA_OFFSET, common::BEFORE_CUT.len()),
            common::BEFORE_CUT
        );
        exactly(
            &px,
            &[
                volume_image(&source),
                image.clone(),
                format!("{image}-temp"),
            ],
            &volume_image(&source),
            2,
            0,
        )
        .await;
        px.delete_all(&second, &[&clone, &source], &[]).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_between_the_journal_writes_of_a_reservation_leaves_one_volume() {
    let point = journal::failpoints::VOLUME_RESERVE_AFTER_DIRECTORY_KEY;
    Processes::run(|px| async move {
        let first = doomed(&px, point).await;
        let req = px.create_request("pvc-journal", DATA_VOLUME);
        let _call = tokio::spawn({
            let mut client = first.client();
            let req = req.clone();
            async move { client.create_volume(req).await }
        });
        let second = crash_and_restart(&px, first, point).await;

        let volume = until_ok("CreateVolume", CONVERGE, &[Code::Aborted], async || {
            second.client().create_volume(req.clone()).await
        })
        .await
        .volume
        .unwrap()
        .volume_id;
        assert_eq!(px.images().await, [volume_image(&volume)]);
        let directory = px.omap("csi.volumes.default").await;
        assert_eq!(
            directory.get("csi.volume.pvc-journal").map(String::as_str),
            Some(uuid_of(&volume).as_str()),
            "{directory:?}"
        );
        assert_eq!(directory.len(), 1, "{directory:?}");
        px.delete_all(&second, &[&volume], &[]).await;
    })
    .await;
}
