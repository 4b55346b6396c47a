//! Serving gRPC on a CSI unix socket.
//!
//! ```no_run
//! # async fn run(identity: impl csi::v1::identity_server::Identity) -> Result<(), Box<dyn std::error::Error>> {
//! let incoming = csi::server::bind("unix:///csi/csi.sock").await?;
//! tonic::transport::Server::builder()
//!     .add_service(csi::v1::identity_server::IdentityServer::new(identity))
//!     .serve_with_incoming_shutdown(incoming, async {
//!         let _ = tokio::signal::ctrl_c().await;
//!     })
//!     .await?;
//! // The socket file is gone once `serve_with_incoming_shutdown` returns.
//! # Ok(()) }
//! ```

use std::io;
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::net::UnixStream;
use tokio_stream::Stream;
use tokio_stream::wrappers::UnixListenerStream;

use crate::endpoint;
use crate::error::Error;
use crate::socket_guard::SocketGuard;

/// Socket permissions unless the caller asks otherwise: the owner and its group (the
/// sidecars / kubelet) may connect, nobody else.
pub const DEFAULT_SOCKET_MODE: u32 = 0o660;

/// Mode for socket directories we have to create: group members must be able to traverse
/// to reach a 0660 socket, others not.
const SOCKET_DIR_MODE: u32 = 0o750;

/// Accepted connections on a bound CSI socket, ready for
/// `Server::serve_with_incoming_shutdown`. Dropping it (which tonic does when serving ends)
/// removes the socket file.
#[derive(Debug)]
pub struct UnixIncoming {
    listener: UnixListenerStream,
    guard: SocketGuard,
}

impl UnixIncoming {
    /// The socket's filesystem path.
    pub fn path(&self) -> &Path {
        self.guard.path()
    }

    /// Splits off the removal guard, for callers that drive the listener themselves and
    /// want to choose when the file goes away.
    pub fn into_parts(self) -> (UnixListenerStream, SocketGuard) {
        (self.listener, self.guard)
    }
}

impl Stream for UnixIncoming {
    type Item = io::Result<UnixStream>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        Pin::new(&mut self.get_mut().listener).poll_next(cx)
    }
}

/// Binds `endpoint` with [`DEFAULT_SOCKET_MODE`]. See [`bind_with_mode`].
///
/// # Errors
/// As [`bind_with_mode`].
pub async fn bind(endpoint: &str) -> Result<UnixIncoming, Error> {
    bind_with_mode(endpoint, DEFAULT_SOCKET_MODE).await
}

/// Binds the unix socket named by `endpoint` (`unix:///path` or a plain path) and sets its
/// permission bits to `mode`.
///
/// Creates a missing parent directory (mode 0750). A socket file left by an earlier run is
/// replaced; any other file at the path is left alone and reported, because deleting a
/// regular file because of a mistyped flag is worse than failing to start. Async only
/// because the listener must be registered with the running tokio runtime.
///
/// Between `bind(2)` and `chmod(2)` the socket briefly has umask-derived permissions; put
/// it in a directory that only trusted users can enter if that matters.
///
/// # Errors
/// [`Error::InvalidEndpoint`], [`Error::NotASocket`], [`Error::NoRuntime`], or
/// [`Error::Io`] naming the step (mkdir, stat, remove stale socket, bind, chmod).
pub async fn bind_with_mode(endpoint: &str, mode: u32) -> Result<UnixIncoming, Error> {
    let path = endpoint::socket_path(endpoint)?;
    if tokio::runtime::Handle::try_current().is_err() {
        return Err(Error::NoRuntime { path });
    }
    create_parent_dir(&path)?;
    remove_stale_socket(&path)?;

    let listener = std::os::unix::net::UnixListener::bind(&path).map_err(io_err("bind", &path))?;
    if let Err(e) = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)) {
        // Do not leave a socket with the wrong permissions behind.
        let _ = std::fs::remove_file(&path);
        return Err(io_err("chmod", &path)(e));
    }
    // From here on the guard removes the file again, also if a later step fails.
    let guard = SocketGuard::new(path.clone());
    listener
        .set_nonblocking(true)
        .map_err(io_err("set non-blocking", &path))?;
    let listener = tokio::net::UnixListener::from_std(listener)
        .map_err(io_err("register with tokio", &path))?;

    tracing::info!(path = %path.display(), mode = format_args!("{mode:o}"), "listening on unix socket");
    Ok(UnixIncoming {
        listener: UnixListenerStream::new(listener),
        guard,
    })
}

fn create_parent_dir(path: &Path) -> Result<(), Error> {
    let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) else {
        return Ok(());
    };
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(SOCKET_DIR_MODE)
        .create(parent)
        .map_err(io_err("create socket directory", parent))
}

fn remove_stale_socket(path: &Path) -> Result<(), Error> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_socket() => match std::fs::remove_file(path) {
            Ok(()) => {
                tracing::info!(path = %path.display(), "removed stale socket");
                Ok(())
            }
            // Someone else removed it in the meantime: the path is free either way.
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_err("remove stale socket", path)(e)),
        },
        Ok(_) => Err(Error::NotASocket {
            path: path.to_path_buf(),
        }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io_err("stat", path)(e)),
    }
}

fn io_err(op: &'static str, path: &Path) -> impl FnOnce(io::Error) -> Error {
    let path: PathBuf = path.to_path_buf();
    move |source| Error::Io { op, path, source }
}
