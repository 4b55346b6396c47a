//! Locks on volume and snapshot ids that several requests may share.
//!
//! Request names only ever need one holder, so they use the journal's [`journal::OperationLocks`].
//! Ids need two strengths: taking snapshots of a volume (or cloning it) can run side by side,
//! while deleting or expanding it must run alone. A shared holder makes an exclusive request
//! fail at once (ABORTED) and the other way round, as ceph-csi's operation-lock matrix does.
//! Guards release on drop, so a cancelled or timed-out request never pins an id.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::Mutex;

use crate::error::{Error, Result};

/// Lock key of a volume id.
pub fn volume_key(volume_id: &str) -> String {
    format!("volume/{volume_id}")
}

/// Lock key of a snapshot id.
pub fn snapshot_key(snapshot_id: &str) -> String {
    format!("snapshot/{snapshot_id}")
}

/// Name-lock key of a CreateVolume request name.
pub fn create_volume_key(request_name: &str) -> String {
    format!("create-volume/{request_name}")
}

/// Name-lock key of a CreateSnapshot request name.
pub fn create_snapshot_key(request_name: &str) -> String {
    format!("create-snapshot/{request_name}")
}

/// Name-lock key of a snapshot's preparation (clone, inner snapshot, image id): held by the
/// background task of the first CreateSnapshot, waited for by restores, refused to deletes.
pub fn prepare_key(uuid: &uuid::Uuid) -> String {
    format!("snapshot-prepare/{uuid}")
}

/// Lock key of a volume's publication records.
pub fn publish_key(volume_id: &str) -> String {
    format!("publish/{volume_id}")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Held {
    Exclusive,
    Shared(usize),
}

/// A set of shared/exclusive try-locks keyed by id.
#[derive(Debug, Clone, Default)]
pub struct IdLocks {
    held: Arc<Mutex<HashMap<String, Held>>>,
}

/// Proof of holding an id; released when dropped.
#[derive(Debug)]
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct IdGuard {
    held: Arc<Mutex<HashMap<String, Held>>>,
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
        held.insert(key.to_owned(), Held::Exclusive);
        Ok(self.guard(key))
    }

    /// One of several holders of `key`, or [`Error::InProgress`] while it is held exclusively.
    pub fn try_shared(&self, key: &str, what: &str) -> Result<IdGuard> {
        let mut held = self.held.lock();
        match held.get_mut(key) {
            Some(Held::Exclusive) => return Err(in_progress(what)),
            Some(Held::Shared(count)) => *count += 1,
            None => {
                held.insert(key.to_owned(), Held::Shared(1));
            }
        }
        Ok(self.guard(key))
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
            Some(Held::Shared(count)) if *count > 1 => *count -= 1,
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
