//! Lifecycle events (`sepia.controller.<object>.<verb>`): what a mutating RPC reports once it
//! has an outcome. Kept apart from the handlers so each RPC only says what it was about; the
//! publisher queues without waiting, so reporting can neither block nor fail the RPC.

use std::time::Duration;

use csi::quote::{QUOTE_LIMIT, quote};
use events::vocabulary::{component, verb};
use events::{Event, Outcome};
use tonic::{Code, Status};
use tracing::warn;

/// What one RPC reports: the object, the verb on success, and the ids known from the request.
/// Secrets are never part of it: only ids, names and sizes.
#[derive(Debug, Clone)]
pub struct Report {
    object: &'static str,
    verb: &'static str,
    key: String,
    volume_id: Option<String>,
    snapshot_id: Option<String>,
    request_name: Option<String>,
    node_id: Option<String>,
    size_bytes: Option<u64>,
}

impl Report {
    /// `key` must be the same for a retry of the same operation (request name, volume id,
    /// target size), so JetStream stores a retried outcome once.
    pub fn new(object: &'static str, verb: &'static str, key: impl Into<String>) -> Self {
        Report {
            object,
            verb,
            key: bounded(key.into()),
            volume_id: None,
            snapshot_id: None,
            request_name: None,
            node_id: None,
            size_bytes: None,
        }
    }

    pub fn volume_id(mut self, id: impl Into<String>) -> Self {
        self.volume_id = Some(bounded(id.into())).filter(|id| !id.is_empty());
        self
    }

    pub fn snapshot_id(mut self, id: impl Into<String>) -> Self {
        self.snapshot_id = Some(bounded(id.into())).filter(|id| !id.is_empty());
        self
    }

    pub fn request_name(mut self, name: impl Into<String>) -> Self {
        self.request_name = Some(bounded(name.into())).filter(|name| !name.is_empty());
        self
    }

    pub fn node_id(mut self, node: impl Into<String>) -> Self {
        self.node_id = Some(bounded(node.into())).filter(|node| !node.is_empty());
        self
    }

    pub fn size_bytes(mut self, size: u64) -> Self {
        self.size_bytes = Some(size);
        self
    }

    /// The event for `outcome`, or `None` when there is nothing final to report: ABORTED means
    /// the operation is still in progress (or must be retried), and its retry reports.
    pub fn event(
        self,
        outcome: std::result::Result<(), &Status>,
        elapsed: Duration,
    ) -> Option<Event> {
        let (verb, outcome) = match outcome {
            Ok(()) => (self.verb, Outcome::ok()),
            Err(status) if status.code() == Code::Aborted => return None,
            Err(status) => (
                verb::FAILED,
                Outcome::error(format!("{:?}", status.code()), status.message()),
            ),
        };
        let mut builder = Event::builder(component::CONTROLLER, self.object, verb)
            .operation_key(self.key)
            .duration(elapsed)
            .outcome(outcome);
        if let Some(id) = self.volume_id {
            builder = builder.volume_id(id);
        }
        if let Some(id) = self.snapshot_id {
            builder = builder.snapshot_id(id);
        }
        if let Some(name) = self.request_name {
            builder = builder.request_name(name);
        }
        if let Some(node) = self.node_id {
            builder = builder.node_id(node);
        }
        if let Some(size) = self.size_bytes {
            builder = builder.size_bytes(size);
        }
        match builder.build() {
            Ok(event) => Some(event),
            Err(error) => {
                warn!(%error, "lifecycle event not built");
                None
            }
        }
    }
}

/// A client's value as an event carries it: as is when CSI allows its size (ids and names of
/// requests that can succeed), else [`quote`]d, so a refused 1 MB id cannot make an event
/// larger than what the event stream takes.
fn bounded(value: String) -> String {
    if value.len() <= QUOTE_LIMIT {
        value
    } else {
        quote(&value).to_string()
    }
}
