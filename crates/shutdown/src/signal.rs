//! The stop request: the first SIGTERM or SIGINT. The handlers are installed when
//! [`requested`] or [`on_request`] is called, not when the future is first polled, so a
//! SIGTERM that arrives in between is not the default action (killing the process without
//! the graceful shutdown: sockets left behind, events not flushed).

use std::future::Future;

use tokio::signal::unix::{SignalKind, signal};
use tokio_util::sync::CancellationToken;

/// Resolves on the first SIGTERM or SIGINT. Call it inside a Tokio runtime.
///
/// If the handlers cannot be installed it logs why and waits for Ctrl-C alone, as the binaries
/// always have: a plugin that serves but only stops by SIGKILL is better than one that does
/// not start.
pub fn requested() -> impl Future<Output = ()> + Send + 'static {
    let watched = signal(SignalKind::terminate())
        .and_then(|term| Ok((term, signal(SignalKind::interrupt())?)));
    async move {
        match watched {
            Ok((mut term, mut int)) => tokio::select! {
                _ = term.recv() => tracing::info!("SIGTERM: shutting down"),
                _ = int.recv() => tracing::info!("SIGINT: shutting down"),
            },
            Err(error) => {
                tracing::warn!(%error, "cannot watch SIGTERM; stopping on Ctrl-C only");
                // An error here too leaves nothing to wait for: stop at once rather than
                // serve with no way to be stopped but SIGKILL.
                let _ = tokio::signal::ctrl_c().await;
                tracing::info!("interrupted: shutting down");
            }
        }
    }
}

/// A token cancelled on the first SIGTERM or SIGINT ([`requested`]), for the binaries whose
/// pieces each watch a token. Call it inside a Tokio runtime.
pub fn on_request() -> CancellationToken {
    let token = CancellationToken::new();
    let stop = requested();
    let cancel = token.clone();
    tokio::spawn(async move {
        stop.await;
        cancel.cancel();
    });
    token
}
