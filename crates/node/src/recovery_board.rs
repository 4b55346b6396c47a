//! What start-up recovery found, kept on the driver for the calls that ask later (Probe's
//! readiness, NodeGetVolumeStats' condition, stage and unstage forgetting it). It lives apart
//! from [`crate::recovery`], which fills it, because the driver holds it and recovery runs over
//! the driver.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};

use parking_lot::Mutex;

use crate::mapper::Recovered;

/// Whether recovery is still running, and which volumes it could not recover.
#[derive(Debug, Default)]
pub struct RecoveryBoard {
    pending: AtomicBool,
    lost: Mutex<HashMap<String, String>>,
}

impl RecoveryBoard {
    /// Marks recovery as running: Probe answers "not ready" until [`crate::recovery::run`] ends.
    pub fn begin(&self) {
        self.pending.store(true, Ordering::SeqCst);
    }

    /// Recovery has run: Probe may answer ready.
    pub(crate) fn end(&self) {
        self.pending.store(false, Ordering::SeqCst);
    }

    pub fn is_pending(&self) -> bool {
        self.pending.load(Ordering::SeqCst)
    }

    /// Why `volume_id` was not recovered at start-up, if it was not.
    pub fn lost(&self, volume_id: &str) -> Option<String> {
        self.lost.lock().get(volume_id).cloned()
    }

    /// The volume was staged or unstaged since: what recovery found no longer holds.
    pub fn forget(&self, volume_id: &str) {
        self.lost.lock().remove(volume_id);
    }

    pub(crate) fn record(&self, volume_id: &str, outcome: &Recovered) {
        let mut lost = self.lost.lock();
        match outcome {
            Recovered::Lost(why) => {
                lost.insert(volume_id.to_string(), why.clone());
            }
            _ => {
                lost.remove(volume_id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_board_keeps_lost_volumes_until_forgotten() {
        let board = RecoveryBoard::default();
        assert!(!board.is_pending());
        board.begin();
        assert!(board.is_pending());
        board.record("v1", &Recovered::Lost("gone".into()));
        board.record("v2", &Recovered::Reattached);
        assert_eq!(board.lost("v1").as_deref(), Some("gone"));
        assert_eq!(board.lost("v2"), None);
        board.record("v1", &Recovered::DaemonAlive);
        assert_eq!(board.lost("v1"), None);
        board.record("v1", &Recovered::Lost("gone".into()));
        board.forget("v1");
        assert_eq!(board.lost("v1"), None);
    }
}
