//! The one error type of this crate. Only building an event or a publisher can fail: publishing
//! itself never returns an error to the operation (see [`crate::Publisher::publish`]).

/// Why an event, a subject or a publisher configuration was refused.
#[derive(Debug, thiserror::Error)]
pub enum EventsError {
    /// A subject token (component, object or verb) broke the rule that keeps subjects
    /// addressable: one token per level, no wildcards.
    #[error("event {field} {value:?} is not a valid subject token: {rule}")]
    InvalidSubjectToken {
        field: &'static str,
        value: String,
        rule: &'static str,
    },

    /// A field the message id or the payload needs was not given.
    #[error("event field {field} is required: {why}")]
    MissingField {
        field: &'static str,
        why: &'static str,
    },

    /// A publisher setting is out of range; names the setting and the rule.
    #[error("publisher setting {setting} is invalid: {rule}")]
    InvalidConfig { setting: &'static str, rule: String },

    /// The NATS URL does not parse. The URL itself is not repeated: it may carry credentials.
    #[error("nats_url is invalid: {reason}")]
    InvalidNatsUrl { reason: String },

    /// The publisher's background task needs a Tokio runtime to run on.
    #[error("Publisher::start must be called inside a Tokio runtime")]
    NoTokioRuntime,

    /// [`crate::Publisher::flush`] ran out of time with events still queued.
    #[error("flush timed out with {remaining} event(s) still in the outbox")]
    FlushTimedOut { remaining: usize },

    /// The event could not be encoded as JSON.
    #[error("event {id} cannot be encoded as JSON: {source}")]
    Encode {
        id: String,
        #[source]
        source: serde_json::Error,
    },
}
