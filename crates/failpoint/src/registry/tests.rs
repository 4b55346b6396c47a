use std::time::Duration;

use super::*;

const A: &str = "test.a";
const B: &str = "test.b";

#[tokio::test]
async fn disarmed_handle_passes_and_counts_nothing() {
    let fp = Failpoints::default();
    fp.set(A, Action::Fail);
    assert!(!fp.is_armed());
    assert_eq!(fp.hit(A).await, Ok(()));
    assert_eq!(fp.hits(A), 0);
}

#[tokio::test]
async fn armed_handle_counts_unconfigured_points() {
    let fp = Failpoints::new();
    fp.hit(A).await.unwrap();
    fp.hit(A).await.unwrap();
    fp.hit(B).await.unwrap();
    assert_eq!((fp.hits(A), fp.hits(B), fp.hits("test.never")), (2, 1, 0));
}

#[tokio::test]
async fn fail_is_injected_with_the_name_and_shared_by_clones() {
    let fp = Failpoints::new();
    let clone = fp.clone();
    fp.set(A, Action::Fail);
    assert_eq!(clone.hit(A).await, Err(Injected { name: A }));
    assert_eq!(clone.hit(A).await, Err(Injected { name: A }));
    assert_eq!(clone.hit(B).await, Ok(()));
    assert_eq!(fp.hits(A), 2);
}

#[tokio::test]
async fn fail_times_fails_only_the_first_hits() {
    let fp = Failpoints::new().with(A, Action::FailTimes(2));
    assert!(fp.hit(A).await.is_err());
    assert!(fp.hit(A).await.is_err());
    assert!(fp.hit(A).await.is_ok());
    assert_eq!(fp.hits(A), 3);
}

#[tokio::test(start_paused = true)]
async fn delay_sleeps_before_passing() {
    let fp = Failpoints::new().with(A, Action::Delay(Duration::from_secs(30)));
    let started = tokio::time::Instant::now();
    fp.hit(A).await.unwrap();
    assert!(started.elapsed() >= Duration::from_secs(30));
}

#[tokio::test]
async fn pause_holds_until_resumed() {
    let fp = Failpoints::new().with(A, Action::Pause);
    let task = tokio::spawn({
        let fp = fp.clone();
        async move { fp.hit(A).await }
    });
    tokio::time::timeout(Duration::from_secs(10), fp.wait_for_hits(A, 1))
        .await
        .unwrap();
    tokio::task::yield_now().await;
    assert!(!task.is_finished(), "a paused hit must not pass");
    fp.resume(A);
    let result = tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .unwrap();
    assert_eq!(result.unwrap(), Ok(()));
}

#[tokio::test]
async fn cancelled_paused_hit_leaves_the_point_usable() {
    let fp = Failpoints::new().with(A, Action::Pause);
    let task = tokio::spawn({
        let fp = fp.clone();
        async move { fp.hit(A).await }
    });
    fp.wait_for_hits(A, 1).await;
    task.abort();
    assert!(task.await.unwrap_err().is_cancelled());
    fp.set(A, Action::Fail);
    assert!(fp.hit(A).await.is_err());
}

#[test]
fn spec_configures_several_points() {
    let fp = Failpoints::from_spec(" test.a=fail(1); test.b = delay(5ms) ,test.c=pause").unwrap();
    let debug = format!("{fp:?}");
    assert!(debug.contains("FailTimes(1)"), "{debug}");
    assert!(debug.contains("Delay(5ms)"), "{debug}");
    assert!(debug.contains("Pause"), "{debug}");
}

#[test]
fn spec_rejects_entries_without_action_or_name() {
    assert_eq!(
        Failpoints::from_spec("test.a").unwrap_err().rule,
        "expected name=action"
    );
    assert_eq!(
        Failpoints::from_spec("=fail").unwrap_err().rule,
        "the failpoint name must not be empty"
    );
    assert!(Failpoints::from_spec("test.a=boom").is_err());
}

#[tokio::test]
async fn pause_until_holds_until_the_file_exists() {
    let dir = std::env::temp_dir().join(format!("failpoint-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let go = dir.join("go");
    let _ = std::fs::remove_file(&go);
    let fp = Failpoints::from_spec(&format!("{A}=pause_until({})", go.display())).unwrap();
    let held = tokio::spawn({
        let fp = fp.clone();
        async move { fp.hit(A).await }
    });
    fp.wait_for_hits(A, 1).await;
    assert!(!held.is_finished());
    std::fs::write(&go, b"").unwrap();
    assert_eq!(held.await.unwrap(), Ok(()));
    // With the file there, later hits pass at once.
    assert_eq!(fp.hit(A).await, Ok(()));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn pause_until_is_released_by_re_arming() {
    let fp = Failpoints::new().with(A, Action::PauseUntil("/nonexistent/never".into()));
    let held = tokio::spawn({
        let fp = fp.clone();
        async move { fp.hit(A).await }
    });
    fp.wait_for_hits(A, 1).await;
    fp.resume(A);
    assert_eq!(held.await.unwrap(), Ok(()));
}
