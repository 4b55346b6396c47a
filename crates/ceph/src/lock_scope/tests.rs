//! The promise of the lock scope that only a blocking call can show: a call abandoned at its
//! deadline keeps its lock held — renewed, refused to another connection — until it really
//! returns, and the lock is released right after. Against the bed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt as _;

use super::scoped;
use crate::blocking;
use crate::error::Error;
use crate::{Cluster, Credentials, LockKind, LockSpec, Locker, Timeouts};

fn spec() -> LockSpec {
    LockSpec {
        oid: "obj".to_owned(),
        name: "sepia.test".to_owned(),
        kind: LockKind::Exclusive,
        description: "in-flight test".to_owned(),
        must_exist: true,
        forget_on_release: false,
    }
}

async fn connect() -> Cluster {
    let bed = sepia_testbed::Bed::get();
    let creds = Credentials::new(&bed.monitors, &bed.user, &bed.key);
    Cluster::connect(&creds, &Timeouts::default())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lock_is_held_until_a_call_abandoned_under_it_returns() {
    let bed = sepia_testbed::Bed::get();
    let namespace = bed.unique_name("lock-inflight");
    let io_a = connect().await.ioctx(&bed.pool, &namespace).await.unwrap();
    let io_b = connect().await.ioctx(&bed.pool, &namespace).await.unwrap();
    io_a.create_exclusive("obj").await.unwrap();
    let body = async {
        let a = Locker::new("process-a", Duration::from_secs(3));
        let b = Locker::new("process-b", Duration::from_secs(3));
        let (finish, finished) = std::sync::mpsc::channel::<()>();
        let state = scoped(async {
            let lease = a.lock(&io_a, spec()).await.unwrap();
            let state = Arc::clone(lease.state());
            // Stands in for a librbd call stuck on the cluster past its deadline.
            let slow = blocking::run("slow call", Duration::from_millis(100), move || {
                let _ = finished.recv_timeout(Duration::from_secs(120));
                Ok(())
            })
            .await;
            assert!(matches!(slow, Err(Error::TimedOut { .. })), "{slow:?}");
            assert_eq!(lease.calls_in_flight(), 1);
            drop(lease);
            state
        })
        .await
        .unwrap();
        // The request has ended (the scope did not wait for the abandoned call), yet the lock
        // is kept: renewed past its duration and refused to another connection.
        let renewed = tokio::time::timeout(Duration::from_secs(60), async {
            while state.renewals() < 3 {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
        .await;
        assert!(
            renewed.is_ok(),
            "the lock was not renewed while the call ran"
        );
        match b.lock(&io_b, spec()).await {
            Err(Error::Busy { .. }) => {}
            other => panic!("another connection got the lock while the call ran: {other:?}"),
        }
        finish.send(()).unwrap();
        // Released right after the call returned.
        tokio::time::timeout(Duration::from_secs(30), state.released())
            .await
            .expect("the lock was not released after the call returned");
        b.lock(&io_b, spec()).await.unwrap().release().await;
    };
    let outcome = AssertUnwindSafe(body).catch_unwind().await;
    let _ = io_a.remove("obj").await;
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}
