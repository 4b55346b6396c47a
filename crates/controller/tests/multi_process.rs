//! Two real `sepia-controller` processes on one pool and RADOS namespace, as every sidecar pod
//! runs its own: the races of issue 12 driven through both. One process is held inside a step
//! (a `pause_until` failpoint) while the other acts on the same volume or snapshot; then the
//! hold is released and the outcome checked in Ceph.
//!
//! The rule under test: whatever holds a volume or snapshot in one process holds it in every
//! process. Contention answers ABORTED at once and the retry converges; nothing is lost or
//! made twice.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::calls::{self, until_ok, until_settled};
use common::processes::{CONVERGE, Processes, Replica};
use common::{DATA_VOLUME, mount_cap, uuid_of, volume_image};
use controller::failpoints as points;
use csi::v1::volume_capability::access_mode::Mode;
use csi::v1::{
    CapacityRange, ControllerExpandVolumeRequest, ControllerPublishVolumeRequest, Snapshot,
};
use tonic::Code;

/// The hold A waits in.
const HOLD: &str = "a";

/// Process A, held at `point` until [`HOLD`] is released, and process B, free.
async fn a_held_at(px: &Processes, point: &str) -> (Replica, Replica) {
    let a = px.start("a", &format!("{point}={}", px.hold(HOLD))).await;
    let b = px.start("b", "").await;
    (a, b)
}

/// A and B as [`a_held_at`], a source volume holding data, and a snapshot of it answered
/// through A, whose preparation A holds at `point`.
async fn snapshot_held_in_a(px: &Processes, point: &str) -> (Replica, Replica, String, Snapshot) {
    let (a, b) = a_held_at(px, point).await;
    let source = px.volume_with_data(&b, "pvc-source").await;
    let snapshot =
        calls::create_snapshot_until_ready(a.client(), px.snapshot_request("snapshot-1", &source))
            .await;
    a.wait_reached(point).await;
    (a, b, source, snapshot)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_in_b_while_a_prepares_a_snapshot_of_the_volume_is_aborted() {
    Processes::run(|px| async move {
        let (_a, b, source, snapshot) =
            snapshot_held_in_a(&px, points::snapshot::BEFORE_CLONE).await;

        let deleted = b
            .client()
            .delete_volume(px.delete_volume_request(&source))
            .await;
        px.release(HOLD);
        match deleted {
            Err(status) if status.code() == Code::Aborted => {}
            other => panic!(
                "DeleteVolume in B while A prepares a snapshot of the volume: expected ABORTED, \
                 got {other:?}"
            ),
        }

        px.wait_image_id(&snapshot.snapshot_id, CONVERGE).await;
        let restored = px
            .restore_holds_the_data(&b, &snapshot.snapshot_id, 0)
            .await;
        px.delete_all(&b, &[&restored, &source], &[&snapshot.snapshot_id])
            .await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expand_in_b_during_a_cut_in_a_is_aborted_and_the_snapshot_restores_at_its_size() {
    Processes::run(|px| async move {
        let (a, b) = a_held_at(&px, points::snapshot::BEFORE_CUT).await;
        let source = px.volume_with_data(&b, "pvc-source").await;
        let snapshot = tokio::spawn(calls::create_snapshot_until_ready(
            a.client(),
            px.snapshot_request("snapshot-1", &source),
        ));
        a.wait_reached(points::snapshot::BEFORE_CUT).await;

        let expanded = b
            .client()
            .controller_expand_volume(ControllerExpandVolumeRequest {
                volume_id: source.clone(),
                capacity_range: Some(CapacityRange {
                    required_bytes: 2 * DATA_VOLUME,
                    limit_bytes: 0,
                }),
                secrets: px.secrets(),
                volume_capability: Some(mount_cap(Mode::SingleNodeWriter)),
            })
            .await;
        px.release(HOLD);
        let snapshot = snapshot.await.unwrap();
        px.wait_image_id(&snapshot.snapshot_id, CONVERGE).await;

        // The size the snapshot reports is the size of what was cut: a restore at exactly
        // that size works (the snapshotter sets restoreSize from it).
        let restored = px
            .restore_holds_the_data(&b, &snapshot.snapshot_id, snapshot.size_bytes)
            .await;
        match expanded {
            Err(status) if status.code() == Code::Aborted => {}
            other => panic!(
                "ControllerExpandVolume in B during a cut in A: expected ABORTED, got {other:?}"
            ),
        }
        px.delete_all(&b, &[&restored, &source], &[&snapshot.snapshot_id])
            .await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restore_in_b_while_a_prepares_the_snapshot_does_not_prepare_it_twice() {
    Processes::run(|px| async move {
        // A is held right after its clone, before the cut goes.
        let (a, b, source, snapshot) = snapshot_held_in_a(&px, points::snapshot::AFTER_CLONE).await;

        // B may refuse (ABORTED) or wait for A (here until its own deadline); it must not
        // finish the preparation A is in the middle of.
        let mut req = tonic::Request::new(px.restore_of(&snapshot.snapshot_id, 0));
        req.set_timeout(Duration::from_secs(10));
        let restored = b.client().create_volume(req).await;
        px.release(HOLD);
        match restored {
            Err(status) if matches!(status.code(), Code::Aborted | Code::DeadlineExceeded) => {}
            other => panic!(
                "a restore in B while A prepares the snapshot: expected ABORTED or a wait, \
                 got {other:?}"
            ),
        }

        px.wait_image_id(&snapshot.snapshot_id, CONVERGE).await;
        let restored = px
            .restore_holds_the_data(&b, &snapshot.snapshot_id, 0)
            .await;
        px.delete_all(&a, &[&restored, &source], &[&snapshot.snapshot_id])
            .await;
    })
    .await;
}

fn publish_request(volume_id: &str, node_id: &str) -> ControllerPublishVolumeRequest {
    ControllerPublishVolumeRequest {
        volume_id: volume_id.to_owned(),
        node_id: node_id.to_owned(),
        volume_capability: Some(mount_cap(Mode::SingleNodeWriter)),
        readonly: false,
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_publishes_of_a_single_node_volume_to_two_nodes_through_two_processes_one_wins() {
    Processes::run(|px| async move {
        let (a, b) = a_held_at(&px, points::publish::BEFORE_RECORD).await;
        px.register_node("node-1").await;
        px.register_node("node-2").await;
        let volume = calls::create_volume(b.client(), px.create_request("pvc-rwo", DATA_VOLUME))
            .await
            .volume_id;

        // A has read the records (none) and is about to write node-1's.
        let first = tokio::spawn({
            let mut client = a.client();
            let req = publish_request(&volume, "node-1");
            async move { client.controller_publish_volume(req).await }
        });
        a.wait_reached(points::publish::BEFORE_RECORD).await;
        let second = b
            .client()
            .controller_publish_volume(publish_request(&volume, "node-2"))
            .await;
        px.release(HOLD);
        let first = first.await.unwrap();
        // A refusal for contention is retried, as the attacher does.
        let second = match second {
            Err(status) if status.code() == Code::Aborted => {
                let req = publish_request(&volume, "node-2");
                until_settled(
                    "publish to node-2",
                    CONVERGE,
                    &[Code::Aborted],
                    async || b.client().controller_publish_volume(req.clone()).await,
                )
                .await
            }
            settled => settled,
        };

        let won: Vec<&str> = [("node-1", &first), ("node-2", &second)]
            .iter()
            .filter(|(_, outcome)| outcome.is_ok())
            .map(|(node, _)| *node)
            .collect();
        assert_eq!(
            won.len(),
            1,
            "exactly one node may hold a single-node volume: node-1 got {first:?}, node-2 got \
             {second:?}"
        );
        for outcome in [&first, &second] {
            if let Err(status) = outcome {
                assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
            }
        }
        let records: Vec<String> = px
            .omap(&format!("csi.volume.{}", uuid_of(&volume)))
            .await
            .into_keys()
            .filter_map(|k| k.strip_prefix("sepia.publish.").map(str::to_owned))
            .collect();
        assert_eq!(records, [won[0]], "publication records");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixty_four_identical_creates_split_across_two_processes_make_one_volume() {
    Processes::run(|px| async move {
        let a = px.start("a", "").await;
        let b = px.start("b", "").await;
        const ROUNDS: usize = 3;
        let mut volumes = Vec::new();
        for round in 0..ROUNDS {
            let name = format!("pvc-crowd-{round}");
            let calls = (0..64).map(|i| {
                let mut client = if i % 2 == 0 { a.client() } else { b.client() };
                let req = px.create_request(&name, DATA_VOLUME);
                async move { client.create_volume(req).await }
            });
            let mut ids = BTreeSet::new();
            for outcome in futures::future::join_all(calls).await {
                match outcome {
                    Ok(reply) => {
                        ids.insert(reply.into_inner().volume.unwrap().volume_id);
                    }
                    Err(status) if status.code() == Code::Aborted => {}
                    Err(status) => panic!("round {round}: unexpected {status:?}"),
                }
            }
            // The refused ones retry, as the provisioner does, through either process.
            for client in [a.client(), b.client()] {
                let req = px.create_request(&name, DATA_VOLUME);
                let volume = until_ok(
                    "CreateVolume retry",
                    CONVERGE,
                    &[Code::Aborted],
                    async || client.clone().create_volume(req.clone()).await,
                )
                .await
                .volume
                .unwrap();
                ids.insert(volume.volume_id);
            }
            assert_eq!(
                ids.len(),
                1,
                "round {round}: one name, several volumes: {ids:?}"
            );
            volumes.extend(ids);
        }
        let images = px.images().await;
        let expected: Vec<String> = volumes.iter().map(|id| volume_image(id)).collect();
        assert_eq!(images, sorted(expected), "images");
        let directory = px.omap("csi.volumes.default").await;
        assert_eq!(directory.len(), ROUNDS, "directory keys: {directory:?}");
        let entries: Vec<String> = px
            .io
            .list_objects()
            .await
            .unwrap()
            .into_iter()
            .filter(|oid| oid.starts_with("csi.volume."))
            .collect();
        assert_eq!(entries.len(), ROUNDS, "entry objects: {entries:?}");
        let ids: Vec<&str> = volumes.iter().map(String::as_str).collect();
        px.delete_all(&a, &ids, &[]).await;
    })
    .await;
}

fn sorted(mut names: Vec<String>) -> Vec<String> {
    names.sort();
    names
}
