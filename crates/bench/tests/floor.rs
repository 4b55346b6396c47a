//! The floor against the real bed: what it writes is a ceph-csi journal the `sepia-journal`
//! crate reads, its images are really there between phases, and nothing is left at the end.
//! No timing is asserted.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::panic::AssertUnwindSafe;
use std::time::Duration;

use bench::floor::{Floor, FloorSnapshot, FloorVolume};
use bench::phase::{PhaseSpec, run_phase};
use bench::{Mode, Options};
use ceph::rbd::{self, Features, SnapNamespace};
use ceph::{Cluster, Credentials, Timeouts};
use clap::Parser as _;
use futures::FutureExt as _;
use journal::{Config, Journal, Request};
use rig::inventory::Inventory;
use rig::scratch::{ScratchNamespace, wait_for_trash_purge};
use sepia_testbed::Bed;

const SIZE: u64 = 64 << 20;

async fn connect() -> Cluster {
    let bed = Bed::get();
    let creds = Credentials::new(&bed.monitors, &bed.user, &bed.key);
    Cluster::connect(&creds, &Timeouts::default())
        .await
        .expect("connect to the bed")
}

fn spec(op: &'static str) -> PhaseSpec {
    PhaseSpec {
        op,
        variant: "floor",
        detail: "test".into(),
        concurrency: 2,
    }
}

async fn image_names(io: &ceph::IoCtx) -> BTreeSet<String> {
    rbd::list(io)
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.name)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn floor_writes_a_ceph_csi_journal_and_removes_every_image_it_made() {
    let bed = Bed::get();
    let cluster = connect().await;
    let scratch = ScratchNamespace::create(&cluster, &bed.pool, &bed.unique_name("bench-floor"))
        .await
        .unwrap();
    let io = scratch.io.clone();
    let body = async {
        let floor = Floor::new(cluster.clone(), io.clone(), SIZE, Features::LAYERING).unwrap();
        let volumes_journal =
            Journal::volumes(cluster.clone(), io.clone(), &Config::default()).unwrap();
        let snapshots_journal =
            Journal::snapshots(cluster.clone(), io.clone(), &Config::default()).unwrap();
        let names: Vec<String> = (0..4).map(|i| format!("pvc-floor-{i}")).collect();

        // CreateVolume ×4: four images of the size asked, each found through the journal.
        let f = floor.clone();
        let created = run_phase(spec("CreateVolume"), names.clone(), move |name| {
            let f = f.clone();
            async move { f.create_volume(name).await }
        })
        .await;
        assert_eq!(created.result.latency.ok, 4, "{:?}", created.result.errors);
        let volumes: Vec<FloorVolume> = created.outputs.into_iter().flatten().collect();
        let expected: BTreeSet<String> = volumes.iter().map(|v| v.image_name.clone()).collect();
        assert_eq!(image_names(&io).await, expected);
        for (name, volume) in names.iter().zip(&volumes) {
            let entry = volumes_journal
                .lookup(&Request::new(name.clone()))
                .await
                .unwrap()
                .expect("the journal finds the floor's reservation");
            assert_eq!(entry.location.uuid, volume.uuid);
            assert_eq!(entry.image_name, format!("csi-vol-{}", volume.uuid));
            let image = rbd::open(&io, &volume.image_name).await.unwrap();
            assert_eq!(image.size().await.unwrap(), SIZE);
            assert_eq!(
                entry.image_id.as_deref(),
                Some(image.id().await.unwrap().as_str())
            );
            image.close().await.unwrap();
        }

        // CreateSnapshot of each: a csi-snap clone holding its own snapshot, parented on the volume.
        let inputs: Vec<(FloorVolume, String)> = volumes
            .iter()
            .cloned()
            .zip((0..4).map(|i| format!("snapshot-floor-{i}")))
            .collect();
        let f = floor.clone();
        let snapshotted = run_phase(spec("CreateSnapshot"), inputs, move |(volume, name)| {
            let f = f.clone();
            async move { f.create_snapshot(volume, name).await }
        })
        .await;
        assert_eq!(
            snapshotted.result.latency.ok, 4,
            "{:?}",
            snapshotted.result.errors
        );
        let snapshots: Vec<FloorSnapshot> = snapshotted.outputs.into_iter().flatten().collect();
        assert_eq!(image_names(&io).await.len(), 8);
        for (i, snapshot) in snapshots.iter().enumerate() {
            let name = format!("csi-snap-{}", snapshot.uuid);
            let entry = snapshots_journal
                .lookup(
                    &Request::new(format!("snapshot-floor-{i}"))
                        .with_source(&volumes[i].image_name),
                )
                .await
                .unwrap()
                .expect("the journal finds the snapshot with its source");
            assert_eq!(entry.image_name, name);
            let clone = rbd::open(&io, &name).await.unwrap();
            let parent = clone.parent().await.unwrap().expect("a clone");
            assert_eq!(parent.image_name, volumes[i].image_name);
            let snaps = clone.snap_list().await.unwrap();
            assert_eq!(snaps.len(), 1);
            assert_eq!(
                (snaps[0].name.as_str(), &snaps[0].namespace),
                (name.as_str(), &SnapNamespace::User)
            );
            clone.close().await.unwrap();
        }

        // Deletes, then the mgr's purge: no image, no trash, no journal key or object.
        let f = floor.clone();
        let deleted = run_phase(spec("DeleteSnapshot"), snapshots, move |s| {
            let f = f.clone();
            async move { f.delete_snapshot(s).await }
        })
        .await;
        assert_eq!(deleted.result.latency.ok, 4, "{:?}", deleted.result.errors);
        let f = floor.clone();
        let deleted = run_phase(spec("DeleteVolume"), volumes, move |v| {
            let f = f.clone();
            async move { f.delete_volume(v).await }
        })
        .await;
        assert_eq!(deleted.result.latency.ok, 4, "{:?}", deleted.result.errors);
        assert_eq!(deleted.result.errors.in_use, 0);
        assert!(
            image_names(&io).await.is_empty(),
            "deleted images are in the trash, not listed"
        );
        wait_for_trash_purge(&io, Duration::from_secs(300))
            .await
            .unwrap();
        assert!(rbd::trash_list(&io).await.unwrap().is_empty());
        for name in &names {
            assert_eq!(
                volumes_journal
                    .lookup(&Request::new(name.clone()))
                    .await
                    .unwrap(),
                None
            );
        }
        let left = Inventory::take(&io).await.unwrap();
        assert!(left.holds_nothing(), "{left:?}");
    };
    let outcome = AssertUnwindSafe(body).catch_unwind().await;
    let before_removal = scratch.remove().await.unwrap();
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
    assert!(before_removal.holds_nothing());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_floor_run_reports_every_line_and_removes_its_namespace() {
    let bed = Bed::get();
    let run_id = bed.unique_name("t");
    let opts = Options::try_parse_from([
        "sepia-bench",
        "--mode",
        "floor",
        "-n",
        "4",
        "-c",
        "2",
        "--size",
        "64Mi",
        "--pool",
        &bed.pool,
        "--run-id",
        &run_id,
        "--purge-timeout",
        "300s",
    ])
    .unwrap();
    assert_eq!(opts.mode, Mode::Floor);
    let report = bench::run(&opts).await.unwrap();

    assert_eq!(report.namespace, format!("bench-{run_id}"));
    assert_eq!(
        report.phases.len(),
        8,
        "full and bare line of four operations"
    );
    for line in &report.phases {
        assert_eq!((line.attempted, line.latency.ok), (4, 4), "{line:?}");
        assert!(line.latency.ops_per_sec > 0.0);
    }
    assert!(
        report.purges.iter().all(|p| p.error.is_none()),
        "{:?}",
        report.purges
    );
    assert!(report.leftovers.as_ref().unwrap().holds_nothing());
    assert!(report.clean());

    let cluster = connect().await;
    let pool_io = cluster.ioctx(&bed.pool, "").await.unwrap();
    let namespaces = rbd::namespace_list(&pool_io).await.unwrap();
    assert!(!namespaces.contains(&report.namespace), "{namespaces:?}");
    let io = cluster.ioctx(&bed.pool, &report.namespace).await.unwrap();
    assert_eq!(io.list_objects().await.unwrap(), Vec::<String>::new());
}
