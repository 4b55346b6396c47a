//! Wake-ups on background work over NATS, with the real controller and provisioner: a claim
//! restoring from a snapshot whose preparation is still running waits in backoff; when the
//! preparation ends the controller announces it (`sepia.controller.snapshot.prepared`) and
//! the provisioner requeues the claim at once, recording "snapshot prepared" on it — matched by
//! the VolumeSnapshot the event names, or, when the snapshotter passes no
//! `--extra-create-metadata`, by its content's snapshot handle. A restore at the hard
//! clone-depth limit waits for the mgr's flatten and is woken by `flattened`. Without NATS the
//! same claim binds when its backoff runs out; with NATS down when the work ends and back later,
//! the event still arrives, once.
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
use support::{CLASS, Controller, World};

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
        self.claim_waiting_on(Metadata::Passed).await;
    }

    /// [`Run::claim_waiting_on_preparation`], the snapshotter passing `metadata` or not.
    async fn claim_waiting_on(&self, metadata: Metadata) {
        let world = &self.world;
        world.claim("origin", "128Mi", CLASS, None);
        let origin = world.wait_bound("origin", WAIT).await;
        let extra: &[(&str, &str)] = match metadata {
            Metadata::Passed => &[
                ("csi.storage.k8s.io/volumesnapshot/name", "snap"),
                ("csi.storage.k8s.io/volumesnapshot/namespace", "default"),
                (
                    "csi.storage.k8s.io/volumesnapshotcontent/name",
                    "snap-content",
                ),
            ],
            Metadata::None => &[],
        };
        put_snapshot(world, "default", "snap", &volume_id(&origin), extra).await;
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

    /// Waits until the controller says it keeps an event it could not publish (NATS away).
    async fn event_kept_queued(&self) {
        self.world
            .eventually("the controller kept the event queued", WAIT, || {
                self.world
                    .controller
                    .log()
                    .contains("event not published; keeping it queued")
            })
            .await;
    }

    /// `sidecar_background_events_total{verb="prepared",result=…}`, 0 when absent.
    async fn prepared_events(&self, result: &str) -> u64 {
        background_events(self.metrics_port, "prepared", result).await
    }

    fn prepared_notes(&self) -> Vec<String> {
        notes(&self.world, "restored", "SnapshotPrepared")
    }
}

/// Whether the snapshotter passed `--extra-create-metadata` (the VolumeSnapshot's name in the
/// CreateSnapshot parameters, hence in the preparation event).
#[derive(Clone, Copy)]
enum Metadata {
    Passed,
    None,
}

/// `sidecar_background_events_total{verb,result}` of the sidecar serving metrics on `port`, 0
/// when absent.
async fn background_events(port: u16, verb: &str, result: &str) -> u64 {
    let (status, body) = http::get(port, "/metrics").await;
    assert_eq!(status, 200, "{body}");
    let wanted = format!("sidecar_background_events_total{{verb=\"{verb}\",result=\"{result}\"}} ");
    body.lines()
        .find_map(|line| line.strip_prefix(&wanted))
        .map_or(0, |n| n.trim().parse().unwrap())
}

/// The notes of the Kubernetes Events of `reason` about claim `claim`, each recorded once.
fn notes(world: &World, claim: &str, reason: &str) -> Vec<String> {
    world
        .standin
        .list_json(&Gvr::new("events.k8s.io", "v1", "events"), None)
        .iter()
        .filter(|e| e["regarding"]["name"] == claim && e["reason"] == reason)
        .map(|e| {
            assert!(
                e["series"].is_null(),
                "the event was recorded more than once: {e}"
            );
            e["note"].as_str().unwrap().to_owned()
        })
        .collect()
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

    println!(
        "wake-up: preparation released → claim bound {:.0} ms with NATS (event); {:.1} s without (backoff from 5 s)",
        woken_by_event.as_secs_f64() * 1000.0,
        woken_by_backoff.as_secs_f64()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_extra_create_metadata_a_restore_is_matched_by_its_snapshot_handle() {
    // A NATS of this test's own: no other test's events can wake its claims.
    let nats = NatsServer::start().await;
    let url = nats.url();
    // A long backoff: only the event can bind the claim before it runs out.
    let run = Run::start(Some(&url), "60s").await;
    run.claim_waiting_on(Metadata::None).await;
    let released = run.release_preparation();
    run.world.wait_bound("restored", WAIT).await;
    let woken = released.elapsed();

    // The event named no VolumeSnapshot: the provisioner matched the handle.
    let stored = stored_events(&nats, PREPARED).await;
    assert_eq!(stored.len(), 1, "{stored:?}");
    assert!(stored[0].kubernetes.is_none(), "{:?}", stored[0]);
    assert_eq!(stored[0].driver.as_deref(), Some(support::DRIVER));
    assert_eq!(
        run.prepared_events("acted").await,
        1,
        "the claim was not requeued by the event\n{}",
        run.world.logs()
    );
    assert!(
        run._provisioner
            .log()
            .contains("requeued by a background event"),
        "{}",
        run.world.logs()
    );
    assert_eq!(
        run.prepared_notes(),
        ["snapshot prepared: default/snap can be restored now"]
    );
    println!(
        "wake-up: preparation released → claim bound {:.0} ms with NATS, matched by snapshot handle",
        woken.as_secs_f64() * 1000.0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restore_at_the_hard_clone_depth_limit_binds_after_its_flatten_is_announced() {
    let nats = NatsServer::start().await;
    let url = nats.url();
    let nats_flag = format!("--nats-url={url}");
    // The snapshot is cut and prepared by a controller with the default limits (its image is
    // one clone deep, nothing to flatten)...
    let mut world = World::start_with(None, &[nats_flag.as_str()]).await;
    let (origin, _) = world
        .controller
        .create_volume("pvc-origin-flatten", 128 << 20)
        .await;
    put_snapshot(&world, "default", "deep", &origin, &[]).await;
    // ...and restored through one whose hard limit that depth reaches: the restore waits
    // (ABORTED) for the mgr to flatten the snapshot image.
    let strict = Controller::start_beside_with(
        &world.controller,
        "strict-controller",
        None,
        &[
            "--rbd-soft-max-clone-depth=1",
            "--rbd-hard-max-clone-depth=2",
            nats_flag.as_str(),
        ],
    )
    .await;
    let metrics_port = free_port();
    let http = format!("--http-endpoint=127.0.0.1:{metrics_port}");
    let _provisioner = world.provisioner_at(
        &strict.endpoint(),
        &[
            "--retry-interval-start=60s",
            "--retry-interval-max=5m",
            "--extra-create-metadata",
            http.as_str(),
            nats_flag.as_str(),
        ],
        &[],
    );
    world.claim(
        "flat-restore",
        "128Mi",
        CLASS,
        Some(json!({"apiGroup": "snapshot.storage.k8s.io", "kind": "VolumeSnapshot", "name": "deep"})),
    );
    world
        .eventually("the restore was refused at the hard limit", WAIT, || {
            !world.failure_notes("flat-restore").is_empty()
        })
        .await;
    let refused = Instant::now();
    let notes_then = world.failure_notes("flat-restore");
    assert!(
        notes_then.iter().all(|n| n.contains("hard limit")),
        "refused for another reason: {notes_then:?}"
    );
    world.wait_bound("flat-restore", WAIT).await;
    let woken = refused.elapsed();

    assert_eq!(
        background_events(metrics_port, "flattened", "acted").await,
        1,
        "the claim was not requeued by the flatten's event\n{}",
        world.logs()
    );
    assert_eq!(
        notes(&world, "flat-restore", "FlattenFinished"),
        ["flatten finished: the clone chain is short enough to provision now"]
    );
    let stored = stored_events(&nats, "sepia.controller.volume.flattened").await;
    assert_eq!(stored.len(), 1, "{stored:?}");
    let claim = stored[0].kubernetes.as_ref().unwrap();
    assert_eq!(
        (
            claim.kind.as_str(),
            claim.namespace.as_deref(),
            claim.name.as_str()
        ),
        ("PersistentVolumeClaim", Some("default"), "flat-restore")
    );
    assert!(stored[0].csi.snapshot_id.is_some());
    println!(
        "wake-up: restore refused at the hard clone depth → bound {:.0} ms after, with NATS (flatten + event; backoff was 60 s)",
        woken.as_secs_f64() * 1000.0
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
    run.event_kept_queued().await;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_nats_down_the_claim_binds_by_backoff_and_the_late_event_changes_nothing() {
    let mut nats = NatsServer::start().await;
    let url = nats.url();
    let run = Run::start(Some(&url), "3s").await;
    run.claim_waiting_on_preparation().await;

    nats.stop().await;
    let released = run.release_preparation();
    // No event can arrive: the claim binds when its backoff runs out.
    run.world.wait_bound("restored", WAIT).await;
    let by_backoff = released.elapsed();
    run.event_kept_queued().await;

    // Back: the queued event is stored and delivered, once; the claim it was about is bound,
    // so nothing is requeued and no Kubernetes Event recorded.
    nats.run().await;
    let deadline = Instant::now() + WAIT;
    while run.prepared_events("unrelated").await == 0 {
        assert!(
            Instant::now() < deadline,
            "the late event was not delivered\n{}",
            run.world.logs()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(run.prepared_events("unrelated").await, 1);
    assert_eq!(run.prepared_events("acted").await, 0);
    assert_eq!(run.prepared_events("duplicate").await, 0);
    assert!(
        run.prepared_notes().is_empty(),
        "{:?}",
        run.prepared_notes()
    );
    let stored = stored_events(&nats, PREPARED).await;
    assert_eq!(stored.len(), 1, "{stored:?}");
    println!(
        "wake-up: preparation released with NATS down → claim bound {:.1} s after (backoff from 3 s); the late event arrived once and changed nothing",
        by_backoff.as_secs_f64()
    );
}
