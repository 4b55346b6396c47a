//! The event payload, schema version 1. Field names are camelCase JSON, like the Kubernetes
//! objects operators already read. Adding optional fields keeps version 1; renaming or removing
//! one, or changing a meaning, bumps [`SCHEMA_VERSION`].

use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use crate::error::EventsError;
use crate::subject::Subject;

/// The payload version every event carries as `schemaVersion`.
pub const SCHEMA_VERSION: u32 = 1;

/// One thing a Sepia component did. Build it with [`Event::builder`], which validates the
/// subject tokens and derives [`Event::id`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    pub schema_version: u32,
    /// The JetStream message id (`Nats-Msg-Id`); the same operation retried yields the same id,
    /// so the stream stores it once. See [`crate::message_id`].
    pub id: String,
    pub component: String,
    pub object: String,
    pub verb: String,
    /// The CSI driver name of the publisher (GetPluginInfo's), so a consumer shared by two
    /// drivers on one NATS acts only on its own driver's events. Absent from publishers that
    /// predate it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub driver: Option<String>,
    /// When the operation finished, RFC 3339 in UTC with milliseconds.
    #[serde(with = "rfc3339")]
    pub time: SystemTime,
    pub csi: CsiIds,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubernetes: Option<KubernetesRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size_bytes: Option<u64>,
    pub duration_ms: u64,
    pub outcome: Outcome,
    /// The OpenTelemetry trace of the operation (32 hex digits), to jump from an event to its
    /// trace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
}

impl Event {
    /// Starts an event `sepia.<component>.<object>.<verb>`; see [`crate::vocabulary`] for names.
    pub fn builder(
        component: impl Into<String>,
        object: impl Into<String>,
        verb: impl Into<String>,
    ) -> crate::EventBuilder {
        crate::EventBuilder::new(component, object, verb)
    }

    /// The subject the event is published on. Fails only for an event whose public fields were
    /// changed by hand after building.
    pub fn subject(&self) -> Result<Subject, EventsError> {
        Subject::new(&self.component, &self.object, &self.verb)
    }

    pub fn duration(&self) -> Duration {
        Duration::from_millis(self.duration_ms)
    }
}

/// The CSI identifiers the operation was about; absent ones are omitted from the JSON.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CsiIds {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot_id: Option<String>,
    /// The CO's `name` of a CreateVolume/CreateSnapshot request (its idempotency key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_name: Option<String>,
    /// The node of a ControllerPublish/Unpublish or a node operation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_id: Option<String>,
}

/// The Kubernetes object the operation served (a PVC, VolumeSnapshot, VolumeAttachment...).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KubernetesRef {
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
}

/// Whether the operation succeeded, with the gRPC code and message when it did not.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Outcome {
    pub status: OutcomeStatus,
    /// The gRPC status code name (`OK`, `InvalidArgument`, `Aborted`...).
    pub code: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OutcomeStatus {
    Ok,
    Error,
}

/// Error messages end up in a durable stream, so they are capped: a runaway message (a full
/// command output, say) must not turn one event into megabytes.
const MAX_MESSAGE_BYTES: usize = 1024;

impl Outcome {
    pub fn ok() -> Self {
        Self {
            status: OutcomeStatus::Ok,
            code: "OK".to_owned(),
            message: None,
        }
    }

    /// A failed operation. `message` must not contain secrets (the same rule as for error
    /// messages); it is truncated to 1 KiB.
    pub fn error(code: impl Into<String>, message: impl Into<String>) -> Self {
        let mut message = message.into();
        if message.len() > MAX_MESSAGE_BYTES {
            let mut cut = MAX_MESSAGE_BYTES;
            while !message.is_char_boundary(cut) {
                cut -= 1;
            }
            message.truncate(cut);
            message.push('…');
        }
        Self {
            status: OutcomeStatus::Error,
            code: code.into(),
            message: Some(message),
        }
    }

    pub fn is_ok(&self) -> bool {
        self.status == OutcomeStatus::Ok
    }
}

/// RFC 3339 timestamps (UTC, milliseconds), the format Kubernetes and most log tools read.
mod rfc3339 {
    use std::time::SystemTime;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(time: &SystemTime, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&humantime::format_rfc3339_millis(*time))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<SystemTime, D::Error> {
        let text = String::deserialize(deserializer)?;
        humantime::parse_rfc3339_weak(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests;
