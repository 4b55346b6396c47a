//! A VolumeSnapshot naming an existing VolumeSnapshotContent (a snapshot imported from another
//! cluster or a backup). The content must be pre-provisioned (`source.snapshotHandle`) and
//! name this snapshot; binding writes the snapshot's uid into the content (and the snapshot's
//! class when the content has none), after which the CSI half fills in readiness and size from
//! ListSnapshots and the status is mirrored like a dynamic one's.

use sidecar::Progress;

use super::{Planner, SnapshotAction, SnapshotPlan};

pub(super) fn plan(mut plan: Planner<'_>, content_name: &str) -> SnapshotPlan {
    let Some(content) = plan.world.content else {
        // Creating the content (or fixing the name) requeues us through the content watch.
        return plan.fail(
            "SnapshotContentMissing",
            "VolumeSnapshotContent is missing".to_owned(),
            Progress::Final,
        );
    };
    if content.spec.source.snapshot_handle.is_none() {
        return plan.fail(
            "SnapshotContentMismatch",
            "VolumeSnapshotContent is dynamically provisioned while expecting a pre-provisioned one".to_owned(),
            Progress::Infeasible,
        );
    }
    if !plan.points_back(content, false) {
        return plan.fail(
            "SnapshotContentMisbound",
            format!("VolumeSnapshotContent [{content_name}] is bound to a different snapshot"),
            Progress::Infeasible,
        );
    }
    let snapshot = plan.snapshot();
    let class = snapshot.spec.volume_snapshot_class_name.clone();
    let needs_uid = content.bound_snapshot_uid().is_none();
    let needs_class = class.is_some() && content.spec.volume_snapshot_class_name.is_none();
    if needs_uid || needs_class {
        plan.push(SnapshotAction::BindContent {
            content: content_name.to_owned(),
            snapshot_uid: snapshot.metadata.uid.clone().unwrap_or_default(),
            class,
        });
    }
    plan.mirror(content);
    plan.done()
}
