//! The in-process half of the volume and snapshot id locks ([`crate::locks`] puts the RADOS
//! half behind it): contention inside this process answers at once, without a round trip. A
//! leaf the shared [`crate::state::State`] owns, so the state does not depend on the lock logic
//! built on top of it (docs/architecture.md).

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::Mutex;

use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum IdHeld {
    Exclusive,
    Shared(usize),
}

/// The in-process shared/exclusive try-locks keyed by id.
#[derive(Debug, Clone, Default)]
pub struct IdLocks {
    held: Arc<Mutex<HashMap<String, IdHeld>>>,
}

/// Proof of holding an id in this process; released when dropped.
#[derive(Debug)]
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct IdGuard {
    held: Arc<Mutex<HashMap<String, IdHeld>>>,
    key: String,
}

impl IdLocks {
    pub fn new() -> Self {
        Self::default()
    }

    /// Sole holder of `key`, or [`Error::InProgress`] naming `what`.
    pub fn try_exclusive(&self, key: &str, what: &str) -> Result<IdGuard> {
        let mut held = self.held.lock();
        if held.contains_key(key) {
            return Err(in_progress(what));
        }
        held.insert(key.to_owned(), IdHeld::Exclusive);
        Ok(self.guard(key))
    }

    /// One of several holders of `key`, or [`Error::InProgress`] while it is held exclusively.
    pub fn try_shared(&self, key: &str, what: &str) -> Result<IdGuard> {
        let mut held = self.held.lock();
        match held.get_mut(key) {
            Some(IdHeld::Exclusive) => return Err(in_progress(what)),
            Some(IdHeld::Shared(count)) => *count += 1,
            None => {
                held.insert(key.to_owned(), IdHeld::Shared(1));
            }
        }
        Ok(self.guard(key))
    }

    /// Whether `key` is held in this process.
    pub fn is_held(&self, key: &str) -> bool {
        self.held.lock().contains_key(key)
    }

    fn guard(&self, key: &str) -> IdGuard {
        IdGuard {
            held: Arc::clone(&self.held),
            key: key.to_owned(),
        }
    }
}

impl Drop for IdGuard {
    fn drop(&mut self) {
        let mut held = self.held.lock();
        match held.get_mut(&self.key) {
            Some(IdHeld::Shared(count)) if *count > 1 => *count -= 1,
            _ => {
                held.remove(&self.key);
            }
        }
    }
}

fn in_progress(what: &str) -> Error {
    Error::InProgress {
        what: what.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_holders_coexist_and_block_an_exclusive_one() {
        let locks = IdLocks::new();
        let a = locks.try_shared("v", "volume v").expect("first shared");
        let b = locks.try_shared("v", "volume v").expect("second shared");
        assert!(locks.try_exclusive("v", "volume v").is_err());
        drop(a);
        assert!(locks.try_exclusive("v", "volume v").is_err());
        drop(b);
        let x = locks.try_exclusive("v", "volume v").expect("free again");
        assert!(matches!(
            locks.try_shared("v", "volume v"),
            Err(Error::InProgress { .. })
        ));
        drop(x);
        assert!(locks.try_shared("v", "volume v").is_ok());
    }
}
