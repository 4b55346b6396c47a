//! The user scenarios, twice: on a real cluster (KUBECONFIG) and on the API stand-in with the
//! real binaries and the local Ceph bed. A scenario whose environment is absent is reported as
//! *ignored* with the reason, never as passed: no KUBECONFIG, or Sepia binaries not built
//! (`cargo build -p sepia-controller -p sepia-node -p sepia-provisioner -p sepia-snapshotter
//! -p sepia-resizer -p sepia-attacher -p sepia-cephfs-node -p sepia-cephfs-controller`, or
//! point SEPIA_BIN_DIR at them).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use e2e::real::RealCluster;
use e2e::scenario;
use e2e::standin::{StandInCluster, processes};
use libtest_mimic::{Arguments, Failed, Trial};

fn main() {
    let args = Arguments::from_args();
    let mut trials = Vec::new();

    let real = RealCluster::configured();
    if real.is_none() {
        eprintln!(
            "sepia-e2e: KUBECONFIG does not name a kubeconfig file: the real-cluster scenarios are \
             ignored (tests/e2e/kind-rook-ceph.sh makes a cluster and runs them)"
        );
    }
    let missing = processes::missing();
    if !missing.is_empty() {
        eprintln!(
            "sepia-e2e: not built in {}: {}; the stand-in scenarios are ignored (build them first)",
            processes::bin_dir().display(),
            missing.join(", ")
        );
    }

    trials.push(
        Trial::test("real_cluster::user_story", || {
            on_real(async |c| scenario::user_story(c).await)
        })
        .with_ignored_flag(real.is_none()),
    );
    trials.push(
        Trial::test("real_cluster::cephfs_story", || {
            on_real(async |c| scenario::cephfs_story(c).await)
        })
        .with_ignored_flag(real.is_none()),
    );
    trials.push(
        Trial::test("real_cluster::driver_registered", || {
            on_real(async |c| scenario::driver_registered(c).await)
        })
        .with_ignored_flag(real.is_none()),
    );
    trials.push(
        Trial::test("standin::user_story", || {
            on_standin(async |c| scenario::user_story(c).await)
        })
        .with_ignored_flag(!missing.is_empty()),
    );
    trials.push(
        Trial::test("standin::cephfs_story", || {
            on_standin(async |c| scenario::cephfs_story(c).await)
        })
        .with_ignored_flag(!missing.is_empty()),
    );
    trials.push(
        Trial::test("standin::driver_registered", || {
            on_standin(async |c| scenario::driver_registered(c).await)
        })
        .with_ignored_flag(!missing.is_empty()),
    );
    libtest_mimic::run(&args, trials).exit();
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

fn on_real(scenario: impl AsyncFnOnce(&RealCluster) -> anyhow::Result<()>) -> Result<(), Failed> {
    runtime().block_on(async {
        let cluster = RealCluster::connect()
            .await
            .map_err(|e| format!("connecting to the KUBECONFIG cluster: {e:#}"))?;
        let outcome = scenario(&cluster).await;
        let cleanup = cluster.cleanup().await;
        outcome.map_err(|e| format!("{e:#}"))?;
        cleanup.map_err(|e| format!("deleting the test namespace: {e:#}"))?;
        Ok(())
    })
}

fn on_standin(
    scenario: impl AsyncFnOnce(&StandInCluster) -> anyhow::Result<()>,
) -> Result<(), Failed> {
    runtime().block_on(async {
        let cluster = StandInCluster::start()
            .await
            .map_err(|e| format!("starting the stand-in cluster: {e:#}"))?;
        let outcome = cluster.run(scenario).await;
        // Only a run that got to its end promises an empty namespace.
        let left = if outcome.is_ok() {
            cluster.leftovers().await
        } else {
            Vec::new()
        };
        cluster.stop().await;
        outcome.map_err(|e| Failed::from(format!("{e:#}")))?;
        if left.is_empty() {
            Ok(())
        } else {
            Err(format!("left in Ceph: {}", left.join(", ")).into())
        }
    })
}
