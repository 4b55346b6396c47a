//! The crate's single error type. Messages name the endpoint or path and the step that
//! failed; none of them can carry a secret because no request payload ever reaches them.

use std::io;
use std::path::PathBuf;
use std::time::Duration;

/// Failures of endpoint parsing, socket setup and dialing.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The endpoint string is not a unix socket address CSI accepts.
    #[error("invalid CSI endpoint {endpoint:?}: {reason}")]
    InvalidEndpoint {
        /// The endpoint as given.
        endpoint: String,
        /// Which rule it broke.
        reason: &'static str,
    },

    /// Something other than a socket sits where the socket should go. We never delete it:
    /// a mistyped endpoint must not cost someone a file.
    #[error("refusing to replace {path}: it exists and is not a unix socket")]
    NotASocket {
        /// The occupied path.
        path: PathBuf,
    },

    /// A filesystem or socket call failed.
    #[error("{op} {path}: {source}")]
    Io {
        /// The step that failed (e.g. "bind", "chmod").
        op: &'static str,
        /// The path it was applied to.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },

    /// Socket setup was attempted outside a tokio runtime, which cannot register the socket.
    #[error("binding {path} requires a running tokio runtime")]
    NoRuntime {
        /// The socket path.
        path: PathBuf,
    },

    /// Dialing the endpoint failed.
    #[error("connecting to CSI endpoint {endpoint}: {source}")]
    Connect {
        /// The endpoint dialed.
        endpoint: String,
        /// tonic's transport error.
        #[source]
        source: tonic::transport::Error,
    },

    /// Dialing did not complete within the caller's deadline.
    #[error("connecting to CSI endpoint {endpoint} did not complete within {timeout:?}")]
    ConnectTimeout {
        /// The endpoint dialed.
        endpoint: String,
        /// The deadline that expired.
        timeout: Duration,
    },
}
