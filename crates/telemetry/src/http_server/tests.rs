use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use prometheus_client::registry::Registry;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::*;
use crate::csi_operation_metrics::CsiOperationMetrics;
use crate::health::HealthCheck;

/// A plain HTTP/1.1 GET over a real socket: status code and body.
async fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("send");
    let mut response = String::new();
    tokio::time::timeout(
        Duration::from_secs(10),
        stream.read_to_string(&mut response),
    )
    .await
    .expect("response within 10s")
    .expect("read");
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .expect("status line");
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .unwrap_or_default();
    (status, body)
}

async fn start(
    metrics_path: &str,
    registry: Registry,
    health: HealthCheck,
) -> (SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let server = MetricsServer::bind(
        "127.0.0.1:0".parse().expect("addr"),
        metrics_path,
        Arc::new(registry),
        health,
    )
    .await
    .expect("bind");
    let addr = server.local_addr();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(server.serve(async move {
        let _ = stopped.await;
    }));
    (addr, stop)
}

#[tokio::test]
async fn metrics_serves_the_csi_operations_histogram_with_upstream_name_labels_and_buckets() {
    let mut registry = Registry::default();
    let operations = CsiOperationMetrics::register(&mut registry, "rbd.sepia.io");
    operations.observe(
        "/csi.v1.Controller/CreateVolume",
        tonic::Code::Ok,
        Duration::from_millis(300),
    );
    operations.observe(
        "/csi.v1.Controller/CreateVolume",
        tonic::Code::DeadlineExceeded,
        Duration::from_secs(700),
    );
    let (addr, _stop) = start("/metrics", registry, HealthCheck::always_healthy()).await;

    let (status, body) = get(addr, "/metrics").await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains("# TYPE csi_sidecar_operations_seconds histogram"),
        "{body}"
    );
    let ok_labels = r#"driver_name="rbd.sepia.io",method_name="/csi.v1.Controller/CreateVolume",grpc_status_code="OK""#;
    for (le, count) in [
        ("0.1", 0),
        ("0.25", 0),
        ("0.5", 1),
        ("1.0", 1),
        ("2.5", 1),
        ("5.0", 1),
        ("10.0", 1),
        ("15.0", 1),
        ("25.0", 1),
        ("50.0", 1),
        ("120.0", 1),
        ("300.0", 1),
        ("600.0", 1),
        ("+Inf", 1),
    ] {
        // prometheus-client writes `le` first; label order carries no meaning to Prometheus.
        let line =
            format!("csi_sidecar_operations_seconds_bucket{{le=\"{le}\",{ok_labels}}} {count}\n");
        assert!(body.contains(&line), "missing {line:?} in\n{body}");
    }
    assert!(
        body.contains(&format!(
            "csi_sidecar_operations_seconds_count{{{ok_labels}}} 1\n"
        )),
        "{body}"
    );
    let slow = r#"le="600.0",driver_name="rbd.sepia.io",method_name="/csi.v1.Controller/CreateVolume",grpc_status_code="DeadlineExceeded"} 0"#;
    assert!(
        body.contains(slow),
        "a 700 s call must fall past the last bucket:\n{body}"
    );
}

#[tokio::test]
async fn healthz_follows_the_health_function() {
    let healthy = Arc::new(AtomicBool::new(true));
    let flag = Arc::clone(&healthy);
    let health = HealthCheck::new(move || {
        if flag.load(Ordering::SeqCst) {
            Health::Healthy
        } else {
            Health::Unhealthy("leader lease not renewed for 40s".to_owned())
        }
    });
    let (addr, _stop) = start("/metrics", Registry::default(), health).await;

    assert_eq!(get(addr, HEALTHZ_PATH).await.0, 200);
    healthy.store(false, Ordering::SeqCst);
    let (status, body) = get(addr, HEALTHZ_PATH).await;
    assert_eq!(status, 500);
    assert!(body.contains("leader lease not renewed for 40s"), "{body}");
    healthy.store(true, Ordering::SeqCst);
    assert_eq!(get(addr, HEALTHZ_PATH).await.0, 200);
}

#[tokio::test]
async fn metrics_path_is_configurable() {
    let (addr, _stop) = start(
        "/custom/metrics",
        Registry::default(),
        HealthCheck::always_healthy(),
    )
    .await;
    let (status, body) = get(addr, "/custom/metrics").await;
    assert_eq!(status, 200);
    assert!(body.ends_with("# EOF\n"), "{body}");
    assert_eq!(get(addr, "/metrics").await.0, 404);
}

#[tokio::test]
async fn a_metrics_path_the_router_cannot_take_is_refused() {
    for path in [
        "metrics",
        "/{id}",
        "/metrics/*rest",
        HEALTHZ_PATH,
        "//metrics",
        "",
    ] {
        let result = MetricsServer::bind(
            "127.0.0.1:0".parse().expect("addr"),
            path,
            Arc::new(Registry::default()),
            HealthCheck::always_healthy(),
        )
        .await;
        assert!(
            matches!(result, Err(TelemetryError::InvalidMetricsPath { path: ref p }) if p == path),
            "path {path:?} was accepted"
        );
    }
}

#[tokio::test]
async fn serving_stops_when_shutdown_completes() {
    let (addr, stop) = start(
        "/metrics",
        Registry::default(),
        HealthCheck::always_healthy(),
    )
    .await;
    assert_eq!(get(addr, HEALTHZ_PATH).await.0, 200);
    stop.send(()).expect("server still running");
    // After graceful shutdown the listener is closed: connecting eventually fails.
    let refused = async {
        while TcpStream::connect(addr).await.is_ok() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(10), refused)
        .await
        .expect("listener closed after shutdown");
}

#[tokio::test]
async fn a_named_check_is_served_alone_and_counts_in_healthz() {
    let leader_ok = Arc::new(AtomicBool::new(true));
    let flag = Arc::clone(&leader_ok);
    let checks = HealthChecks::default()
        .with("ping", HealthCheck::always_healthy())
        .with(
            "leader-election",
            HealthCheck::new(move || {
                if flag.load(Ordering::SeqCst) {
                    Health::Healthy
                } else {
                    Health::Unhealthy("lease not renewed".to_owned())
                }
            }),
        );
    let server = MetricsServer::bind(
        "127.0.0.1:0".parse().expect("addr"),
        "/metrics",
        Arc::new(Registry::default()),
        checks,
    )
    .await
    .expect("bind");
    let addr = server.local_addr();
    let (_stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(server.serve(async move {
        let _ = stopped.await;
    }));

    assert_eq!(
        get(addr, "/healthz/leader-election").await,
        (200, "ok\n".into())
    );
    assert_eq!(get(addr, HEALTHZ_PATH).await.0, 200);
    assert_eq!(get(addr, "/healthz/unknown").await.0, 404);
    leader_ok.store(false, Ordering::SeqCst);
    let (status, body) = get(addr, "/healthz/leader-election").await;
    assert_eq!(status, 500);
    assert!(body.contains("lease not renewed"), "{body}");
    assert_eq!(get(addr, "/healthz/ping").await.0, 200);
    let (status, body) = get(addr, HEALTHZ_PATH).await;
    assert_eq!(status, 500);
    assert!(
        body.contains("leader-election: lease not renewed"),
        "{body}"
    );
}
