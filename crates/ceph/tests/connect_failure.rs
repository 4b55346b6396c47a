//! Connecting to a dead address or with a wrong key fails with a typed error within the
//! configured deadline, without blocking the caller's runtime.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use ceph::{Cluster, Credentials, Error, Timeouts};

/// A syntactically valid cephx key that no cluster knows (from `ceph-authtool --gen-print-key`).
pub const WRONG_KEY: &str = "AQBKqwNr0aFhKxAAXD53fkfa5BAcBk1oDL/50g==";

fn short() -> Timeouts {
    Timeouts {
        connect: Duration::from_secs(3),
        op: Duration::from_secs(3),
    }
}

fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    port
}

/// Connects on this (current-thread) runtime while a task ticks every 100 ms; returns the
/// error, the elapsed time and the number of ticks seen meanwhile.
async fn connect_while_ticking(creds: Credentials) -> (Error, Duration, u32) {
    let ticks = Arc::new(AtomicU32::new(0));
    let ticker = {
        let ticks = Arc::clone(&ticks);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(100)).await;
                ticks.fetch_add(1, Ordering::Relaxed);
            }
        })
    };
    let start = Instant::now();
    let result = Cluster::connect(&creds, &short()).await;
    let elapsed = start.elapsed();
    ticker.abort();
    let err = match result {
        Ok(_) => panic!("connect must fail"),
        Err(e) => e,
    };
    (err, elapsed, ticks.load(Ordering::Relaxed))
}

#[tokio::test(flavor = "current_thread")]
async fn closed_port_times_out_within_the_deadline_without_blocking_the_runtime() {
    let bed = common::bed();
    let creds = Credentials::new(
        format!("127.0.0.1:{}", closed_port()),
        bed.user.clone(),
        bed.key.clone(),
    );
    let (err, elapsed, ticks) = connect_while_ticking(creds).await;
    eprintln!("closed port: {err} after {elapsed:?}, {ticks} ticks");
    assert!(matches!(err, Error::TimedOut { .. }), "{err:?}");
    assert!(err.to_string().contains("connect"), "{err}");
    assert!(elapsed < Duration::from_secs(15), "took {elapsed:?}");
    // The runtime kept running other tasks: roughly one tick per 100 ms of waiting.
    assert!(
        ticks >= 10,
        "only {ticks} ticks in {elapsed:?}: the runtime was blocked"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn wrong_key_is_refused_within_the_deadline_without_blocking_the_runtime() {
    let bed = common::bed();
    let creds = Credentials::new(bed.monitors.clone(), bed.user.clone(), WRONG_KEY);
    let (err, elapsed, ticks) = connect_while_ticking(creds).await;
    eprintln!("wrong key: {err} after {elapsed:?}, {ticks} ticks");
    assert!(
        matches!(err, Error::PermissionDenied { .. } | Error::TimedOut { .. }),
        "{err:?}"
    );
    assert!(elapsed < Duration::from_secs(15), "took {elapsed:?}");
    let shown = format!("{err} {err:?}");
    assert!(
        !shown.contains(WRONG_KEY) && !shown.contains(&bed.key),
        "{shown}"
    );
    // Either the refusal came fast, or we waited and the runtime kept ticking meanwhile.
    assert!(
        elapsed < Duration::from_secs(1) || u128::from(ticks) * 100 >= elapsed.as_millis() / 2,
        "only {ticks} ticks in {elapsed:?}: the runtime was blocked"
    );
}

#[tokio::test]
async fn malformed_credentials_are_refused_before_contacting_ceph() {
    let bed = common::bed();
    for (creds, field) in [
        (
            Credentials::new(bed.monitors.clone(), bed.user.clone(), "not a key"),
            "key",
        ),
        (
            Credentials::new("", bed.user.clone(), bed.key.clone()),
            "monitors",
        ),
        (
            Credentials::new(bed.monitors.clone(), "", bed.key.clone()),
            "user",
        ),
    ] {
        let err = Cluster::connect(&creds, &short()).await.unwrap_err();
        assert!(matches!(err, Error::InvalidArgument { .. }), "{err:?}");
        assert!(err.to_string().contains(field), "{err}");
        assert!(!err.to_string().contains(&bed.key));
    }
}
