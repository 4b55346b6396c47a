use snapshot_api::keys::{
    BEING_CREATED_ANNOTATION as CREATING, BEING_DELETED_ANNOTATION as RELEASED,
    GROUP_SNAPSHOT_HANDLE_ANNOTATION as GROUP,
};
use snapshot_api::{DeletionPolicy, VolumeSnapshotContent};

use super::*;
use crate::test_fixtures::*;

fn dynamic() -> VolumeSnapshotContent {
    content("snapcontent-1")
        .dynamic("vol-1")
        .bound_to("ns", "vs", UID)
        .class("c")
}

fn imported() -> VolumeSnapshotContent {
    content("imported")
        .pre_provisioned("snap-9")
        .bound_to("ns", "vs", "")
}

fn create(mark: bool) -> ContentPlan {
    ContentPlan::CreateSnapshot {
        mark_being_created: mark,
    }
}

fn delete(id: &str) -> ContentPlan {
    ContentPlan::DeleteSnapshot {
        snapshot_id: id.to_owned(),
    }
}

#[test]
fn decision_table() {
    use ContentPlan::*;
    let cases: Vec<(&str, VolumeSnapshotContent, ContentPlan)> = vec![
        // Creation and readiness.
        (
            "another driver's content",
            dynamic().driver("other.csi"),
            Nothing,
        ),
        (
            "new dynamic content: mark, then create",
            dynamic(),
            create(true),
        ),
        (
            "call may be in flight: repeat without re-marking",
            dynamic().annotated(CREATING),
            create(false),
        ),
        (
            "created but not ready: ask again",
            dynamic()
                .created("snap-1", false, 10, 1)
                .annotated(CREATING),
            create(false),
        ),
        (
            "named by the driver, unmarked: poll without marking",
            dynamic().created("snap-1", false, 10, 1),
            create(false),
        ),
        (
            "final error recorded: retry the same name",
            dynamic().status(|s| s.ready_to_use = Some(false)),
            create(true),
        ),
        (
            "ready: nothing",
            dynamic().created("snap-1", true, 10, 1),
            Nothing,
        ),
        (
            "ready but still marked (crash before unmarking): unmark",
            dynamic().created("snap-1", true, 10, 1).annotated(CREATING),
            ClearBeingCreated,
        ),
        (
            "pre-provisioned, unchecked",
            imported(),
            CheckSnapshot {
                snapshot_id: "snap-9".into(),
            },
        ),
        (
            "pre-provisioned, not ready yet",
            imported().created("snap-9", false, 0, 1),
            CheckSnapshot {
                snapshot_id: "snap-9".into(),
            },
        ),
        (
            "pre-provisioned, ready",
            imported().created("snap-9", true, 5, 1),
            Nothing,
        ),
        (
            "group member: never alone",
            dynamic().annotated(GROUP),
            Nothing,
        ),
        (
            "neither source",
            content("x").bound_to("ns", "vs", UID),
            Nothing,
        ),
        // Deletion.
        (
            "deleted before the controller released it: wait",
            dynamic()
                .created("snap-1", true, 10, 1)
                .finalized()
                .deleting(),
            Nothing,
        ),
        (
            "released, Delete policy: delete the backend snapshot",
            dynamic()
                .created("snap-1", true, 10, 1)
                .finalized()
                .annotated(RELEASED)
                .deleting(),
            delete("snap-1"),
        ),
        (
            "released while a CreateSnapshot may run: keep creating",
            dynamic()
                .finalized()
                .annotated(RELEASED)
                .annotated(CREATING)
                .deleting(),
            create(false),
        ),
        (
            "released, Retain: only the finalizer goes",
            dynamic()
                .policy(DeletionPolicy::Retain)
                .created("snap-1", true, 10, 1)
                .finalized()
                .annotated(RELEASED)
                .deleting(),
            RemoveFinalizer,
        ),
        (
            "released, never created (final error): only the finalizer goes",
            dynamic()
                .status(|s| s.ready_to_use = Some(false))
                .finalized()
                .annotated(RELEASED)
                .deleting(),
            RemoveFinalizer,
        ),
        (
            "after DeleteSnapshot the status is cleared: finalizer",
            dynamic()
                .status(|_| {})
                .finalized()
                .annotated(RELEASED)
                .deleting(),
            RemoveFinalizer,
        ),
        (
            "finalizer already gone: nothing",
            dynamic().status(|_| {}).annotated(RELEASED).deleting(),
            Nothing,
        ),
        (
            "unbound pre-provisioned, Delete: deleted without a release",
            imported().finalized().deleting(),
            delete("snap-9"),
        ),
        (
            "unbound pre-provisioned, Retain: finalizer only",
            imported()
                .policy(DeletionPolicy::Retain)
                .finalized()
                .deleting(),
            RemoveFinalizer,
        ),
        (
            "bound pre-provisioned waits for the release",
            imported()
                .bound_to("ns", "vs", UID)
                .created("snap-9", true, 5, 1)
                .finalized()
                .deleting(),
            Nothing,
        ),
        (
            "bound pre-provisioned, released, Delete: uses the spec handle",
            imported()
                .bound_to("ns", "vs", UID)
                .status(|s| s.ready_to_use = Some(true))
                .finalized()
                .annotated(RELEASED)
                .deleting(),
            delete("snap-9"),
        ),
        (
            "pre-provisioned already deleted (status cleared): finalizer",
            imported().status(|_| {}).finalized().deleting(),
            RemoveFinalizer,
        ),
        (
            "group member being deleted: finalizer only",
            dynamic()
                .created("snap-1", true, 1, 1)
                .annotated(GROUP)
                .annotated(RELEASED)
                .finalized()
                .deleting(),
            RemoveFinalizer,
        ),
    ];
    for (what, content, want) in cases {
        assert_eq!(plan_content(&content, DRIVER), want, "{what}");
    }
}
