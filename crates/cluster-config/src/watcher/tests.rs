use std::time::Duration;

use super::*;

const GOOD: &str = r#"[{"clusterID":"a","monitors":["10.0.0.1:6789"]}]"#;
const OTHER: &str = r#"[{"clusterID":"b","monitors":["10.0.0.2:6789","10.0.0.3:6789"]}]"#;
const POLL: Duration = Duration::from_millis(20);

/// Waits (bounded) until the watcher publishes a snapshot newer than `after`.
async fn next_change(watcher: &ClusterConfigWatcher, after: u64) -> Snapshot {
    let mut rx = watcher.subscribe();
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            if rx.borrow_and_update().generation > after {
                return rx.borrow().clone();
            }
            rx.changed().await.unwrap();
        }
    })
    .await
    .expect("the watcher did not pick up the change within 10 s")
}

/// Replaces the file the way a ConfigMap update does: write a new file, rename it over.
fn replace(path: &Path, text: &str) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

#[tokio::test]
async fn initial_file_is_loaded_before_start_returns() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.json");
    std::fs::write(&path, GOOD).unwrap();
    let watcher = ClusterConfigWatcher::start(&path, POLL).await;
    assert!(watcher.current().get("a").is_ok());
    assert_eq!(watcher.last_error(), None);
}

#[tokio::test]
async fn a_change_is_picked_up() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.json");
    std::fs::write(&path, GOOD).unwrap();
    let watcher = ClusterConfigWatcher::start(&path, POLL).await;
    let before = watcher.snapshot().generation;

    replace(&path, OTHER);
    let snap = next_change(&watcher, before).await;
    assert!(snap.config.get("a").is_err());
    assert_eq!(snap.config.get("b").unwrap().monitors.len(), 2);
    assert_eq!(watcher.current().entries().len(), 1);
}

#[tokio::test]
async fn a_bad_file_keeps_the_previous_good_value_and_reports_why() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.json");
    std::fs::write(&path, GOOD).unwrap();
    let watcher = ClusterConfigWatcher::start(&path, POLL).await;
    let before = watcher.snapshot().generation;

    replace(&path, r#"[{"clusterID":"a","monitors":[]}]"#);
    let snap = next_change(&watcher, before).await;
    assert!(
        matches!(
            snap.error,
            Some(ConfigError::Invalid {
                field: "monitors",
                ..
            })
        ),
        "{:?}",
        snap.error
    );
    assert_eq!(
        watcher.current().get("a").unwrap().monitors,
        vec!["10.0.0.1:6789"]
    );

    // Fixing the file clears the error.
    replace(&path, OTHER);
    let fixed = next_change(&watcher, snap.generation).await;
    assert_eq!(fixed.error, None);
    assert!(fixed.config.get("b").is_ok());
}

#[tokio::test]
async fn a_missing_file_starts_empty_with_an_error_and_is_loaded_when_it_appears() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.json");
    let watcher = ClusterConfigWatcher::start(&path, POLL).await;
    assert!(watcher.current().is_empty());
    assert!(matches!(
        watcher.last_error(),
        Some(ConfigError::Read { .. })
    ));
    let before = watcher.snapshot().generation;

    replace(&path, GOOD);
    let snap = next_change(&watcher, before).await;
    assert_eq!(snap.error, None);
    assert!(snap.config.get("a").is_ok());
}

#[tokio::test]
async fn an_unchanged_file_is_not_parsed_again() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.json");
    std::fs::write(&path, GOOD).unwrap();
    let watcher = ClusterConfigWatcher::start(&path, POLL).await;
    let first = watcher.current();
    tokio::time::sleep(POLL * 10).await;
    // Same Arc: no re-parse replaced the value.
    assert!(Arc::ptr_eq(&first, &watcher.current()));
    assert_eq!(watcher.snapshot().generation, 1);
}

#[test]
fn fixed_watcher_serves_the_given_value() {
    let config = ClusterConfig::parse(Path::new("x"), GOOD.as_bytes()).unwrap();
    let watcher = ClusterConfigWatcher::fixed(config);
    assert!(watcher.current().get("a").is_ok());
}
