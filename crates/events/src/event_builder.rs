//! Builds an [`Event`]: collects the fields, validates the subject tokens, derives the message
//! id and picks up the current trace id, so a built event is always publishable.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::error::EventsError;
use crate::event::{CsiIds, Event, KubernetesRef, Outcome, SCHEMA_VERSION};
use crate::message_id::message_id;
use crate::subject::Subject;

/// Builder for [`Event`]; start it with [`Event::builder`].
#[derive(Clone, Debug)]
#[must_use = "call build() to get the event"]
pub struct EventBuilder {
    component: String,
    object: String,
    verb: String,
    driver: Option<String>,
    operation_key: Option<String>,
    time: Option<SystemTime>,
    csi: CsiIds,
    kubernetes: Option<KubernetesRef>,
    size_bytes: Option<u64>,
    duration: Duration,
    outcome: Outcome,
    trace_id: Option<String>,
}

impl EventBuilder {
    pub(crate) fn new(
        component: impl Into<String>,
        object: impl Into<String>,
        verb: impl Into<String>,
    ) -> Self {
        Self {
            component: component.into(),
            object: object.into(),
            verb: verb.into(),
            driver: None,
            operation_key: None,
            time: None,
            csi: CsiIds::default(),
            kubernetes: None,
            size_bytes: None,
            duration: Duration::ZERO,
            outcome: Outcome::ok(),
            trace_id: None,
        }
    }

    /// What tells this happening apart from another of the same kind on the same CSI object,
    /// and stays the same when the same operation is retried. Examples: `"create"` for a
    /// CreateVolume (the request name already identifies it), the target size for an
    /// expansion, the VolumeAttachment UID for a publish, `"<pvc-uid>/<attempt>"` for distinct
    /// failures. Required: without it, a retry could not be told from a new operation.
    pub fn operation_key(mut self, key: impl Into<String>) -> Self {
        self.operation_key = Some(key.into());
        self
    }

    /// The publisher's CSI driver name (see [`Event::driver`]).
    pub fn driver(mut self, driver: impl Into<String>) -> Self {
        self.driver = Some(driver.into()).filter(|d| !d.is_empty());
        self
    }

    pub fn volume_id(mut self, volume_id: impl Into<String>) -> Self {
        self.csi.volume_id = Some(volume_id.into());
        self
    }

    pub fn snapshot_id(mut self, snapshot_id: impl Into<String>) -> Self {
        self.csi.snapshot_id = Some(snapshot_id.into());
        self
    }

    pub fn request_name(mut self, request_name: impl Into<String>) -> Self {
        self.csi.request_name = Some(request_name.into());
        self
    }

    pub fn node_id(mut self, node_id: impl Into<String>) -> Self {
        self.csi.node_id = Some(node_id.into());
        self
    }

    pub fn kubernetes(mut self, object: KubernetesRef) -> Self {
        self.kubernetes = Some(object);
        self
    }

    pub fn size_bytes(mut self, size_bytes: u64) -> Self {
        self.size_bytes = Some(size_bytes);
        self
    }

    /// How long the operation took.
    pub fn duration(mut self, duration: Duration) -> Self {
        self.duration = duration;
        self
    }

    /// Defaults to [`Outcome::ok`].
    pub fn outcome(mut self, outcome: Outcome) -> Self {
        self.outcome = outcome;
        self
    }

    /// Defaults to the moment [`EventBuilder::build`] runs.
    pub fn time(mut self, time: SystemTime) -> Self {
        self.time = Some(time);
        self
    }

    /// Defaults to the trace id of the current `tracing` span, when tracing export is on.
    pub fn trace_id(mut self, trace_id: impl Into<String>) -> Self {
        self.trace_id = Some(trace_id.into());
        self
    }

    /// Time is cut to whole milliseconds (the payload's precision), so a built event equals
    /// what a consumer decodes from the stream.
    pub fn build(self) -> Result<Event, EventsError> {
        Subject::new(&self.component, &self.object, &self.verb)?;
        let operation_key = self.operation_key.ok_or(EventsError::MissingField {
            field: "operation_key",
            why: "it makes the message id of a retried operation equal to the first attempt's",
        })?;
        let id = message_id(
            &self.component,
            &self.object,
            &self.verb,
            &self.csi,
            &operation_key,
        );
        Ok(Event {
            schema_version: SCHEMA_VERSION,
            id,
            component: self.component,
            object: self.object,
            verb: self.verb,
            driver: self.driver,
            time: whole_millis(self.time.unwrap_or_else(SystemTime::now)),
            csi: self.csi,
            kubernetes: self.kubernetes,
            size_bytes: self.size_bytes,
            duration_ms: u64::try_from(self.duration.as_millis()).unwrap_or(u64::MAX),
            outcome: self.outcome,
            trace_id: self.trace_id.or_else(telemetry::current_trace_id),
        })
    }
}

fn whole_millis(time: SystemTime) -> SystemTime {
    match time.duration_since(UNIX_EPOCH) {
        Ok(since_epoch) => {
            time - Duration::from_nanos(u64::from(since_epoch.subsec_nanos() % 1_000_000))
        }
        // Before 1970: no such operation; keep it as given.
        Err(_) => time,
    }
}
