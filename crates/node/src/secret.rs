//! cephx keys in memory and on disk.
//!
//! A key reaches a child process only through a key file: 0600, inside a fresh 0700 directory,
//! removed as soon as the child has connected (when the [`KeyFile`] is dropped). Argument lists
//! are visible to every process on the node; files in a private directory are not. What a
//! killed plugin left behind is swept ([`KeyDir::sweep`]).

use std::collections::HashSet;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::Mutex;

use crate::error::NodeError;
use crate::syscall;

/// A secret string whose `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The value itself: only for writing a key file or scrubbing output.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Who the node talks to Ceph as, for one request.
#[derive(Debug, Clone)]
pub struct CephAccess {
    /// Comma-separated monitor list (from the cluster config).
    pub monitors: String,
    /// cephx user without `client.`.
    pub user: String,
    pub key: Secret,
}

/// The node-private directory key files are written to, and which of them are in use.
///
/// A key file lives only while a child is connecting with it. A plugin killed in that window
/// leaves the file behind (0600, but on disk for good), so the directory is swept at start-up
/// and whenever a stage ends: everything in it that no live [`KeyFile`] holds goes.
#[derive(Debug, Clone)]
pub struct KeyDir {
    dir: PathBuf,
    live: Arc<Mutex<HashSet<PathBuf>>>,
}

impl KeyDir {
    /// `dir` should be node-private (under the state directory), never a shared temp directory.
    pub fn new(dir: PathBuf) -> Self {
        Self {
            dir,
            live: Arc::default(),
        }
    }

    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// Writes `key` to `<dir>/key-<random>/key`, for one child.
    pub async fn write(&self, key: &Secret) -> Result<KeyFile, NodeError> {
        let parent = self.dir.clone();
        let key = key.clone();
        let live = self.live.clone();
        syscall::blocking("write key file in", &self.dir, move || {
            std::fs::create_dir_all(&parent)?;
            let dir = tempfile::Builder::new()
                .prefix("key-")
                .permissions(std::fs::Permissions::from_mode(0o700))
                .tempdir_in(&parent)?;
            // Live before the key is written, so a sweep running meanwhile leaves it alone.
            live.lock().insert(dir.path().to_path_buf());
            let key_file = KeyFile {
                path: dir.path().join("key"),
                dir: Some(dir),
                live,
            };
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&key_file.path)?;
            file.write_all(key.expose().as_bytes())?;
            file.sync_all()?;
            Ok(key_file)
        })
        .await
    }

    /// Removes every entry of the directory that no live [`KeyFile`] holds; returns how many.
    pub async fn sweep(&self) -> Result<usize, NodeError> {
        let dir = self.dir.clone();
        let live = self.live.clone();
        syscall::blocking("sweep key files in", &self.dir, move || {
            let entries = match std::fs::read_dir(&dir) {
                Ok(entries) => entries,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
                Err(e) => return Err(e),
            };
            let mut removed = 0;
            for entry in entries {
                let path = entry?.path();
                if live.lock().contains(&path) {
                    continue;
                }
                let result = if std::fs::symlink_metadata(&path)?.is_dir() {
                    std::fs::remove_dir_all(&path)
                } else {
                    std::fs::remove_file(&path)
                };
                match result {
                    Ok(()) => removed += 1,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(e),
                }
            }
            Ok(removed)
        })
        .await
    }
}

/// A key on disk for one child process; deleted (with its directory) on drop.
#[derive(Debug)]
pub struct KeyFile {
    /// `Some` until dropped: the directory goes before the entry in `live` does.
    dir: Option<tempfile::TempDir>,
    path: PathBuf,
    live: Arc<Mutex<HashSet<PathBuf>>>,
}

impl KeyFile {
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The directory holding the key (for tests checking it is gone).
    pub fn dir(&self) -> &Path {
        self.path.parent().unwrap_or(&self.path)
    }
}

impl Drop for KeyFile {
    fn drop(&mut self) {
        if let Some(dir) = self.dir.take() {
            let path = dir.path().to_path_buf();
            drop(dir);
            self.live.lock().remove(&path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_secret() {
        let s = Secret::new("AQBtopsecret==");
        assert_eq!(format!("{s:?}"), "<redacted>");
        let access = CephAccess {
            monitors: "m".into(),
            user: "u".into(),
            key: s,
        };
        assert!(!format!("{access:?}").contains("topsecret"));
    }

    #[tokio::test]
    async fn key_file_is_private_and_removed_on_drop() {
        let parent = tempfile::tempdir().unwrap();
        let keys = KeyDir::new(parent.path().join("keys"));
        let key = keys.write(&Secret::new("AQBkey==")).await.unwrap();
        let path = key.path().to_path_buf();
        let dir = key.dir().to_path_buf();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "AQBkey==");
        let file_mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        let dir_mode = std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
        assert_eq!(file_mode, 0o600);
        assert_eq!(dir_mode, 0o700);
        drop(key);
        assert!(!path.exists());
        assert!(!dir.exists());
        assert!(keys.live.lock().is_empty());
    }

    #[tokio::test]
    async fn a_sweep_removes_what_no_live_key_holds() {
        let parent = tempfile::tempdir().unwrap();
        let keys = KeyDir::new(parent.path().join("keys"));
        assert_eq!(
            keys.sweep().await.unwrap(),
            0,
            "a missing directory is clean"
        );
        // What a plugin killed mid-stage leaves: a key directory with its key, and a stray file.
        let stale = keys.path().join("key-stale");
        std::fs::create_dir_all(&stale).unwrap();
        std::fs::write(stale.join("key"), "AQBold==").unwrap();
        std::fs::write(keys.path().join("key-file"), "AQBold==").unwrap();
        let live = keys.write(&Secret::new("AQBlive==")).await.unwrap();

        assert_eq!(keys.sweep().await.unwrap(), 2);
        assert!(!stale.exists());
        assert!(!keys.path().join("key-file").exists());
        assert_eq!(std::fs::read_to_string(live.path()).unwrap(), "AQBlive==");
        let left: Vec<_> = std::fs::read_dir(keys.path()).unwrap().collect();
        assert_eq!(left.len(), 1);
    }
}
