//! What the snapshotter tells people: Kubernetes Events (upstream's reasons, on the
//! VolumeSnapshot or the content) and Sepia events on NATS
//! (`sepia.snapshotter.snapshot.{created,ready,deleted,failed}` with the CSI ids). Neither can
//! block or fail an operation.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use events::vocabulary::{component, object};
use events::{Event, KubernetesRef, Outcome, Publisher};
use kube::Resource;
use sidecar::EventRecorder;
use snapshot_api::{VolumeSnapshot, VolumeSnapshotContent};

use crate::snapshot_plan::EventType;

/// The verb of a snapshot turning ready (not in the shared vocabulary: only snapshots have
/// this step).
pub const VERB_READY: &str = "ready";

/// Kubernetes Events and NATS events. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Announcer {
    recorder: EventRecorder,
    publisher: Publisher,
}

/// One CSI-level happening of a content, for NATS.
#[derive(Debug, Clone)]
pub struct SnapshotEvent<'a> {
    pub verb: &'static str,
    pub content: &'a VolumeSnapshotContent,
    pub snapshot_id: Option<&'a str>,
    pub request_name: Option<&'a str>,
    pub size_bytes: Option<i64>,
    pub duration: Duration,
    /// `Err((grpc code name, message))` for a failure.
    pub outcome: Result<(), (&'a str, &'a str)>,
    /// What tells this happening apart from another of the same kind (see
    /// `EventBuilder::operation_key`).
    pub operation_key: String,
}

impl Announcer {
    pub fn new(recorder: EventRecorder, publisher: Publisher) -> Self {
        Self {
            recorder,
            publisher,
        }
    }

    /// An Event on a VolumeSnapshot.
    pub fn snapshot_event(
        &self,
        snapshot: &VolumeSnapshot,
        kind: EventType,
        reason: &str,
        message: &str,
    ) {
        let regarding = snapshot.object_ref(&());
        self.record(&regarding, kind, reason, message);
    }

    /// An Event on a VolumeSnapshotContent.
    pub fn content_event(
        &self,
        content: &VolumeSnapshotContent,
        kind: EventType,
        reason: &str,
        message: &str,
    ) {
        let regarding = content.object_ref(&());
        self.record(&regarding, kind, reason, message);
    }

    fn record(
        &self,
        regarding: &k8s_openapi::api::core::v1::ObjectReference,
        kind: EventType,
        reason: &str,
        message: &str,
    ) {
        match kind {
            EventType::Normal => self.recorder.normal(regarding, reason, message),
            EventType::Warning => self.recorder.warning(regarding, reason, message),
        }
    }

    /// Publishes `sepia.snapshotter.snapshot.<verb>`.
    pub fn publish(&self, happening: SnapshotEvent<'_>) {
        let content = happening.content;
        let reference = &content.spec.volume_snapshot_ref;
        let mut builder = Event::builder(component::SNAPSHOTTER, object::SNAPSHOT, happening.verb)
            .operation_key(happening.operation_key)
            .duration(happening.duration)
            .kubernetes(KubernetesRef {
                kind: "VolumeSnapshot".to_owned(),
                namespace: reference.namespace.clone(),
                name: reference.name.clone().unwrap_or_default(),
                uid: reference.uid.clone(),
            })
            .outcome(match happening.outcome {
                Ok(()) => Outcome::ok(),
                Err((code, message)) => Outcome::error(code, message),
            });
        if let Some(volume) = &content.spec.source.volume_handle {
            builder = builder.volume_id(volume.clone());
        }
        if let Some(id) = happening.snapshot_id {
            builder = builder.snapshot_id(id);
        }
        if let Some(name) = happening.request_name {
            builder = builder.request_name(name);
        }
        if let Some(size) = happening.size_bytes.and_then(|s| u64::try_from(s).ok()) {
            builder = builder.size_bytes(size);
        }
        match builder.build() {
            Ok(event) => self.publisher.publish(&event),
            Err(error) => tracing::warn!(%error, "Sepia event not built"),
        }
    }
}

/// Operation key for a failure: distinct per code and second, so repeated identical failures
/// within a second collapse and later ones are kept.
pub fn failure_key(method: &str, code: &str) -> String {
    let second = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    format!("{method}/{code}/{second}")
}

/// The NATS verbs used here.
pub mod verbs {
    pub use events::vocabulary::verb::{CREATED, DELETED, FAILED};

    pub use super::VERB_READY as READY;
}
