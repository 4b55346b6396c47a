//! One operation per volume at a time on this node. A second stage/unstage/expand of a volume
//! that is busy gets ABORTED at once (the CSI spec's answer for "operation pending"), and the
//! CO retries; waiting instead would stack up kubelet's retries behind a slow map.

use std::collections::HashSet;
use std::sync::Arc;

use parking_lot::Mutex;

use crate::error::NodeError;

#[derive(Debug, Clone, Default)]
pub struct VolumeLocks {
    held: Arc<Mutex<HashSet<String>>>,
}

/// Held for the duration of one operation; released on drop, so no path can leak it.
#[derive(Debug)]
pub struct VolumeGuard {
    held: Arc<Mutex<HashSet<String>>>,
    key: String,
}

impl VolumeLocks {
    /// Takes the lock for `key` (a volume ID, or volume ID + target path) or fails at once.
    pub fn try_lock(&self, volume_id: &str, key: String) -> Result<VolumeGuard, NodeError> {
        if self.held.lock().insert(key.clone()) {
            Ok(VolumeGuard {
                held: self.held.clone(),
                key,
            })
        } else {
            Err(NodeError::OperationInProgress {
                volume_id: volume_id.to_string(),
            })
        }
    }

    /// Locks the volume itself (stage, unstage, expand).
    pub fn lock_volume(&self, volume_id: &str) -> Result<VolumeGuard, NodeError> {
        self.try_lock(volume_id, volume_id.to_string())
    }
}

impl Drop for VolumeGuard {
    fn drop(&mut self) {
        self.held.lock().remove(&self.key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_lock_is_refused_until_the_first_is_dropped() {
        let locks = VolumeLocks::default();
        let first = locks.lock_volume("v1").unwrap();
        assert!(matches!(
            locks.lock_volume("v1"),
            Err(NodeError::OperationInProgress { volume_id }) if volume_id == "v1"
        ));
        // Other volumes are independent.
        let _other = locks.lock_volume("v2").unwrap();
        drop(first);
        assert!(locks.lock_volume("v1").is_ok());
    }
}
