//! Per-name operation locks.
//!
//! ceph-csi's most reported failure is a request that hangs inside an external command while
//! holding its in-memory name lock: every retry then answers "operation already exists" until
//! the plugin restarts. Here a lock is a guard value: it is released when dropped, and a
//! future is dropped both when its request ends and when it is cancelled (gRPC deadline,
//! client gone, task aborted), so no hung call can pin a name past its request.
//!
//! Two ways to take a lock:
//! - [`OperationLocks::try_acquire`] fails at once with [`Error::InProgress`]: what the
//!   controller does for a CSI request (CSI wants ABORTED for a concurrent call).
//! - [`OperationLocks::acquire`] waits: what the journal does internally to serialise two
//!   reservations of one name in the same process.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::sync::Notify;

use crate::error::{Error, Result};

/// A set of named locks; clone it to share (the clone refers to the same set).
#[derive(Clone, Default)]
pub struct OperationLocks {
    held: Arc<Mutex<HashMap<String, Arc<Notify>>>>,
}

/// Proof of holding one name; dropping it releases the name and wakes waiters.
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct LockGuard {
    held: Arc<Mutex<HashMap<String, Arc<Notify>>>>,
    key: String,
}

impl OperationLocks {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes `key` or fails at once with [`Error::InProgress`] if it is held.
    pub fn try_acquire(&self, key: &str) -> Result<LockGuard> {
        let mut held = self.held.lock();
        if held.contains_key(key) {
            return Err(Error::InProgress {
                key: key.to_owned(),
            });
        }
        held.insert(key.to_owned(), Arc::new(Notify::new()));
        Ok(self.guard(key))
    }

    /// Takes `key`, waiting for its holder to finish. Cancel-safe: dropping the future while
    /// it waits takes nothing.
    pub async fn acquire(&self, key: &str) -> LockGuard {
        loop {
            let released = {
                let mut held = self.held.lock();
                match held.get(key) {
                    None => {
                        held.insert(key.to_owned(), Arc::new(Notify::new()));
                        return self.guard(key);
                    }
                    Some(notify) => Arc::clone(notify),
                }
            };
            let notified = released.notified();
            tokio::pin!(notified);
            // Register before re-checking, so a release between the check above and the
            // wait below is not missed.
            notified.as_mut().enable();
            if !self.is_held_by(key, &released) {
                continue;
            }
            notified.await;
        }
    }

    /// Whether `key` is currently held.
    pub fn is_held(&self, key: &str) -> bool {
        self.held.lock().contains_key(key)
    }

    fn is_held_by(&self, key: &str, notify: &Arc<Notify>) -> bool {
        self.held
            .lock()
            .get(key)
            .is_some_and(|current| Arc::ptr_eq(current, notify))
    }

    fn guard(&self, key: &str) -> LockGuard {
        LockGuard {
            held: Arc::clone(&self.held),
            key: key.to_owned(),
        }
    }
}

impl LockGuard {
    /// The locked name.
    pub fn key(&self) -> &str {
        &self.key
    }
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        if let Some(released) = self.held.lock().remove(&self.key) {
            released.notify_waiters();
        }
    }
}

impl fmt::Debug for LockGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("LockGuard").field(&self.key).finish()
    }
}

impl fmt::Debug for OperationLocks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.held.lock().keys()).finish()
    }
}

#[cfg(test)]
mod tests;
