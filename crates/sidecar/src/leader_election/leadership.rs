//! Running controllers only while holding a Lease, fail-stop: [`lead`]. And [`run_unelected`],
//! the same lifecycle without an election.
//!
//! What happens when (`S`, `RD`, `LD` as in [`crate::leader_election::leader`]):
//! - **Lease lost** (no renewal succeeded by `S + RD`): the controllers' task is aborted at
//!   once — in-flight work is dropped, not drained: a CSI call in flight is cancelled
//!   (`RST_STREAM`), a worker waiting on one never reaches its next write — and [`lead`]
//!   returns [`SidecarError::LeadershipLost`]; [`crate::launch()`] then exits the process
//!   with status 1 without waiting for anything else. The [`Watchdog`] aborts the process at
//!   `S + RD + FAIL_STOP_GRACE` should any of that hang. A standby acts no earlier than
//!   `S + LD`, later than both.
//! - **Signal** (SIGTERM): the controllers are told to stop and get [`STOP_GRACE`] to finish
//!   what they are doing, *while this replica keeps renewing*, so the Lease stays ours the
//!   whole time; then the watchdog is disarmed and the Lease released for a standby to take at
//!   once. A loss during that drain is handled as above.
//! - **Controllers end on their own** (a panic): treated as a crash — aborted, no release.

use std::future::Future;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::error::SidecarError;
use crate::leader_election::fail_stop::{FAIL_STOP_GRACE, Watchdog, abort_process};
use crate::leader_election::leader::LeaderElector;

/// How long controllers get to finish in-flight work after a signal. The Lease is renewed
/// meanwhile, so this is not bounded by the lease duration.
pub const STOP_GRACE: std::time::Duration = std::time::Duration::from_secs(10);

/// Waits for the Lease (or `shutdown`), then runs `controllers` while holding it, fail-stop
/// as the module docs say. `Ok` after a clean stop on `shutdown`.
///
/// # Errors
/// [`SidecarError::LeadershipLost`]: the caller must exit (non-zero) at once.
/// [`SidecarError::ControllersStopped`] when the controllers ended without being asked.
pub async fn lead<F, Fut>(
    elector: &mut LeaderElector,
    controllers: F,
    shutdown: &CancellationToken,
) -> Result<(), SidecarError>
where
    F: FnOnce(CancellationToken) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    if !elector.acquire(shutdown).await {
        return Ok(());
    }
    let allowance = elector.config().renew_deadline + FAIL_STOP_GRACE;
    let watchdog = Watchdog::arm(elector.status(), allowance, Box::new(abort_process))
        .map_err(|source| SidecarError::Watchdog { source })?;
    let stop = CancellationToken::new();
    let mut task = tokio::spawn(controllers(stop.clone()));
    let renewing = CancellationToken::new();
    {
        let keep = elector.keep(&renewing);
        tokio::pin!(keep);
        tokio::select! {
            kept = &mut keep => return abort_on_loss(task, kept).await,
            joined = &mut task => return Err(ended_unasked(joined)),
            () = shutdown.cancelled() => {}
        }
        stop.cancel();
        tokio::select! {
            kept = &mut keep => return abort_on_loss(task, kept).await,
            () = drain(&mut task) => {}
        }
        renewing.cancel();
        // Returns at once now: `renewing` is cancelled.
        let _ = keep.await;
    }
    // Stopped acting: only now may a standby take over, and at once.
    watchdog.disarm();
    elector.release().await;
    Ok(())
}

/// Runs `controllers` until `shutdown`, then lets them finish for up to [`STOP_GRACE`].
///
/// # Errors
/// [`SidecarError::ControllersStopped`] when they ended without being asked.
pub async fn run_unelected<F, Fut>(
    controllers: F,
    shutdown: &CancellationToken,
) -> Result<(), SidecarError>
where
    F: FnOnce(CancellationToken) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let stop = CancellationToken::new();
    let mut task = tokio::spawn(controllers(stop.clone()));
    tokio::select! {
        joined = &mut task => return Err(ended_unasked(joined)),
        () = shutdown.cancelled() => {}
    }
    stop.cancel();
    drain(&mut task).await;
    Ok(())
}

/// The controllers' task ended though nobody told it to stop (it panicked).
fn ended_unasked(joined: Result<(), tokio::task::JoinError>) -> SidecarError {
    tracing::error!(?joined, "the controllers stopped without being asked");
    SidecarError::ControllersStopped
}

/// `keep` ended while we still meant to lead: the Lease is lost. Abort, not drain.
async fn abort_on_loss(
    task: JoinHandle<()>,
    kept: Result<(), SidecarError>,
) -> Result<(), SidecarError> {
    task.abort();
    // Returns once the task is dropped; the watchdog bounds a task that will not yield.
    let _ = task.await;
    let error = kept.err().unwrap_or(SidecarError::ControllersStopped);
    tracing::error!(%error, "stopped every controller at once (fail-stop)");
    Err(error)
}

/// Waits up to [`STOP_GRACE`] for the told-to-stop controllers, then aborts them.
async fn drain(task: &mut JoinHandle<()>) {
    if tokio::time::timeout(STOP_GRACE, &mut *task).await.is_err() {
        tracing::warn!("controllers did not stop within {STOP_GRACE:?}; aborting them");
        task.abort();
        let _ = task.await;
    }
}
