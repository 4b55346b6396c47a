//! A VolumeSnapshot of a PVC: default class, then `snapcontent-<uid>`.
//!
//! The content is created only when everything it needs is known — a bound PVC that is not
//! being deleted, its CSI PV, the class (of the PV's driver) and a resolvable secret — and
//! only after the PVC is protected, so the volume cannot go away under the cut. Each missing
//! piece is reported on the snapshot (status.error + Warning Event) naming what is missing.
//! A snapshot whose status already names a content that is gone is reported, never given a
//! fresh content: that would silently take a new snapshot at a later point in time.

use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim};
use sidecar::Progress;
use snapshot_api::keys;

use super::{EventType, Planner, SnapshotAction, SnapshotPlan};
use crate::default_class::default_class;
use crate::new_content::dynamic_content;
use crate::secrets::{SecretKind, class_secret};

const CREATION_FAILED: &str = "SnapshotContentCreationFailed";

/// `spec.volumeSnapshotClassName` is unset: write the default class of the PV's driver.
pub(super) fn set_default_class(plan: Planner<'_>, claim_name: &str) -> SnapshotPlan {
    let fail = |plan: Planner<'_>, why: String| {
        plan.fail(
            "SetDefaultSnapshotClassFailed",
            format!("Failed to set default snapshot class with error: {why}"),
            Progress::Final,
        )
    };
    let driver = match source_volume(&plan, claim_name) {
        Ok(source) => source.driver,
        Err(why) => return fail(plan, why),
    };
    match default_class(plan.world.classes, &driver) {
        Ok(class) => {
            let mut plan = plan;
            plan.push(SnapshotAction::SetDefaultClass(class));
            plan.done()
        }
        Err(error) => fail(plan, error.to_string()),
    }
}

/// Dynamic snapshot that is not ready (or not bound) yet.
pub(super) fn plan(mut plan: Planner<'_>) -> SnapshotPlan {
    let snapshot = plan.snapshot();
    let name = snapshot.metadata.name.clone().unwrap_or_default();
    let namespace = snapshot.metadata.namespace.clone().unwrap_or_default();
    if let Some(content) = plan.world.content {
        let content_name = content.metadata.name.clone().unwrap_or_default();
        if content.spec.source.snapshot_handle.is_some() {
            return plan.fail(
                "SnapshotContentMismatch",
                format!("VolumeSnapshotContent {content_name} is pre-provisioned while expecting a dynamically provisioned one"),
                Progress::Final,
            );
        }
        if !plan.points_back(content, true) {
            return plan.fail(
                "SnapshotContentMisbound",
                format!("VolumeSnapshotContent [{content_name}] is bound to a different snapshot"),
                Progress::Final,
            );
        }
        plan.mirror(content);
        return plan.done();
    }
    if let Some(bound) = snapshot.bound_content_name() {
        return plan.fail(
            "SnapshotContentMissing",
            format!("VolumeSnapshotContent {bound} is missing"),
            Progress::Final,
        );
    }

    let claim_name = snapshot
        .spec
        .source
        .persistent_volume_claim_name
        .clone()
        .unwrap_or_default();
    let source = match source_volume(&plan, &claim_name) {
        Ok(found) => found,
        Err(why) => {
            return plan.fail(
                CREATION_FAILED,
                format!("Failed to create snapshot content with error {why}"),
                Progress::Final,
            );
        }
    };
    let class_name = snapshot
        .spec
        .volume_snapshot_class_name
        .clone()
        .unwrap_or_default();
    let Some(class) = plan
        .world
        .classes
        .iter()
        .find(|c| c.metadata.name.as_deref() == Some(class_name.as_str()))
    else {
        return plan.fail(
            CREATION_FAILED,
            format!("Failed to create snapshot content with error VolumeSnapshotClass {class_name} does not exist"),
            Progress::Final,
        );
    };
    let driver = &source.driver;
    if class.driver != *driver {
        return plan.fail(
            CREATION_FAILED,
            format!(
                "Failed to create snapshot content with error VolumeSnapshotClass {class_name} is for driver {}, but PVC {claim_name} is provisioned by {driver}",
                class.driver
            ),
            Progress::Infeasible,
        );
    }
    let content_name = snapshot_api::naming::dynamic_content_name(
        snapshot.metadata.uid.as_deref().unwrap_or_default(),
    );
    let secret = match class_secret(
        SecretKind::Snapshotter,
        class.parameters(),
        &content_name,
        Some((&namespace, &name)),
    ) {
        Ok(secret) => secret,
        Err(error) => {
            return plan.fail(
                CREATION_FAILED,
                format!("Failed to create snapshot content with error {error}"),
                Progress::Infeasible,
            );
        }
    };

    let protected = source
        .claim
        .metadata
        .finalizers
        .as_ref()
        .is_some_and(|f| f.iter().any(|x| x == keys::PVC_AS_SOURCE_FINALIZER));
    if !protected {
        plan.push(SnapshotAction::ProtectClaim);
    }
    let content = dynamic_content(
        snapshot,
        class,
        &source.volume_handle,
        source.volume,
        secret.as_ref(),
    );
    plan.push(SnapshotAction::CreateContent(Box::new(content)));
    let mut status = snapshot.status.clone().unwrap_or_default();
    status.bound_volume_snapshot_content_name = Some(content_name);
    status.ready_to_use = Some(false);
    status.error = None;
    plan.push(SnapshotAction::WriteStatus(Box::new(status)));
    plan.event(
        EventType::Normal,
        "CreatingSnapshot",
        format!("Waiting for a snapshot {namespace}/{name} to be created by the CSI driver."),
    );
    plan.done()
}

/// A snapshot's usable source.
struct SourceVolume<'a> {
    claim: &'a PersistentVolumeClaim,
    volume: &'a PersistentVolume,
    driver: String,
    volume_handle: String,
}

/// The source PVC, its CSI driver and (PV, volume handle), or why they cannot be used.
fn source_volume<'a>(plan: &Planner<'a>, claim_name: &str) -> Result<SourceVolume<'a>, String> {
    let namespace = plan
        .snapshot()
        .metadata
        .namespace
        .as_deref()
        .unwrap_or_default();
    let Some(claim) = plan.world.claim else {
        return Err(format!("PVC {namespace}/{claim_name} does not exist"));
    };
    // A PVC we already protect keeps its volume until we let go, so a snapshot may still be
    // taken; refusing would leave both waiting for each other.
    let protected = claim
        .metadata
        .finalizers
        .as_ref()
        .is_some_and(|f| f.iter().any(|x| x == keys::PVC_AS_SOURCE_FINALIZER));
    if claim.metadata.deletion_timestamp.is_some() && !protected {
        return Err(format!("PVC {namespace}/{claim_name} is being deleted"));
    }
    let bound = claim.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Bound");
    let volume_name = claim
        .spec
        .as_ref()
        .and_then(|s| s.volume_name.clone())
        .filter(|n| !n.is_empty());
    let (true, Some(volume_name)) = (bound, volume_name) else {
        return Err(format!(
            "the PVC {claim_name} is not yet bound to a PV, will not attempt to take a snapshot"
        ));
    };
    let Some(volume) = plan.world.volume else {
        return Err(format!(
            "PV {volume_name} of PVC {namespace}/{claim_name} does not exist"
        ));
    };
    let spec = volume.spec.as_ref();
    let claim_ref = spec.and_then(|s| s.claim_ref.as_ref());
    let points_back = claim_ref.is_some_and(|r| {
        r.name == claim.metadata.name
            && r.namespace == claim.metadata.namespace
            && r.uid
                .as_deref()
                .is_none_or(|uid| uid.is_empty() || Some(uid) == claim.metadata.uid.as_deref())
    });
    if !points_back {
        return Err(format!(
            "PV {volume_name} is not bound to PVC {namespace}/{claim_name}"
        ));
    }
    let Some(csi) = spec.and_then(|s| s.csi.as_ref()) else {
        return Err(format!(
            "cannot find CSI PersistentVolumeSource for volume {volume_name}"
        ));
    };
    Ok(SourceVolume {
        claim,
        volume,
        driver: csi.driver.clone(),
        volume_handle: csi.volume_handle.clone(),
    })
}
