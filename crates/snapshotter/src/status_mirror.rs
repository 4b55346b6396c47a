//! The VolumeSnapshot status, mirrored from its bound content (users may not read contents,
//! so everything they need is copied over): the binding, creationTime (ns → Time), readyToUse,
//! restoreSize (bytes → binary-SI Quantity) and the content's error. Also which upstream
//! Events the change deserves (`SnapshotCreated` the first time a creation time is known,
//! `SnapshotReady` when readiness turns true).

use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use snapshot_api::{VolumeSnapshot, VolumeSnapshotContent, VolumeSnapshotStatus};

use sidecar::quantity::{format_bytes, parse_bytes};

/// bytes as the Quantity upstream writes (`resource.NewQuantity(bytes, BinarySI)`).
pub fn restore_size(bytes: i64) -> Quantity {
    Quantity(format_bytes(u64::try_from(bytes).unwrap_or_default()))
}

/// A Normal event the mirrored change announces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MirrorEvent {
    pub reason: &'static str,
    pub message: String,
}

/// `ns` Unix nanoseconds as a Time, cut to whole seconds as metav1.Time serializes (so a
/// written value and the value read back compare equal).
pub fn time_from_ns(ns: i64) -> Option<Time> {
    Timestamp::from_second(ns.div_euclid(1_000_000_000))
        .ok()
        .map(Time)
}

/// The snapshot's status with the content's facts copied in.
pub fn mirror(
    snapshot: &VolumeSnapshot,
    content: &VolumeSnapshotContent,
) -> (VolumeSnapshotStatus, Vec<MirrorEvent>) {
    let key = format!(
        "{}/{}",
        snapshot.metadata.namespace.as_deref().unwrap_or_default(),
        snapshot.metadata.name.as_deref().unwrap_or_default()
    );
    let old = snapshot.status.clone().unwrap_or_default();
    let facts = content.status.clone().unwrap_or_default();
    let mut status = old.clone();
    let mut events = Vec::new();

    status.bound_volume_snapshot_content_name = content.metadata.name.clone();
    if status.creation_time.is_none()
        && let Some(time) = facts.creation_time.and_then(time_from_ns)
    {
        status.creation_time = Some(time);
        events.push(MirrorEvent {
            reason: "SnapshotCreated",
            message: format!("Snapshot {key} was successfully created by the CSI driver."),
        });
    }
    let ready = facts.ready_to_use.unwrap_or(false);
    status.ready_to_use = Some(ready);
    if ready && old.ready_to_use != Some(true) {
        events.push(MirrorEvent {
            reason: "SnapshotReady",
            message: format!("Snapshot {key} is ready to use."),
        });
    }
    if let Some(size) = facts.restore_size {
        let known_size = status
            .restore_size
            .as_ref()
            .and_then(|q| parse_bytes(&q.0).ok())
            .filter(|bytes| *bytes > 0);
        if known_size.is_none() && (status.restore_size.is_none() || size > 0) {
            status.restore_size = Some(restore_size(size));
        }
    }
    // Once bound, the content's error is the whole truth: an older error of ours (say, "PVC
    // not bound yet") described a state that binding ended.
    status.error = facts.error;
    (status, events)
}

#[cfg(test)]
mod tests {
    use snapshot_api::VolumeSnapshotError;

    use super::*;
    use crate::test_fixtures::*;

    fn bound_content() -> VolumeSnapshotContent {
        content("snapcontent-1")
            .dynamic("vol")
            .bound_to("ns", "vs", UID)
    }

    #[test]
    fn first_mirror_binds_and_copies_everything() {
        let vs = snapshot("ns", "vs").of_claim("data");
        let c = bound_content().created("snap-1", true, 10_737_418_240, 1_714_557_601_999_000_000);
        let (status, events) = mirror(&vs, &c);
        assert_eq!(
            status.bound_volume_snapshot_content_name.as_deref(),
            Some("snapcontent-1")
        );
        assert_eq!(status.ready_to_use, Some(true));
        assert_eq!(status.restore_size.unwrap().0, "10Gi");
        assert_eq!(
            serde_json::to_value(status.creation_time.unwrap()).unwrap(),
            "2024-05-01T10:00:01Z"
        );
        let reasons: Vec<_> = events.iter().map(|e| e.reason).collect();
        assert_eq!(reasons, ["SnapshotCreated", "SnapshotReady"]);
        assert!(events[1].message.contains("ns/vs"));
    }

    #[test]
    fn not_yet_created_content_binds_as_not_ready() {
        let vs = snapshot("ns", "vs")
            .of_claim("data")
            .failed("PVC not bound yet");
        let (status, events) = mirror(&vs, &bound_content());
        assert_eq!(status.ready_to_use, Some(false));
        assert_eq!(status.creation_time, None);
        assert_eq!(status.restore_size, None);
        assert_eq!(
            status.error, None,
            "binding ends the controller's old error"
        );
        assert!(events.is_empty());
    }

    #[test]
    fn repeated_mirrors_are_quiet_and_stable() {
        let c = bound_content().created("snap-1", true, 1 << 30, 1_714_557_601_000_000_000);
        let (first, _) = mirror(&snapshot("ns", "vs"), &c);
        let vs = snapshot("ns", "vs").status(|s| *s = first.clone());
        let (second, events) = mirror(&vs, &c);
        assert_eq!(second, first);
        assert!(events.is_empty());
    }

    #[test]
    fn content_errors_show_and_a_known_size_stays() {
        let c = bound_content()
            .created("snap-1", false, 0, 5_000_000_000)
            .status(|s| s.error = Some(VolumeSnapshotError::new(time(9), "driver says no")));
        let vs = snapshot("ns", "vs").status(|s| s.restore_size = Some(restore_size(1024)));
        let (status, _) = mirror(&vs, &c);
        assert_eq!(
            status.error.unwrap().message.as_deref(),
            Some("driver says no")
        );
        assert_eq!(
            status.restore_size.unwrap().0,
            "1Ki",
            "a zero from the content does not erase a size"
        );
        let zero = snapshot("ns", "vs").status(|s| s.restore_size = Some(restore_size(0)));
        let (status, _) = mirror(&zero, &bound_content().created("s", true, 2048, 1));
        assert_eq!(
            status.restore_size.unwrap().0,
            "2Ki",
            "a zero size is replaced once known"
        );
    }
}
