//! Creating and removing mount targets (a directory for a file system, a file for a block
//! device), each as one deadline-bound blocking call.
//!
//! Removal uses `rmdir`/`unlink` of an empty file, never a recursive delete: if an unmount
//! silently did not happen, the volume's files are under the target, and they must stay
//! there; a file with data in it is not a target this plugin made.

use std::path::Path;

use crate::access::AccessKind;
use crate::error::NodeError;
use crate::syscall;

/// Creates the target for `kind` (and its parents); an existing one of the right kind is fine.
pub async fn create(path: &Path, kind: AccessKind) -> Result<(), NodeError> {
    let owned = path.to_path_buf();
    syscall::blocking("create target", path, move || match kind {
        AccessKind::Mount => std::fs::create_dir_all(&owned),
        AccessKind::Block => {
            if let Some(parent) = owned.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(false)
                .open(&owned)
                .map(drop)
        }
    })
    .await
}

/// What [`remove`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Removal {
    /// Removed, or not there in the first place.
    Gone,
    /// Left alone: a directory with entries or a file with data is not an empty target this
    /// plugin made (its own are empty once unmounted).
    NotEmpty,
}

/// Removes the (unmounted) target if it is an empty directory or an empty file; a missing
/// one is already removed.
pub async fn remove(path: &Path) -> Result<Removal, NodeError> {
    let owned = path.to_path_buf();
    let result = syscall::blocking_raw("remove target", path, move || {
        let meta = std::fs::symlink_metadata(&owned)?;
        if meta.is_dir() {
            match std::fs::remove_dir(&owned) {
                Err(e) if e.kind() == std::io::ErrorKind::DirectoryNotEmpty => {
                    Ok(Removal::NotEmpty)
                }
                other => other.map(|()| Removal::Gone),
            }
        } else if meta.is_file() && meta.len() == 0 {
            std::fs::remove_file(&owned).map(|()| Removal::Gone)
        } else {
            Ok(Removal::NotEmpty)
        }
    })
    .await?;
    match result {
        Ok(removal) => Ok(removal),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Removal::Gone),
        Err(e) => Err(NodeError::io("remove target", path, &e)),
    }
}

/// Whether anything exists at `path` (without following a final symlink).
pub async fn exists(path: &Path) -> Result<bool, NodeError> {
    let owned = path.to_path_buf();
    match syscall::blocking_raw("stat", path, move || std::fs::symlink_metadata(owned)).await? {
        Ok(_) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        // ENOTCONN and friends: something is there, just not healthy.
        Err(_) => Ok(true),
    }
}
