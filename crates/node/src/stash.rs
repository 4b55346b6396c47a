//! The stage transaction record: what NodeStage mapped and how, for the calls that get no
//! volume context (NodeUnstage, NodeExpand, stats) and for undoing a stage a crash cut short.
//!
//! Like ceph-csi's `image-meta.json` it lives in the staging target path, beside the
//! `<staging>/<volume-id>` mount, and it is written (atomically: temp file, fsync, rename)
//! *before* the image is mapped, then again once the device is known. A stash without a mount
//! therefore always means "undo this", never "lost track of a mapping".
//!
//! ceph-csi's record has the same name and place; [`read`] tells the two apart and hands
//! ceph-csi's over as it is ([`crate::stash::ceph_csi`]), for [`crate::ownership`] to read
//! against the node. Only Sepia's own format is ever written. It lives here because it is only
//! ever read in place of Sepia's own record.

pub mod ceph_csi;

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::access::AccessKind;
use crate::error::NodeError;
use crate::filesystem::FsType;
use crate::mapper::{ImageSpec, Mapping};
use crate::mapper_kind::MapperKind;
use crate::syscall;
use ceph_csi::CephCsiStash;

pub const FILE_NAME: &str = "image-meta.json";
/// Bumped when a field changes meaning; readers reject versions they do not know.
pub const VERSION: u32 = 1;

/// Who wrote a stage record.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Origin {
    #[default]
    Sepia,
    /// ceph-csi staged the volume; its record was read as this one.
    CephCsi,
}

/// A stage record file as found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    Sepia(Stash),
    CephCsi(CephCsiStash),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Stash {
    pub version: u32,
    pub volume_id: String,
    /// The volume context's clusterID: which monitors a re-attach after a restart connects to
    /// (absent from records written before it was kept; the volume ID names it too).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_id: Option<String>,
    pub pool: String,
    pub rados_namespace: String,
    pub image: String,
    pub mapper: MapperKind,
    /// The mapped device, once known (`/dev/rbd0`, `/dev/nbd1`, `/dev/loop3`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
    /// rbd-fuse mount directory of the `fuse` mapper.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fuse_mount_dir: Option<PathBuf>,
    pub access_type: AccessKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fs_type: Option<FsType>,
    #[serde(default)]
    pub read_only: bool,
    /// The volume context's `unmapOptions` for this mapper (checked), for NodeUnstage, which
    /// gets no volume context.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unmap_options: Vec<String>,
    /// The volume context's `mapOptions` for this mapper (checked), for a re-attach after a
    /// restart, which gets no volume context either.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub map_options: Vec<String>,
    /// Not in the file: Sepia's records are Sepia's, ceph-csi's are read into this type.
    #[serde(skip)]
    pub origin: Origin,
}

impl Stash {
    pub fn image_spec(&self) -> ImageSpec {
        ImageSpec {
            pool: self.pool.clone(),
            namespace: self.rados_namespace.clone(),
            image: self.image.clone(),
        }
    }

    /// What the mapper needs to unmap or refresh what this stash records.
    pub fn mapping(&self) -> Mapping {
        Mapping {
            image: self.image_spec(),
            device: self.device.clone(),
            fuse_mount_dir: self.fuse_mount_dir.clone(),
            unmap_options: self.unmap_options.clone(),
        }
    }
}

/// `<staging_path>/image-meta.json`.
pub fn path(staging_path: &Path) -> PathBuf {
    staging_path.join(FILE_NAME)
}

/// Writes the stash atomically (a reader sees the old or the new record, never half of one).
pub async fn write(path: &Path, stash: &Stash) -> Result<(), NodeError> {
    let bytes = serde_json::to_vec_pretty(stash).map_err(|e| NodeError::BadStash {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    let owned = path.to_path_buf();
    syscall::blocking("write stash", path, move || {
        let dir = owned.parent().unwrap_or(Path::new("/"));
        std::fs::create_dir_all(dir)?;
        let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
        tmp.write_all(&bytes)?;
        tmp.as_file().sync_all()?;
        tmp.persist(&owned).map_err(|e| e.error)?;
        std::fs::File::open(dir)?.sync_all()?;
        Ok(())
    })
    .await
}

/// The record at `path`, Sepia's or ceph-csi's, or `None` when there is none.
pub async fn read(path: &Path) -> Result<Option<Record>, NodeError> {
    let owned = path.to_path_buf();
    let bytes =
        match syscall::blocking_raw("read stash", path, move || std::fs::read(owned)).await? {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(NodeError::io("read stash", path, &e)),
        };
    let bad = |message: String| NodeError::BadStash {
        path: path.to_path_buf(),
        message,
    };
    let value: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|e| bad(e.to_string()))?;
    if ceph_csi::is_ceph_csi(&value) {
        let record = serde_json::from_value(value).map_err(|e| bad(format!("ceph-csi's: {e}")))?;
        return Ok(Some(Record::CephCsi(record)));
    }
    let stash: Stash = serde_json::from_value(value).map_err(|e| bad(e.to_string()))?;
    if stash.version != VERSION {
        return Err(bad(format!("version {} is not {VERSION}", stash.version)));
    }
    Ok(Some(Record::Sepia(stash)))
}

/// Removes the stash; a missing one is already removed.
pub async fn remove(path: &Path) -> Result<(), NodeError> {
    let owned = path.to_path_buf();
    match syscall::blocking_raw("remove stash", path, move || std::fs::remove_file(owned)).await? {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(NodeError::io("remove stash", path, &e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Stash {
        Stash {
            version: VERSION,
            volume_id: "0001-0004-ceph-0000000000000001-abc".into(),
            cluster_id: Some("ceph".into()),
            pool: "rbd".into(),
            rados_namespace: "ns".into(),
            image: "csi-vol-abc".into(),
            mapper: MapperKind::Fuse,
            device: Some("/dev/loop3".into()),
            fuse_mount_dir: Some("/var/lib/sepia-node/fuse/x".into()),
            access_type: AccessKind::Mount,
            fs_type: Some(FsType::Xfs),
            read_only: false,
            unmap_options: vec!["force".into()],
            map_options: Vec::new(),
            origin: Origin::Sepia,
        }
    }

    #[tokio::test]
    async fn written_stash_reads_back_and_remove_is_idempotent() {
        let dir = tempfile::tempdir().unwrap();
        let path = path(dir.path());
        assert_eq!(read(&path).await.unwrap(), None);
        write(&path, &sample()).await.unwrap();
        assert_eq!(read(&path).await.unwrap(), Some(Record::Sepia(sample())));
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("\"radosNamespace\": \"ns\""), "{text}");
        assert!(text.contains("\"mapper\": \"fuse\""), "{text}");
        assert!(text.contains("\"fsType\": \"xfs\""), "{text}");
        remove(&path).await.unwrap();
        remove(&path).await.unwrap();
        assert_eq!(read(&path).await.unwrap(), None);
        // No temp file was left beside it.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[tokio::test]
    async fn an_unknown_version_or_garbage_is_a_bad_stash() {
        let dir = tempfile::tempdir().unwrap();
        let path = path(dir.path());
        std::fs::write(&path, "{not json").unwrap();
        assert!(matches!(read(&path).await, Err(NodeError::BadStash { .. })));
        let mut future = serde_json::to_value(sample()).unwrap();
        future["version"] = 99.into();
        std::fs::write(&path, future.to_string()).unwrap();
        assert!(matches!(read(&path).await, Err(NodeError::BadStash { .. })));
        // ceph-csi's record without its required fields.
        std::fs::write(&path, r#"{"Version":3,"pool":"rbd"}"#).unwrap();
        assert!(matches!(read(&path).await, Err(NodeError::BadStash { .. })));
    }

    #[tokio::test]
    async fn ceph_csis_record_is_told_apart_and_read_as_it_is() {
        let dir = tempfile::tempdir().unwrap();
        let path = path(dir.path());
        let text = r#"{"Version":3,"pool":"rbd","radosNamespace":"","image":"csi-vol-1","unmapOptions":"","accessType":true,"encrypted":false,"device":"/dev/nbd0","logDir":"","logFileStrategy":""}"#;
        std::fs::write(&path, text).unwrap();
        match read(&path).await.unwrap() {
            Some(Record::CephCsi(record)) => {
                assert!(record.nbd);
                assert_eq!(record.device, "/dev/nbd0");
            }
            other => panic!("{other:?}"),
        }
    }
}
