//! The one JetStream stream that holds every Sepia event. The sender creates it when missing
//! and leaves an existing one alone, so an operator's edits (longer `max_age`, replicas) stick.

use async_nats::jetstream::stream::{Config, DiscardPolicy, RetentionPolicy, StorageType};

use crate::config::PublisherConfig;

/// The stream definition for `config`: `sepia.>` on file storage, limits retention (events are
/// a log for many readers, not a work queue), oldest discarded first when a limit is reached,
/// and a duplicate window in which a repeated `Nats-Msg-Id` is stored once.
pub fn stream_config(config: &PublisherConfig) -> Config {
    Config {
        name: config.stream_name.clone(),
        description: Some("Sepia storage events (schema v1 JSON)".to_owned()),
        subjects: vec![config.stream_subjects().to_owned()],
        retention: RetentionPolicy::Limits,
        storage: StorageType::File,
        discard: DiscardPolicy::Old,
        max_age: config.max_age,
        duplicate_window: config.duplicate_window,
        num_replicas: 1,
        ..Config::default()
    }
}
