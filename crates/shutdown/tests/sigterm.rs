//! [`shutdown::requested`] resolves on a real SIGTERM sent to this test process (a test binary
//! of its own: the signal reaches every handler in the process).

use std::time::Duration;

use rustix::process::{Signal, getpid, kill_process};

#[tokio::test]
async fn sigterm_is_a_stop_request() {
    let mut stop = Box::pin(shutdown::requested());
    assert!(
        tokio::time::timeout(Duration::from_millis(200), &mut stop)
            .await
            .is_err(),
        "no stop request before a signal"
    );
    kill_process(getpid(), Signal::TERM).expect("sending SIGTERM to this process");
    tokio::time::timeout(Duration::from_secs(10), stop)
        .await
        .expect("the stop request follows SIGTERM");
}
