//! `sepia-node --http-endpoint`: the real binary answers `/metrics` with the RPCs it served by
//! method and code, `/livez` while it runs, and `/readyz` and `/healthz` only while every
//! configured cluster's monitors accept connections — the harness's config names a cluster (`dead`)
//! whose only monitor refuses them, so this plugin is alive and not ready, for that reason.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod harness;

use std::time::Duration;

use csi::v1::{NodeGetCapabilitiesRequest, NodeGetInfoRequest, NodeStageVolumeRequest};
use harness::*;
use sepia_testbed::http::{get, logged_address, series_value, until};
use tonic::Code;

/// How long the first monitor probe may take to report.
const SETTLES: Duration = Duration::from_secs(30);

#[tokio::test]
async fn node_metrics_count_its_rpcs_and_a_dead_cluster_makes_it_unready_not_dead() {
    let mut h = Harness::start_child("http-endpoint", &["--http-endpoint=127.0.0.1:0"]).await;
    h.wait_ready().await;
    let addr = logged_address(&h.plugin_log());

    for _ in 0..2 {
        h.node
            .node_get_capabilities(NodeGetCapabilitiesRequest {})
            .await
            .unwrap();
    }
    h.node.node_get_info(NodeGetInfoRequest {}).await.unwrap();
    let refused = h
        .node
        .node_stage_volume(NodeStageVolumeRequest::default())
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument, "{refused:?}");

    let (status, metrics) = get(addr, "/metrics").await;
    assert_eq!(status, 200);
    println!("/metrics after the RPCs:\n{metrics}");
    let node_rpc = |method: &str, code: &str| {
        format!(
            r#"grpc_server_handled_total{{grpc_service="csi.v1.Node",grpc_method="{method}",grpc_code="{code}"}}"#
        )
    };
    assert_eq!(
        series_value(&metrics, &node_rpc("NodeGetCapabilities", "OK")),
        Some(2.0)
    );
    assert_eq!(
        series_value(&metrics, &node_rpc("NodeGetInfo", "OK")),
        Some(1.0)
    );
    assert_eq!(
        series_value(&metrics, &node_rpc("NodeStageVolume", "InvalidArgument")),
        Some(1.0)
    );
    assert!(
        metrics.contains(r#"grpc_server_handled_total{grpc_service="csi.v1.Identity",grpc_method="Probe",grpc_code="OK"}"#),
        "the harness's Probe calls are not counted"
    );

    // Alive; the config parses; the `dead` cluster keeps it unready, and only that one.
    assert_eq!(get(addr, "/livez").await.0, 200);
    assert_eq!(get(addr, "/readyz/config").await.0, 200);
    let why = until(addr, "/readyz/ceph", SETTLES, |status, body| {
        status == 500 && body.contains("no monitor accepts")
    })
    .await;
    assert!(
        why.contains(&format!("{DEAD_CLUSTER_ID} (127.0.0.1:1)")),
        "{why}"
    );
    assert!(!why.contains(&format!("{CLUSTER_ID} (")), "{why}");
    let (status, why) = get(addr, "/readyz").await;
    assert_eq!(status, 500, "{why}");
    assert!(why.contains("ceph:"), "{why}");
    let (status, why) = get(addr, "/healthz").await;
    assert_eq!(status, 500, "{why}");
    assert!(why.contains("ceph:"), "{why}");
}
