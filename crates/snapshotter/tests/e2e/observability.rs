//! What operators see: Sepia events on NATS for every step of a snapshot's life, and the
//! Prometheus metrics upstream dashboards read (`csi_sidecar_operations_seconds`,
//! `snapshot_controller_operation_total_seconds`), plus `/healthz`.

use std::time::Instant;

use futures::StreamExt;
use serde_json::Value;
use snapshot_api::{DeletionPolicy, VolumeSnapshot};

use crate::harness::*;

const MIB: i64 = 1 << 20;

async fn next_event(
    subscriber: &mut async_nats::Subscriber,
    verb: &str,
    snapshot_id: &str,
) -> Value {
    let deadline = Instant::now() + WAIT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let message = tokio::time::timeout(left, subscriber.next())
            .await
            .unwrap_or_else(|_| panic!("no {verb} event for {snapshot_id}"))
            .expect("subscription open");
        let event: Value = serde_json::from_slice(&message.payload).unwrap();
        if message.subject.as_str() == format!("sepia.snapshotter.snapshot.{verb}")
            && event["csi"]["snapshotId"] == snapshot_id
        {
            return event;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn events_reach_nats_and_metrics_count_the_operations() {
    let mut env = Env::start("observe").await;
    let nats = async_nats::connect(&env.bed.nats_url).await.unwrap();
    let mut subscriber = nats
        .subscribe("sepia.snapshotter.snapshot.>")
        .await
        .unwrap();
    let port = free_port();
    env.start_snapshotter(
        "snapshotter",
        &[
            &format!("--nats-url={}", env.bed.nats_url),
            &format!("--http-endpoint=127.0.0.1:{port}"),
        ],
    );
    let volume_id = env.create_volume("pvc-observe-source", 16 * MIB).await;
    env.put_bound_claim("apps", "data", &volume_id, "16Mi");
    env.put_class("rbd-default", DeletionPolicy::Delete, true);
    let snapshot = env.put_snapshot("apps", "watched", "data", None);
    let uid = snapshot.metadata.uid.clone().unwrap();
    let ready = env.wait_ready("apps", "watched").await;
    let handle = env
        .content_of(&ready)
        .status_snapshot_handle()
        .unwrap()
        .to_owned();

    for verb in ["created", "ready"] {
        let event = next_event(&mut subscriber, verb, &handle).await;
        assert_eq!(event["component"], "snapshotter");
        assert_eq!(event["object"], "snapshot");
        assert_eq!(event["csi"]["requestName"], format!("snapshot-{uid}"));
        assert_eq!(event["csi"]["volumeId"], volume_id.as_str());
        assert_eq!(event["kubernetes"]["kind"], "VolumeSnapshot");
        assert_eq!(event["kubernetes"]["namespace"], "apps");
        assert_eq!(event["kubernetes"]["name"], "watched");
        assert_eq!(event["kubernetes"]["uid"], uid.as_str());
        assert_eq!(event["sizeBytes"], 16 * MIB);
        assert_eq!(event["outcome"]["status"], "ok");
    }

    env.delete::<VolumeSnapshot>("apps", "watched");
    let deleted = next_event(&mut subscriber, "deleted", &handle).await;
    assert_eq!(deleted["outcome"]["code"], "OK");
    env.wait_gone::<VolumeSnapshot>("apps", "watched", "snapshot gone")
        .await;

    // The last count is recorded just after the VolumeSnapshot leaves: poll briefly.
    let needles = [
        r#"csi_sidecar_operations_seconds_count{driver_name="rbd.csi.sepia.io",method_name="/csi.v1.Controller/CreateSnapshot",grpc_status_code="OK"}"#,
        r#"csi_sidecar_operations_seconds_count{driver_name="rbd.csi.sepia.io",method_name="/csi.v1.Controller/DeleteSnapshot",grpc_status_code="OK"} 1"#,
        r#"snapshot_controller_operation_total_seconds_count{driver_name="rbd.csi.sepia.io",operation_name="CreateSnapshotAndReady",operation_status="success",snapshot_type="dynamic"} 1"#,
        r#"snapshot_controller_operation_total_seconds_count{driver_name="rbd.csi.sepia.io",operation_name="DeleteSnapshot",operation_status="success",snapshot_type="dynamic"} 1"#,
    ];
    let start = Instant::now();
    loop {
        let (code, metrics) = http_get(port, "/metrics").await;
        assert_eq!(code, 200);
        let missing: Vec<&str> = needles
            .iter()
            .copied()
            .filter(|n| !metrics.contains(n))
            .collect();
        if missing.is_empty() {
            break;
        }
        assert!(
            start.elapsed() < std::time::Duration::from_secs(10),
            "missing {missing:?} in\n{metrics}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let (code, _) = http_get(port, "/healthz").await;
    assert_eq!(code, 200);

    env.delete_volume(&volume_id).await;
    env.wait_images(&[]).await;
}
