//! [`shutdown::on_request`]'s token is cancelled by a real SIGINT sent to this test process (a
//! test binary of its own: the signal reaches every handler in the process).

use std::time::Duration;

use rustix::process::{Signal, getpid, kill_process};

#[tokio::test]
async fn sigint_cancels_the_token() {
    let token = shutdown::on_request();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!token.is_cancelled(), "no stop request before a signal");
    kill_process(getpid(), Signal::INT).expect("sending SIGINT to this process");
    tokio::time::timeout(Duration::from_secs(10), token.cancelled())
        .await
        .expect("the token is cancelled after SIGINT");
}
