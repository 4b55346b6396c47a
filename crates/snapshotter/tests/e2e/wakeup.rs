//! The snapshotter's wake-up: a snapshot is ready at the cut while the controller brings it to
//! ceph-csi's layout in the background (held here by a failpoint); when that preparation ends
//! the controller announces it on NATS and the snapshotter — passing no
//! `--extra-create-metadata`, so matching by the snapshot handle — syncs the content again and
//! records SnapshotPrepared on the VolumeSnapshot.

use std::time::Instant;

use sepia_testbed::NatsServer;
use snapshot_api::DeletionPolicy;

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
async fn the_end_of_a_snapshots_preparation_is_told_on_its_volume_snapshot_at_once() {
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
        &[&nats_flag, &format!("--http-endpoint=127.0.0.1:{port}")],
    );
    let volume_id = env.create_volume("pvc-wakeup-source", 16 * MIB).await;
    env.put_bound_claim("apps", "data", &volume_id, "16Mi");
    env.put_class("rbd-default", DeletionPolicy::Delete, true);
    env.put_snapshot("apps", "held", "data", None);
    // Ready at the cut, while the preparation waits.
    let ready = env.wait_ready("apps", "held").await;
    assert!(env.content_of(&ready).status_snapshot_handle().is_some());
    assert!(
        !env.event_reasons("apps", "held")
            .contains(&"SnapshotPrepared".to_owned()),
        "prepared while held"
    );

    std::fs::write(&release, b"go").unwrap();
    let released = Instant::now();
    env.wait_events("apps", "held", &["SnapshotPrepared"]).await;
    let told = released.elapsed();
    let log = env.process("snapshotter").log_text();
    assert!(
        log.lines()
            .any(|l| l.contains("requeued by a background event")
                && l.contains(ready.bound_content_name().unwrap())),
        "{log}"
    );
    assert_eq!(
        prepared_events(port, "acted").await,
        1,
        "the content was not requeued by the event"
    );
    println!(
        "wake-up: preparation released → SnapshotPrepared on the VolumeSnapshot {:.0} ms after, with NATS",
        told.as_secs_f64() * 1000.0
    );
}
