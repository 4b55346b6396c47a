//! The binding half's decision for one VolumeSnapshot: from the snapshot and the
//! objects around it (its content, source PVC and PV, the classes, whether a PVC restores from
//! it) to the writes that move it forward. Pure; the executor performs the actions in order
//! and stops at the first failure, and every action is idempotent, so a crash or a conflict
//! anywhere is repaired by deciding again.
//!
//! Upstream's `common-controller/snapshot_controller.go`, in order:
//! - [`deletion`]: a deleted snapshot releases its content (`volumesnapshot-being-deleted`),
//!   deletes it when its policy is Delete, and keeps its bound finalizer until the content is
//!   gone — but waits while a Pending PVC restores from it;
//! - [`dynamic`]: class defaulting, then `snapcontent-<uid>` is created (after protecting the
//!   source PVC) or, once it exists, its status mirrored;
//! - [`pre_provisioned`]: the named content is checked and bound (its `volumeSnapshotRef.uid`
//!   set), then mirrored;
//! - a ready, bound snapshot is only re-checked (content missing or misbound is reported).

mod deletion;
mod dynamic;
mod pre_provisioned;
#[cfg(test)]
mod tests;

use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use sidecar::Progress;
use snapshot_api::{
    VolumeSnapshot, VolumeSnapshotClass, VolumeSnapshotContent, VolumeSnapshotError,
    VolumeSnapshotStatus, keys, naming,
};

use crate::status_mirror;

/// What the decision looks at.
#[derive(Debug, Clone, Copy)]
pub struct SnapshotWorld<'a> {
    pub snapshot: &'a VolumeSnapshot,
    /// The content named by [`content_name_for`], if it exists.
    pub content: Option<&'a VolumeSnapshotContent>,
    /// The source PVC (dynamic snapshots), if it exists.
    pub claim: Option<&'a PersistentVolumeClaim>,
    /// The PV the source PVC is bound to, if it exists.
    pub volume: Option<&'a PersistentVolume>,
    pub classes: &'a [VolumeSnapshotClass],
    /// A Pending PVC in the namespace names this snapshot as its dataSource.
    pub restoring: bool,
    pub now: &'a Time,
}

/// Event severity (`kubectl describe` shows Warning ones in the events list).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    Normal,
    Warning,
}

/// One write (or Event), in the order the executor performs them.
#[derive(Debug, Clone, PartialEq)]
pub enum SnapshotAction {
    /// Write `spec.volumeSnapshotClassName` (the driver's default class).
    SetDefaultClass(String),
    /// Add these finalizers to the snapshot.
    AddFinalizers(Vec<&'static str>),
    /// Remove these finalizers from the snapshot.
    RemoveFinalizers(Vec<&'static str>),
    /// Add `pvc-as-source-protection` to the source PVC.
    ProtectClaim,
    /// Create this content (AlreadyExists counts as done).
    CreateContent(Box<VolumeSnapshotContent>),
    /// Bind the named pre-provisioned content: set `volumeSnapshotRef.uid` (and the class).
    BindContent {
        content: String,
        snapshot_uid: String,
        class: Option<String>,
    },
    /// Set `volumesnapshot-being-deleted` on the content.
    MarkContentBeingDeleted { content: String },
    /// Delete the content object.
    DeleteContent { content: String },
    /// Make the snapshot's status this (only changed fields are written).
    WriteStatus(Box<VolumeSnapshotStatus>),
    /// Record a Kubernetes Event on the snapshot.
    Event {
        kind: EventType,
        reason: &'static str,
        message: String,
    },
}

/// When to look at the snapshot again, besides on changes of it or its objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Nothing to wait for.
    Done,
    /// Waiting on something that has no watch of its own, or a reported failure: retry with
    /// the per-object backoff (`Infeasible`: at the slowest rate).
    Retry(Progress),
}

/// The decision.
#[derive(Debug, Clone, PartialEq)]
pub struct SnapshotPlan {
    pub actions: Vec<SnapshotAction>,
    pub next: Next,
}

/// Which content belongs to `snapshot`: the one it names (pre-provisioned), the one its
/// status says it is bound to, or `snapcontent-<uid>`.
pub fn content_name_for(snapshot: &VolumeSnapshot) -> Option<String> {
    if let Some(name) = snapshot
        .spec
        .source
        .volume_snapshot_content_name
        .as_deref()
        .filter(|n| !n.is_empty())
    {
        return Some(name.to_owned());
    }
    if let Some(name) = snapshot.bound_content_name() {
        return Some(name.to_owned());
    }
    snapshot
        .metadata
        .uid
        .as_deref()
        .filter(|u| !u.is_empty())
        .map(naming::dynamic_content_name)
}

/// Decides for the snapshot in `world`.
pub fn plan_snapshot(world: &SnapshotWorld<'_>) -> SnapshotPlan {
    let mut plan = Planner::new(world);
    let snapshot = world.snapshot;
    if snapshot.metadata.deletion_timestamp.is_some() {
        return deletion::plan(plan);
    }
    let source = &snapshot.spec.source;
    let from_claim = source
        .persistent_volume_claim_name
        .as_deref()
        .filter(|n| !n.is_empty());
    let from_content = source
        .volume_snapshot_content_name
        .as_deref()
        .filter(|n| !n.is_empty());
    if from_claim.is_some() == from_content.is_some() {
        return plan.fail(
            "SnapshotValidationError",
            "Exactly one of PersistentVolumeClaimName and VolumeSnapshotContentName should be specified"
                .to_owned(),
            Progress::Infeasible,
        );
    }
    if let Some(claim) = from_claim
        && snapshot.spec.volume_snapshot_class_name.is_none()
        && snapshot.bound_content_name().is_none()
    {
        return dynamic::set_default_class(plan, claim);
    }

    plan.add_missing_finalizers();
    if snapshot.is_ready() && snapshot.bound_content_name().is_some() {
        return plan.recheck_ready();
    }
    match from_content {
        Some(content) => pre_provisioned::plan(plan, content),
        None => dynamic::plan(plan),
    }
}

/// Accumulates actions; the helpers end a plan.
struct Planner<'w> {
    world: &'w SnapshotWorld<'w>,
    actions: Vec<SnapshotAction>,
}

impl<'w> Planner<'w> {
    fn new(world: &'w SnapshotWorld<'w>) -> Self {
        Self {
            world,
            actions: Vec::new(),
        }
    }

    fn snapshot(&self) -> &'w VolumeSnapshot {
        self.world.snapshot
    }

    fn has_finalizer(&self, finalizer: &str) -> bool {
        self.snapshot()
            .metadata
            .finalizers
            .as_ref()
            .is_some_and(|f| f.iter().any(|x| x == finalizer))
    }

    fn push(&mut self, action: SnapshotAction) {
        self.actions.push(action);
    }

    fn event(&mut self, kind: EventType, reason: &'static str, message: String) {
        self.push(SnapshotAction::Event {
            kind,
            reason,
            message,
        });
    }

    fn done(self) -> SnapshotPlan {
        SnapshotPlan {
            actions: self.actions,
            next: Next::Done,
        }
    }

    fn retry(self, progress: Progress) -> SnapshotPlan {
        SnapshotPlan {
            actions: self.actions,
            next: Next::Retry(progress),
        }
    }

    /// Records `message` as the snapshot's error (readyToUse false) with a Warning Event —
    /// once: an unchanged message writes nothing, so a retry loop does not spam.
    fn fail(mut self, reason: &'static str, message: String, progress: Progress) -> SnapshotPlan {
        let current = self.snapshot().status.clone().unwrap_or_default();
        let same =
            current.error.as_ref().and_then(|e| e.message.as_deref()) == Some(message.as_str());
        if !same {
            let mut status = current;
            status.error = Some(VolumeSnapshotError::new(
                self.world.now.clone(),
                message.clone(),
            ));
            status.ready_to_use = Some(false);
            self.push(SnapshotAction::WriteStatus(Box::new(status)));
            self.event(EventType::Warning, reason, message);
        }
        self.retry(progress)
    }

    /// The content points back at this snapshot (`strict`: with its uid; else an unset uid
    /// also counts, as for a pre-provisioned content before binding).
    fn points_back(&self, content: &VolumeSnapshotContent, strict: bool) -> bool {
        let reference = &content.spec.volume_snapshot_ref;
        let meta = &self.snapshot().metadata;
        reference.name == meta.name
            && reference.namespace == meta.namespace
            && match content.bound_snapshot_uid() {
                Some(uid) => Some(uid) == meta.uid.as_deref(),
                None => !strict,
            }
    }

    /// as-source always; bound once a content of policy Delete points back.
    fn add_missing_finalizers(&mut self) {
        let mut add = Vec::new();
        if !self.has_finalizer(keys::SNAPSHOT_AS_SOURCE_FINALIZER) {
            add.push(keys::SNAPSHOT_AS_SOURCE_FINALIZER);
        }
        // Only a content of the kind the source asks for (upstream finds no content otherwise).
        let imported = self
            .snapshot()
            .spec
            .source
            .volume_snapshot_content_name
            .is_some();
        let deletes_content = self.world.content.is_some_and(|c| {
            self.points_back(c, false)
                && c.is_pre_provisioned() == imported
                && c.spec.deletion_policy == snapshot_api::DeletionPolicy::Delete
        });
        if deletes_content && !self.has_finalizer(keys::SNAPSHOT_BOUND_FINALIZER) {
            add.push(keys::SNAPSHOT_BOUND_FINALIZER);
        }
        if !add.is_empty() {
            self.push(SnapshotAction::AddFinalizers(add));
        }
    }

    /// Copies the content's status in (when anything changed) with its Events.
    fn mirror(&mut self, content: &VolumeSnapshotContent) {
        let (status, events) = status_mirror::mirror(self.snapshot(), content);
        if self.snapshot().status.as_ref() != Some(&status) {
            self.push(SnapshotAction::WriteStatus(Box::new(status)));
        }
        for event in events {
            self.event(EventType::Normal, event.reason, event.message);
        }
    }

    /// A ready, bound snapshot: its content must still exist and point back.
    fn recheck_ready(mut self) -> SnapshotPlan {
        match self.world.content {
            None => self.fail(
                "SnapshotContentMissing",
                "VolumeSnapshotContent is missing".to_owned(),
                Progress::Final,
            ),
            Some(content) if !self.points_back(content, true) => self.fail(
                "SnapshotMisbound",
                "VolumeSnapshotContent is not bound to the VolumeSnapshot correctly".to_owned(),
                Progress::Final,
            ),
            Some(content) => {
                self.mirror(content);
                self.done()
            }
        }
    }
}
