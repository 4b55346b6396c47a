//! `sepia-controller --http-endpoint`: a real process on the bed answers `/metrics` with the
//! RPCs it served (by method and code) and its Ceph calls, `/healthz` while it runs, and
//! `/readyz` only while its cluster config parses and every configured cluster's monitors
//! accept connections.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::processes::Processes;
use common::{CLUSTER_ID, bed, cluster_entry, write_config};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tonic::Code;

/// How long a readiness change may take to show: the config is polled every 100 ms here and
/// the monitors are probed on every config change.
const SETTLES: Duration = Duration::from_secs(30);

/// One GET over HTTP/1.0 (the server closes the connection after the answer): status, body.
async fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(format!("GET {path} HTTP/1.0\r\nHost: test\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no status in {answer:?}"));
    (status, body.to_owned())
}

/// Waits until `path` answers `status`; the last answer.
async fn until_status(addr: SocketAddr, path: &str, status: u16) -> String {
    let deadline = tokio::time::Instant::now() + SETTLES;
    loop {
        let (got, body) = get(addr, path).await;
        if got == status {
            return body;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{path} still answers {got} ({body:?}), not {status}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The address the process logged it serves HTTP on (it was asked for port 0).
fn http_address(log: &str) -> SocketAddr {
    let plain = strip_ansi(log);
    let line = plain
        .lines()
        .find(|line| line.contains("serving /metrics"))
        .unwrap_or_else(|| panic!("no HTTP endpoint in the log:\n{plain}"));
    let (_, after) = line.split_once("address=").expect("address field");
    after.split_whitespace().next().unwrap().parse().unwrap()
}

fn strip_ansi(text: &str) -> String {
    let mut plain = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            plain.push(c);
        }
    }
    plain
}

fn value_of(metrics: &str, series: &str) -> Option<f64> {
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
}

#[tokio::test]
async fn metrics_count_the_rpcs_made_and_readiness_follows_config_and_monitors() {
    Processes::run(|px| async move {
        let extra = [
            "--http-endpoint=127.0.0.1:0".to_owned(),
            "--cluster-config-poll=100ms".to_owned(),
        ];
        let controller = px.start_with("metrics", "", &extra).await;
        let addr = http_address(&controller.log().await);

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
            assert_eq!(value_of(&metrics, &series), Some(expected), "{series}");
        }
        let ceph_calls: f64 = metrics
            .lines()
            .filter(|line| line.starts_with("ceph_call_seconds_count{") && line.contains(r#"outcome="ok""#))
            .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
            .sum();
        assert!(ceph_calls > 0.0, "no successful Ceph call counted");
        for volume_id in &volume_ids {
            assert!(!metrics.contains(volume_id.as_str()), "a volume id in a label");
        }

        // Ready with the bed's config; alive throughout.
        until_status(addr, "/readyz", 200).await;
        assert_eq!(get(addr, "/healthz").await.0, 200);

        // A config file that does not parse: unready (the last good config still serves), alive.
        std::fs::write(px.config_path(), b"[{not json").unwrap();
        let why = until_status(addr, "/readyz", 500).await;
        assert!(why.contains("config:"), "{why}");
        assert_eq!(get(addr, "/readyz/config").await.0, 500);
        assert_eq!(get(addr, "/healthz").await.0, 200);

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
        assert!(why.contains("ghost"), "{why}");
        assert!(!why.contains(CLUSTER_ID), "the bed's cluster is reachable: {why}");
        assert_eq!(get(addr, "/readyz/config").await.0, 200);
        assert_eq!(get(addr, "/healthz").await.0, 200);

        // Fixed: ready again.
        write_config(
            px.config_path(),
            &[cluster_entry(CLUSTER_ID, &bed().monitors, &px.namespace)],
        );
        until_status(addr, "/readyz", 200).await;
    })
    .await;
}
