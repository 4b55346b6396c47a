//! Removal of a bound socket file when its server stops.
//!
//! A socket file outliving its server makes kubelet and the sidecars dial a dead endpoint
//! (and, for a registration socket, keeps a driver "registered"). The guard remembers which
//! file it bound so it never deletes a socket a newer process has since put at the path.
//! Inode numbers alone cannot tell: filesystems hand a freed inode number straight to the
//! next file, so the identity also includes the change time, last set by our own chmod.

use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

/// Deletes the socket at `path` on drop, if it is still the one we bound.
#[derive(Debug)]
pub struct SocketGuard {
    path: PathBuf,
    identity: Option<FileIdentity>,
}

/// What distinguishes our socket file from a later one at the same path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileIdentity {
    dev: u64,
    ino: u64,
    ctime: i64,
    ctime_nsec: i64,
}

impl FileIdentity {
    fn of_socket(path: &Path) -> Option<Self> {
        let meta = std::fs::symlink_metadata(path).ok()?;
        meta.file_type().is_socket().then(|| Self {
            dev: meta.dev(),
            ino: meta.ino(),
            ctime: meta.ctime(),
            ctime_nsec: meta.ctime_nsec(),
        })
    }
}

impl SocketGuard {
    /// Guards the socket now at `path`. Call after the last change we make to it (chmod),
    /// since that sets the change time the identity relies on.
    pub(crate) fn new(path: PathBuf) -> Self {
        let identity = FileIdentity::of_socket(&path);
        Self { path, identity }
    }

    /// The guarded socket path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for SocketGuard {
    fn drop(&mut self) {
        let still_ours =
            self.identity.is_some() && FileIdentity::of_socket(&self.path) == self.identity;
        if !still_ours {
            return;
        }
        match std::fs::remove_file(&self.path) {
            Ok(()) => tracing::debug!(path = %self.path.display(), "removed socket"),
            Err(e) => {
                tracing::warn!(path = %self.path.display(), error = %e, "could not remove socket")
            }
        }
    }
}
