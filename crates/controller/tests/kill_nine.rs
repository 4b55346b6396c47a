//! Real crashes: a `sepia-controller` process is stopped at a step of a blocking Ceph call (a
//! clone, a cut, a journal write), `kill -9`ed there, and the request is retried through a
//! fresh process, as the sidecar does after its controller container restarts.
//!
//! Afterwards: exactly one result; the namespace holds exactly what that result needs (no
//! orphan image, snapshot, trash entry or journal key); a restore of every ready snapshot
//! holds the data written before its cut; and once everything is deleted through CSI nothing
//! the controller made is left. A lock the killed process held is never released by it: the
//! retries wait (on observed state, with a generous deadline) until it expires.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::calls::{self, until_ok};
use common::processes::{CONVERGE, Processes, Replica};
use common::{BEFORE_CUT, DATA_OFFSET, DATA_VOLUME, snapshot_image, uuid_of, volume_image};
use controller::failpoints as points;
use csi::v1::{CreateVolumeRequest, Snapshot};
use tonic::Code;

/// What a controller logs when it removes an image that failed the clone proof.
const HALF_MADE: &str = "not a complete clone";
/// The hold a doomed process waits in when it is to die inside a clone.
const CLONE_HOLD: &str = "clone";

/// Where the doomed process dies.
#[derive(Clone, Copy)]
enum Death {
    /// Stopped at the failpoint (right before the blocking call), killed there.
    At(&'static str),
    /// Held at the failpoint right before `rbd_clone`, let go, and killed as soon as the
    /// clone's first object (`rbd_id.<image>`) exists, while its later steps (header, parent
    /// link, registration with the parent) may still be in flight. Where exactly the kill lands
    /// varies; what the retry must achieve does not.
    InsideClone(&'static str),
}

impl Death {
    fn point(self) -> &'static str {
        match self {
            Death::At(point) | Death::InsideClone(point) => point,
        }
    }

    /// Starts the process that will die.
    async fn doomed(self, px: &Processes) -> Replica {
        let action = match self {
            Death::At(_) => "pause".to_owned(),
            Death::InsideClone(_) => px.hold(CLONE_HOLD),
        };
        px.start("doomed", &format!("{}={action}", self.point()))
            .await
    }

    /// Kills `process` where this death says (`image` is what its clone makes), and starts
    /// its successor.
    async fn strike(self, px: &Processes, process: Replica, image: &str) -> Replica {
        process.wait_reached(self.point()).await;
        if let Death::InsideClone(_) = self {
            px.release(CLONE_HOLD);
            let oid = format!("rbd_id.{image}");
            let deadline = tokio::time::Instant::now() + CONVERGE;
            while !px.io.exists(&oid).await.unwrap() {
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "the clone of {image} never started"
                );
                tokio::time::sleep(std::time::Duration::from_millis(1)).await;
            }
        }
        process.kill9().await;
        px.start("successor", "").await
    }
}

/// Sends CreateVolume through the doomed process; its answer never comes.
fn send_create(process: &Replica, req: &CreateVolumeRequest) {
    let mut client = process.client();
    let req = req.clone();
    drop(tokio::spawn(async move { client.create_volume(req).await }));
}

/// Says (for the test log) whether the successor found a half-made clone.
async fn report_half_made(successor: &Replica) {
    let remade = successor.log().await.contains(HALF_MADE);
    eprintln!(
        "the successor {}",
        if remade {
            "removed a half-made clone and cloned again"
        } else {
            "found no half-made clone"
        }
    );
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
async fn exactly(px: &Processes, expected: &[String], source: &str, volumes: usize) {
    let mut expected = expected.to_vec();
    expected.sort();
    assert_eq!(px.images().await, expected, "images");
    let source = volume_image(source);
    assert_eq!(
        user_snapshots(px, &source).await,
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
        1,
        "snapshot directory"
    );
}

/// The end of every snapshot scenario: exactly the source and the snapshot image, a restore
/// that holds the data, and nothing left after deleting it all.
async fn snapshot_is_whole(px: &Processes, via: &Replica, source: &str, snapshot: &Snapshot) {
    exactly(
        px,
        &[volume_image(source), snapshot_image(&snapshot.snapshot_id)],
        source,
        1,
    )
    .await;
    let restored = px
        .restore_holds_the_data(via, &snapshot.snapshot_id, 0)
        .await;
    px.delete_all(via, &[&restored, source], &[&snapshot.snapshot_id])
        .await;
}

/// A snapshot whose process dies in its CreateSnapshot (before the reply) or its preparation
/// (after the reply), finished through a fresh process.
async fn snapshot_survives(death: Death, before_reply: bool) {
    Processes::run(|px| async move {
        let first = death.doomed(&px).await;
        let source = px.volume_with_data(&first, "pvc-source").await;
        let req = px.snapshot_request("snapshot-1", &source);
        let image = if before_reply {
            let mut client = first.client();
            let req = req.clone();
            drop(tokio::spawn(
                async move { client.create_snapshot(req).await },
            ));
            String::new()
        } else {
            // The cut answers ready; the preparation goes on in the background.
            let reply = calls::create_snapshot_until_ready(first.client(), req.clone()).await;
            snapshot_image(&reply.snapshot_id)
        };
        let second = death.strike(&px, first, &image).await;

        let snapshot = px.snapshot_prepared(&second, req).await;
        report_half_made(&second).await;
        snapshot_is_whole(&px, &second, &source, &snapshot).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_while_a_snapshot_is_cut_loses_nothing() {
    snapshot_survives(Death::At(points::snapshot::BEFORE_CUT), true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_before_the_snapshot_image_is_cloned_loses_nothing() {
    snapshot_survives(Death::At(points::snapshot::BEFORE_CLONE), false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_inside_the_clone_of_the_snapshot_image_loses_nothing() {
    snapshot_survives(Death::InsideClone(points::snapshot::BEFORE_CLONE), false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_while_the_inner_snapshot_is_made_loses_nothing() {
    snapshot_survives(Death::At(points::snapshot::BEFORE_INNER_SNAPSHOT), false).await;
}

/// The killed process leaves its watch on the snapshot image until the OSD's watch timeout; a
/// delete within that time must neither fail for good nor leave the image in the trash.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_with_the_snapshot_image_open_then_a_prompt_delete_leaves_nothing() {
    snapshot_survives(Death::At(points::snapshot::AFTER_INNER_SNAPSHOT), false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_while_the_snapshot_is_recorded_prepared_loses_nothing() {
    snapshot_survives(Death::At(points::snapshot::BEFORE_IMAGE_ID_STORED), false).await;
}

/// A restore whose process dies in its clone, finished through a fresh process.
async fn restore_survives(death: Death) {
    Processes::run(|px| async move {
        let first = death.doomed(&px).await;
        let source = px.volume_with_data(&first, "pvc-source").await;
        let snapshot = px
            .snapshot_prepared(&first, px.snapshot_request("snapshot-1", &source))
            .await;
        let restore = px.restore_of(&snapshot.snapshot_id, 0);
        send_create(&first, &restore);
        first.wait_reached(death.point()).await;
        let target = px.reserved_volume_image(&restore.name).await;
        let second = death.strike(&px, first, &target).await;

        let restored = px
            .restore_holds_the_data(&second, &snapshot.snapshot_id, 0)
            .await;
        report_half_made(&second).await;
        assert_eq!(volume_image(&restored), target);
        let snap = snapshot_image(&snapshot.snapshot_id);
        exactly(
            &px,
            &[volume_image(&source), snap.clone(), target.clone()],
            &source,
            2,
        )
        .await;
        assert_eq!(px.parent_of(&target).await, Some(format!("{snap}@{snap}")));
        px.delete_all(&second, &[&restored, &source], &[&snapshot.snapshot_id])
            .await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_before_a_restore_clones_leaves_one_volume_with_the_data() {
    restore_survives(Death::At(points::restore::BEFORE_CLONE)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_inside_the_clone_of_a_restore_leaves_one_volume_with_the_data() {
    restore_survives(Death::InsideClone(points::restore::BEFORE_CLONE)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_while_a_pvc_clone_clones_leaves_one_volume_with_the_data() {
    let death = Death::At(points::clone::BEFORE_CLONE);
    Processes::run(|px| async move {
        let first = death.doomed(&px).await;
        let source = px.volume_with_data(&first, "pvc-source").await;
        let req = px.clone_request("pvc-clone", 0, &source);
        send_create(&first, &req);
        let second = death.strike(&px, first, "").await;

        let clone = until_ok("clone", CONVERGE, &[Code::Aborted], async || {
            second.client().create_volume(req.clone()).await
        })
        .await
        .volume
        .unwrap()
        .volume_id;
        let image = volume_image(&clone);
        assert_eq!(
            px.read_data(&image, DATA_OFFSET, BEFORE_CUT.len()),
            BEFORE_CUT
        );
        let mut images = vec![
            volume_image(&source),
            image.clone(),
            format!("{image}-temp"),
        ];
        images.sort();
        assert_eq!(px.images().await, images, "images");
        assert_eq!(px.trash().await, Vec::<String>::new(), "trash");
        assert_eq!(px.omap("csi.volumes.default").await.len(), 2);
        px.delete_all(&second, &[&clone, &source], &[]).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_between_the_journal_writes_of_a_reservation_leaves_one_volume() {
    let death = Death::At(journal::failpoints::VOLUME_RESERVE_AFTER_DIRECTORY_KEY);
    Processes::run(|px| async move {
        let first = death.doomed(&px).await;
        let req = px.create_request("pvc-journal", DATA_VOLUME);
        send_create(&first, &req);
        let second = death.strike(&px, first, "").await;

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
