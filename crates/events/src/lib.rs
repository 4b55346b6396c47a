//! Sepia's events: what each component did, published to one NATS JetStream stream so operators
//! and tools can follow volumes, snapshots and attachments without scraping logs.
//!
//! Module map:
//! - [`event`] — the versioned JSON payload ([`Event`], schema v1) and its parts.
//! - [`event_builder`] — [`EventBuilder`], which validates the subject tokens and derives the id.
//! - [`message_id`] — the deterministic message id that makes a retry's duplicate harmless.
//! - [`subject`] — `sepia.<component>.<object>.<verb>` and the token rules.
//! - [`vocabulary`] — the component, object and verb names Sepia uses.
//! - [`config`] — [`PublisherConfig`]: NATS URL, stream settings, outbox size, backoff.
//! - [`publisher`] — [`Publisher`], the cheap handle operations call; never blocks, never fails.
//! - `outbox` — the bounded in-memory queue between `publish` and NATS (drops the oldest).
//! - `sender` — the background task that owns the NATS connection and drains the outbox.
//! - [`stream`] — the JetStream stream definition the sender ensures exists.
//! - `connection` — the NATS client (retrying, reconnecting) both directions use.
//! - [`subscriber`] — [`Subscriber`], a durable per-process consumer handing events over to be
//!   acted on and acked (the sidecars' wake-ups on background work).
//! - [`trace_headers`] — NATS headers as a trace-context carrier, so a consumer's span
//!   continues the publisher's ([`Delivery::continue_trace`]).
//! - [`metrics`] — published / dropped / outbox depth / publish errors, in a caller's registry.
//! - [`error`] — [`EventsError`].
//!
//! Flow: an operation builds an [`Event`] and calls [`Publisher::publish`], which serialises it,
//! captures the current `traceparent` and pushes it into the `outbox`. The `sender` task
//! publishes the head of the outbox with `Nats-Msg-Id` = event id, awaits the PubAck and only
//! then removes it; on failure it keeps it and retries with capped exponential backoff, so order
//! is preserved and NATS being away costs memory (bounded), not operations.

pub mod config;
mod connection;
pub mod error;
pub mod event;
pub mod event_builder;
pub mod message_id;
pub mod metrics;
mod outbox;
pub mod publisher;
mod sender;
pub mod stream;
pub mod subject;
pub mod subscriber;
pub mod trace_headers;
pub mod vocabulary;

pub use config::{Backoff, PublisherConfig};
pub use error::EventsError;
pub use event::{CsiIds, Event, KubernetesRef, Outcome, OutcomeStatus, SCHEMA_VERSION};
pub use event_builder::EventBuilder;
pub use metrics::EventMetrics;
pub use publisher::Publisher;
pub use subject::Subject;
pub use subscriber::{Delivery, Subscriber, SubscriberConfig};
