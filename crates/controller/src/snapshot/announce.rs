//! Announces the end of a snapshot's background preparation
//! (`sepia.controller.snapshot.prepared` / `.preparation-failed`), so a sidecar waiting on it
//! — a claim restoring from the snapshot — is requeued at once instead of after its backoff.
//! The publisher queues without waiting: announcing can neither block nor fail the work.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use events::vocabulary::{component, object, verb};
use events::{Event, KubernetesRef, Outcome};
use journal::Entry;
use tracing::warn;

use crate::error::Error;
use crate::params::SnapshotTags;
use crate::pool::cluster::Pool;
use crate::pool::lookup;
use crate::state::State;
use crate::status;

/// The Kubernetes kind the snapshot tags name (`--extra-create-metadata`).
const VOLUME_SNAPSHOT: &str = "VolumeSnapshot";

/// The outcome of a preparation that failed with `error`.
pub fn failed(error: &Error) -> Outcome {
    Outcome::error(format!("{:?}", status::code(error)), error.to_string())
}

/// Publishes how the preparation of `entry` ended. `tags` name the VolumeSnapshot when the
/// snapshotter passed them; without them the event carries only the CSI ids.
pub fn preparation_ended(
    state: &State,
    pool: &Pool,
    entry: &Entry,
    tags: &SnapshotTags,
    outcome: Outcome,
    elapsed: Duration,
) {
    if let Some(event) = preparation_event(
        &state.settings.driver_name,
        pool,
        entry,
        tags,
        outcome,
        elapsed,
    ) {
        state.settings.events.publish(&event);
    }
}

fn preparation_event(
    driver: &str,
    pool: &Pool,
    entry: &Entry,
    tags: &SnapshotTags,
    outcome: Outcome,
    elapsed: Duration,
) -> Option<Event> {
    let snapshot_id = match lookup::volume_id(&pool.cluster, &entry.location) {
        Ok(id) => id,
        Err(error) => {
            warn!(%error, "preparation event not built: no snapshot id");
            return None;
        }
    };
    let (verb, key) = if outcome.is_ok() {
        // A snapshot is prepared once: a repeat (resume pass, retry) is the same event.
        (verb::PREPARED, "prepare".to_owned())
    } else {
        // Each failure is its own event: a later attempt may fail differently.
        (
            verb::PREPARATION_FAILED,
            format!("prepare-failed/{}", now_millis()),
        )
    };
    let mut builder = Event::builder(component::CONTROLLER, object::SNAPSHOT, verb)
        .operation_key(key)
        .driver(driver)
        .snapshot_id(snapshot_id)
        .request_name(entry.request_name.clone())
        .duration(elapsed)
        .outcome(outcome);
    if let Some(name) = &tags.name {
        builder = builder.kubernetes(KubernetesRef {
            kind: VOLUME_SNAPSHOT.to_owned(),
            namespace: tags.namespace.clone(),
            name: name.clone(),
            uid: None,
        });
    }
    match builder.build() {
        Ok(event) => Some(event),
        Err(error) => {
            warn!(%error, "preparation event not built");
            None
        }
    }
}

fn now_millis() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_millis())
}
