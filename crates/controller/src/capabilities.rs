//! Which access modes and access types an RBD volume supports, with ceph-csi's rules:
//! - single-node modes (RWO, RWOP, single-node multi-writer) work for filesystem and block;
//! - multi-node writer modes only for raw block (a filesystem mounted on two nodes corrupts;
//!   with block the application coordinates);
//! - reader-only modes only for volumes with a content source (an empty read-only volume is
//!   useless, and ceph-csi maps those read-only everywhere).
//!
//! Filesystems are those the node plugin formats: ext4 (default) and xfs.

use csi::v1::VolumeCapability;
use csi::v1::volume_capability::AccessType as CsiAccessType;
use csi::v1::volume_capability::access_mode::Mode;

use crate::error::{Error, Result};

/// Filesystems the node plugin can make; "" lets it choose (ext4).
pub const FILESYSTEMS: [&str; 3] = ["", "ext4", "xfs"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessType {
    Mount,
    Block,
}

/// One parsed capability.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capability {
    pub access_type: AccessType,
    pub mode: Mode,
    /// Mount only: the requested filesystem ("" = default).
    pub fs_type: String,
}

impl Capability {
    /// Parses a CSI capability; `field` names it in errors (e.g. `volume_capabilities[1]`).
    pub fn parse(cap: &VolumeCapability, field: &str) -> Result<Capability> {
        let (access_type, fs_type) = match &cap.access_type {
            Some(CsiAccessType::Mount(mount)) => (AccessType::Mount, mount.fs_type.clone()),
            Some(CsiAccessType::Block(_)) => (AccessType::Block, String::new()),
            None => {
                return Err(Error::invalid(
                    format!("{field}.access_type"),
                    "must be mount or block",
                ));
            }
        };
        let mode = cap
            .access_mode
            .as_ref()
            .and_then(|m| Mode::try_from(m.mode).ok())
            .filter(|m| *m != Mode::Unknown)
            .ok_or_else(|| {
                Error::invalid(
                    format!("{field}.access_mode"),
                    "must be set to a known mode",
                )
            })?;
        Ok(Capability {
            access_type,
            mode,
            fs_type,
        })
    }

    /// Parses every capability of a request; at least one is required.
    pub fn parse_all(caps: &[VolumeCapability], field: &'static str) -> Result<Vec<Capability>> {
        if caps.is_empty() {
            return Err(Error::Missing { field });
        }
        caps.iter()
            .enumerate()
            .map(|(i, cap)| Capability::parse(cap, &format!("{field}[{i}]")))
            .collect()
    }

    /// Why this capability is not supported for a volume (with or without content source).
    pub fn unsupported(&self, has_content_source: bool) -> Option<String> {
        if self.access_type == AccessType::Mount && !FILESYSTEMS.contains(&self.fs_type.as_str()) {
            return Some(format!(
                "filesystem {} is not supported (ext4 or xfs)",
                csi::quote::quote(&self.fs_type)
            ));
        }
        if is_multi_node_writer(self.mode) && self.access_type != AccessType::Block {
            return Some(format!(
                "access mode {} is only supported for block volumes",
                self.mode.as_str_name()
            ));
        }
        if is_reader_only(self.mode) && !has_content_source {
            return Some(format!(
                "access mode {} needs a volume created from a snapshot or volume",
                self.mode.as_str_name()
            ));
        }
        None
    }
}

/// Refuses the first unsupported capability with INVALID_ARGUMENT.
pub fn check_supported(caps: &[Capability], has_content_source: bool) -> Result<()> {
    for (i, cap) in caps.iter().enumerate() {
        if let Some(rule) = cap.unsupported(has_content_source) {
            return Err(Error::invalid(format!("volume_capabilities[{i}]"), rule));
        }
    }
    Ok(())
}

/// Modes under which at most one node may use the volume.
pub fn is_single_node(mode: Mode) -> bool {
    matches!(
        mode,
        Mode::SingleNodeWriter
            | Mode::SingleNodeReaderOnly
            | Mode::SingleNodeSingleWriter
            | Mode::SingleNodeMultiWriter
    )
}

fn is_multi_node_writer(mode: Mode) -> bool {
    matches!(
        mode,
        Mode::MultiNodeSingleWriter | Mode::MultiNodeMultiWriter
    )
}

fn is_reader_only(mode: Mode) -> bool {
    matches!(mode, Mode::SingleNodeReaderOnly | Mode::MultiNodeReaderOnly)
}

/// Whether any capability asks for raw block (no node-side filesystem expansion then).
pub fn any_block(caps: &[Capability]) -> bool {
    caps.iter().any(|c| c.access_type == AccessType::Block)
}

#[cfg(test)]
mod tests {
    use super::*;
    use csi::v1::volume_capability::{AccessMode, BlockVolume, MountVolume};

    fn cap(block: bool, mode: Mode) -> VolumeCapability {
        VolumeCapability {
            access_type: Some(if block {
                CsiAccessType::Block(BlockVolume {})
            } else {
                CsiAccessType::Mount(MountVolume::default())
            }),
            access_mode: Some(AccessMode { mode: mode as i32 }),
        }
    }

    fn supported(block: bool, mode: Mode, source: bool) -> bool {
        Capability::parse(&cap(block, mode), "c")
            .unwrap()
            .unsupported(source)
            .is_none()
    }

    #[test]
    fn ceph_csi_rules() {
        for mode in [
            Mode::SingleNodeWriter,
            Mode::SingleNodeSingleWriter,
            Mode::SingleNodeMultiWriter,
        ] {
            assert!(supported(false, mode, false));
            assert!(supported(true, mode, false));
        }
        for mode in [Mode::MultiNodeMultiWriter, Mode::MultiNodeSingleWriter] {
            assert!(!supported(false, mode, true));
            assert!(supported(true, mode, false));
        }
        for mode in [Mode::SingleNodeReaderOnly, Mode::MultiNodeReaderOnly] {
            assert!(!supported(false, mode, false));
            assert!(!supported(true, mode, false));
            assert!(supported(false, mode, true));
            assert!(supported(true, mode, true));
        }
    }

    #[test]
    fn missing_parts_name_the_field() {
        let no_mode = VolumeCapability {
            access_type: Some(CsiAccessType::Block(BlockVolume {})),
            access_mode: None,
        };
        let e = Capability::parse(&no_mode, "volume_capabilities[0]").unwrap_err();
        assert!(
            e.to_string().contains("volume_capabilities[0].access_mode"),
            "{e}"
        );
        assert!(matches!(
            Capability::parse_all(&[], "volume_capabilities"),
            Err(Error::Missing { .. })
        ));
    }

    #[test]
    fn unknown_filesystems_are_refused() {
        let mut btrfs = cap(false, Mode::SingleNodeWriter);
        btrfs.access_type = Some(CsiAccessType::Mount(MountVolume {
            fs_type: "btrfs".into(),
            ..Default::default()
        }));
        let c = Capability::parse(&btrfs, "c").unwrap();
        assert!(c.unsupported(false).unwrap().contains("btrfs"));
    }
}
