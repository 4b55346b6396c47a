//! cephx keys in memory and on disk.
//!
//! A key reaches a child process only through a key file: 0600, inside a fresh 0700 directory,
//! removed as soon as the child has connected (when the [`KeyFile`] is dropped). Argument lists
//! are visible to every process on the node; files in a private directory are not.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

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

/// A key on disk for one child process; deleted (with its directory) on drop.
#[derive(Debug)]
pub struct KeyFile {
    dir: tempfile::TempDir,
    path: PathBuf,
}

impl KeyFile {
    /// Writes `key` to `<parent>/<random>/key`. `parent` should be node-private (the state
    /// directory), never a shared temp directory.
    pub async fn create(parent: &Path, key: &Secret) -> Result<Self, NodeError> {
        let parent_owned = parent.to_path_buf();
        let key = key.clone();
        syscall::blocking("write key file in", parent, move || {
            std::fs::create_dir_all(&parent_owned)?;
            let dir = tempfile::Builder::new()
                .prefix("key-")
                .permissions(std::fs::Permissions::from_mode(0o700))
                .tempdir_in(&parent_owned)?;
            let path = dir.path().join("key");
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&path)?;
            file.write_all(key.expose().as_bytes())?;
            file.sync_all()?;
            Ok(KeyFile { dir, path })
        })
        .await
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The directory holding the key (for tests checking it is gone).
    pub fn dir(&self) -> &Path {
        self.dir.path()
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
        let key = KeyFile::create(parent.path(), &Secret::new("AQBkey=="))
            .await
            .unwrap();
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
    }
}
