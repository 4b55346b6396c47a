//! Dialing a CSI driver's unix socket.
//!
//! tonic 0.14 understands `unix:` URIs itself, so this is endpoint validation plus a hard
//! deadline: tonic's connect timeout bounds only the socket connect, not the HTTP/2
//! handshake, and a wedged driver must not hang a sidecar at startup.

use std::time::Duration;

use tonic::transport::{Channel, Endpoint};

use crate::endpoint;
use crate::error::Error;

/// Connects to the CSI endpoint (`unix:///path` or a plain path) and returns a channel for
/// the generated clients, e.g. `csi::v1::identity_client::IdentityClient::new(channel)`.
///
/// The whole connection setup must finish within `connect_timeout`. Per-RPC deadlines are
/// the caller's business (`tonic::Request::set_timeout`).
///
/// # Errors
/// [`Error::InvalidEndpoint`], [`Error::Connect`] if the socket cannot be reached, or
/// [`Error::ConnectTimeout`].
pub async fn connect(endpoint: &str, connect_timeout: Duration) -> Result<Channel, Error> {
    let path = endpoint::socket_path(endpoint)?;
    let path = path.to_str().ok_or_else(|| Error::InvalidEndpoint {
        endpoint: endpoint.to_string(),
        reason: "the socket path is not valid UTF-8",
    })?;
    let connect_err = |source| Error::Connect {
        endpoint: endpoint.to_string(),
        source,
    };
    let target = Endpoint::from_shared(format!("unix:{path}"))
        .map_err(connect_err)?
        .connect_timeout(connect_timeout);
    match tokio::time::timeout(connect_timeout, target.connect()).await {
        Ok(Ok(channel)) => Ok(channel),
        Ok(Err(source)) => Err(connect_err(source)),
        Err(_elapsed) => Err(Error::ConnectTimeout {
            endpoint: endpoint.to_string(),
            timeout: connect_timeout,
        }),
    }
}
