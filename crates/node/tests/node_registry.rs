//! The node's registration record in RADOS (what the controller checks for ControllerPublish),
//! written for real on the bed and read back with the `rados` CLI.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, SystemTime};

use cluster_config::ClusterConfigWatcher;
use journal::records::node_registry::{NodeRecord, object_name};
use node::registration::node_registry::{NodeRegistrar, RegistrarSettings, read_credentials};
use sepia_testbed::Bed;
use tokio_util::sync::CancellationToken;

struct Setup {
    bed: &'static Bed,
    dir: tempfile::TempDir,
    namespace: String,
    clusters: ClusterConfigWatcher,
}

async fn setup(prefix: &str) -> Setup {
    let bed = Bed::get();
    let namespace = bed.unique_name(prefix);
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.json");
    let entries = serde_json::json!([{
        "clusterID": "bed",
        "monitors": [bed.monitors],
        "sepia": {"nodeRegistryPool": bed.pool, "nodeRegistryNamespace": namespace}
    }]);
    std::fs::write(&config, entries.to_string()).unwrap();
    let clusters = ClusterConfigWatcher::start(&config, Duration::from_secs(1)).await;
    Setup {
        bed,
        dir,
        namespace,
        clusters,
    }
}

fn credentials_dir(setup: &Setup, user: &str, key: &str) -> std::path::PathBuf {
    let creds = setup.dir.path().join("creds");
    std::fs::create_dir_all(&creds).unwrap();
    std::fs::write(creds.join("userID"), user).unwrap();
    // A Secret mounted by kubelet may end with a newline.
    std::fs::write(creds.join("userKey"), format!("{key}\n")).unwrap();
    creds
}

fn settings(credentials_dir: std::path::PathBuf, instance: &str) -> RegistrarSettings {
    RegistrarSettings {
        node_id: "worker-7".into(),
        driver_name: "rbd.csi.sepia.io".into(),
        instance_id: instance.into(),
        credentials_dir,
        interval: Duration::from_millis(200),
    }
}

fn read_record(setup: &Setup, instance: &str) -> Option<NodeRecord> {
    let out = std::process::Command::new("rados")
        .args([
            "-p",
            &setup.bed.pool,
            "-N",
            &setup.namespace,
            "getomapval",
            &object_name(instance),
            "worker-7",
            "/dev/stdout",
        ])
        .env("CEPH_CONF", &setup.bed.conf_path)
        .output()
        .unwrap();
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let json = &text[text.find('{')?..=text.rfind('}')?];
    Some(serde_json::from_str(json).unwrap())
}

fn cleanup(setup: &Setup, instance: &str) {
    let _ = std::process::Command::new("rados")
        .args([
            "-p",
            &setup.bed.pool,
            "-N",
            &setup.namespace,
            "rm",
            &object_name(instance),
        ])
        .env("CEPH_CONF", &setup.bed.conf_path)
        .status();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registration_writes_the_shared_record() {
    let s = setup("registry").await;
    let creds = credentials_dir(&s, &s.bed.user, &s.bed.key);
    let registrar = NodeRegistrar::new(settings(creds, "default"), s.clusters.clone());
    let outcomes = registrar.register_everywhere().await;
    assert_eq!(outcomes.len(), 1);
    assert!(outcomes[0].1.is_ok(), "{:?}", outcomes[0].1);

    let record = read_record(&s, "default").expect("record written");
    assert_eq!(record.node_id, "worker-7");
    assert_eq!(record.driver, "rbd.csi.sepia.io");
    let at = humantime::parse_rfc3339(&record.updated_at).unwrap();
    let age = SystemTime::now().duration_since(at).unwrap_or_default();
    assert!(
        age < Duration::from_secs(300),
        "updatedAt is not recent: {}",
        record.updated_at
    );
    assert!(
        record.updated_at.ends_with('Z'),
        "not UTC: {}",
        record.updated_at
    );
    cleanup(&s, "default");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_record_is_refreshed_until_shutdown() {
    let s = setup("registry-run").await;
    let creds = credentials_dir(&s, &s.bed.user, &s.bed.key);
    let registrar = NodeRegistrar::new(settings(creds, "inst-b"), s.clusters.clone());
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(registrar.run(shutdown.clone()));
    let mut first = None;
    // updatedAt has one-second resolution: wait (bounded) for a later refresh.
    for _ in 0..100 {
        match (read_record(&s, "inst-b"), &first) {
            (Some(r), None) => first = Some(r.updated_at),
            (Some(r), Some(f)) if &r.updated_at != f => break,
            _ => {}
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let last = read_record(&s, "inst-b")
        .expect("record written")
        .updated_at;
    assert_ne!(Some(last), first, "the record was never refreshed");
    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .unwrap()
        .unwrap();
    cleanup(&s, "inst-b");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_or_missing_credentials_fail_without_showing_the_key() {
    let s = setup("registry-bad").await;
    let wrong = "AQAZ8OxoAAAAABAAJ5Hqxz0xVJz5A2UNhXkJ0w==";
    let creds = credentials_dir(&s, &s.bed.user, wrong);
    let registrar = NodeRegistrar::new(settings(creds, "inst-c"), s.clusters.clone());
    let outcomes = registrar.register_everywhere().await;
    let err = outcomes[0].1.as_ref().unwrap_err().to_string();
    assert!(!err.contains(wrong), "{err}");
    assert!(read_record(&s, "inst-c").is_none());

    let missing = s.dir.path().join("no-such-dir");
    let err = read_credentials(&missing).await.unwrap_err().to_string();
    assert!(err.contains("userID"), "{err}");
}
