//! Locks that hold across processes and machines: a cls_lock taken with a duration, renewed in
//! the background while its holder works, released when the holder lets go — and not before
//! every Ceph call the holder started under it has really returned.
//!
//! Why each part:
//! - **Duration + renewal**: a holder that crashes (or is cut off) stops renewing, so its lock
//!   expires on its own after [`Locker::duration`]; a live one renews at a third of it.
//! - **Lost**: when a renewal finds the lock gone (expired and taken, broken by an operator, the
//!   object deleted) or cannot renew it for a whole duration, the lease is lost: the lock scope
//!   running the holder's work ends it ([`crate::lock_scope`]), and the holder's fenced writes
//!   fail on the OSD.
//! - **Release waits for in-flight calls**: a Ceph call abandoned at its deadline keeps running
//!   on its blocking thread (see `blocking`). Librbd calls (clone, snapshot create, resize,
//!   trash move) cannot carry a lock assertion, so the only way to keep them inside the lock is
//!   to keep the lock: the release keeps renewing until the lease's count of calls in flight
//!   (kept by the lock scope) is zero, then unlocks.
//!
//! One cookie per lease (`<owner> #<n>`): two holders in one process (one connection, one
//! RADOS entity) are still two lockers, so shared locks count right and an exclusive lock
//! excludes the process's own other requests too.

use std::any::Any;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::{Notify, watch};
use tokio::time::Instant;
use tracing::{debug, info, warn};

use crate::cls_lock::{Holding, LockKind, Renewal};
use crate::error::{Error, Result};
use crate::ioctx::IoCtx;
use crate::lock_scope::{self, ScopeState};
use crate::write_op::{Fence, WriteOp};

/// Tag of every Sepia lock (cls_lock refuses lockers with another tag while it is held).
const TAG: &str = "";

/// Shortest pause before retrying a renewal that failed for a passing reason.
const RETRY_FLOOR: Duration = Duration::from_millis(100);

/// Which lock on which object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockSpec {
    pub oid: String,
    /// The cls_lock name (an object may carry several independent locks).
    pub name: String,
    pub kind: LockKind,
    /// What the lock is for, shown by `rados lock info` next to the cookie.
    pub description: String,
    /// Assert that the object exists in the lock op: locking a missing object would create it.
    pub must_exist: bool,
    /// Remove the lock's xattr at release: for exclusive locks named after a request on a
    /// long-lived object, so one record per request name does not stay behind.
    pub forget_on_release: bool,
}

/// Takes leases for one owner (a process): names it in every cookie and sets the timings.
#[derive(Clone)]
pub struct Locker {
    inner: Arc<LockerInner>,
}

struct LockerInner {
    owner: String,
    duration: Duration,
    /// This locker's leases, to tell its own releases from contention.
    leases: Mutex<Vec<Weak<LeaseState>>>,
}

/// Cookie numbers, unique in the process: a connection (one RADOS entity) may be shared by
/// several lockers, and two holdings with one entity and one cookie would be one locker.
static NEXT_COOKIE: AtomicU64 = AtomicU64::new(1);

impl std::fmt::Debug for Locker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Locker")
            .field("owner", &self.inner.owner)
            .field("duration", &self.inner.duration)
            .finish_non_exhaustive()
    }
}

impl Locker {
    /// `owner` names the process (host, pid, a random part); `duration` is how long a lock
    /// outlives its holder's last renewal.
    pub fn new(owner: impl Into<String>, duration: Duration) -> Locker {
        Locker {
            inner: Arc::new(LockerInner {
                owner: owner.into(),
                duration: duration.max(Duration::from_secs(1)),
                leases: Mutex::new(Vec::new()),
            }),
        }
    }

    pub fn owner(&self) -> &str {
        &self.inner.owner
    }

    pub fn duration(&self) -> Duration {
        self.inner.duration
    }

    /// Renewals run at a third of the duration: two can fail before the lock expires.
    pub fn renew_every(&self) -> Duration {
        self.inner.duration / 3
    }

    /// Takes the lock once, without waiting: [`Error::Busy`] while someone else holds it,
    /// NotFound when `spec.must_exist` and the object is missing. Inside a lock scope the lease
    /// joins the scope (its calls are counted, its writes fenced, its loss ends the scope).
    pub async fn lock(&self, io: &IoCtx, spec: LockSpec) -> Result<Lease> {
        self.settle_own(io, &spec).await;
        let n = NEXT_COOKIE.fetch_add(1, Ordering::Relaxed);
        let holding = Holding {
            name: spec.name.clone(),
            kind: spec.kind,
            cookie: format!("{} #{n}", self.inner.owner),
            tag: TAG.to_owned(),
        };
        holding.validate()?;
        let duration = self.inner.duration;
        let mut op = WriteOp::new("lock").without_scope_fences();
        if spec.must_exist {
            op = op.assert_exists();
        }
        op = op.lock(&holding, &spec.description, duration, Renewal::New);
        let sent = Instant::now();
        if let Err(e) = io.operate(&spec.oid, op).await {
            if e.is_timed_out() {
                // It may still land: undo it once it has, rather than block the name until
                // the lock expires.
                let (io, oid, holding) = (io.clone(), spec.oid.clone(), holding.clone());
                tokio::spawn(async move {
                    let _ = unlock(&io, &oid, &holding, false).await;
                });
            }
            return Err(e);
        }
        let state = Arc::new(LeaseState {
            io: io.clone(),
            spec,
            holding,
            phase: watch::Sender::new(Phase::Held),
            dropped: AtomicBool::new(false),
            release: Notify::new(),
            calls: AtomicUsize::new(0),
            idle: Notify::new(),
            keep: Mutex::new(Vec::new()),
            scopes: Mutex::new(Vec::new()),
            renewals: AtomicU64::new(0),
        });
        lock_scope::register(&state);
        self.inner.leases.lock().push(Arc::downgrade(&state));
        tokio::spawn(keep(Arc::clone(&state), sent, duration, self.renew_every()));
        debug!(oid = %state.spec.oid, lock = %state.spec.name, cookie = %state.holding.cookie, "locked");
        Ok(Lease { state })
    }
}

impl Locker {
    /// A lock of ours that is being released right now is not contention: waits for that
    /// release (one round trip), so a request that follows its own earlier attempt (a retry
    /// after a deadline) is not refused by it. A release held up by calls still in flight is
    /// contention — the lock is really held — and is not waited for.
    async fn settle_own(&self, io: &IoCtx, spec: &LockSpec) {
        let releasing: Vec<Arc<LeaseState>> = {
            let mut leases = self.inner.leases.lock();
            leases.retain(|lease| lease.strong_count() > 0);
            leases
                .iter()
                .filter_map(Weak::upgrade)
                .filter(|lease| lease.is_lock(io, spec) && lease.releases_promptly())
                .collect()
        };
        for lease in releasing {
            lease.released().await;
        }
    }
}

/// A held lock. Dropping it releases the lock in the background (after the calls made under
/// it have returned); [`Lease::release`] does the same and waits for it.
#[must_use = "the lock is released as soon as the lease is dropped"]
pub struct Lease {
    state: Arc<LeaseState>,
}

impl Lease {
    pub(crate) fn state(&self) -> &Arc<LeaseState> {
        &self.state
    }

    pub fn spec(&self) -> &LockSpec {
        &self.state.spec
    }

    pub fn cookie(&self) -> &str {
        &self.state.holding.cookie
    }

    /// Why the lease was lost, once it has been.
    pub fn lost(&self) -> Option<String> {
        match &*self.state.phase.borrow() {
            Phase::Lost(why) => Some(why.clone()),
            _ => None,
        }
    }

    /// Successful renewals so far (what tests wait on instead of sleeping).
    pub fn renewals(&self) -> u64 {
        self.state.renewals()
    }

    /// Calls made under this lease that have not returned yet.
    pub fn calls_in_flight(&self) -> usize {
        self.state.calls.load(Ordering::Acquire)
    }

    /// The assertion "this lock is still ours" for a write on the locked object through the
    /// same connection ([`crate::IoCtx::operate_fenced`]).
    pub fn fence(&self) -> Fence {
        self.state.fence()
    }

    /// Keeps `value` until the lock is released (or found lost and let go), then drops it:
    /// e.g. an in-process lock in front of this one, so the process never believes a name free
    /// while RADOS still has it locked.
    pub fn keep_until_released<T: Any + Send>(&self, value: T) {
        self.state.keep.lock().push(Box::new(value));
    }

    /// Releases now and waits until the lock is released (after the calls in flight).
    pub async fn release(self) {
        let state = Arc::clone(&self.state);
        drop(self);
        state.released().await;
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.state.dropped.store(true, Ordering::Release);
        self.state.release.notify_one();
    }
}

impl std::fmt::Debug for Lease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lease")
            .field("spec", &self.state.spec)
            .field("cookie", &self.state.holding.cookie)
            .field("phase", &*self.state.phase.borrow())
            .finish()
    }
}

/// The lock scope's error when one of its leases is lost: the work it ran was stopped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("lost the lock {lock:?} on object {object:?} ({description}): {why}")]
pub struct LeaseLost {
    pub object: String,
    pub lock: String,
    pub description: String,
    pub why: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Phase {
    Held,
    Lost(String),
    Released,
}

/// What a lease and its keeper task share.
pub(crate) struct LeaseState {
    pub(crate) io: IoCtx,
    spec: LockSpec,
    holding: Holding,
    phase: watch::Sender<Phase>,
    /// The guard is gone: nothing new happens under this lease.
    dropped: AtomicBool,
    release: Notify,
    /// Blocking calls started under the lease that have not returned.
    calls: AtomicUsize,
    idle: Notify,
    keep: Mutex<Vec<Box<dyn Any + Send>>>,
    scopes: Mutex<Vec<Weak<ScopeState>>>,
    renewals: AtomicU64,
}

impl LeaseState {
    pub(crate) fn fence(&self) -> Fence {
        Fence {
            cluster: Arc::clone(&self.io.inner.cluster),
            pool_id: self.io.inner.pool_id,
            namespace: self.io.inner.namespace.clone(),
            oid: self.spec.oid.clone(),
            holding: self.holding.clone(),
        }
    }

    pub(crate) fn renewals(&self) -> u64 {
        self.renewals.load(Ordering::Relaxed)
    }

    pub(crate) fn is_dropped(&self) -> bool {
        self.dropped.load(Ordering::Acquire)
    }

    /// Writes are fenced by this lease while its guard lives (also once lost: they must fail).
    pub(crate) fn fences_writes(&self) -> bool {
        !self.is_dropped() && *self.phase.borrow() != Phase::Released
    }

    /// Calls count against this lease while it is held and its guard lives.
    pub(crate) fn counts_calls(&self) -> bool {
        !self.is_dropped() && *self.phase.borrow() == Phase::Held
    }

    pub(crate) fn call_started(&self) {
        self.calls.fetch_add(1, Ordering::AcqRel);
    }

    pub(crate) fn call_ended(&self) {
        if self.calls.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.idle.notify_one();
        }
    }

    fn calls(&self) -> usize {
        self.calls.load(Ordering::Acquire)
    }

    pub(crate) fn add_scope(&self, scope: Weak<ScopeState>) {
        let mut scopes = self.scopes.lock();
        scopes.retain(|s| s.strong_count() > 0);
        scopes.push(scope);
    }

    /// Whether a scope ending now should wait for this lease's release: its guard is gone
    /// and nothing runs under it, so the release is one round trip away.
    pub(crate) fn releases_promptly(&self) -> bool {
        self.is_dropped() && self.calls() == 0
    }

    /// Whether this is lock `spec.name` on `spec.oid` through `io`'s connection, pool and
    /// namespace.
    fn is_lock(&self, io: &IoCtx, spec: &LockSpec) -> bool {
        Arc::ptr_eq(&self.io.inner.cluster, &io.inner.cluster)
            && self.io.inner.pool_id == io.inner.pool_id
            && self.io.inner.namespace == io.inner.namespace
            && self.spec.oid == spec.oid
            && self.spec.name == spec.name
    }

    pub(crate) async fn released(&self) {
        let mut phase = self.phase.subscribe();
        let _ = phase.wait_for(|p| *p == Phase::Released).await;
    }

    pub(crate) fn lost_error(&self, why: &str) -> LeaseLost {
        LeaseLost {
            object: self.spec.oid.clone(),
            lock: self.spec.name.clone(),
            description: self.spec.description.clone(),
            why: why.to_owned(),
        }
    }

    fn lose(&self, why: String) {
        warn!(oid = %self.spec.oid, lock = %self.spec.name, cookie = %self.holding.cookie, why, "lock lost");
        let lost = self.lost_error(&why);
        self.phase.send_replace(Phase::Lost(why));
        let scopes: Vec<Weak<ScopeState>> = self.scopes.lock().clone();
        for scope in scopes.iter().filter_map(Weak::upgrade) {
            scope.lost(lost.clone());
        }
    }

    fn finish(&self) {
        let kept: Vec<Box<dyn Any + Send>> = std::mem::take(&mut *self.keep.lock());
        drop(kept);
        self.phase.send_replace(Phase::Released);
    }

    async fn until_dropped(&self) {
        while !self.is_dropped() {
            self.release.notified().await;
        }
    }
}

/// The keeper of one lease: renews while held, waits out the calls in flight after the guard
/// is dropped, then unlocks.
async fn keep(state: Arc<LeaseState>, locked_at: Instant, duration: Duration, every: Duration) {
    let mut renewer = Renewer {
        last_ok: locked_at,
        next: locked_at + every,
        duration,
        every,
    };
    // Held: renew until the guard is dropped.
    while !state.is_dropped() {
        tokio::select! {
            () = state.release.notified() => {}
            () = tokio::time::sleep_until(renewer.next) => {
                if let Err(why) = renewer.renew(&state).await {
                    state.lose(why);
                    state.until_dropped().await;
                    state.finish();
                    return;
                }
            }
        }
    }
    // Released by its holder: keep it while calls made under it still run.
    while state.calls() > 0 {
        tokio::select! {
            () = state.idle.notified() => {}
            () = tokio::time::sleep_until(renewer.next) => {
                if let Err(why) = renewer.renew(&state).await {
                    state.lose(why);
                    state.finish();
                    return;
                }
            }
        }
    }
    match unlock(
        &state.io,
        &state.spec.oid,
        &state.holding,
        state.spec.forget_on_release,
    )
    .await
    {
        Ok(()) => debug!(oid = %state.spec.oid, lock = %state.spec.name, "unlocked"),
        // Expired, broken, or the object is gone (a delete under the lock removes it).
        Err(e) if e.is_not_found() => {
            debug!(oid = %state.spec.oid, lock = %state.spec.name, "nothing to unlock")
        }
        Err(e) => {
            info!(oid = %state.spec.oid, lock = %state.spec.name, error = %e, "unlock failed; the lock expires by itself")
        }
    }
    state.finish();
}

struct Renewer {
    /// When the last successful renewal (or the lock) was sent: the lock lasts at least
    /// `duration` from there.
    last_ok: Instant,
    next: Instant,
    duration: Duration,
    every: Duration,
}

impl Renewer {
    /// One renewal; `Err(why)` once the lease must count as lost.
    async fn renew(&mut self, state: &LeaseState) -> std::result::Result<(), String> {
        let sent = Instant::now();
        let op = WriteOp::new("renew lock")
            .without_scope_fences()
            .deadline(self.every)
            .assert_exists()
            .lock(
                &state.holding,
                &state.spec.description,
                self.duration,
                Renewal::MustRenew,
            );
        match state.io.operate(&state.spec.oid, op).await {
            Ok(()) => {
                self.last_ok = sent;
                self.next = sent + self.every;
                state.renewals.fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
            // cls_lock: ENOENT once our locker is gone (MustRenew), EBUSY when someone else
            // holds it; NotFound also when the object itself is gone.
            Err(e @ (Error::NotFound { .. } | Error::Busy { .. })) => {
                Err(format!("the lock is no longer ours: {e}"))
            }
            Err(e) => {
                let pause = (self.every / 4).max(RETRY_FLOOR);
                let now = Instant::now();
                if now + pause >= self.last_ok + self.duration {
                    // No time left for another try before it may expire: assume it did.
                    return Err(format!(
                        "not renewed for {:?} (it may have expired): {e}",
                        now.duration_since(self.last_ok)
                    ));
                }
                debug!(oid = %state.spec.oid, lock = %state.spec.name, error = %e, "lock renewal failed; retrying");
                self.next = now + pause;
                Ok(())
            }
        }
    }
}

/// cls_lock `unlock` (plus the xattr when `forget`); never creates the object.
async fn unlock(io: &IoCtx, oid: &str, holding: &Holding, forget: bool) -> Result<()> {
    let op = WriteOp::new("unlock")
        .without_scope_fences()
        .assert_exists()
        .unlock(holding, forget)?;
    io.operate(oid, op).await
}
