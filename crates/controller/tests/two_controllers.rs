//! Two controllers on one pool and namespace — each sidecar pod runs its own, and two leaders
//! overlap during a hand-over — kept apart by their locks in RADOS: one volume per name, no
//! delete or expansion under a snapshot, no preparation twice, one node per single-node volume,
//! no write after a lock is gone. Each controller has its own Ceph connection (its own RADOS
//! client entity) and its own in-process locks, as two processes do.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
mod twin;

use std::collections::BTreeSet;
use std::time::Duration;

use common::{Fixture, GIB, code, eventually, mount_cap, uuid_of};
use controller::failpoints::{create, snapshot};
use controller::locks::{ID_LOCK, PREPARE_LOCK, PUBLISH_LOCK};
use csi::v1::controller_client::ControllerClient;
use csi::v1::volume_capability::access_mode::Mode;
use csi::v1::*;
use failpoint::Action;
use tonic::Code;
use tonic::transport::Channel;
use twin::{Twin, holders, locks_on};

/// Calls `call` until it stops answering ABORTED (as the sidecars retry), within a minute.
async fn until_not_aborted<T, F, Fut>(mut call: F) -> Result<T, tonic::Status>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<tonic::Response<T>, tonic::Status>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        match call().await {
            Err(status)
                if status.code() == Code::Aborted && tokio::time::Instant::now() < deadline =>
            {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            other => return other.map(tonic::Response::into_inner),
        }
    }
}

fn expand(fx: &Fixture, volume_id: &str, bytes: i64) -> ControllerExpandVolumeRequest {
    ControllerExpandVolumeRequest {
        volume_id: volume_id.to_owned(),
        capacity_range: Some(CapacityRange {
            required_bytes: bytes,
            limit_bytes: 0,
        }),
        secrets: fx.secrets(),
        volume_capability: Some(mount_cap(Mode::SingleNodeWriter)),
    }
}

fn delete_volume(fx: &Fixture, volume_id: &str) -> DeleteVolumeRequest {
    DeleteVolumeRequest {
        volume_id: volume_id.to_owned(),
        secrets: fx.secrets(),
    }
}

async fn snapshot_in(
    client: &mut ControllerClient<Channel>,
    req: CreateSnapshotRequest,
) -> Result<tonic::Response<CreateSnapshotResponse>, tonic::Status> {
    client.create_snapshot(req).await
}

type Reply =
    tokio::task::JoinHandle<Result<tonic::Response<CreateSnapshotResponse>, tonic::Status>>;

/// CreateSnapshot through `client`, held right after its cut (it holds the snapshot's locks and
/// a shared lock on the volume there) until [`finish_cut`].
async fn snapshot_held_at_cut(
    failpoints: &failpoint::Failpoints,
    mut client: ControllerClient<Channel>,
    req: CreateSnapshotRequest,
) -> Reply {
    failpoints.set(snapshot::AFTER_CUT, Action::Pause);
    let reply = tokio::spawn(async move { snapshot_in(&mut client, req).await });
    failpoints.wait_for_hits(snapshot::AFTER_CUT, 1).await;
    reply
}

/// Lets the CreateSnapshot of [`snapshot_held_at_cut`] go on; its reply.
async fn finish_cut(
    failpoints: &failpoint::Failpoints,
    reply: Reply,
) -> Result<tonic::Response<CreateSnapshotResponse>, tonic::Status> {
    failpoints.resume(snapshot::AFTER_CUT);
    failpoints.set(snapshot::AFTER_CUT, Action::Off);
    reply.await.unwrap()
}

/// The volume or snapshot ID of the entry `uuid` in the fixture's pool.
fn id_of(fx: &Fixture, uuid: &str) -> String {
    let pool_id = u64::try_from(fx.io.pool_id()).unwrap();
    journal::CompositeId::new(
        common::CLUSTER_ID,
        pool_id,
        uuid::Uuid::parse_str(uuid).unwrap(),
    )
    .unwrap()
    .encode()
}

/// Journal entry objects (`csi.volume.<uuid>` / `csi.snap.<uuid>`) in the namespace.
async fn entries(fx: &Fixture, prefix: &str) -> Vec<String> {
    let mut objects: Vec<String> = fx
        .io
        .list_objects()
        .await
        .unwrap()
        .into_iter()
        .filter(|o| o.starts_with(prefix) && o.len() == prefix.len() + 36)
        .collect();
    objects.sort();
    objects
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixty_four_identical_creates_across_two_controllers_make_one_volume() {
    Fixture::run(|fx| async move {
        let other = Twin::start(&fx).await;
        let calls = (0..64).map(|i| {
            let mut client = if i % 2 == 0 {
                fx.client()
            } else {
                other.client()
            };
            let req = fx.create_request("pvc-two-crowds", GIB);
            async move { client.create_volume(req).await }
        });
        let mut ids = BTreeSet::new();
        let mut aborted = 0;
        for outcome in futures::future::join_all(calls).await {
            match outcome {
                Ok(reply) => {
                    ids.insert(reply.into_inner().volume.unwrap().volume_id);
                }
                Err(status) if status.code() == Code::Aborted => aborted += 1,
                Err(status) => panic!("unexpected {status:?}"),
            }
        }
        eprintln!("64 identical CreateVolume over two controllers: {aborted} aborted");
        assert_eq!(ids.len(), 1, "{ids:?}");
        // The aborted ones retry, in either controller, and get the same volume.
        let again = other
            .client()
            .create_volume(fx.create_request("pvc-two-crowds", GIB))
            .await
            .unwrap()
            .into_inner()
            .volume
            .unwrap();
        assert!(ids.contains(&again.volume_id));
        assert_eq!(fx.images().await.len(), 1, "{:?}", fx.images().await);
        assert_eq!(entries(&fx, "csi.volume.").await.len(), 1);
        assert_eq!(fx.omap("csi.volumes.default").await.len(), 1);
        // No lock record stays behind: not on the directory, no holder on the entry.
        assert!(locks_on(&fx, "csi.volumes.default").is_empty());
        let entry = format!("csi.volume.{}", uuid_of(&again.volume_id));
        for lock in locks_on(&fx, &entry) {
            assert_eq!(holders(&fx, &entry, &lock).await, 0, "{lock} still held");
        }
    })
    .await;
}

/// DeleteVolume in one controller while CreateSnapshot of the volume runs in the other: the
/// delete is refused (ABORTED) until the snapshot is prepared, and the snapshot keeps its data.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_volume_waits_for_a_snapshot_taken_in_the_other_controller() {
    Fixture::run(|fx| async move {
        let other = Twin::start(&fx).await;
        let volume = fx.create_volume("pvc-delete-vs-snap", GIB).await;
        let req = fx.snapshot_request("snap-delete-vs-snap", &volume.volume_id);
        let snap = snapshot_held_at_cut(&other.failpoints, other.client(), req).await;
        let refused = code(
            fx.client()
                .delete_volume(delete_volume(&fx, &volume.volume_id))
                .await,
        );
        assert_eq!(refused.code(), Code::Aborted, "{refused:?}");
        let snap = finish_cut(&other.failpoints, snap).await.unwrap();
        let snap = snap.into_inner().snapshot.unwrap();
        assert!(snap.ready_to_use);

        // The delete goes through once the snapshot no longer needs its source.
        until_not_aborted(|| {
            let (mut client, req) = (fx.client(), delete_volume(&fx, &volume.volume_id));
            async move { client.delete_volume(req).await }
        })
        .await
        .unwrap();
        let uuid = uuid_of(&snap.snapshot_id);
        let snap_image = format!("csi-snap-{uuid}");
        assert_eq!(fx.images().await, std::slice::from_ref(&snap_image));
        assert!(
            fx.omap(&format!("csi.snap.{uuid}"))
                .await
                .contains_key("csi.imageid")
        );
        let restored = fx.create_volume_from(&snap.snapshot_id).await;
        let image = format!("csi-vol-{}", uuid_of(&restored));
        assert_eq!(
            fx.parent_of(&image).await,
            Some(format!("{snap_image}@{snap_image}"))
        );
        fx.delete_volume(&restored).await;
        fx.delete_snapshot(&snap.snapshot_id).await;
    })
    .await;
}

/// CreateSnapshot while a DeleteVolume of its source holds the volume in the other controller.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_snapshot_is_refused_while_the_other_controller_deletes_its_source() {
    Fixture::run(|fx| async move {
        let other = Twin::start(&fx).await;
        let volume = fx.create_volume("pvc-being-deleted", GIB).await;
        let point = controller::failpoints::delete::AFTER_TRASH_MOVE;
        other.failpoints.set(point, Action::Pause);
        let delete = {
            let mut client = other.client();
            let req = delete_volume(&fx, &volume.volume_id);
            tokio::spawn(async move { client.delete_volume(req).await })
        };
        other.failpoints.wait_for_hits(point, 1).await;
        let refused = code(
            fx.client()
                .create_snapshot(fx.snapshot_request("snap-too-late", &volume.volume_id))
                .await,
        );
        assert_eq!(refused.code(), Code::Aborted, "{refused:?}");
        other.failpoints.resume(point);
        delete.await.unwrap().unwrap();
        let gone = code(
            fx.client()
                .create_snapshot(fx.snapshot_request("snap-too-late", &volume.volume_id))
                .await,
        );
        assert_eq!(gone.code(), Code::NotFound, "{gone:?}");
        assert!(fx.images().await.is_empty());
        assert!(entries(&fx, "csi.snap.").await.is_empty());
    })
    .await;
}

/// ControllerExpandVolume in one controller during a cut in the other is refused, so the size
/// recorded at the cut is the snapshot's size and a restore at that size works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expand_is_refused_during_a_snapshot_in_the_other_controller() {
    Fixture::run(|fx| async move {
        let other = Twin::start(&fx).await;
        let volume = fx.create_volume("pvc-expand-vs-snap", GIB).await;
        let req = fx.snapshot_request("snap-expand-vs-snap", &volume.volume_id);
        let snap = snapshot_held_at_cut(&other.failpoints, other.client(), req).await;
        let refused = code(
            fx.client()
                .controller_expand_volume(expand(&fx, &volume.volume_id, 2 * GIB))
                .await,
        );
        assert_eq!(refused.code(), Code::Aborted, "{refused:?}");
        let snap = finish_cut(&other.failpoints, snap).await.unwrap();
        let snap = snap.into_inner().snapshot.unwrap();
        assert_eq!(snap.size_bytes, GIB);
        until_not_aborted(|| {
            let (mut client, req) = (fx.client(), expand(&fx, &volume.volume_id, 2 * GIB));
            async move { client.controller_expand_volume(req).await }
        })
        .await
        .unwrap();
        let restore = fx.restore_request("pvc-at-cut-size", snap.size_bytes, &snap.snapshot_id);
        let restored = fx
            .client()
            .create_volume(restore)
            .await
            .unwrap()
            .into_inner()
            .volume
            .unwrap();
        assert_eq!(restored.capacity_bytes, GIB);
        fx.delete_volume(&restored.volume_id).await;
        fx.delete_snapshot(&snap.snapshot_id).await;
        fx.delete_volume(&volume.volume_id).await;
    })
    .await;
}

/// A restore in one controller while the other prepares the snapshot waits for that
/// preparation instead of doing it a second time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restore_waits_for_the_preparation_running_in_the_other_controller() {
    Fixture::run(|fx| async move {
        let other = Twin::start(&fx).await;
        let volume = fx.create_volume("pvc-prepared-once", GIB).await;
        other
            .failpoints
            .set(snapshot::AFTER_INNER_SNAPSHOT, Action::Pause);
        let snap = snapshot_in(
            &mut other.client(),
            fx.snapshot_request("snap-prepared-once", &volume.volume_id),
        )
        .await
        .unwrap()
        .into_inner()
        .snapshot
        .unwrap();
        other
            .failpoints
            .wait_for_hits(snapshot::AFTER_INNER_SNAPSHOT, 1)
            .await;
        let uuid = uuid_of(&snap.snapshot_id);
        assert_eq!(
            holders(&fx, &format!("csi.snap.{uuid}"), PREPARE_LOCK).await,
            1
        );
        let restore = {
            let mut client = fx.client();
            let req = fx.restore_request("pvc-from-prepared-once", 0, &snap.snapshot_id);
            tokio::spawn(async move { client.create_volume(req).await })
        };
        // The restore has taken its shared lock on the snapshot and waits for the preparation.
        let waiting = eventually(Duration::from_secs(30), || async {
            holders(&fx, &format!("csi.snap.{uuid}"), ID_LOCK).await == 1
        })
        .await;
        assert!(waiting, "the restore never locked the snapshot");
        other.failpoints.resume(snapshot::AFTER_INNER_SNAPSHOT);
        other
            .failpoints
            .set(snapshot::AFTER_INNER_SNAPSHOT, Action::Off);
        let restored = restore.await.unwrap().unwrap().into_inner().volume.unwrap();
        // Prepared once, by the other controller: this one never cloned the cut.
        assert_eq!(fx.failpoints.hits(snapshot::AFTER_CLONE), 0);
        assert_eq!(other.failpoints.hits(snapshot::AFTER_CLONE), 1);
        let snap_image = format!("csi-snap-{uuid}");
        let image = format!("csi-vol-{}", uuid_of(&restored.volume_id));
        assert_eq!(
            fx.parent_of(&image).await,
            Some(format!("{snap_image}@{snap_image}"))
        );
        fx.delete_volume(&restored.volume_id).await;
        fx.delete_snapshot(&snap.snapshot_id).await;
        fx.delete_volume(&volume.volume_id).await;
    })
    .await;
}

/// Two attachers (one per controller) publishing a single-node volume to two nodes at once:
/// exactly one node gets it, whatever the interleaving.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_single_node_volume_is_published_to_one_node_across_controllers() {
    Fixture::run(|fx| async move {
        let other = Twin::start(&fx).await;
        fx.register_node("node-a").await;
        fx.register_node("node-b").await;
        let publish = |volume_id: &str, node: &str| ControllerPublishVolumeRequest {
            volume_id: volume_id.to_owned(),
            node_id: node.to_owned(),
            volume_capability: Some(mount_cap(Mode::SingleNodeWriter)),
            ..Default::default()
        };
        for round in 0..4 {
            let volume = fx.create_volume(&format!("pvc-rwo-{round}"), GIB).await;
            let id = volume.volume_id;
            let attach = |client: ControllerClient<Channel>, node: &str| {
                let req = publish(&id, node);
                move || {
                    let (mut client, req) = (client.clone(), req.clone());
                    async move { client.controller_publish_volume(req).await }
                }
            };
            let (ra, rb) = tokio::join!(
                until_not_aborted(attach(fx.client(), "node-a")),
                until_not_aborted(attach(other.client(), "node-b")),
            );
            let granted = [ra.is_ok(), rb.is_ok()];
            assert_eq!(granted.iter().filter(|g| **g).count(), 1, "{ra:?} {rb:?}");
            for refused in [ra.err(), rb.err()].into_iter().flatten() {
                assert_eq!(refused.code(), Code::FailedPrecondition, "{refused:?}");
            }
            let record = fx.omap(&format!("csi.volume.{}", uuid_of(&id))).await;
            let nodes: Vec<&String> = record
                .keys()
                .filter(|k| k.starts_with(journal::records::publication::KEY_PREFIX))
                .collect();
            assert_eq!(nodes.len(), 1, "{record:?}");
            assert_eq!(
                holders(&fx, &format!("csi.volume.{}", uuid_of(&id)), PUBLISH_LOCK).await,
                0
            );
        }
    })
    .await;
}

/// A CreateSnapshot loses its lock on the snapshot mid-way (it expired while the process was
/// cut off, or an operator broke it); the other controller deletes the snapshot; the first
/// one's late journal write must not bring the deleted entry back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_snapshot_is_not_recreated_by_a_late_write() {
    Fixture::run(|fx| async move {
        let other = Twin::start(&fx).await;
        let volume = fx.create_volume("pvc-late-write", GIB).await;
        let req = fx.snapshot_request("snap-late-write", &volume.volume_id);
        let late = snapshot_held_at_cut(&fx.failpoints, fx.client(), req).await;
        let (names, _) = fx
            .io
            .omap_list("csi.snaps.default", "", "", 10)
            .await
            .unwrap();
        let uuid = String::from_utf8(names[0].1.clone()).unwrap();
        let entry = format!("csi.snap.{uuid}");
        assert_eq!(
            fx.io
                .break_lock_holders(&entry, PREPARE_LOCK)
                .await
                .unwrap(),
            1
        );
        let snapshot_id = id_of(&fx, &uuid);
        other
            .client()
            .delete_snapshot(DeleteSnapshotRequest {
                snapshot_id,
                secrets: fx.secrets(),
            })
            .await
            .unwrap();
        assert!(!fx.io.exists(&entry).await.unwrap());
        // The held-up request goes on to record the cut: refused, nothing re-created.
        let refused = finish_cut(&fx.failpoints, late).await;
        assert!(refused.is_err(), "{refused:?}");
        assert_eq!(fx.failpoints.hits(snapshot::AFTER_RECORDED), 0);
        assert!(!fx.io.exists(&entry).await.unwrap(), "the entry came back");
        assert!(entries(&fx, "csi.snap.").await.is_empty());
        assert!(fx.omap("csi.snaps.default").await.is_empty());
        let image = format!("csi-vol-{}", uuid_of(&volume.volume_id));
        assert_eq!(fx.images().await, std::slice::from_ref(&image));
        assert!(fx.snapshots_of(&image).await.is_empty());
        fx.delete_volume(&volume.volume_id).await;
    })
    .await;
}

/// A request whose lock is lost while it works is stopped (ABORTED) and changes nothing more;
/// its retry makes exactly one volume.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_that_loses_its_lock_is_aborted_and_its_retry_completes() {
    Fixture::run(|fx| async move {
        let short = Twin::with(&fx, |mut settings| {
            settings.lock_duration = Duration::from_secs(3);
            settings
        })
        .await;
        short
            .failpoints
            .set(create::AFTER_IMAGE_CREATED, Action::Pause);
        let create = {
            let mut client = short.client();
            let req = fx.create_request("pvc-lost-lock", GIB);
            tokio::spawn(async move { client.create_volume(req).await })
        };
        short
            .failpoints
            .wait_for_hits(create::AFTER_IMAGE_CREATED, 1)
            .await;
        let name_lock = format!("{}pvc-lost-lock", journal::REQUEST_LOCK_PREFIX);
        let broken = fx.io.break_lock_holders("csi.volumes.default", &name_lock);
        assert_eq!(broken.await.unwrap(), 1);
        let stopped = create.await.unwrap().unwrap_err();
        assert_eq!(stopped.code(), Code::Aborted, "{stopped:?}");
        assert!(stopped.message().contains("lost the lock"), "{stopped:?}");
        short
            .failpoints
            .set(create::AFTER_IMAGE_CREATED, Action::Off);
        let volume = fx.create_volume("pvc-lost-lock", GIB).await;
        assert_eq!(
            fx.images().await,
            [format!("csi-vol-{}", uuid_of(&volume.volume_id))]
        );
        assert!(
            fx.omap(&format!("csi.volume.{}", uuid_of(&volume.volume_id)))
                .await
                .contains_key("csi.imageid")
        );
        assert!(locks_on(&fx, "csi.volumes.default").is_empty());
    })
    .await;
}

/// The start-up pass in every controller at once: each unfinished preparation is done once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_start_up_pass_can_run_in_both_controllers_at_once() {
    Fixture::run(|fx| async move {
        let other = Twin::start(&fx).await;
        let volume = fx.create_volume("pvc-resume-twice", GIB).await;
        let snap = fx
            .create_snapshot_unprepared(fx.snapshot_request("snap-resume-twice", &volume.volume_id))
            .await;
        let (a, b) = tokio::join!(
            controller::snapshot::resume::resume_unprepared(&fx.state),
            controller::snapshot::resume::resume_unprepared(&other.state),
        );
        assert_eq!(a.unwrap() + b.unwrap(), 1);
        let uuid = uuid_of(&snap.snapshot_id);
        assert!(
            fx.omap(&format!("csi.snap.{uuid}"))
                .await
                .contains_key("csi.imageid")
        );
        fx.delete_snapshot(&snap.snapshot_id).await;
        fx.delete_volume(&volume.volume_id).await;
    })
    .await;
}
