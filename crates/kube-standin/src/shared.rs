//! What one stand-in shares between the accept loop, connection tasks, handlers, watches and
//! the test-facing handle: the store, faults, the request record, issued tokens, tunables and
//! the pause/shutdown tokens. Its own module, below the server and the handlers, so that a
//! handler or a watch holds it without reaching back up into the server that calls them.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use parking_lot::Mutex;
use tokio_util::sync::CancellationToken;

use crate::access::identity::Tokens;
use crate::faults::Faults;
use crate::request_log::RequestLog;
use crate::store::Store;

/// Tunables of one stand-in.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    /// Changes kept for watches to resume from; older resourceVersions get 410 Gone.
    pub(crate) history_limit: usize,
    /// Upper bound on a watch's life (the client's `timeoutSeconds` is honoured below it).
    pub(crate) max_watch_timeout: Duration,
    /// How often a watch with bookmarks enabled reports its progress.
    pub(crate) bookmark_interval: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            history_limit: 10_000,
            max_watch_timeout: Duration::from_secs(1800),
            bookmark_interval: Duration::from_secs(60),
        }
    }
}

/// State shared by the accept loop, connection tasks, watches and the test-facing handle.
pub(crate) struct Shared {
    pub(crate) store: Mutex<Store>,
    pub(crate) faults: Mutex<Faults>,
    pub(crate) requests: Mutex<RequestLog>,
    /// Bearer tokens issued (the admin's and ServiceAccounts').
    pub(crate) tokens: Mutex<Tokens>,
    pub(crate) config: Config,
    /// `127.0.0.1:port`, for discovery's `serverAddressByClientCIDRs`.
    pub(crate) address: String,
    pub(crate) shutdown: CancellationToken,
    /// Cancelled (and replaced) on pause to cut every open connection.
    pub(crate) connections: Mutex<CancellationToken>,
    pub(crate) paused: AtomicBool,
}

impl Shared {
    pub(crate) fn pause(&self) {
        self.paused.store(true, Ordering::SeqCst);
        let mut current = self.connections.lock();
        current.cancel();
        *current = self.shutdown.child_token();
    }

    pub(crate) fn resume(&self) {
        self.paused.store(false, Ordering::SeqCst);
    }
}
