//! Stage records: what NodeStage mounted where, kept in the plugin's own state directory
//! (`<state-dir>/stages/<digest of the staging path>.json`), never in kubelet's directories.
//!
//! A record is written (atomically: temp file, fsync, rename) *before* anything is mounted
//! and removed last on unstage, so a record without a mount always means "undo this", and a
//! mount without a record is never ours. The calls that get no volume context (NodeUnstage,
//! NodePublish, stats) and a plugin restarted after a crash learn from it which mounts are
//! this plugin's and how they were made. The key is never in it.

use std::io::Write;
use std::path::{Path, PathBuf};

use node::NodeError;
use node::syscall;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::mounter::Mounter;

/// Bumped when a field changes meaning; readers reject versions they do not know.
pub const VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StageRecord {
    pub version: u32,
    pub volume_id: String,
    /// The staging path as resolved (the record's key).
    pub staging_path: PathBuf,
    /// `<staging>/<volume-id>`: where the subvolume is mounted.
    pub mount_point: PathBuf,
    pub cluster_id: String,
    pub fs_name: String,
    pub subvolume_path: String,
    pub mounter: Mounter,
    /// The cephx user (without `client.`), for the operator; the key is never recorded.
    pub user: String,
    #[serde(default)]
    pub read_only: bool,
}

/// The directory of stage records.
#[derive(Debug, Clone)]
pub struct Records {
    dir: PathBuf,
}

impl Records {
    pub fn new(dir: PathBuf) -> Self {
        Self { dir }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The record file of `staging_path`: a digest, so any path maps to one safe file name.
    pub fn path_of(&self, staging_path: &Path) -> PathBuf {
        let digest = Sha256::digest(staging_path.as_os_str().as_encoded_bytes());
        self.dir
            .join(format!("{}.json", &hex::encode(digest)[..40]))
    }

    /// The record of `staging_path`, or `None`. A record of another path that hashed here, or
    /// of an unknown version, or garbage, is [`NodeError::BadStash`].
    pub async fn read(&self, staging_path: &Path) -> Result<Option<StageRecord>, NodeError> {
        let path = self.path_of(staging_path);
        let Some(record) = read_file(&path).await? else {
            return Ok(None);
        };
        if record.staging_path != staging_path {
            return Err(NodeError::BadStash {
                path,
                message: format!(
                    "it records {}, not {}",
                    record.staging_path.display(),
                    staging_path.display()
                ),
            });
        }
        Ok(Some(record))
    }

    /// Writes the record atomically (a reader sees the old or the new one, never half).
    pub async fn write(&self, record: &StageRecord) -> Result<(), NodeError> {
        let path = self.path_of(&record.staging_path);
        let bytes = serde_json::to_vec_pretty(record).map_err(|e| NodeError::BadStash {
            path: path.clone(),
            message: e.to_string(),
        })?;
        let dir = self.dir.clone();
        syscall::create_private_dir(&dir).await?;
        syscall::blocking("write stage record", &path.clone(), move || {
            let mut tmp = tempfile::NamedTempFile::new_in(&dir)?;
            tmp.write_all(&bytes)?;
            tmp.as_file().sync_all()?;
            tmp.persist(&path).map_err(|e| e.error)?;
            std::fs::File::open(&dir)?.sync_all()
        })
        .await
    }

    /// Removes the record of `staging_path`; a missing one is already removed.
    pub async fn remove(&self, staging_path: &Path) -> Result<(), NodeError> {
        let path = self.path_of(staging_path);
        let owned = path.clone();
        match syscall::blocking_raw("remove stage record", &path, move || {
            std::fs::remove_file(owned)
        })
        .await?
        {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(NodeError::io("remove stage record", &path, &e)),
        }
    }

    /// Every readable record of `volume_id` (one per staging path it is staged at). Unreadable
    /// files are logged and skipped: they prove nothing is ours.
    pub async fn of_volume(&self, volume_id: &str) -> Result<Vec<StageRecord>, NodeError> {
        let dir = self.dir.clone();
        let paths = syscall::blocking("list stage records in", &self.dir, move || {
            let entries = match std::fs::read_dir(&dir) {
                Ok(entries) => entries,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
                Err(e) => return Err(e),
            };
            let mut paths = Vec::new();
            for entry in entries {
                let path = entry?.path();
                if path.extension().is_some_and(|e| e == "json") {
                    paths.push(path);
                }
            }
            Ok(paths)
        })
        .await?;
        let mut found = Vec::new();
        for path in paths {
            match read_file(&path).await {
                Ok(Some(record)) if record.volume_id == volume_id => {
                    // Only a record filed under its own staging path counts.
                    if self.path_of(&record.staging_path) == path {
                        found.push(record);
                    }
                }
                Ok(_) => {}
                Err(error) => tracing::warn!(%error, "skipping an unreadable stage record"),
            }
        }
        Ok(found)
    }
}

async fn read_file(path: &Path) -> Result<Option<StageRecord>, NodeError> {
    let owned = path.to_path_buf();
    let bytes = match syscall::blocking_raw("read stage record", path, move || std::fs::read(owned))
        .await?
    {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(NodeError::io("read stage record", path, &e)),
    };
    let bad = |message: String| NodeError::BadStash {
        path: path.to_path_buf(),
        message,
    };
    let record: StageRecord = serde_json::from_slice(&bytes).map_err(|e| bad(e.to_string()))?;
    if record.version != VERSION {
        return Err(bad(format!("version {} is not {VERSION}", record.version)));
    }
    // The plugin only ever mounts at `<staging>/<volume-id>`: a record naming any other
    // place is not one it wrote, and teardown must never unmount what it names.
    if node::access::staged_target(&record.staging_path, &record.volume_id).ok()
        != Some(record.mount_point.clone())
    {
        return Err(bad(format!(
            "mount point {} is not <staging path>/<volume id>",
            record.mount_point.display()
        )));
    }
    Ok(Some(record))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn sample(staging: &Path, volume_id: &str) -> StageRecord {
        StageRecord {
            version: VERSION,
            volume_id: volume_id.into(),
            staging_path: staging.to_path_buf(),
            mount_point: staging.join(volume_id),
            cluster_id: "c".into(),
            fs_name: "cephfs".into(),
            subvolume_path: "/volumes/csi/csi-vol-1/uuid".into(),
            mounter: Mounter::Fuse,
            user: "csi-cephfs-node".into(),
            read_only: false,
        }
    }

    #[tokio::test]
    async fn records_round_trip_and_are_found_by_volume() {
        let dir = tempfile::tempdir().unwrap();
        let records = Records::new(dir.path().join("stages"));
        let a = Path::new("/k/plugins/x/globalmount-a");
        let b = Path::new("/k/plugins/x/globalmount-b");
        assert_eq!(records.read(a).await.unwrap(), None);
        assert!(records.of_volume("v1").await.unwrap().is_empty());
        records.write(&sample(a, "v1")).await.unwrap();
        records.write(&sample(b, "v2")).await.unwrap();
        assert_eq!(records.read(a).await.unwrap(), Some(sample(a, "v1")));
        assert_eq!(
            records.of_volume("v1").await.unwrap(),
            vec![sample(a, "v1")]
        );
        let text = std::fs::read_to_string(records.path_of(a)).unwrap();
        assert!(text.contains("\"mounter\": \"fuse\""), "{text}");
        // A record copied under another path's name proves nothing.
        std::fs::copy(records.path_of(a), records.path_of(b)).unwrap();
        assert!(matches!(
            records.read(b).await,
            Err(NodeError::BadStash { .. })
        ));
        assert_eq!(records.of_volume("v1").await.unwrap().len(), 1);
        records.remove(a).await.unwrap();
        records.remove(a).await.unwrap();
        assert_eq!(records.read(a).await.unwrap(), None);
    }
}
