//! The change history watches are served from, with a bounded window.
//!
//! Like etcd behind the real server, every committed change gets the next value of one global
//! revision counter and the history is compacted: a watch asking to resume from a revision older
//! than the window gets `410 Gone` ("too old resource version") and must relist. Keeping the
//! window small in a test is how a test makes kube's watcher go through that recovery.

use std::collections::VecDeque;
use std::sync::Arc;

use serde_json::Value;

use crate::resources::Gvr;

/// The watch event type of one change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ChangeKind {
    /// The object was created.
    Added,
    /// The object was updated (including getting a deletionTimestamp).
    Modified,
    /// The object was removed from the store.
    Deleted,
}

/// One committed change.
#[derive(Debug, Clone)]
pub(crate) struct Change {
    pub(crate) rv: u64,
    pub(crate) gvr: Gvr,
    pub(crate) namespace: String,
    pub(crate) kind: ChangeKind,
    /// The object after the change (for `Deleted`: its last state).
    pub(crate) object: Arc<Value>,
    /// The object before the change, so a selector-filtered watch can turn "stopped matching"
    /// into DELETED and "started matching" into ADDED as the real server does.
    pub(crate) previous: Option<Arc<Value>>,
}

/// The requested revision was compacted away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Compacted {
    pub(crate) oldest_available: u64,
}

#[derive(Debug)]
pub(crate) struct History {
    changes: VecDeque<Arc<Change>>,
    limit: usize,
    /// Highest revision dropped from the window (0: nothing dropped yet).
    compacted_through: u64,
}

impl History {
    pub(crate) fn new(limit: usize) -> Self {
        Self {
            changes: VecDeque::new(),
            limit: limit.max(1),
            compacted_through: 0,
        }
    }

    pub(crate) fn push(&mut self, change: Change) {
        self.changes.push_back(Arc::new(change));
        while self.changes.len() > self.limit {
            if let Some(dropped) = self.changes.pop_front() {
                self.compacted_through = dropped.rv;
            }
        }
    }

    /// Changes after revision `rv`, oldest first.
    pub(crate) fn since(&self, rv: u64) -> Result<Vec<Arc<Change>>, Compacted> {
        if rv < self.compacted_through {
            return Err(Compacted {
                oldest_available: self.compacted_through,
            });
        }
        let start = self.changes.partition_point(|c| c.rv <= rv);
        Ok(self.changes.range(start..).cloned().collect())
    }

    /// Whether a list snapshot taken at `rv` could still be continued.
    pub(crate) fn covers(&self, rv: u64) -> bool {
        rv >= self.compacted_through
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(rv: u64) -> Change {
        Change {
            rv,
            gvr: Gvr::new("", "v1", "configmaps"),
            namespace: "default".into(),
            kind: ChangeKind::Added,
            object: Arc::new(Value::Null),
            previous: None,
        }
    }

    #[test]
    fn resuming_before_the_window_is_compacted() {
        let mut history = History::new(2);
        for rv in 1..=4 {
            history.push(change(rv));
        }
        assert_eq!(history.since(1).unwrap_err().oldest_available, 2);
        let rvs: Vec<u64> = history.since(2).unwrap().iter().map(|c| c.rv).collect();
        assert_eq!(rvs, vec![3, 4]);
        assert!(history.since(4).unwrap().is_empty());
    }
}
