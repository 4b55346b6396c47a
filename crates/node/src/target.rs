//! Creating and removing mount targets (a directory for a file system, a file for a block
//! device), each as one deadline-bound blocking call.
//!
//! Removal uses `rmdir`/`unlink`, never a recursive delete: if an unmount silently did not
//! happen, the volume's files are under the target, and they must stay there.

use std::path::Path;

use crate::error::NodeError;
use crate::stash::AccessKind;
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

/// Removes the (unmounted) target; a missing one is already removed.
pub async fn remove(path: &Path) -> Result<(), NodeError> {
    let owned = path.to_path_buf();
    let result = syscall::blocking_raw("remove target", path, move || {
        let meta = std::fs::symlink_metadata(&owned)?;
        if meta.is_dir() {
            std::fs::remove_dir(&owned)
        } else {
            std::fs::remove_file(&owned)
        }
    })
    .await?;
    match result {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
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
