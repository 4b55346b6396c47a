//! The NATS JetStream publisher from `--nats-url`: events wait in `sepia-events`' bounded
//! outbox while NATS is away, so neither an absent server nor a slow one can block or fail an
//! operation. Without a URL, events are only logged.

use events::{Publisher, PublisherConfig};
use telemetry::prometheus_client::registry::Registry;

use crate::error::SidecarError;

/// Starts the publisher for `component` (e.g. `sepia-provisioner`).
///
/// # Errors
/// An unparsable URL; an unreachable server is not an error.
pub fn start_publisher(
    nats_url: Option<&str>,
    component: &str,
    registry: &mut Registry,
) -> Result<Publisher, SidecarError> {
    match nats_url.filter(|url| !url.trim().is_empty()) {
        None => Ok(Publisher::disabled()),
        Some(url) => {
            let mut config = PublisherConfig::new(url);
            config.client_name = Some(component.to_owned());
            Ok(Publisher::start(config, registry)?)
        }
    }
}
