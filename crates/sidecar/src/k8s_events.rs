//! Kubernetes Events (`kubectl describe` output) for the objects a sidecar acts on, with the
//! reasons upstream uses. Recording never blocks or fails an operation: each event is sent by
//! its own task, and at most [`MAX_IN_FLIGHT`] may be pending — beyond that, while the API
//! server is slow, events are dropped with a log line.

use std::sync::Arc;

use k8s_openapi::api::core::v1::ObjectReference;
use kube::Client;
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use tokio::sync::Semaphore;

/// Events waiting for the API server at once.
pub const MAX_IN_FLIGHT: usize = 1000;

/// Kubernetes caps an event's note at 1 kB.
const MAX_NOTE_BYTES: usize = 1024;

/// Cheap to clone; clones share the recorder's de-duplication cache and the in-flight bound.
#[derive(Clone)]
pub struct EventRecorder {
    recorder: Recorder,
    permits: Arc<Semaphore>,
}

impl std::fmt::Debug for EventRecorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventRecorder").finish_non_exhaustive()
    }
}

impl EventRecorder {
    /// `controller` is the reporting component (e.g. `external-provisioner`'s role name),
    /// `instance` this replica.
    pub fn new(client: Client, controller: &str, instance: &str) -> Self {
        let reporter = Reporter {
            controller: controller.to_owned(),
            instance: Some(instance.to_owned()),
        };
        Self {
            recorder: Recorder::new(client, reporter),
            permits: Arc::new(Semaphore::new(MAX_IN_FLIGHT)),
        }
    }

    pub fn normal(&self, regarding: &ObjectReference, reason: &str, note: impl Into<String>) {
        self.publish(regarding, EventType::Normal, reason, note.into());
    }

    pub fn warning(&self, regarding: &ObjectReference, reason: &str, note: impl Into<String>) {
        self.publish(regarding, EventType::Warning, reason, note.into());
    }

    fn publish(&self, regarding: &ObjectReference, type_: EventType, reason: &str, note: String) {
        let Ok(permit) = Arc::clone(&self.permits).try_acquire_owned() else {
            tracing::warn!(
                reason,
                "Kubernetes event dropped: too many events in flight"
            );
            return;
        };
        let event = Event {
            type_,
            reason: reason.to_owned(),
            note: Some(truncate(note)),
            action: reason.to_owned(),
            secondary: None,
        };
        let recorder = self.recorder.clone();
        let regarding = regarding.clone();
        tokio::spawn(async move {
            if let Err(error) = recorder.publish(&event, &regarding).await {
                tracing::warn!(%error, reason = %event.reason, "recording a Kubernetes event failed");
            }
            drop(permit);
        });
    }
}

fn truncate(mut note: String) -> String {
    if note.len() > MAX_NOTE_BYTES {
        let mut cut = MAX_NOTE_BYTES - 3;
        while !note.is_char_boundary(cut) {
            cut -= 1;
        }
        note.truncate(cut);
        note.push('…');
    }
    note
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_notes_are_cut_at_a_char_boundary() {
        let note = "é".repeat(1000);
        let cut = truncate(note);
        assert!(cut.len() <= MAX_NOTE_BYTES);
        assert!(cut.ends_with('…'));
        assert_eq!(truncate("short".to_owned()), "short");
    }
}
