//! The CSI mode against the real controller (in-process, on a socket of its own) and the real
//! bed: every phase runs every operation, the counts add up, memory is sampled, and what the
//! bench created through CSI is gone from Ceph afterwards (checked here, not by the bench).
//! No timing is asserted.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::panic::AssertUnwindSafe;
use std::time::Duration;

use bench::{Mode, Options};
use ceph::{Cluster, Credentials, Timeouts};
use clap::Parser as _;
use cluster_config::ClusterConfigWatcher;
use controller::{Settings, State};
use futures::FutureExt as _;
use rig::inventory::Inventory;
use rig::scratch::{ScratchNamespace, wait_for_trash_purge};
use sepia_testbed::Bed;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn csi_mode_runs_every_operation_and_its_volumes_are_gone_afterwards() {
    let bed = Bed::get();
    let creds = Credentials::new(&bed.monitors, &bed.user, &bed.key);
    let cluster = Cluster::connect(&creds, &Timeouts::default())
        .await
        .unwrap();
    let scratch = ScratchNamespace::create(&cluster, &bed.pool, &bed.unique_name("bench-csi"))
        .await
        .unwrap();
    let io = scratch.io.clone();

    // The controller, configured for the test's namespace.
    let dir = tempfile::tempdir().unwrap();
    let monitors: Vec<&str> = bed.monitors.split(',').collect();
    let config = dir.path().join("config.json");
    let clusters = serde_json::json!([
        {"clusterID": "bench", "monitors": monitors, "rbd": {"radosNamespace": scratch.name}}
    ]);
    std::fs::write(&config, clusters.to_string()).unwrap();
    let watcher = ClusterConfigWatcher::start(&config, Duration::from_secs(1)).await;
    let state = State::new(Settings::default(), watcher);
    let endpoint = format!("unix://{}", dir.path().join("csi.sock").display());
    let incoming = csi::server::bind(&endpoint).await.unwrap();
    let (_stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(controller::server::serve(state, incoming, async {
        let _ = stopped.await;
    }));

    let body = async {
        let pid = std::process::id().to_string();
        let opts = Options::try_parse_from([
            "sepia-bench",
            "--endpoint",
            &endpoint,
            "--cluster-id",
            "bench",
            "--pool",
            &bed.pool,
            "--namespace",
            &scratch.name,
            "-n",
            "4",
            "-c",
            "2",
            "--size",
            "64Mi",
            "--controller-pid",
            &pid,
        ])
        .unwrap();
        assert_eq!(opts.mode, Mode::Csi);
        let report = bench::run(&opts).await.unwrap();

        assert_eq!(report.driver.as_deref(), Some("rbd.csi.sepia.io 0.1.0"));
        let ops: Vec<&str> = report.phases.iter().map(|p| p.op).collect();
        assert_eq!(
            ops,
            [
                "CreateVolume",
                "CreateSnapshot",
                "DeleteSnapshot",
                "DeleteVolume"
            ]
        );
        for line in &report.phases {
            assert_eq!(line.variant, "csi");
            assert_eq!(line.attempted, 4, "{line:?}");
            assert_eq!(line.latency.ok, 4, "{line:?}");
            assert_eq!(line.errors.total(), 0, "{line:?}");
        }
        let memory = report
            .memory
            .expect("memory of --controller-pid is sampled");
        assert!(memory.peak_hwm_kib >= memory.idle_rss_kib);
        assert!(
            report.leftovers.is_none(),
            "the namespace is not the bench's own"
        );

        // What the controller made through the bench is gone: images, trash, journal.
        wait_for_trash_purge(&io, Duration::from_secs(300))
            .await
            .unwrap();
        let left = Inventory::take(&io).await.unwrap();
        assert!(left.holds_nothing(), "{left:?}");
        assert_eq!(
            left.directories.len(),
            2,
            "both journals were used: {left:?}"
        );
    };
    let outcome = AssertUnwindSafe(body).catch_unwind().await;
    scratch.remove().await.unwrap();
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}
