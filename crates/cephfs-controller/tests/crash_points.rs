//! A crash at every failpoint of every operation (the controller's and the journal's), then a
//! retry: exactly one subvolume or snapshot, and after deleting it through CSI nothing is left
//! of it — no subvolume, no snapshot, no journal key or entry object.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use cephfs_controller::failpoints as points;
use common::*;
use failpoint::Action;
use journal::failpoints as journal_points;
use tonic::Code;

/// Arms `point`, runs `call` (again while it answers ABORTED, as a clone in progress does)
/// until the simulated crash comes back as INTERNAL, then disarms it.
async fn crash<T, F, Fut>(fx: &Fixture, point: &'static str, mut call: F)
where
    T: std::fmt::Debug,
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<tonic::Response<T>, tonic::Status>>,
{
    fx.failpoints.set(point, Action::Fail);
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(120);
    loop {
        match call().await {
            Err(s) if s.code() == Code::Aborted && tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(std::time::Duration::from_millis(300)).await;
            }
            Err(s) => {
                assert_eq!(s.code(), Code::Internal, "{point}: {}", s.message());
                break;
            }
            Ok(reply) => panic!(
                "{point}: expected the simulated crash, got {:?}",
                reply.into_inner()
            ),
        }
    }
    fx.failpoints.set(point, Action::Off);
    assert!(fx.failpoints.hits(point) > 0, "{point} was never reached");
}

/// Nothing of any volume or snapshot is left in the test's group and journal namespace.
fn assert_empty(fx: &Fixture, point: &str) {
    assert!(fx.subvolumes().is_empty(), "{point}: {:?}", fx.subvolumes());
    for object in fx.journal_objects() {
        assert!(
            object == "csi.volumes.default" || object == "csi.snaps.default",
            "{point}: leftover journal object {object}"
        );
        assert!(
            fx.omap(&object).is_empty(),
            "{point}: leftover keys in {object}"
        );
    }
}

#[tokio::test]
async fn create_volume_crashes_then_retries() {
    for point in [
        journal_points::VOLUME_RESERVE_AFTER_DIRECTORY_KEY,
        journal_points::VOLUME_RESERVE_AFTER_ENTRY_OBJECT,
        points::create::AFTER_SUBVOLUME_CREATED,
    ] {
        Fixture::run(|fx| async move {
            let req = fx.create_request("pvc-crash", 4 * MIB);
            crash(&fx, point, || {
                let mut c = fx.client();
                let r = req.clone();
                async move { c.create_volume(r).await }
            })
            .await;
            let volume = create(fx.client(), req).await;
            assert_eq!(
                fx.subvolumes(),
                vec![subvolume_of(&volume.volume_id)],
                "{point}"
            );
            assert_eq!(fx.omap("csi.volumes.default").len(), 1, "{point}");
            fx.delete_volume(&volume.volume_id).await;
            assert_empty(&fx, point);
        })
        .await;
    }
}

#[tokio::test]
async fn delete_volume_crashes_then_retries() {
    for point in [
        points::delete::AFTER_SUBVOLUME_REMOVED,
        journal_points::VOLUME_DELETE_AFTER_DIRECTORY_KEY_REMOVED,
    ] {
        Fixture::run(|fx| async move {
            let volume = fx.create_volume("pvc-crash", 4 * MIB).await;
            let req = csi::v1::DeleteVolumeRequest {
                volume_id: volume.volume_id.clone(),
                secrets: secrets(),
            };
            crash(&fx, point, || {
                let mut c = fx.client();
                let r = req.clone();
                async move { c.delete_volume(r).await }
            })
            .await;
            fx.delete_volume(&volume.volume_id).await;
            assert_empty(&fx, point);
        })
        .await;
    }
}

#[tokio::test]
async fn snapshots_crash_then_retry() {
    for point in [
        journal_points::SNAPSHOT_RESERVE_AFTER_DIRECTORY_KEY,
        journal_points::SNAPSHOT_RESERVE_AFTER_ENTRY_OBJECT,
        points::snapshot::AFTER_SNAPSHOT_CREATED,
        points::delete_snapshot::AFTER_SNAPSHOT_REMOVED,
        journal_points::SNAPSHOT_DELETE_AFTER_DIRECTORY_KEY_REMOVED,
    ] {
        Fixture::run(|fx| async move {
            let volume = fx.create_volume("pvc-src", 4 * MIB).await;
            let sub = subvolume_of(&volume.volume_id);
            let req = fx.snapshot_request("snap-crash", &volume.volume_id);
            let deleting = point.contains("delete");
            if !deleting {
                crash(&fx, point, || {
                    let mut c = fx.client();
                    let r = req.clone();
                    async move { c.create_snapshot(r).await }
                })
                .await;
            }
            let snapshot = fx.create_snapshot("snap-crash", &volume.volume_id).await;
            assert_eq!(
                fx.snapshots_of(&sub),
                vec![snap_of(&snapshot.snapshot_id)],
                "{point}"
            );
            assert_eq!(fx.omap("csi.snaps.default").len(), 1, "{point}");
            if deleting {
                let del = csi::v1::DeleteSnapshotRequest {
                    snapshot_id: snapshot.snapshot_id.clone(),
                    secrets: secrets(),
                };
                crash(&fx, point, || {
                    let mut c = fx.client();
                    let r = del.clone();
                    async move { c.delete_snapshot(r).await }
                })
                .await;
            }
            fx.delete_snapshot(&snapshot.snapshot_id).await;
            assert!(fx.snapshots_of(&sub).is_empty(), "{point}");
            fx.delete_volume(&volume.volume_id).await;
            assert_empty(&fx, point);
        })
        .await;
    }
}

#[tokio::test]
async fn restores_crash_then_retry() {
    for point in [
        points::clone::AFTER_CLONE_STARTED,
        points::clone::AFTER_RESIZE,
    ] {
        Fixture::run(|fx| async move {
            let volume = fx.create_volume("pvc-src", 4 * MIB).await;
            let snapshot = fx.create_snapshot("snap-src", &volume.volume_id).await;
            let req = fx.restore_request("pvc-restore", 8 * MIB, &snapshot.snapshot_id);
            crash(&fx, point, || {
                let mut c = fx.client();
                let r = req.clone();
                async move { c.create_volume(r).await }
            })
            .await;
            let restored = create(fx.client(), req).await;
            let target = subvolume_of(&restored.volume_id);
            assert_eq!(fx.subvolumes().len(), 2, "{point}: {:?}", fx.subvolumes());
            assert_eq!(fx.clone_state(&target), "complete", "{point}");
            assert_eq!(fx.quota(&target), 8 << 20, "{point}");
            fx.delete_volume(&restored.volume_id).await;
            fx.delete_snapshot(&snapshot.snapshot_id).await;
            fx.delete_volume(&volume.volume_id).await;
            assert_empty(&fx, point);
        })
        .await;
    }
}

#[tokio::test]
async fn volume_clones_crash_then_retry() {
    for point in points::clone::ALL {
        Fixture::run(|fx| async move {
            let volume = fx.create_volume("pvc-parent", 4 * MIB).await;
            let parent = subvolume_of(&volume.volume_id);
            let req = fx.clone_request("pvc-child", 8 * MIB, &volume.volume_id);
            crash(&fx, point, || {
                let mut c = fx.client();
                let r = req.clone();
                async move { c.create_volume(r).await }
            })
            .await;
            let child = create(fx.client(), req).await;
            let target = subvolume_of(&child.volume_id);
            let mut expected = vec![parent.clone(), target.clone()];
            expected.sort();
            assert_eq!(fx.subvolumes(), expected, "{point}");
            assert_eq!(fx.clone_state(&target), "complete", "{point}");
            assert_eq!(fx.quota(&target), 8 << 20, "{point}");
            assert!(
                fx.snapshots_of(&parent).is_empty(),
                "{point}: temporary snapshot left"
            );
            fx.delete_volume(&child.volume_id).await;
            fx.delete_volume(&volume.volume_id).await;
            assert_empty(&fx, point);
        })
        .await;
    }
}
