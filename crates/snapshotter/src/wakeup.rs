//! The snapshotter's side of the controller's background-work events: when a snapshot's
//! background preparation ends, its content is synced again at once (a content not yet ready
//! stops waiting out its poll) and the VolumeSnapshot gets a Kubernetes Event saying what
//! Ceph did ("snapshot prepared", "background preparation failed: …"). Contents are matched by
//! their CSI snapshot handle, so this works without `--extra-create-metadata` too. Fed once
//! per event by `sidecar::wakeups`, on the leader only.

use events::vocabulary::{object, verb};
use events::{Event, OutcomeStatus};
use k8s_openapi::api::core::v1::ObjectReference;
use sidecar::{Acted, EventRecorder, WorkQueue};
use snapshot_api::VolumeSnapshotContent;

/// Sepia addition — VolumeSnapshot: its background preparation (ceph-csi's image layout)
/// finished.
pub const SNAPSHOT_PREPARED: &str = "SnapshotPrepared";
/// Sepia addition — VolumeSnapshot: its background preparation failed; the snapshot's next
/// user (a restore, its deletion) finishes it.
pub const BACKGROUND_PREPARATION_FAILED: &str = "BackgroundPreparationFailed";

/// Requeues the content `event` is about and records an Event on its VolumeSnapshot.
pub fn act(
    event: &Event,
    driver: &str,
    contents: &[std::sync::Arc<VolumeSnapshotContent>],
    queue: &WorkQueue<String>,
    recorder: &EventRecorder,
) -> Acted {
    let Some(content) = content_of(event, driver, contents.iter().map(AsRef::as_ref)) else {
        return Acted::Unrelated;
    };
    let Some(name) = content.metadata.name.clone() else {
        return Acted::Unrelated;
    };
    let snapshot = snapshot_ref(content);
    match event.outcome.status {
        OutcomeStatus::Ok => recorder.normal(&snapshot, SNAPSHOT_PREPARED, "snapshot prepared"),
        OutcomeStatus::Error => recorder.warning(
            &snapshot,
            BACKGROUND_PREPARATION_FAILED,
            format!(
                "background preparation failed: {}",
                event
                    .outcome
                    .message
                    .as_deref()
                    .unwrap_or(&event.outcome.code)
            ),
        ),
    }
    tracing::info!(content = %name, event = %event.id, verb = %event.verb, "requeued by a background event");
    queue.add(name);
    Acted::Requeued
}

/// The content of our driver whose snapshot the preparation event is about. Pure.
pub fn content_of<'a>(
    event: &Event,
    driver: &str,
    mut contents: impl Iterator<Item = &'a VolumeSnapshotContent>,
) -> Option<&'a VolumeSnapshotContent> {
    let about_preparation = event.object == object::SNAPSHOT
        && (event.verb == verb::PREPARED || event.verb == verb::PREPARATION_FAILED);
    let snapshot_id = event
        .csi
        .snapshot_id
        .as_deref()
        .filter(|_| about_preparation)?;
    contents.find(|content| {
        content.spec.driver == driver
            && [
                content
                    .status
                    .as_ref()
                    .and_then(|s| s.snapshot_handle.as_deref()),
                content.spec.source.snapshot_handle.as_deref(),
            ]
            .contains(&Some(snapshot_id))
    })
}

fn snapshot_ref(content: &VolumeSnapshotContent) -> ObjectReference {
    let reference = &content.spec.volume_snapshot_ref;
    ObjectReference {
        api_version: Some("snapshot.storage.k8s.io/v1".to_owned()),
        kind: Some("VolumeSnapshot".to_owned()),
        namespace: reference.namespace.clone(),
        name: reference.name.clone(),
        uid: reference.uid.clone(),
        ..ObjectReference::default()
    }
}

#[cfg(test)]
mod tests {
    use events::Outcome;

    use super::*;
    use crate::test_fixtures::{ContentFixture, DRIVER, content};

    fn event(verb: &str, snapshot_id: &str) -> Event {
        Event::builder("controller", object::SNAPSHOT, verb)
            .operation_key("prepare")
            .snapshot_id(snapshot_id)
            .outcome(Outcome::ok())
            .build()
            .expect("valid event")
    }

    fn name(found: Option<&VolumeSnapshotContent>) -> Option<&str> {
        found.and_then(|c| c.metadata.name.as_deref())
    }

    #[test]
    fn the_content_with_that_handle_and_driver_is_found() {
        let contents = [
            content("other-handle")
                .dynamic("vol-1")
                .created("snap-2", true, 1, 1),
            content("other-driver")
                .dynamic("vol-1")
                .created("snap-1", true, 1, 1)
                .driver("ebs.csi.aws.com"),
            content("dynamic")
                .dynamic("vol-1")
                .created("snap-1", true, 1, 1),
            content("static").pre_provisioned("snap-3"),
        ];
        let prepared = event(verb::PREPARED, "snap-1");
        assert_eq!(
            name(content_of(&prepared, DRIVER, contents.iter())),
            Some("dynamic")
        );
        let failed = event(verb::PREPARATION_FAILED, "snap-3");
        assert_eq!(
            name(content_of(&failed, DRIVER, contents.iter())),
            Some("static")
        );
        let created = event(verb::CREATED, "snap-1");
        assert_eq!(name(content_of(&created, DRIVER, contents.iter())), None);
        let unknown = event(verb::PREPARED, "snap-9");
        assert_eq!(name(content_of(&unknown, DRIVER, contents.iter())), None);
    }
}
