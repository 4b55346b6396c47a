//! A clone is proven before anything relies on it: an image found under a clone's name that
//! is not a registered clone of the right snapshot (a plain image, or a clone of another
//! snapshot) is removed and cloned again, in snapshot preparation, restore and PVC clone, and
//! the data written before the cut is what the result holds.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use ceph::rbd::{self, CreateOptions, Features};
use common::calls;
use common::{
    BEFORE_CUT, DATA_OFFSET as OFFSET, DATA_VOLUME as SIZE, Fixture, snapshot_image, volume_image,
};
use controller::failpoints as points;
use failpoint::Action;
use tonic::Code;

const AFTER_CUT: &[u8] = b"written after the cut: a wrong clone would show this";

/// What sits under the clone's name when the retry comes.
#[derive(Clone, Copy, Debug)]
enum Impostor {
    /// A plain image of the right size, holding data the snapshot never had.
    Plain,
    /// A clone of another snapshot of the same source, cut after the data changed.
    CloneOfAnotherSnapshot,
}

fn layered() -> CreateOptions {
    CreateOptions {
        features: Some(Features::LAYERING),
        ..Default::default()
    }
}

/// Puts `impostor` under `name`; `source` is the volume image to take another snapshot of.
async fn plant(fx: &Fixture, impostor: Impostor, source: &str, name: &str) {
    match impostor {
        Impostor::Plain => {
            rbd::create(&fx.io, name, SIZE as u64, &layered())
                .await
                .unwrap();
            fx.write_data(name, OFFSET, AFTER_CUT);
        }
        Impostor::CloneOfAnotherSnapshot => {
            let img = rbd::open(&fx.io, source).await.unwrap();
            img.snap_create("another").await.unwrap();
            img.close().await.unwrap();
            rbd::clone(&fx.io, source, "another", &fx.io, name, &layered())
                .await
                .unwrap();
        }
    }
}

/// A source volume holding [`BEFORE_CUT`]; its image name and id.
async fn source_with_data(fx: &Fixture) -> (String, String) {
    let volume = fx.create_volume("pvc-source", SIZE).await;
    let image = volume_image(&volume.volume_id);
    fx.write_data(&image, OFFSET, BEFORE_CUT);
    (image, volume.volume_id)
}

/// Runs `call`, which must crash at `point`.
async fn crashes_at<T: std::fmt::Debug>(
    fx: &Fixture,
    point: &'static str,
    call: impl std::future::Future<Output = Result<tonic::Response<T>, tonic::Status>>,
) {
    fx.failpoints.set(point, Action::Fail);
    let status = common::code(call.await);
    fx.failpoints.set(point, Action::Off);
    assert_eq!(status.code(), Code::Internal, "{status:?}");
    assert!(status.message().contains(point), "{}", status.message());
}

async fn preparation_remakes(impostor: Impostor) {
    Fixture::run(|fx| async move {
        let (source, source_id) = source_with_data(&fx).await;
        // Cut, then the preparation crashes right before its clone.
        let snapshot = fx
            .create_snapshot_crashing_at(
                points::snapshot::BEFORE_CLONE,
                fx.snapshot_request("snapshot-proof", &source_id),
            )
            .await;
        let snap_image = snapshot_image(&snapshot.snapshot_id);
        assert!(!fx.images().await.contains(&snap_image));
        fx.write_data(&source, OFFSET, AFTER_CUT);
        plant(&fx, impostor, &source, &snap_image).await;

        // The restore finishes the preparation inline.
        let restored = fx.create_volume_from(&snapshot.snapshot_id).await;
        assert_eq!(
            fx.failpoints
                .hits(points::snapshot::AFTER_HALF_MADE_CLONE_REMOVED),
            1,
            "{impostor:?} was not detected"
        );
        let parent = fx.parent_of(&snap_image).await.unwrap();
        assert!(parent.starts_with(&format!("{source}@")), "{parent}");
        let restored_image = volume_image(&restored);
        assert_eq!(
            fx.read_data(&restored_image, OFFSET, BEFORE_CUT.len()),
            BEFORE_CUT
        );
        assert_eq!(
            fx.read_data(&snap_image, OFFSET, BEFORE_CUT.len()),
            BEFORE_CUT
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preparation_remakes_a_plain_image_under_the_snapshot_images_name() {
    preparation_remakes(Impostor::Plain).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preparation_remakes_a_clone_of_another_snapshot() {
    preparation_remakes(Impostor::CloneOfAnotherSnapshot).await;
}

async fn restore_remakes(impostor: Impostor) {
    Fixture::run(|fx| async move {
        let (source, source_id) = source_with_data(&fx).await;
        let snapshot = fx
            .create_snapshot_ready(fx.snapshot_request("snapshot-proof", &source_id))
            .await;
        fx.write_data(&source, OFFSET, AFTER_CUT);
        let req = fx.restore_request("pvc-restored", 0, &snapshot.snapshot_id);
        crashes_at(
            &fx,
            points::restore::BEFORE_CLONE,
            fx.client().create_volume(req.clone()),
        )
        .await;
        let target = fx.reserved_volume_image("pvc-restored").await;
        plant(&fx, impostor, &source, &target).await;

        let volume = calls::create_volume(fx.client(), req).await;
        assert_eq!(
            fx.failpoints
                .hits(points::restore::AFTER_HALF_MADE_CLONE_REMOVED),
            1,
            "{impostor:?} was not detected"
        );
        assert_eq!(target, volume_image(&volume.volume_id));
        let snap_image = snapshot_image(&snapshot.snapshot_id);
        assert_eq!(
            fx.parent_of(&target).await,
            Some(format!("{snap_image}@{snap_image}"))
        );
        assert_eq!(fx.read_data(&target, OFFSET, BEFORE_CUT.len()), BEFORE_CUT);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restore_remakes_a_plain_image_under_the_volumes_name() {
    restore_remakes(Impostor::Plain).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restore_remakes_a_clone_of_another_snapshot() {
    restore_remakes(Impostor::CloneOfAnotherSnapshot).await;
}

/// Which of the PVC clone's two clones finds an impostor.
#[derive(Clone, Copy, Debug)]
enum CloneStage {
    Temp,
    Volume,
}

async fn pvc_clone_remakes(stage: CloneStage, impostor: Impostor) {
    Fixture::run(|fx| async move {
        let (source, source_id) = source_with_data(&fx).await;
        let req = fx.clone_request("pvc-clone", 0, &source_id);
        let (point, removed) = match stage {
            CloneStage::Temp => (
                points::clone::BEFORE_TEMP_CLONE,
                points::clone::AFTER_HALF_MADE_TEMP_REMOVED,
            ),
            CloneStage::Volume => (
                points::clone::BEFORE_CLONE,
                points::clone::AFTER_HALF_MADE_CLONE_REMOVED,
            ),
        };
        crashes_at(&fx, point, fx.client().create_volume(req.clone())).await;
        fx.write_data(&source, OFFSET, AFTER_CUT);
        let target = fx.reserved_volume_image("pvc-clone").await;
        let planted = match stage {
            CloneStage::Temp => format!("{target}-temp"),
            CloneStage::Volume => target.clone(),
        };
        plant(&fx, impostor, &source, &planted).await;

        calls::create_volume(fx.client(), req).await;
        assert_eq!(
            fx.failpoints.hits(removed),
            1,
            "{impostor:?} at {stage:?} was not detected"
        );
        // Its parent is the temp image's snapshot, now in the trash namespace (named by uuid).
        let parent = fx.parent_of(&target).await.unwrap();
        assert!(parent.starts_with(&format!("{target}-temp@")), "{parent}");
        assert_eq!(fx.read_data(&target, OFFSET, BEFORE_CUT.len()), BEFORE_CUT);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pvc_clone_remakes_a_temp_image_cloned_from_another_snapshot() {
    pvc_clone_remakes(CloneStage::Temp, Impostor::CloneOfAnotherSnapshot).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pvc_clone_remakes_a_plain_temp_image() {
    pvc_clone_remakes(CloneStage::Temp, Impostor::Plain).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pvc_clone_remakes_a_plain_image_under_the_volumes_name() {
    pvc_clone_remakes(CloneStage::Volume, Impostor::Plain).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pvc_clone_remakes_a_clone_of_another_snapshot_under_the_volumes_name() {
    pvc_clone_remakes(CloneStage::Volume, Impostor::CloneOfAnotherSnapshot).await;
}
