//! How the snapshotter learns readiness of a pre-provisioned content: GetSnapshot only when the
//! driver advertises GET_SNAPSHOT (alpha in CSI 1.12, off in the controller by default),
//! ListSnapshots by id otherwise, as upstream. Either way the snapshot becomes ready; the
//! sidecar's operation metrics show which RPC asked.

use std::time::Instant;

use snapshot_api::{DeletionPolicy, VolumeSnapshotContent};

use crate::harness::*;
use crate::pre_provisioned::{imported_content, snapshot_of_content};

const MIB: i64 = 1 << 20;
const GET: &str = "/csi.v1.Controller/GetSnapshot";
const LIST: &str = "/csi.v1.Controller/ListSnapshots";

/// Imports a snapshot the driver made under a controller started with `controller_args`, waits
/// until it is ready, and returns the snapshotter's metrics once `asked_with` answered OK.
async fn import_and_wait_ready(prefix: &str, controller_args: &[&str], asked_with: &str) -> String {
    let mut env = Env::start_with(prefix, controller_args).await;
    let port = free_port();
    env.start_snapshotter(
        "snapshotter",
        &[&format!("--http-endpoint=127.0.0.1:{port}")],
    );
    let volume_id = env.create_volume("pvc-query-source", 16 * MIB).await;
    let seed = env.create_csi_snapshot("seed-query", &volume_id).await;
    env.standin
        .put(&imported_content(
            "imported-query",
            &seed.snapshot_id,
            "restore",
            "seed",
            DeletionPolicy::Retain,
        ))
        .unwrap();
    env.standin
        .put(&snapshot_of_content("restore", "seed", "imported-query"))
        .unwrap();
    let ready = env.wait_ready("restore", "seed").await;
    assert_eq!(
        ready.status.unwrap().restore_size.map(|q| q.0).as_deref(),
        Some("16Mi")
    );
    let content: VolumeSnapshotContent = env.get("", "imported-query").unwrap();
    assert_eq!(content.status.unwrap().ready_to_use, Some(true));

    let needle = format!(
        r#"csi_sidecar_operations_seconds_count{{driver_name="{DRIVER}",method_name="{asked_with}",grpc_status_code="OK"}}"#
    );
    let start = Instant::now();
    loop {
        let (code, metrics) = http_get(port, "/metrics").await;
        assert_eq!(code, 200);
        if metrics.contains(&needle) {
            return metrics;
        }
        assert!(start.elapsed() < WAIT, "no {needle} in\n{metrics}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn without_get_snapshot_readiness_comes_from_list_snapshots() {
    let metrics = import_and_wait_ready("query-list", &[], LIST).await;
    assert!(
        !metrics.contains(&format!(r#"method_name="{GET}""#)),
        "GetSnapshot was called on a driver that does not advertise it:\n{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn with_get_snapshot_advertised_readiness_comes_from_get_snapshot() {
    let metrics = import_and_wait_ready(
        "query-get",
        &["--alpha-capabilities=single-node-multi-writer,get-snapshot"],
        GET,
    )
    .await;
    assert!(
        !metrics.contains(&format!(r#"method_name="{LIST}""#)),
        "ListSnapshots was called although the driver has GetSnapshot:\n{metrics}"
    );
}
