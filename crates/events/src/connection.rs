//! The NATS client both halves of this crate use (the publisher's sender and the subscriber):
//! it retries the initial connect, so a NATS that is down at start-up delays events instead of
//! failing the component, and reconnects on its own afterwards with the configured backoff.

use async_nats::ServerAddr;

use crate::config::PublisherConfig;

/// A client for `config`; `role` says in the connection log lines what waits while NATS is
/// away ("events wait in the outbox", "wake-ups fall back to backoff").
pub(crate) async fn client(
    config: &PublisherConfig,
    addrs: &[ServerAddr],
    role: &'static str,
) -> Result<async_nats::Client, async_nats::ConnectError> {
    let backoff = config.backoff;
    let mut options = async_nats::ConnectOptions::new()
        .retry_on_initial_connect()
        .connection_timeout(config.publish_timeout)
        .reconnect_delay_callback(move |attempts| {
            backoff.delay(u32::try_from(attempts).unwrap_or(u32::MAX))
        })
        .event_callback(move |event| async move {
            match event {
                async_nats::Event::Connected => tracing::info!(role, "connected to NATS"),
                async_nats::Event::Disconnected => {
                    tracing::warn!(role, "disconnected from NATS")
                }
                other => tracing::debug!(event = %other, "NATS connection event"),
            }
        });
    if let Some(name) = &config.client_name {
        options = options.name(name);
    }
    options.connect(addrs).await
}
