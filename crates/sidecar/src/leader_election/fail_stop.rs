//! The backstop of fail-stop leadership: an OS thread (not a task, so a starved or wedged async
//! runtime cannot delay it) that ends the process once a leader's deadline has passed without
//! the process having stopped acting on its own.
//!
//! A leader's deadline is `S + RD + FAIL_STOP_GRACE` (see [`super::leader`]): `S` is when its
//! last successful renewal was sent, read afresh from its [`LeaderStatus`] each time the thread
//! wakes, so renewals push the deadline out without any signalling. The normal path never
//! reaches it — the runtime aborts the workers and exits at `S + RD` — and a clean stop
//! disarms the watchdog before the Lease is released.

use std::sync::Arc;
use std::thread;
use std::time::Duration;

use parking_lot::Mutex;

use crate::leader_election::leader::LeaderStatus;

/// How long a leader that gave up at its renew deadline has to abort its workers and exit,
/// before the watchdog ends the process. `--leader-election-renew-deadline` plus this must stay
/// below `--leader-election-lease-duration`, the earliest a standby may act.
pub const FAIL_STOP_GRACE: Duration = Duration::from_millis(500);

/// What the watchdog does at the deadline; in production [`abort_process`].
pub type OnExpiry = Box<dyn FnOnce() + Send>;

/// An armed watchdog. Dropping it does **not** disarm it: a leader that returns with an
/// error must still be gone by its deadline.
pub struct Watchdog {
    shared: Arc<Mutex<bool>>,
    thread: thread::Thread,
}

impl Watchdog {
    /// Starts the thread: once `status`'s last renewal is older than `allowance`, it runs
    /// `on_expiry` (unless [`Watchdog::disarm`] came first).
    ///
    /// # Errors
    /// The OS refused a thread.
    pub fn arm(
        status: LeaderStatus,
        allowance: Duration,
        on_expiry: OnExpiry,
    ) -> std::io::Result<Self> {
        let armed = Arc::new(Mutex::new(true));
        let handle = thread::Builder::new().name("fail-stop".into()).spawn({
            let armed = Arc::clone(&armed);
            move || watch(&armed, &status, allowance, on_expiry)
        })?;
        Ok(Self {
            shared: armed,
            thread: handle.thread().clone(),
        })
    }

    /// This process has verifiably stopped acting (its controllers were joined): the deadline
    /// no longer applies.
    pub fn disarm(&self) {
        *self.shared.lock() = false;
        self.thread.unpark();
    }
}

fn watch(armed: &Mutex<bool>, status: &LeaderStatus, allowance: Duration, on_expiry: OnExpiry) {
    loop {
        if !*armed.lock() {
            return;
        }
        let Some(deadline) = status
            .last_renewal()
            .map(|sent| sent.into_std() + allowance)
        else {
            // Armed before the first acquire: nothing binds yet.
            thread::park_timeout(Duration::from_millis(100));
            continue;
        };
        let now = std::time::Instant::now();
        if now >= deadline {
            // Checked under the lock, so a disarm racing the deadline either wins or waits.
            let still_armed = *armed.lock();
            if still_armed {
                on_expiry();
            }
            return;
        }
        thread::park_timeout(deadline - now);
    }
}

/// Ends the process at once (SIGABRT, a non-zero exit), without running destructors or
/// waiting for any thread: nothing of this process may act after its deadline.
pub fn abort_process() {
    eprintln!(
        "fail-stop: the leader Lease may have passed to another replica and this process has \
         not stopped on its own; aborting"
    );
    std::process::abort();
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};

    use super::*;

    fn fired_flag() -> (Arc<AtomicBool>, OnExpiry) {
        let fired = Arc::new(AtomicBool::new(false));
        let set = Arc::clone(&fired);
        (fired, Box::new(move || set.store(true, Ordering::SeqCst)))
    }

    /// Waits (bounded) for the watchdog thread to act; the thread runs on real time.
    fn eventually(flag: &AtomicBool) -> bool {
        for _ in 0..500 {
            if flag.load(Ordering::SeqCst) {
                return true;
            }
            thread::sleep(Duration::from_millis(10));
        }
        false
    }

    #[test]
    fn an_expired_deadline_fires() {
        let status = LeaderStatus::default();
        status.renewed(tokio::time::Instant::now());
        let (fired, on_expiry) = fired_flag();
        let _watchdog = Watchdog::arm(status, Duration::from_millis(20), on_expiry).unwrap();
        assert!(eventually(&fired), "the watchdog never fired");
    }

    #[test]
    fn a_disarmed_watchdog_never_fires() {
        let status = LeaderStatus::default();
        status.renewed(tokio::time::Instant::now());
        let (fired, on_expiry) = fired_flag();
        let watchdog =
            Watchdog::arm(status.clone(), Duration::from_millis(300), on_expiry).unwrap();
        watchdog.disarm();
        // A disarmed thread returns; a second watchdog on the same status, armed after the
        // first one's deadline, shows time has passed it.
        let (later, on_later) = fired_flag();
        let _probe = Watchdog::arm(status, Duration::from_millis(400), on_later).unwrap();
        assert!(eventually(&later));
        assert!(!fired.load(Ordering::SeqCst), "fired after disarm");
    }

    #[test]
    fn renewals_push_the_deadline_out() {
        let status = LeaderStatus::default();
        status.renewed(tokio::time::Instant::now());
        let (fired, on_expiry) = fired_flag();
        let watchdog = Watchdog::arm(status.clone(), Duration::from_secs(1), on_expiry).unwrap();
        // 1.5 s of renewals every 100 ms: a watchdog that ignored them would have fired.
        for _ in 0..15 {
            thread::sleep(Duration::from_millis(100));
            status.renewed(tokio::time::Instant::now());
        }
        assert!(!fired.load(Ordering::SeqCst), "fired despite renewals");
        assert!(eventually(&fired), "never fired once renewals stopped");
        watchdog.disarm();
    }
}
