//! The whole demo against the real controller (started in-process on a socket of its own,
//! configured like `scripts/demo.sh` configures the binary) and the real bed: every step must
//! succeed, and the demo's namespace must be gone afterwards.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use ceph::{Cluster, Credentials, Timeouts, rbd};
use clap::Parser as _;
use cluster_config::ClusterConfigWatcher;
use controller::{Settings, State};
use sepia_testbed::Bed;

/// A controller serving `unix://<dir>/csi.sock` for cluster `demo` in RBD namespace
/// `namespace`, stopped when the returned sender is dropped.
async fn start_controller(
    dir: &std::path::Path,
    namespace: &str,
) -> (String, tokio::sync::oneshot::Sender<()>) {
    let bed = Bed::get();
    let monitors: Vec<&str> = bed.monitors.split(',').collect();
    let config = dir.join("config.json");
    let clusters = serde_json::json!([
        {"clusterID": "demo", "monitors": monitors, "rbd": {"radosNamespace": namespace}}
    ]);
    std::fs::write(&config, clusters.to_string()).unwrap();
    let watcher = ClusterConfigWatcher::start(&config, Duration::from_secs(1)).await;
    let state = State::new(Settings::default(), watcher);
    let endpoint = format!("unix://{}", dir.join("csi.sock").display());
    let incoming = csi::server::bind(&endpoint).await.unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(controller::server::serve(state, incoming, async {
        let _ = stopped.await;
    }));
    (endpoint, stop)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_demo_walks_the_whole_story_and_leaves_nothing() {
    let bed = Bed::get();
    let dir = tempfile::tempdir().unwrap();
    let namespace = bed.unique_name("demo-test");
    let (endpoint, _stop) = start_controller(dir.path(), &namespace).await;
    let opts = demo::Options::try_parse_from([
        "sepia-demo",
        "--endpoint",
        &endpoint,
        "--cluster-id",
        "demo",
        "--pool",
        &bed.pool,
        "--namespace",
        &namespace,
        "--purge-timeout",
        "300s",
    ])
    .unwrap();

    let succeeded = demo::run(&opts).await.unwrap();
    assert!(succeeded, "a step failed; the story above says which");

    let creds = Credentials::new(&bed.monitors, &bed.user, &bed.key);
    let cluster = Cluster::connect(&creds, &Timeouts::default())
        .await
        .unwrap();
    let pool_io = cluster.ioctx(&bed.pool, "").await.unwrap();
    let namespaces = rbd::namespace_list(&pool_io).await.unwrap();
    assert!(!namespaces.contains(&namespace), "{namespaces:?}");
    let io = cluster.ioctx(&bed.pool, &namespace).await.unwrap();
    assert_eq!(io.list_objects().await.unwrap(), Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_refuses_a_namespace_that_already_exists() {
    let bed = Bed::get();
    let creds = Credentials::new(&bed.monitors, &bed.user, &bed.key);
    let cluster = Cluster::connect(&creds, &Timeouts::default())
        .await
        .unwrap();
    let pool_io = cluster.ioctx(&bed.pool, "").await.unwrap();
    let namespace = bed.unique_name("demo-taken");
    rbd::namespace_create(&pool_io, &namespace).await.unwrap();
    let io = cluster.ioctx(&bed.pool, &namespace).await.unwrap();
    io.write_full("someone-elses-object", b"data")
        .await
        .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let (endpoint, _stop) = start_controller(dir.path(), &namespace).await;
    let opts = demo::Options::try_parse_from([
        "sepia-demo",
        "--endpoint",
        &endpoint,
        "--cluster-id",
        "demo",
        "--pool",
        &bed.pool,
        "--namespace",
        &namespace,
    ])
    .unwrap();
    let succeeded = demo::run(&opts).await.unwrap();

    // The demo stops at its second step and touches nothing of what was there.
    let kept = io.read_full("someone-elses-object").await;
    io.remove("someone-elses-object").await.unwrap();
    rbd::namespace_remove(&pool_io, &namespace).await.unwrap();
    assert!(!succeeded);
    assert_eq!(kept.unwrap(), b"data");
}
