//! How a volume is presented (the CSI capability, reduced to what the node acts on) and where
//! it lives under the staging path.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::NodeError;
use crate::filesystem::FsType;

/// How the volume is presented to the pod: the [`Access`] reduced to its kind, as the stage
/// record keeps it and a mount target is made for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AccessKind {
    Mount,
    Block,
}

/// The access type of a capability.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Access {
    /// A file system mounted as a directory.
    Mount { fs_type: FsType, flags: Vec<String> },
    /// The raw device, bind-mounted onto a file.
    Block,
}

impl Access {
    pub fn kind(&self) -> AccessKind {
        match self {
            Access::Mount { .. } => AccessKind::Mount,
            Access::Block => AccessKind::Block,
        }
    }

    pub fn fs_type(&self) -> Option<FsType> {
        match self {
            Access::Mount { fs_type, .. } => Some(*fs_type),
            Access::Block => None,
        }
    }

    pub fn flags(&self) -> &[String] {
        match self {
            Access::Mount { flags, .. } => flags,
            Access::Block => &[],
        }
    }
}

/// `<staging_path>/<volume_id>`: where NodeStage mounts (or binds the device), as ceph-csi
/// does, so kubelet-created staging paths are laid out the same for both drivers. The volume
/// ID becomes a path component, so one that could climb out of the staging path is refused.
pub fn staged_target(staging_path: &Path, volume_id: &str) -> Result<PathBuf, NodeError> {
    check_volume_id(volume_id)?;
    Ok(staging_path.join(volume_id))
}

/// A volume ID must name one directory entry: no '/', NUL, '.' or '..', at most 255 bytes
/// (NAME_MAX). Every RPC checks it first, so nothing later quotes a huge one.
pub fn check_volume_id(volume_id: &str) -> Result<(), NodeError> {
    let rule = if volume_id.len() > 255 {
        "is longer than 255 bytes"
    } else if volume_id.contains('/')
        || volume_id.contains('\0')
        || volume_id == "."
        || volume_id == ".."
    {
        "cannot name a directory (no '/', NUL, '.' or '..')"
    } else {
        return Ok(());
    };
    Err(NodeError::invalid(
        "volume_id",
        format!("{} {rule}", csi::quote::quote(volume_id)),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn staged_target_joins_safe_ids_and_refuses_others() {
        assert_eq!(
            staged_target(Path::new("/s"), "0001-0004-ceph-01").unwrap(),
            PathBuf::from("/s/0001-0004-ceph-01")
        );
        let long = "v".repeat(256);
        for bad in ["..", ".", "a/b", "../x", "a\0b", long.as_str()] {
            assert!(matches!(
                staged_target(Path::new("/s"), bad),
                Err(NodeError::InvalidField {
                    field: "volume_id",
                    ..
                })
            ));
        }
    }
}
