//! The content status the CSI half writes, from what the driver answered. Pure, so the rules
//! (what is kept, what is replaced, what clears the error) are tested as tables.

use csi::v1::Snapshot;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use snapshot_api::{VolumeSnapshotContentStatus, VolumeSnapshotError};

/// What CreateSnapshot or ListSnapshots said about the snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotAnswer {
    pub snapshot_id: String,
    pub ready: bool,
    pub size_bytes: i64,
    /// Unix nanoseconds; `None` when the driver gave no time.
    pub creation_time_ns: Option<i64>,
}

impl SnapshotAnswer {
    /// From the CSI message.
    pub fn from_csi(snapshot: &Snapshot) -> Self {
        Self {
            snapshot_id: snapshot.snapshot_id.clone(),
            ready: snapshot.ready_to_use,
            size_bytes: snapshot.size_bytes,
            creation_time_ns: snapshot
                .creation_time
                .as_ref()
                .and_then(|t| {
                    t.seconds
                        .checked_mul(1_000_000_000)?
                        .checked_add(i64::from(t.nanos))
                })
                .filter(|ns| *ns > 0),
        }
    }
}

/// After a successful call: readiness follows the driver; the handle, creation time and a
/// known size, once recorded, are kept (they describe one cut and must not drift between
/// polls). Any success clears the error — the message described an attempt that is over.
/// `now_ns` stands in for a driver that reports no time (as upstream does).
pub fn after_answer(
    old: Option<&VolumeSnapshotContentStatus>,
    answer: &SnapshotAnswer,
    now_ns: i64,
) -> VolumeSnapshotContentStatus {
    let old = old.cloned().unwrap_or_default();
    let restore_size = match old.restore_size {
        Some(size) if size > 0 || answer.size_bytes <= 0 => Some(size),
        _ => Some(answer.size_bytes.max(0)),
    };
    VolumeSnapshotContentStatus {
        snapshot_handle: old
            .snapshot_handle
            .filter(|h| !h.is_empty())
            .or_else(|| Some(answer.snapshot_id.clone())),
        creation_time: old
            .creation_time
            .or(answer.creation_time_ns)
            .or(Some(now_ns)),
        restore_size,
        ready_to_use: Some(answer.ready),
        error: None,
        volume_group_snapshot_handle: old.volume_group_snapshot_handle,
    }
}

/// After a failed call: the error is recorded and readiness is false (upstream); what was
/// already known about the snapshot stays.
pub fn after_error(
    old: Option<&VolumeSnapshotContentStatus>,
    message: &str,
    now: Time,
) -> VolumeSnapshotContentStatus {
    let mut status = old.cloned().unwrap_or_default();
    status.error = Some(VolumeSnapshotError::new(now, message));
    status.ready_to_use = Some(false);
    status
}

/// After DeleteSnapshot: nothing of the snapshot remains (upstream's
/// `clearVolumeContentStatus`); this is also the mark that the delete happened.
pub fn after_delete(old: Option<&VolumeSnapshotContentStatus>) -> VolumeSnapshotContentStatus {
    let mut status = old.cloned().unwrap_or_default();
    status.snapshot_handle = None;
    status.ready_to_use = None;
    status.creation_time = None;
    status.restore_size = None;
    status
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_fixtures::time;

    fn answer(ready: bool, size: i64, at: Option<i64>) -> SnapshotAnswer {
        SnapshotAnswer {
            snapshot_id: "snap-1".to_owned(),
            ready,
            size_bytes: size,
            creation_time_ns: at,
        }
    }

    fn status(
        handle: Option<&str>,
        ready: Option<bool>,
        size: Option<i64>,
        at: Option<i64>,
    ) -> VolumeSnapshotContentStatus {
        VolumeSnapshotContentStatus {
            snapshot_handle: handle.map(str::to_owned),
            ready_to_use: ready,
            restore_size: size,
            creation_time: at,
            ..VolumeSnapshotContentStatus::default()
        }
    }

    #[test]
    fn answers_fill_and_keep_the_right_fields() {
        let failed = after_error(None, "boom", time(5));
        let cases = [
            (
                "first answer, not ready",
                None,
                answer(false, 100, Some(7)),
                status(Some("snap-1"), Some(false), Some(100), Some(7)),
            ),
            (
                "no time from the driver: now",
                None,
                answer(true, 100, None),
                status(Some("snap-1"), Some(true), Some(100), Some(42)),
            ),
            (
                "poll turns ready, first time and size kept",
                Some(status(Some("snap-1"), Some(false), Some(100), Some(7))),
                answer(true, 100, Some(9)),
                status(Some("snap-1"), Some(true), Some(100), Some(7)),
            ),
            (
                "a zero size is replaced once known",
                Some(status(Some("snap-1"), Some(false), Some(0), Some(7))),
                answer(true, 100, Some(7)),
                status(Some("snap-1"), Some(true), Some(100), Some(7)),
            ),
            (
                "success after an error clears it",
                Some(failed),
                answer(false, 100, Some(7)),
                status(Some("snap-1"), Some(false), Some(100), Some(7)),
            ),
        ];
        for (what, old, answer, want) in cases {
            assert_eq!(after_answer(old.as_ref(), &answer, 42), want, "{what}");
        }
    }

    #[test]
    fn errors_keep_what_is_known_and_deletes_clear_it() {
        let old = status(Some("snap-1"), Some(true), Some(100), Some(7));
        let failed = after_error(Some(&old), "DeleteSnapshot failed", time(5));
        assert_eq!(failed.snapshot_handle.as_deref(), Some("snap-1"));
        assert_eq!(failed.ready_to_use, Some(false));
        assert_eq!(
            failed.error.unwrap().message.as_deref(),
            Some("DeleteSnapshot failed")
        );
        let deleted = after_delete(Some(&old));
        assert_eq!(deleted, VolumeSnapshotContentStatus::default());
    }

    #[test]
    fn csi_times_become_nanoseconds() {
        let snapshot = Snapshot {
            snapshot_id: "s".into(),
            size_bytes: 5,
            ready_to_use: true,
            creation_time: Some(prost_types::Timestamp {
                seconds: 1_714_557_601,
                nanos: 123_456_789,
            }),
            ..Snapshot::default()
        };
        assert_eq!(
            SnapshotAnswer::from_csi(&snapshot).creation_time_ns,
            Some(1_714_557_601_123_456_789)
        );
        let unset = Snapshot::default();
        assert_eq!(SnapshotAnswer::from_csi(&unset).creation_time_ns, None);
    }
}
