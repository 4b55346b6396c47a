//! The locks a piece of work holds, known to every Ceph call it makes: a task-local scope.
//!
//! A request takes leases at several depths of its code and calls Ceph at many more; passing
//! the leases down to every call would thread them through every helper. Instead the work runs
//! inside [`scoped`] (or [`holding`], for background work that takes over leases), and:
//! - a lease taken inside the scope joins it;
//! - every blocking Ceph call started inside the scope counts as in flight under each lease
//!   held then (until the call really returns, deadline or not), so releasing the lease waits
//!   for it ([`crate::lease`]);
//! - every write op made inside the scope on an object the scope holds a lock on asserts that
//!   lock in the same op ([`crate::WriteOp`]), so a write can never land after its lock is gone;
//! - when a lease of the scope is lost, the work is stopped and the scope answers
//!   [`LeaseLost`];
//! - when the work ends, the scope waits for the release of the leases it dropped, unless calls
//!   made under them still run (then they are released in the background, when those return):
//!   its caller answers only once the locks are free again.
//!
//! Scopes nest (an inner scope sees the outer one's leases); a spawned task starts with none.

use std::future::Future;
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::sync::watch;

use crate::ioctx::IoCtxInner;
use crate::lease::{Lease, LeaseLost, LeaseState};
use crate::write_op::Fence;

tokio::task_local! {
    static SCOPE: Arc<ScopeState>;
}

/// One scope: its leases, its parent, and the news of a lost lease.
pub(crate) struct ScopeState {
    parent: Option<Arc<ScopeState>>,
    leases: Mutex<Vec<Arc<LeaseState>>>,
    lost: watch::Sender<Option<LeaseLost>>,
}

impl ScopeState {
    fn new(parent: Option<Arc<ScopeState>>) -> Arc<ScopeState> {
        Arc::new(ScopeState {
            parent,
            leases: Mutex::new(Vec::new()),
            lost: watch::Sender::new(None),
        })
    }

    fn add(self: &Arc<Self>, lease: &Arc<LeaseState>) {
        lease.add_scope(Arc::downgrade(self));
        self.leases.lock().push(Arc::clone(lease));
    }

    pub(crate) fn lost(&self, lost: LeaseLost) {
        self.lost.send_if_modified(|current| {
            if current.is_none() {
                *current = Some(lost);
                true
            } else {
                false
            }
        });
    }

    /// Leases of this scope and its parents matching `keep`.
    fn collect(&self, keep: impl Fn(&LeaseState) -> bool) -> Vec<Arc<LeaseState>> {
        let mut out = Vec::new();
        let mut scope = Some(self);
        while let Some(current) = scope {
            out.extend(current.leases.lock().iter().filter(|l| keep(l)).cloned());
            scope = current.parent.as_deref();
        }
        out
    }

    /// Waits for the releases that are one round trip away (see the module doc).
    async fn settle(&self) {
        let prompt: Vec<Arc<LeaseState>> = self
            .leases
            .lock()
            .iter()
            .filter(|l| l.releases_promptly())
            .cloned()
            .collect();
        for lease in prompt {
            lease.released().await;
        }
    }
}

/// Runs `work` in a new lock scope (nested in the current one, if any). `Err` when a lease
/// of the scope was lost: `work` was stopped there.
pub async fn scoped<F: Future>(work: F) -> Result<F::Output, LeaseLost> {
    holding(Vec::new(), work).await
}

/// [`scoped`] for work that takes over `leases` (e.g. a background task finishing what a
/// request started): they join the scope and are released when `work` ends.
pub async fn holding<F: Future>(leases: Vec<Lease>, work: F) -> Result<F::Output, LeaseLost> {
    let parent = SCOPE.try_with(Arc::clone).ok();
    let scope = ScopeState::new(parent);
    for lease in &leases {
        scope.add(lease.state());
    }
    let mut lost = scope.lost.subscribe();
    let outcome = SCOPE
        .scope(Arc::clone(&scope), async move {
            tokio::select! {
                biased;
                out = work => Ok(out),
                changed = lost.wait_for(Option::is_some) => {
                    Err(changed.ok().and_then(|lost| lost.clone()).unwrap_or_else(scope_closed))
                }
            }
        })
        .await;
    drop(leases);
    scope.settle().await;
    outcome
}

/// Only reachable if the scope's sender were gone, which the scope itself keeps alive.
fn scope_closed() -> LeaseLost {
    LeaseLost {
        object: String::new(),
        lock: String::new(),
        description: String::new(),
        why: "the lock scope ended".to_owned(),
    }
}

/// Adds a freshly taken lease to the current scope, if there is one.
pub(crate) fn register(lease: &Arc<LeaseState>) {
    let _ = SCOPE.try_with(|scope| scope.add(lease));
}

/// Fences of the current scope's locks on `oid` reachable through `io`.
pub(crate) fn fences_for(io: &IoCtxInner, oid: &str) -> Vec<Fence> {
    SCOPE
        .try_with(|scope| {
            scope
                .collect(|l| l.fences_writes())
                .iter()
                .map(|l| l.fence())
                .filter(|fence| fence.guards(io, oid))
                .collect()
        })
        .unwrap_or_default()
}

/// A blocking call in flight under the leases held when it started; drop it when the call has
/// returned (on its own thread).
pub(crate) struct InFlight(Vec<Arc<LeaseState>>);

/// Counts a blocking call that starts now against the current scope's held leases.
pub(crate) fn enter_call() -> Option<InFlight> {
    SCOPE
        .try_with(|scope| {
            let held = scope.collect(LeaseState::counts_calls);
            for lease in &held {
                lease.call_started();
            }
            InFlight(held)
        })
        .ok()
        .filter(|in_flight| !in_flight.0.is_empty())
}

impl Drop for InFlight {
    fn drop(&mut self) {
        for lease in &self.0 {
            lease.call_ended();
        }
    }
}

#[cfg(test)]
mod tests;
