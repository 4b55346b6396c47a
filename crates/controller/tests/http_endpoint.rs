//! `sepia-controller --http-endpoint`: a real process on the bed answers `/metrics` with the
//! RPCs it served (by method and code) and its Ceph calls, `/healthz` while it runs, and
//! `/readyz` only while its cluster config parses and every configured cluster's monitors
//! accept connections.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::calls;
use common::processes::{Processes, Replica};
use common::{CLUSTER_ID, bed, cluster_entry, write_config};
use controller::failpoints as points;
use sepia_testbed::http::{self, get, logged_address, series_value};
use tonic::Code;

/// How long a readiness change may take to show: the config is polled every 100 ms here and
/// the monitors are probed on every config change.
const SETTLES: Duration = Duration::from_secs(30);

async fn until_status(addr: SocketAddr, path: &str, status: u16) -> String {
    http::until_status(addr, path, status, SETTLES).await
}

#[tokio::test]
async fn metrics_count_the_rpcs_made_and_readiness_follows_config_and_monitors() {
    Processes::run(|px| async move {
        let extra = [
            "--http-endpoint=127.0.0.1:0".to_owned(),
            "--cluster-config-poll=100ms".to_owned(),
        ];
        let controller = px.start_with("metrics", "", &extra).await;
        let addr = logged_address(&controller.log().await);

        let mut volume_ids = Vec::new();
        for n in 0..3 {
            let request = px.create_request(&format!("pvc-metrics-{n}"), 1 << 20);
            let volume = controller
                .client()
                .create_volume(request)
                .await
                .unwrap()
                .into_inner()
                .volume
                .unwrap();
            volume_ids.push(volume.volume_id);
        }
        let nameless = px.create_request("", 1 << 20);
        let refused = controller.client().create_volume(nameless).await.unwrap_err();
        assert_eq!(refused.code(), Code::InvalidArgument, "{refused:?}");
        for volume_id in &volume_ids {
            controller
                .client()
                .delete_volume(px.delete_volume_request(volume_id))
                .await
                .unwrap();
        }

        let (status, metrics) = get(addr, "/metrics").await;
        assert_eq!(status, 200);
        println!("/metrics after the RPCs:\n{metrics}");
        let controller_rpc = |method: &str, code: &str| {
            format!(
                r#"grpc_server_handled_total{{grpc_service="csi.v1.Controller",grpc_method="{method}",grpc_code="{code}"}}"#
            )
        };
        for (series, expected) in [
            (controller_rpc("CreateVolume", "OK"), 3.0),
            (controller_rpc("CreateVolume", "InvalidArgument"), 1.0),
            (controller_rpc("DeleteVolume", "OK"), 3.0),
            (
                r#"grpc_server_handling_seconds_count{grpc_service="csi.v1.Controller",grpc_method="CreateVolume",grpc_code="OK"}"#.to_owned(),
                3.0,
            ),
            (
                r#"grpc_server_in_flight_requests{grpc_service="csi.v1.Controller",grpc_method="CreateVolume"}"#.to_owned(),
                0.0,
            ),
        ] {
            assert_eq!(series_value(&metrics, &series), Some(expected), "{series}");
        }
        let ceph_calls: f64 = metrics
            .lines()
            .filter(|line| line.starts_with("sepia_ceph_call_seconds_count{") && line.contains(r#"outcome="ok""#))
            .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
            .sum();
        assert!(ceph_calls > 0.0, "no successful Ceph call counted");
        for volume_id in &volume_ids {
            assert!(!metrics.contains(volume_id.as_str()), "a volume id in a label");
        }

        // Ready and healthy with the bed's config; alive throughout.
        until_status(addr, "/readyz", 200).await;
        assert_eq!(get(addr, "/healthz").await.0, 200);
        assert_eq!(get(addr, "/livez").await.0, 200);

        // A config file that does not parse: unready and unhealthy (the last good config still
        // serves), alive.
        std::fs::write(px.config_path(), b"[{not json").unwrap();
        let why = until_status(addr, "/readyz", 500).await;
        assert!(why.contains("config:"), "{why}");
        assert_eq!(get(addr, "/readyz/config").await.0, 500);
        let (status, why) = get(addr, "/healthz").await;
        assert_eq!(status, 500);
        assert!(why.contains("config:"), "{why}");
        assert_eq!(get(addr, "/livez").await.0, 200);

        // A config naming a cluster whose monitors nobody listens for: parsed, but unready.
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let dead_monitor = closed.local_addr().unwrap().to_string();
        drop(closed);
        write_config(
            px.config_path(),
            &[
                cluster_entry(CLUSTER_ID, &bed().monitors, &px.namespace),
                cluster_entry("ghost", &dead_monitor, &px.namespace),
            ],
        );
        let why = until_status(addr, "/readyz/ceph", 500).await;
        assert!(why.contains(&format!("ghost ({dead_monitor})")), "{why}");
        assert!(!why.contains(&format!("{CLUSTER_ID} (")), "the bed's cluster is reachable: {why}");
        assert_eq!(get(addr, "/readyz/config").await.0, 200);
        assert_eq!(get(addr, "/healthz/ceph").await.0, 500);
        assert_eq!(get(addr, "/livez").await.0, 200);

        // Fixed: ready again.
        write_config(
            px.config_path(),
            &[cluster_entry(CLUSTER_ID, &bed().monitors, &px.namespace)],
        );
        until_status(addr, "/readyz", 200).await;
        assert_eq!(get(addr, "/healthz").await.0, 200);
    })
    .await;
}

/// `replica`'s `/metrics` now.
async fn metrics_of(replica: &Replica) -> String {
    let (status, metrics) = get(logged_address(&replica.log().await), "/metrics").await;
    assert_eq!(status, 200);
    metrics
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contention_in_flight_calls_and_background_preparations_are_counted() {
    Processes::run(|px| async move {
        let http = ["--http-endpoint=127.0.0.1:0".to_owned()];
        let point = points::create::AFTER_IMAGE_CREATED;
        let a = px
            .start_with("a", &format!("{point}={}", px.hold("a")), &http)
            .await;
        let b = px.start_with("b", "", &http).await;
        let create = |name: &str| px.create_request(name, 1 << 20);

        // A holds a CreateVolume in flight, inside its request-name lock.
        let held = tokio::spawn({
            let mut client = a.client();
            let request = create("pvc-held");
            async move { client.create_volume(request).await }
        });
        a.wait_reached(point).await;
        let in_flight = r#"grpc_server_in_flight_requests{grpc_service="csi.v1.Controller",grpc_method="CreateVolume"}"#;
        assert_eq!(series_value(&metrics_of(&a).await, in_flight), Some(1.0));

        // The same name again: refused by A's own lock, then by the RADOS lock A holds.
        for via in [&a, &b] {
            let refused = via.client().create_volume(create("pvc-held")).await.unwrap_err();
            assert_eq!(refused.code(), Code::Aborted, "{}: {refused:?}", via.name);
        }
        px.release("a");
        let volume = held.await.unwrap().unwrap().into_inner().volume.unwrap();

        let (metrics_a, metrics_b) = (metrics_of(&a).await, metrics_of(&b).await);
        println!("/metrics of A:\n{metrics_a}");
        let aborted = r#"grpc_server_handled_total{grpc_service="csi.v1.Controller",grpc_method="CreateVolume",grpc_code="Aborted"}"#;
        for (metrics, series, expected) in [
            (&metrics_a, in_flight, 0.0),
            (&metrics_a, aborted, 1.0),
            (&metrics_b, aborted, 1.0),
            (
                &metrics_a,
                r#"sepia_lock_contention_total{lock="request_name",holder="this_process"}"#,
                1.0,
            ),
            (
                &metrics_b,
                r#"sepia_lock_contention_total{lock="request_name",holder="other_process"}"#,
                1.0,
            ),
        ] {
            assert_eq!(series_value(metrics, series), Some(expected), "{series}");
        }

        // A snapshot's preparation runs after the reply: counted when it ends.
        let snapshot = calls::create_snapshot_until_ready(
            a.client(),
            px.snapshot_request("snapshot-metrics", &volume.volume_id),
        )
        .await;
        let finished = r#"sepia_background_tasks_finished_total{task="snapshot_preparation",outcome="ok"}"#;
        let addr = logged_address(&a.log().await);
        let metrics = http::until(addr, "/metrics", SETTLES, |_, body| {
            series_value(body, finished) == Some(1.0)
        })
        .await;
        assert_eq!(
            series_value(&metrics, r#"sepia_background_tasks_running{task="snapshot_preparation"}"#),
            Some(0.0)
        );
        px.delete_all(&a, &[&volume.volume_id], &[&snapshot.snapshot_id])
            .await;
    })
    .await;
}
