//! A crash at every failpoint of every operation, then a retry: one result, and the namespace
//! holds exactly what one clean run leaves — images, snapshots (trash namespace included),
//! trash entries, every object and omap key, and the journal's values.
//!
//! Each point runs in its own namespace against its own controller, next to a clean run of the
//! same scenario; the listings are compared with uuids and image ids replaced by labels.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::{Fixture, GIB, Listing, uuid_of};
use controller::failpoints as points;
use csi::v1::volume_capability::access_mode::Mode;
use csi::v1::{
    ControllerExpandVolumeRequest, ControllerPublishVolumeRequest, CreateSnapshotRequest,
};
use failpoint::Action;
use futures::future::BoxFuture;
use tonic::Code;

/// A scenario runs an operation; with `Some(point)` it crashes there first and retries.
/// Returns the uuids to label in the listing.
type Scenario =
    for<'a> fn(&'a Fixture, Option<&'static str>) -> BoxFuture<'a, Vec<(String, &'static str)>>;

/// Runs `scenario` clean, then once per point with a crash there, and compares the listings.
async fn every_point(points: &[&'static str], scenario: Scenario) {
    let clean = run(scenario, None).await;
    let crashed =
        futures::future::join_all(points.iter().map(|point| run(scenario, Some(point)))).await;
    for (point, listing) in points.iter().zip(crashed) {
        assert_eq!(listing, clean, "after a crash at {point} and a retry");
    }
}

async fn run(scenario: Scenario, crash: Option<&'static str>) -> Listing {
    Fixture::run(|fx| async move {
        let labels = scenario(&fx, crash).await;
        if let Some(point) = crash {
            assert!(fx.failpoints.hits(point) > 0, "{point} was never reached");
        }
        let labels: Vec<(&str, &str)> = labels.iter().map(|(u, l)| (u.as_str(), *l)).collect();
        fx.listing(&labels).await
    })
    .await
}

/// Arms `point`, runs the call, expects the simulated crash, disarms.
async fn crash_at<T: std::fmt::Debug>(
    fx: &Fixture,
    point: Option<&'static str>,
    call: impl std::future::Future<Output = Result<tonic::Response<T>, tonic::Status>>,
) {
    let Some(point) = point else {
        return;
    };
    fx.failpoints.set(point, Action::Fail);
    let status = common::code(call.await);
    fx.failpoints.set(point, Action::Off);
    assert_eq!(status.code(), Code::Internal, "{point}: {status:?}");
    assert!(
        status.message().contains(point),
        "{point}: {}",
        status.message()
    );
}

fn tagged(fx: &Fixture, mut req: csi::v1::CreateVolumeRequest) -> csi::v1::CreateVolumeRequest {
    req.parameters
        .insert("csi.storage.k8s.io/pvc/name".into(), "data".into());
    req.parameters
        .insert("csi.storage.k8s.io/pvc/namespace".into(), "team".into());
    req.parameters
        .insert("csi.storage.k8s.io/pv/name".into(), "pv-1".into());
    let _ = fx;
    req
}

fn snapshot_request(fx: &Fixture, source: &str) -> CreateSnapshotRequest {
    let mut req = fx.snapshot_request("snapshot-crash", source);
    req.parameters.insert(
        "csi.storage.k8s.io/volumesnapshot/name".into(),
        "snap".into(),
    );
    req
}

fn create<'a>(
    fx: &'a Fixture,
    crash: Option<&'static str>,
) -> BoxFuture<'a, Vec<(String, &'static str)>> {
    Box::pin(async move {
        let req = tagged(fx, fx.create_request("pvc-crash", GIB));
        crash_at(fx, crash, fx.client().create_volume(req.clone())).await;
        let volume = fx
            .client()
            .create_volume(req)
            .await
            .unwrap()
            .into_inner()
            .volume
            .unwrap();
        vec![(uuid_of(&volume.volume_id), "NEW")]
    })
}

fn restore<'a>(
    fx: &'a Fixture,
    crash: Option<&'static str>,
) -> BoxFuture<'a, Vec<(String, &'static str)>> {
    Box::pin(async move {
        let source = fx.create_volume("pvc-source", GIB).await;
        let snapshot = fx
            .create_snapshot_ready(snapshot_request(fx, &source.volume_id))
            .await;
        // Larger than the snapshot, so the restore grows the clone.
        let req = tagged(
            fx,
            fx.restore_request("pvc-crash", 2 * GIB, &snapshot.snapshot_id),
        );
        crash_at(fx, crash, fx.client().create_volume(req.clone())).await;
        let volume = fx
            .client()
            .create_volume(req)
            .await
            .unwrap()
            .into_inner()
            .volume
            .unwrap();
        vec![
            (uuid_of(&source.volume_id), "SRC"),
            (uuid_of(&snapshot.snapshot_id), "SNAP"),
            (uuid_of(&volume.volume_id), "NEW"),
        ]
    })
}

fn clone<'a>(
    fx: &'a Fixture,
    crash: Option<&'static str>,
) -> BoxFuture<'a, Vec<(String, &'static str)>> {
    Box::pin(async move {
        let source = fx.create_volume("pvc-source", GIB).await;
        let req = tagged(
            fx,
            fx.clone_request("pvc-crash", 2 * GIB, &source.volume_id),
        );
        crash_at(fx, crash, fx.client().create_volume(req.clone())).await;
        let volume = fx
            .client()
            .create_volume(req)
            .await
            .unwrap()
            .into_inner()
            .volume
            .unwrap();
        vec![
            (uuid_of(&source.volume_id), "SRC"),
            (uuid_of(&volume.volume_id), "NEW"),
        ]
    })
}

/// Crash points on the reply's path of CreateSnapshot: the call fails, the retry finishes.
fn snapshot_cut<'a>(
    fx: &'a Fixture,
    crash: Option<&'static str>,
) -> BoxFuture<'a, Vec<(String, &'static str)>> {
    Box::pin(async move {
        let source = fx.create_volume("pvc-source", GIB).await;
        let req = snapshot_request(fx, &source.volume_id);
        crash_at(fx, crash, fx.client().create_snapshot(req.clone())).await;
        let snapshot = fx.create_snapshot_ready(req).await;
        vec![
            (uuid_of(&source.volume_id), "SRC"),
            (uuid_of(&snapshot.snapshot_id), "SNAP"),
        ]
    })
}

/// Crash points of the preparation after the reply: the first call answers (ready) and its
/// background task crashes; a repeat of the call starts the preparation again.
fn snapshot_prepare<'a>(
    fx: &'a Fixture,
    crash: Option<&'static str>,
) -> BoxFuture<'a, Vec<(String, &'static str)>> {
    Box::pin(async move {
        let source = fx.create_volume("pvc-source", GIB).await;
        let req = snapshot_request(fx, &source.volume_id);
        if let Some(point) = crash {
            fx.failpoints.set(point, Action::Fail);
            let first = fx
                .client()
                .create_snapshot(req.clone())
                .await
                .unwrap()
                .into_inner()
                .snapshot
                .unwrap();
            assert!(first.ready_to_use);
            tokio::time::timeout(
                Duration::from_secs(60),
                fx.failpoints.wait_for_hits(point, 1),
            )
            .await
            .unwrap_or_else(|_| panic!("{point} never reached"));
            fx.failpoints.set(point, Action::Off);
            // The crashed task lets go of its lock; the repeat then starts the preparation anew.
            let uuid = uuid::Uuid::parse_str(&uuid_of(&first.snapshot_id)).unwrap();
            let key = controller::locks::prepare_key(&uuid);
            let free = common::eventually(Duration::from_secs(10), || async {
                !fx.state.names.is_held(&key)
            });
            assert!(free.await);
        }
        let snapshot = fx.create_snapshot_ready(req).await;
        vec![
            (uuid_of(&source.volume_id), "SRC"),
            (uuid_of(&snapshot.snapshot_id), "SNAP"),
        ]
    })
}

/// DeleteVolume of a cloned volume, so its `-temp` image is deleted too.
fn delete<'a>(
    fx: &'a Fixture,
    crash: Option<&'static str>,
) -> BoxFuture<'a, Vec<(String, &'static str)>> {
    Box::pin(async move {
        let source = fx.create_volume("pvc-source", GIB).await;
        let volume = fx
            .client()
            .create_volume(fx.clone_request("pvc-crash", GIB, &source.volume_id))
            .await
            .unwrap()
            .into_inner()
            .volume
            .unwrap();
        let req = csi::v1::DeleteVolumeRequest {
            volume_id: volume.volume_id.clone(),
            secrets: fx.secrets(),
        };
        crash_at(fx, crash, fx.client().delete_volume(req.clone())).await;
        fx.client().delete_volume(req).await.unwrap();
        vec![
            (uuid_of(&source.volume_id), "SRC"),
            (uuid_of(&volume.volume_id), "NEW"),
        ]
    })
}

fn delete_snapshot<'a>(
    fx: &'a Fixture,
    crash: Option<&'static str>,
) -> BoxFuture<'a, Vec<(String, &'static str)>> {
    Box::pin(async move {
        let source = fx.create_volume("pvc-source", GIB).await;
        let snapshot = fx
            .create_snapshot_ready(snapshot_request(fx, &source.volume_id))
            .await;
        let req = csi::v1::DeleteSnapshotRequest {
            snapshot_id: snapshot.snapshot_id.clone(),
            secrets: fx.secrets(),
        };
        crash_at(fx, crash, fx.client().delete_snapshot(req.clone())).await;
        fx.client().delete_snapshot(req).await.unwrap();
        vec![
            (uuid_of(&source.volume_id), "SRC"),
            (uuid_of(&snapshot.snapshot_id), "SNAP"),
        ]
    })
}

/// DeleteSnapshot of a snapshot whose preparation crashed right after the clone: its cut still
/// sits on the source volume.
fn delete_unprepared_snapshot<'a>(
    fx: &'a Fixture,
    crash: Option<&'static str>,
) -> BoxFuture<'a, Vec<(String, &'static str)>> {
    Box::pin(async move {
        let source = fx.create_volume("pvc-source", GIB).await;
        let snapshot = fx
            .create_snapshot_unprepared(snapshot_request(fx, &source.volume_id))
            .await;
        let req = csi::v1::DeleteSnapshotRequest {
            snapshot_id: snapshot.snapshot_id.clone(),
            secrets: fx.secrets(),
        };
        crash_at(fx, crash, fx.client().delete_snapshot(req.clone())).await;
        fx.client().delete_snapshot(req).await.unwrap();
        vec![
            (uuid_of(&source.volume_id), "SRC"),
            (uuid_of(&snapshot.snapshot_id), "SNAP"),
        ]
    })
}

fn expand<'a>(
    fx: &'a Fixture,
    crash: Option<&'static str>,
) -> BoxFuture<'a, Vec<(String, &'static str)>> {
    Box::pin(async move {
        let volume = fx.create_volume("pvc-crash", GIB).await;
        let req = ControllerExpandVolumeRequest {
            volume_id: volume.volume_id.clone(),
            capacity_range: Some(csi::v1::CapacityRange {
                required_bytes: 2 * GIB,
                limit_bytes: 0,
            }),
            secrets: fx.secrets(),
            volume_capability: None,
        };
        crash_at(fx, crash, fx.client().controller_expand_volume(req.clone())).await;
        let reply = fx
            .client()
            .controller_expand_volume(req)
            .await
            .unwrap()
            .into_inner();
        assert_eq!(reply.capacity_bytes, 2 * GIB);
        vec![(uuid_of(&volume.volume_id), "NEW")]
    })
}

fn publish<'a>(
    fx: &'a Fixture,
    crash: Option<&'static str>,
) -> BoxFuture<'a, Vec<(String, &'static str)>> {
    Box::pin(async move {
        fx.register_node("node-a").await;
        let volume = fx.create_volume("pvc-crash", GIB).await;
        let req = ControllerPublishVolumeRequest {
            volume_id: volume.volume_id.clone(),
            node_id: "node-a".into(),
            volume_capability: Some(common::mount_cap(Mode::SingleNodeWriter)),
            ..Default::default()
        };
        crash_at(
            fx,
            crash,
            fx.client().controller_publish_volume(req.clone()),
        )
        .await;
        fx.client().controller_publish_volume(req).await.unwrap();
        vec![(uuid_of(&volume.volume_id), "NEW")]
    })
}

const VOLUME_RESERVE: [&str; 2] = [
    journal::failpoints::VOLUME_RESERVE_AFTER_DIRECTORY_KEY,
    journal::failpoints::VOLUME_RESERVE_AFTER_ENTRY_OBJECT,
];

fn with(base: &[&'static str], more: &[&'static str]) -> Vec<&'static str> {
    base.iter().chain(more).copied().collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_volume_recovers_from_a_crash_anywhere() {
    every_point(&with(&VOLUME_RESERVE, &points::create::ALL), create).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restore_recovers_from_a_crash_anywhere() {
    every_point(&with(&VOLUME_RESERVE, &points::restore::ALL), restore).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clone_recovers_from_a_crash_anywhere() {
    every_point(&with(&VOLUME_RESERVE, &points::clone::ALL), clone).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_snapshot_recovers_from_a_crash_before_the_reply() {
    let reserve = [
        journal::failpoints::SNAPSHOT_RESERVE_AFTER_DIRECTORY_KEY,
        journal::failpoints::SNAPSHOT_RESERVE_AFTER_ENTRY_OBJECT,
    ];
    every_point(&with(&reserve, &points::snapshot::CUT), snapshot_cut).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_snapshot_recovers_from_a_crash_while_preparing() {
    every_point(&points::snapshot::PREPARE, snapshot_prepare).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_volume_recovers_from_a_crash_anywhere() {
    let all = with(
        &with(&points::delete::PLAIN, &points::delete::TEMP),
        &[journal::failpoints::VOLUME_DELETE_AFTER_DIRECTORY_KEY_REMOVED],
    );
    every_point(&all, delete).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_snapshot_recovers_from_a_crash_anywhere() {
    let all = with(
        &points::delete_snapshot::READY,
        &[journal::failpoints::SNAPSHOT_DELETE_AFTER_DIRECTORY_KEY_REMOVED],
    );
    every_point(&all, delete_snapshot).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_of_an_unprepared_snapshot_recovers_from_a_crash_anywhere() {
    every_point(
        &[
            points::delete_snapshot::AFTER_SOURCE_SNAPSHOT_REMOVED,
            points::delete_snapshot::AFTER_TRASH_MOVE,
            points::delete_snapshot::AFTER_PURGE_QUEUED,
        ],
        delete_unprepared_snapshot,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expand_recovers_from_a_crash() {
    every_point(&points::expand::ALL, expand).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_recovers_from_a_crash() {
    every_point(&points::publish::ALL, publish).await;
}
