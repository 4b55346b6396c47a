//! Wake-ups on background work over NATS, with the real controller and provisioner: a claim
//! restoring from a snapshot whose preparation is still running waits in backoff; when the
//! preparation ends the controller announces it (`sepia.controller.snapshot.prepared`) and
//! the provisioner requeues the claim at once, recording "snapshot prepared" on it. Without
//! NATS the same claim binds when its backoff runs out; with NATS down when the work ends and
//! back later, the event still arrives, once.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::PersistentVolume;
use kube_standin::Gvr;
use sepia_testbed::{Bed, NatsServer, free_port};
use serde_json::json;
use sidecar_testkit::http;
use sidecar_testkit::nats::stored_events;
use support::snapshots::put_snapshot;
use support::{CLASS, World};

const WAIT: Duration = Duration::from_secs(120);
const PREPARED: &str = "sepia.controller.snapshot.prepared";
/// The background preparation waits here until the test creates the file.
const HOLD: &str = "controller.snapshot.before_inner_snapshot";
/// A restore gives up on the held preparation after this, and goes into backoff.
const CALL_TIMEOUT: &str = "--timeout=3s";

fn volume_id(pv: &PersistentVolume) -> String {
    pv.spec
        .as_ref()
        .unwrap()
        .csi
        .as_ref()
        .unwrap()
        .volume_handle
        .clone()
}

/// One run: controller (preparations held at [`HOLD`]) and provisioner, both on `nats_url`
/// when given, the provisioner's backoff starting at `backoff`.
struct Run {
    world: World,
    /// Holds the release file.
    _dir: tempfile::TempDir,
    release: PathBuf,
    metrics_port: u16,
    _provisioner: support::Process,
}

impl Run {
    async fn start(nats_url: Option<&str>, backoff: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let release = dir.path().join("release");
        let failpoints = format!("{HOLD}=pause_until({})", release.display());
        let nats_flag = nats_url.map(|url| format!("--nats-url={url}"));
        let controller_flags: Vec<&str> = nats_flag.iter().map(String::as_str).collect();
        let mut world = World::start_with(Some(&failpoints), &controller_flags).await;
        let metrics_port = free_port();
        let http = format!("--http-endpoint=127.0.0.1:{metrics_port}");
        let start = format!("--retry-interval-start={backoff}");
        let mut flags = vec![
            CALL_TIMEOUT,
            start.as_str(),
            "--retry-interval-max=5m",
            http.as_str(),
        ];
        flags.extend(controller_flags.iter().copied());
        let provisioner = world.provisioner(&flags, &[]);
        Run {
            world,
            _dir: dir,
            release,
            metrics_port,
            _provisioner: provisioner,
        }
    }

    /// Provisions the origin, snapshots it (the reply comes at the cut; its preparation is
    /// held), and creates claim `restored` from it. Returns once the restore has failed on
    /// the held preparation, i.e. the claim is in backoff.
    async fn claim_waiting_on_preparation(&self) {
        let world = &self.world;
        world.claim("origin", "128Mi", CLASS, None);
        let origin = world.wait_bound("origin", WAIT).await;
        put_snapshot(
            world,
            "default",
            "snap",
            &volume_id(&origin),
            &[
                ("csi.storage.k8s.io/volumesnapshot/name", "snap"),
                ("csi.storage.k8s.io/volumesnapshot/namespace", "default"),
                (
                    "csi.storage.k8s.io/volumesnapshotcontent/name",
                    "snap-content",
                ),
            ],
        )
        .await;
        world.claim(
            "restored",
            "128Mi",
            CLASS,
            Some(json!({"apiGroup": "snapshot.storage.k8s.io", "kind": "VolumeSnapshot", "name": "snap"})),
        );
        world
            .eventually(
                "the restore timed out on the held preparation",
                WAIT,
                || {
                    let notes = world.failure_notes("restored");
                    assert!(
                        notes.iter().all(|n| n.to_lowercase().contains("deadline")),
                        "the restore failed for another reason: {notes:?}"
                    );
                    !notes.is_empty()
                },
            )
            .await;
    }

    /// Lets the held preparation finish; returns when.
    fn release_preparation(&self) -> Instant {
        std::fs::write(&self.release, b"go").unwrap();
        Instant::now()
    }

    async fn metrics(&self) -> String {
        let (status, body) = http::get(self.metrics_port, "/metrics").await;
        assert_eq!(status, 200, "{body}");
        body
    }

    /// `sidecar_background_events_total{verb="prepared",result=…}`, 0 when absent.
    async fn prepared_events(&self, result: &str) -> u64 {
        let wanted =
            format!("sidecar_background_events_total{{verb=\"prepared\",result=\"{result}\"}} ");
        self.metrics()
            .await
            .lines()
            .find_map(|line| line.strip_prefix(&wanted))
            .map_or(0, |n| n.trim().parse().unwrap())
    }

    fn prepared_notes(&self) -> Vec<String> {
        self.world
            .standin
            .list_json(&Gvr::new("events.k8s.io", "v1", "events"), None)
            .iter()
            .filter(|e| e["regarding"]["name"] == "restored" && e["reason"] == "SnapshotPrepared")
            .map(|e| {
                assert!(
                    e["series"].is_null(),
                    "the event was recorded more than once: {e}"
                );
                e["note"].as_str().unwrap().to_owned()
            })
            .collect()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restore_waiting_on_a_preparation_binds_on_its_event_and_without_nats_by_backoff() {
    let bed = Bed::get();

    // With NATS (the bed's): the completion event requeues the claim.
    let with = Run::start(Some(&bed.nats_url), "20s").await;
    with.claim_waiting_on_preparation().await;
    let released = with.release_preparation();
    with.world.wait_bound("restored", WAIT).await;
    let woken_by_event = released.elapsed();
    assert_eq!(
        with.prepared_events("acted").await,
        1,
        "the claim was not requeued by the event\n{}",
        with.world.logs()
    );
    assert_eq!(
        with.prepared_notes(),
        ["snapshot prepared: default/snap can be restored now"]
    );
    drop(with);

    // Without NATS: the same claim binds when its backoff runs out.
    let without = Run::start(None, "5s").await;
    without.claim_waiting_on_preparation().await;
    let released = without.release_preparation();
    without.world.wait_bound("restored", WAIT).await;
    let woken_by_backoff = released.elapsed();
    assert_eq!(without.prepared_events("acted").await, 0);
    assert!(without.prepared_notes().is_empty());

    eprintln!(
        "bench wakeup: preparation released → claim bound: with NATS {:.2} s (event), without NATS {:.2} s (backoff from 5 s)",
        woken_by_event.as_secs_f64(),
        woken_by_backoff.as_secs_f64()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_published_while_nats_is_down_arrives_once_after_it_returns() {
    let mut nats = NatsServer::start().await;
    let url = nats.url();
    // A long backoff: the claim binds on the event, which must survive NATS being away.
    let run = Run::start(Some(&url), "60s").await;
    run.claim_waiting_on_preparation().await;

    nats.stop().await;
    run.release_preparation();
    // The controller produced the event while NATS was away: it waits in its outbox.
    run.world
        .eventually("the controller kept the event queued", WAIT, || {
            run.world
                .controller
                .log()
                .contains("event not published; keeping it queued")
        })
        .await;
    nats.run().await;

    run.world.wait_bound("restored", WAIT).await;
    assert_eq!(
        run.prepared_events("acted").await,
        1,
        "{}",
        run.world.logs()
    );
    assert_eq!(run.prepared_events("duplicate").await, 0);
    assert_eq!(
        run.prepared_notes(),
        ["snapshot prepared: default/snap can be restored now"]
    );
    let stored = stored_events(&nats, PREPARED).await;
    assert_eq!(stored.len(), 1, "{stored:?}");
    let kube = stored[0].kubernetes.as_ref().unwrap();
    assert_eq!(
        (
            kube.kind.as_str(),
            kube.namespace.as_deref(),
            kube.name.as_str()
        ),
        ("VolumeSnapshot", Some("default"), "snap")
    );
    assert!(stored[0].csi.snapshot_id.is_some());
}
