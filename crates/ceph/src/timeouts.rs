//! Deadlines for Ceph calls. One value drives both sides: the tokio deadline of the blocking
//! helper (so the caller gets an answer in time) and librados' own timeouts (so the blocking
//! thread returns too instead of waiting forever on a dead cluster) — except for mon and mgr
//! commands, which librados must not time out itself (see `connect_config`).

use std::time::Duration;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Timeouts {
    /// Deadline of [`crate::Cluster::connect`]; also librados `client_mount_timeout`.
    pub connect: Duration,
    /// Deadline of every other call; also `rados_osd_op_timeout`.
    pub op: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(10),
            op: Duration::from_secs(30),
        }
    }
}

/// librados takes these options in whole seconds; round up so librados never gives up before
/// our deadline would, and never pass 0 (which means "wait forever" to librados).
pub(crate) fn whole_seconds(d: Duration) -> u64 {
    let secs = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    secs.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn librados_seconds_round_up_and_are_never_zero() {
        assert_eq!(whole_seconds(Duration::from_millis(0)), 1);
        assert_eq!(whole_seconds(Duration::from_millis(1)), 1);
        assert_eq!(whole_seconds(Duration::from_secs(3)), 3);
        assert_eq!(whole_seconds(Duration::from_millis(3001)), 4);
    }
}
