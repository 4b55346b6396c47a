//! The snapshotter's wake-up: a snapshot whose background preparation is held stays not ready
//! (its readiness poll set to a minute); when the preparation ends the controller announces it
//! on NATS and the snapshotter syncs the content at once — matched by the snapshot handle, as
//! the snapshotter here passes no `--extra-create-metadata` — recording SnapshotPrepared on the
//! VolumeSnapshot.

use std::time::Instant;

use sepia_testbed::NatsServer;
use snapshot_api::{DeletionPolicy, VolumeSnapshot};

use crate::harness::*;

const MIB: i64 = 1 << 20;
/// The background preparation waits here until the test creates the file.
const HOLD: &str = "controller.snapshot.before_inner_snapshot";

/// `sidecar_background_events_total{verb="prepared",result}` on `port`, 0 when absent.
async fn prepared_events(port: u16, result: &str) -> u64 {
    let (status, body) = http_get(port, "/metrics").await;
    assert_eq!(status, 200, "{body}");
    let wanted =
        format!("sidecar_background_events_total{{verb=\"prepared\",result=\"{result}\"}} ");
    body.lines()
        .find_map(|line| line.strip_prefix(&wanted))
        .map_or(0, |n| n.trim().parse().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_snapshot_whose_preparation_ends_is_ready_on_its_event() {
    // A NATS of this test's own: no other test's events reach its snapshotter.
    let nats = NatsServer::start().await;
    let nats_flag = format!("--nats-url={}", nats.url());
    let dir = tempfile::tempdir().unwrap();
    let release = dir.path().join("release");
    let failpoints = format!("--failpoints={HOLD}=pause_until({})", release.display());
    let mut env = Env::start_with("wakeup", &[&nats_flag, &failpoints]).await;
    let port = free_port();
    env.start_snapshotter(
        "snapshotter",
        &[
            &nats_flag,
            &format!("--http-endpoint=127.0.0.1:{port}"),
            // Without the event, readiness would show a minute after the preparation.
            "--ready-poll-start=60s",
            "--ready-poll-max=60s",
        ],
    );
    let volume_id = env.create_volume("pvc-wakeup-source", 16 * MIB).await;
    env.put_bound_claim("apps", "data", &volume_id, "16Mi");
    env.put_class("rbd-default", DeletionPolicy::Delete, true);
    env.put_snapshot("apps", "held", "data", None);
    // The cut is made (the content has its handle) while the preparation waits.
    let started = Instant::now();
    let content = loop {
        let snapshot: Option<VolumeSnapshot> = env.get("apps", "held");
        let bound = snapshot
            .as_ref()
            .and_then(|s| s.status.as_ref())
            .and_then(|s| s.bound_volume_snapshot_content_name.clone());
        if let Some(snapshot) = snapshot.filter(|_| bound.is_some()) {
            let content = env.content_of(&snapshot);
            if content.status_snapshot_handle().is_some() {
                break content;
            }
        }
        assert!(started.elapsed() < WAIT, "no content with a handle");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert_ne!(
        content.status.as_ref().and_then(|s| s.ready_to_use),
        Some(true),
        "ready while its preparation is held"
    );

    std::fs::write(&release, b"go").unwrap();
    let released = Instant::now();
    env.wait_ready("apps", "held").await;
    let woken = released.elapsed();
    env.wait_events("apps", "held", &["SnapshotPrepared"]).await;
    assert_eq!(
        prepared_events(port, "acted").await,
        1,
        "the content was not requeued by the event"
    );
    assert!(
        env.process("snapshotter")
            .log_text()
            .contains("requeued by a background event")
    );
    println!(
        "wake-up: preparation released → VolumeSnapshot ready {:.0} ms with NATS (readiness poll: 60 s)",
        woken.as_secs_f64() * 1000.0
    );
}
