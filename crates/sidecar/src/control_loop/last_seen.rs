//! [`LastSeen`]: the fingerprint of what a controller last saw of each object, so only changes
//! its decision reads queue work. Queueing on every update would re-queue an object on the
//! controller's own status writes and undo the work queue's backoff (upstream's rule too).

use std::collections::HashMap;
use std::hash::Hash;

use parking_lot::Mutex;

/// Fingerprints `F` per object key `K`; shared by reference between a watch task's events.
pub struct LastSeen<K, F>(Mutex<HashMap<K, F>>);

impl<K: Eq + Hash, F: PartialEq> Default for LastSeen<K, F> {
    fn default() -> Self {
        Self(Mutex::new(HashMap::new()))
    }
}

impl<K: Eq + Hash, F: PartialEq> LastSeen<K, F> {
    pub fn new() -> Self {
        Self::default()
    }

    /// `true` (and remembered) when `fingerprint` differs from the last one seen for `key`.
    pub fn changed(&self, key: K, fingerprint: F) -> bool {
        let mut map = self.0.lock();
        if map.get(&key) == Some(&fingerprint) {
            return false;
        }
        map.insert(key, fingerprint);
        true
    }

    /// Drops `key` (the object was deleted), so a new object of the same name counts as new.
    pub fn forget(&self, key: &K) {
        self.0.lock().remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_different_fingerprint_is_a_change() {
        let seen: LastSeen<&str, u32> = LastSeen::new();
        assert!(seen.changed("a", 1), "first sight");
        assert!(!seen.changed("a", 1), "same again");
        assert!(seen.changed("a", 2));
        assert!(seen.changed("b", 2), "keys are independent");
        seen.forget(&"a");
        assert!(seen.changed("a", 2), "forgotten, so new again");
    }
}
