use std::time::Duration;

use super::*;

const WAIT: Duration = Duration::from_secs(10);

#[test]
fn second_acquire_of_a_held_name_is_in_progress() {
    let locks = OperationLocks::new();
    let guard = locks.try_acquire("pvc-1").unwrap();
    assert!(matches!(
        locks.try_acquire("pvc-1"),
        Err(Error::InProgress { key }) if key == "pvc-1"
    ));
    let other = locks.try_acquire("pvc-2").unwrap();
    drop(guard);
    let again = locks.try_acquire("pvc-1").unwrap();
    assert_eq!(again.key(), "pvc-1");
    drop(other);
}

#[tokio::test]
async fn aborting_the_holder_mid_await_releases_the_name() {
    let locks = OperationLocks::new();
    let (held_tx, held_rx) = tokio::sync::oneshot::channel();
    let holder = tokio::spawn({
        let locks = locks.clone();
        async move {
            let _guard = locks.try_acquire("vol-1").unwrap();
            held_tx.send(()).unwrap();
            // A call that never returns, like a hung `rbd map`.
            std::future::pending::<()>().await;
        }
    });
    held_rx.await.unwrap();
    assert!(matches!(
        locks.try_acquire("vol-1"),
        Err(Error::InProgress { .. })
    ));
    holder.abort();
    assert!(holder.await.unwrap_err().is_cancelled());
    assert!(!locks.is_held("vol-1"));
    drop(locks.try_acquire("vol-1").unwrap());
}

#[tokio::test]
async fn timed_out_request_releases_the_name() {
    let locks = OperationLocks::new();
    let request = {
        let locks = locks.clone();
        async move {
            let _guard = locks.try_acquire("vol-2")?;
            std::future::pending::<()>().await;
            Ok::<(), Error>(())
        }
    };
    assert!(
        tokio::time::timeout(Duration::from_millis(10), request)
            .await
            .is_err()
    );
    drop(locks.try_acquire("vol-2").unwrap());
}

#[tokio::test]
async fn acquire_waits_for_the_holder() {
    let locks = OperationLocks::new();
    let guard = locks.try_acquire("snap-1").unwrap();
    let waiter = tokio::spawn({
        let locks = locks.clone();
        async move { locks.acquire("snap-1").await.key().to_owned() }
    });
    tokio::task::yield_now().await;
    assert!(!waiter.is_finished(), "must wait while the name is held");
    drop(guard);
    assert_eq!(
        tokio::time::timeout(WAIT, waiter).await.unwrap().unwrap(),
        "snap-1"
    );
    assert!(!locks.is_held("snap-1"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acquire_serialises_many_waiters() {
    let locks = OperationLocks::new();
    let inside = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let tasks: Vec<_> = (0..32)
        .map(|_| {
            let locks = locks.clone();
            let inside = inside.clone();
            tokio::spawn(async move {
                let _guard = locks.acquire("pvc-x").await;
                let now = inside.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                tokio::task::yield_now().await;
                inside.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
                now
            })
        })
        .collect();
    for task in tasks {
        assert_eq!(tokio::time::timeout(WAIT, task).await.unwrap().unwrap(), 0);
    }
    assert!(!locks.is_held("pvc-x"));
}

#[tokio::test]
async fn cancelled_waiter_takes_nothing() {
    let locks = OperationLocks::new();
    let guard = locks.try_acquire("pvc-y").unwrap();
    assert!(
        tokio::time::timeout(Duration::from_millis(10), locks.acquire("pvc-y"))
            .await
            .is_err()
    );
    drop(guard);
    assert!(!locks.is_held("pvc-y"));
    drop(locks.try_acquire("pvc-y").unwrap());
}
