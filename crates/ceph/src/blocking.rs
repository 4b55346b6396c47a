//! The one way into librados/librbd: every FFI call runs on tokio's blocking pool under a
//! deadline, inside a tracing span naming the operation and its target.
//!
//! Why this is safe to abandon: closures passed here own (via `Arc`) every Ceph handle they
//! touch, so when the deadline fires or the caller's future is dropped, the blocking thread keeps
//! valid handles until librados' own timeouts (set to the same durations at connect) make it
//! return. Handles are released only when the last owner, possibly that thread, drops them.
//!
//! Such a thread may still write after its caller gave up, so each call counts as in flight
//! under the locks its caller's lock scope holds until `f` really returns: those locks are not
//! released before ([`crate::lock_scope`]).
//!
//! A call still queued for a pool thread when its caller gives up never starts: tokio runs a
//! queued blocking task even when nobody awaits it, and a burst of abandoned calls (connects
//! with keys the monitors reject, each hunting until its timeout) would otherwise hold the
//! whole pool long after their callers were answered.

use std::os::raw::c_int;
use std::sync::Arc;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tracing::Instrument as _;

use crate::error::{Error, Result};

/// Told about every finished call: its operation name, its outcome (`ok`, `error`, `timeout`)
/// and how long its caller waited. Process-wide, like the blocking pool the calls share.
type Observer = Box<dyn Fn(&'static str, &'static str, Duration) + Send + Sync>;

static OBSERVER: OnceLock<Observer> = OnceLock::new();

/// Installs the process's call observer (metrics: `telemetry::CephCallMetrics::observer`). Once
/// per process; returns false, leaving the first one in place, when one was installed already.
/// It runs on the caller's task after each call, so it must be quick and must not block.
pub fn observe_calls(
    observer: impl Fn(&'static str, &'static str, Duration) + Send + Sync + 'static,
) -> bool {
    OBSERVER.set(Box::new(observer)).is_ok()
}

fn outcome<T>(result: &Result<T>) -> &'static str {
    match result {
        Ok(_) => "ok",
        Err(Error::TimedOut { .. }) => "timeout",
        Err(_) => "error",
    }
}

/// What is being done to what, under which deadline: the context for spans, errors and errno
/// mapping of one Ceph call.
#[derive(Clone, Debug)]
pub(crate) struct Call {
    /// Short operation name, e.g. `omap_get_by_keys`.
    pub op: &'static str,
    /// What it acts on, e.g. `object "x" in pool rbd/ns`. Never contains secrets.
    pub target: String,
    pub deadline: Duration,
}

impl Call {
    pub fn new(op: &'static str, target: impl Into<String>, deadline: Duration) -> Call {
        Call {
            op,
            target: target.into(),
            deadline,
        }
    }

    /// "op of target", the `what` of errors.
    pub fn describe(&self) -> String {
        format!("{} of {}", self.op, self.target)
    }

    /// Error for a positive errno returned by this call.
    pub fn error(&self, errno: i32) -> Error {
        Error::from_errno(errno, self.describe(), self.deadline)
    }

    /// librados convention: negative return = -errno, else success value.
    pub fn check(&self, rc: c_int) -> Result<c_int> {
        if rc < 0 { Err(self.error(-rc)) } else { Ok(rc) }
    }

    /// Same as [`Call::check`] for the few calls returning `int64_t`.
    pub fn check_i64(&self, rc: i64) -> Result<i64> {
        if rc < 0 {
            let errno = i32::try_from(-rc).unwrap_or(libc::EIO);
            Err(self.error(errno))
        } else {
            Ok(rc)
        }
    }

    /// Runs `f` (which makes the FFI calls) via [`run`] with this call's deadline and span.
    pub async fn run<T, F>(self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Call) -> Result<T> + Send + 'static,
    {
        let span = tracing::debug_span!("ceph", op = self.op, target = %self.target);
        let op = self.describe();
        let deadline = self.deadline;
        let name = self.op;
        let started = Instant::now();
        let result = run(op, deadline, move || f(&self))
            .instrument(span.clone())
            .await;
        if let Some(observer) = OBSERVER.get() {
            observer(name, outcome(&result), started.elapsed());
        }
        if let Err(e) = &result {
            span.in_scope(|| tracing::debug!(error = %e, "ceph call failed"));
        }
        result
    }
}

/// spawn_blocking + deadline. A deadline miss returns `Error::TimedOut { op, after: deadline }`
/// while the blocking thread finishes on its own (see the module doc for why that is sound).
pub(crate) async fn run<T, F>(op: impl Into<String>, deadline: Duration, f: F) -> Result<T>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T> + Send + 'static,
{
    let span = tracing::Span::current();
    // Counted against the locks held now until `f` returns, even after we stop waiting.
    let in_flight = crate::lock_scope::enter_call();
    // Cleared when we return, or when the caller drops this future: see the module doc.
    let waiting = Waiting::default();
    let caller = waiting.flag();
    let op = op.into();
    let not_started = op.clone();
    let task = tokio::task::spawn_blocking(move || {
        let _in_flight = in_flight;
        if !caller.load(Ordering::Acquire) {
            return Err(Error::TaskFailed {
                op: not_started,
                message: "not started: its caller gave up while it waited for a thread".to_string(),
            });
        }
        span.in_scope(f)
    });
    match tokio::time::timeout(deadline, task).await {
        Ok(Ok(result)) => result,
        Ok(Err(join)) => Err(Error::TaskFailed {
            op,
            message: if join.is_panic() {
                "the blocking task panicked".to_string()
            } else {
                "the blocking task was cancelled".to_string()
            },
        }),
        Err(_elapsed) => Err(Error::TimedOut {
            op,
            after: deadline,
        }),
    }
}

/// Whether a blocking call's caller still waits for it; the call checks before it starts.
struct Waiting(Arc<AtomicBool>);

impl Default for Waiting {
    fn default() -> Self {
        Waiting(Arc::new(AtomicBool::new(true)))
    }
}

impl Waiting {
    fn flag(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.0)
    }
}

impl Drop for Waiting {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

/// Drops `value` (whose Drop makes a blocking Ceph call such as rbd_close or rados_shutdown)
/// off the async executor threads: on the blocking pool when inside a tokio runtime, inline
/// otherwise. Should the runtime be shutting down and discard the task, the closure (and with it
/// `value`) is still dropped, so the handle is released either way.
pub(crate) fn drop_off_executor<T: Send + 'static>(value: T) {
    match tokio::runtime::Handle::try_current() {
        Ok(handle) => {
            // Detached: nobody awaits a release, and a JoinHandle drop does not cancel it.
            drop(handle.spawn_blocking(move || drop(value)));
        }
        Err(_) => drop(value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "current_thread")]
    async fn deadline_miss_is_timed_out_and_does_not_block_the_runtime() {
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let started = std::time::Instant::now();
        let slow = run("slow op of thing", Duration::from_millis(50), move || {
            // Blocks until the test lets it go: stands in for a hung librados call.
            let _ = rx.recv_timeout(Duration::from_secs(5));
            Ok(())
        });
        let ticker = async {
            let mut ticks = 0;
            for _ in 0..3 {
                tokio::time::sleep(Duration::from_millis(5)).await;
                ticks += 1;
            }
            ticks
        };
        let (result, ticks) = tokio::join!(slow, ticker);
        assert_eq!(ticks, 3);
        match result {
            Err(Error::TimedOut { op, after }) => {
                assert_eq!(op, "slow op of thing");
                assert_eq!(after, Duration::from_millis(50));
            }
            other => panic!("expected TimedOut, got {other:?}"),
        }
        assert!(started.elapsed() < Duration::from_secs(5));
        drop(tx);
    }

    #[test]
    fn a_call_whose_caller_gave_up_before_it_started_never_runs() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .max_blocking_threads(1)
            .build()
            .unwrap();
        rt.block_on(async {
            let (started, is_started) = tokio::sync::oneshot::channel::<()>();
            let (release, hold) = std::sync::mpsc::channel::<()>();
            // Takes the pool's only thread until released.
            let busy = tokio::spawn(run("busy op of a", Duration::from_secs(30), move || {
                let _ = started.send(());
                let _ = hold.recv_timeout(Duration::from_secs(30));
                Ok(())
            }));
            is_started.await.unwrap();
            let ran = Arc::new(AtomicBool::new(false));
            let queued = {
                let ran = Arc::clone(&ran);
                run("queued op of b", Duration::from_millis(50), move || {
                    ran.store(true, Ordering::SeqCst);
                    Ok(())
                })
                .await
            };
            assert!(matches!(queued, Err(Error::TimedOut { .. })), "{queued:?}");
            release.send(()).unwrap();
            busy.await.unwrap().unwrap();
            // The pool takes calls in order: once a later call is done, the abandoned one has
            // been taken off the queue.
            run("later op of c", Duration::from_secs(30), || Ok(()))
                .await
                .unwrap();
            assert!(
                !ran.load(Ordering::SeqCst),
                "a call ran after its caller gave up"
            );
        });
    }

    #[tokio::test]
    async fn panics_in_the_blocking_task_become_errors() {
        let r = run("boom of x", Duration::from_secs(5), || -> Result<()> {
            panic!("boom")
        })
        .await;
        assert!(matches!(r, Err(Error::TaskFailed { .. })), "{r:?}");
    }

    #[tokio::test]
    async fn call_maps_negative_return_codes() {
        let call = Call::new("remove", "object \"o\" in pool p", Duration::from_secs(1));
        let r = call.clone().run(|c| c.check(-libc::ENOENT)).await;
        match r {
            Err(Error::NotFound { what }) => assert_eq!(what, "remove of object \"o\" in pool p"),
            other => panic!("expected NotFound, got {other:?}"),
        }
        assert_eq!(call.check(7).ok(), Some(7));
    }

    #[tokio::test]
    async fn the_observer_hears_each_call_with_its_outcome() {
        static HEARD: std::sync::Mutex<Vec<(&'static str, &'static str)>> =
            std::sync::Mutex::new(Vec::new());
        assert!(observe_calls(|op, outcome, _took| {
            if op.starts_with("observed_") {
                HEARD.lock().unwrap().push((op, outcome));
            }
        }));
        assert!(
            !observe_calls(|_, _, _| {}),
            "a second observer replaced the first"
        );
        let call = |op| Call::new(op, "thing", Duration::from_millis(100));
        call("observed_ok").run(|_| Ok(())).await.unwrap();
        call("observed_error")
            .run(|call| -> Result<()> { Err(call.error(libc::ENOENT)) })
            .await
            .unwrap_err();
        // Blocks until the test lets it go: a hung librados call.
        let (release, hung) = std::sync::mpsc::channel::<()>();
        call("observed_timeout")
            .run(move |_| {
                let _ = hung.recv_timeout(Duration::from_secs(5));
                Ok(())
            })
            .await
            .unwrap_err();
        drop(release);
        assert_eq!(
            *HEARD.lock().unwrap(),
            [
                ("observed_ok", "ok"),
                ("observed_error", "error"),
                ("observed_timeout", "timeout"),
            ]
        );
    }
}
