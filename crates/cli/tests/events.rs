//! `sepia events` against the bed's nats-server: events published by the plugins' own
//! publisher (`crates/events`) come back one line each, filtered by volume ID or PVC, as JSON or
//! text, and `--follow` prints an event published after it started.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Stdio;
use std::time::Duration;

use events::{Event, KubernetesRef, Outcome, Publisher, PublisherConfig};
use sepia_testbed::Bed;
use tokio::io::{AsyncBufReadExt as _, BufReader};

const SEPIA: &str = env!("CARGO_BIN_EXE_sepia");

fn publisher() -> (Publisher, prometheus_client::registry::Registry) {
    let mut registry = prometheus_client::registry::Registry::default();
    let publisher = Publisher::start(PublisherConfig::new(&Bed::get().nats_url), &mut registry)
        .expect("publisher starts");
    (publisher, registry)
}

/// A volume ID no other test uses.
fn unique_volume_id() -> String {
    let uuid = uuid::Uuid::new_v4();
    format!("0001-0003-bed-0000000000000002-{uuid}")
}

fn event(verb: &str, volume_id: &str, pvc: Option<(&str, &str)>, outcome: Outcome) -> Event {
    let mut builder = Event::builder("controller", "volume", verb)
        .operation_key(format!("{verb}-{volume_id}"))
        .volume_id(volume_id)
        .duration(Duration::from_millis(12))
        .outcome(outcome);
    if let Some((namespace, name)) = pvc {
        builder = builder.kubernetes(KubernetesRef {
            kind: "PersistentVolumeClaim".to_owned(),
            namespace: Some(namespace.to_owned()),
            name: name.to_owned(),
            uid: None,
        });
    }
    builder.build().unwrap()
}

async fn sepia(args: &[&str]) -> std::process::Output {
    let mut cmd = tokio::process::Command::new(SEPIA);
    cmd.args(args)
        .args(["--nats-url", &Bed::get().nats_url])
        .kill_on_drop(true);
    tokio::time::timeout(Duration::from_secs(120), cmd.output())
        .await
        .expect("sepia events finished")
        .unwrap()
}

fn json_lines(out: &std::process::Output) -> Vec<Event> {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_filters_by_volume_and_pvc_and_prints_one_line_each() {
    let (publisher, _registry) = publisher();
    let volume = unique_volume_id();
    let other = unique_volume_id();
    let pvc_name = format!("pvc-{}", uuid::Uuid::new_v4());
    let created = event(
        "created",
        &volume,
        Some(("team-a", &pvc_name)),
        Outcome::ok(),
    );
    let failed = event(
        "deleted",
        &volume,
        None,
        Outcome::error("FAILED_PRECONDITION", "still mapped"),
    );
    let unrelated = event("created", &other, None, Outcome::ok());
    for e in [&created, &unrelated, &failed] {
        publisher.publish(e);
    }
    publisher.flush(Duration::from_secs(60)).await.unwrap();

    let by_volume = json_lines(
        &sepia(&[
            "events", "--since", "10m", "--volume", &volume, "-o", "json",
        ])
        .await,
    );
    assert_eq!(by_volume, vec![created.clone(), failed.clone()]);

    let pvc = format!("team-a/{pvc_name}");
    let by_pvc =
        json_lines(&sepia(&["events", "--since", "10m", "--pvc", &pvc, "-o", "json"]).await);
    assert_eq!(by_pvc, vec![created.clone()]);

    let text = sepia(&["events", "--since", "10m", "--volume", &volume]).await;
    assert!(text.status.success());
    let text = String::from_utf8(text.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(
        lines[0].contains("controller.volume.created ok")
            && lines[0].contains(&format!("PersistentVolumeClaim={pvc}")),
        "{text}"
    );
    assert!(
        lines[1].contains("controller.volume.deleted error FAILED_PRECONDITION")
            && lines[1].contains("still mapped"),
        "{text}"
    );

    let bad = sepia(&["events", "--pvc", "no-slash"]).await;
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("<namespace>/<name>"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_follow_prints_an_event_published_after_it_started() {
    let (publisher, _registry) = publisher();
    let volume = unique_volume_id();
    let mut child = tokio::process::Command::new(SEPIA)
        .args([
            "events", "--follow", "--since", "1m", "--volume", &volume, "-o", "json",
        ])
        .args(["--nats-url", &Bed::get().nats_url])
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    // Publish until the follower prints it: it may subscribe after the first publish, and
    // `--since` covers one published before.
    let first = event("created", &volume, None, Outcome::ok());
    publisher.publish(&first);
    publisher.flush(Duration::from_secs(60)).await.unwrap();
    let line = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
        .await
        .expect("the follower printed within a minute")
        .unwrap()
        .expect("a line");
    assert_eq!(serde_json::from_str::<Event>(&line).unwrap(), first);
    let second = event("expanded", &volume, None, Outcome::ok());
    publisher.publish(&second);
    publisher.flush(Duration::from_secs(60)).await.unwrap();
    let line = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
        .await
        .expect("the follower printed the later event")
        .unwrap()
        .expect("a line");
    assert_eq!(serde_json::from_str::<Event>(&line).unwrap(), second);
    child.kill().await.unwrap();
}
