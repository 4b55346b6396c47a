//! The CSI VolumeCapability reduced to what the node acts on, with the spec's rules about
//! which access modes this plugin serves.

use csi::v1::VolumeCapability;
use csi::v1::volume_capability::AccessType;
use csi::v1::volume_capability::access_mode::Mode;

use crate::access::Access;
use crate::error::NodeError;
use crate::filesystem::FsType;

#[derive(Debug)]
pub(crate) struct Capability {
    pub access: Access,
    /// A reader-only access mode: map and mount read-only.
    pub read_only: bool,
}

pub(crate) fn parse(capability: Option<&VolumeCapability>) -> Result<Capability, NodeError> {
    let capability = capability.ok_or(NodeError::MissingField {
        field: "volume_capability",
    })?;
    let access = match &capability.access_type {
        Some(AccessType::Mount(mount)) => Access::Mount {
            fs_type: FsType::parse(&mount.fs_type)?,
            flags: mount.mount_flags.clone(),
        },
        Some(AccessType::Block(_)) => Access::Block,
        None => {
            return Err(NodeError::MissingField {
                field: "volume_capability.access_type",
            });
        }
    };
    let mode = capability
        .access_mode
        .as_ref()
        .ok_or(NodeError::MissingField {
            field: "volume_capability.access_mode",
        })?
        .mode;
    let mode = Mode::try_from(mode).unwrap_or(Mode::Unknown);
    let read_only = match mode {
        Mode::SingleNodeWriter | Mode::SingleNodeSingleWriter | Mode::SingleNodeMultiWriter => {
            false
        }
        Mode::SingleNodeReaderOnly | Mode::MultiNodeReaderOnly => true,
        // Two nodes writing one file system corrupt it; only raw block lets the application
        // coordinate (ceph-csi's rule too).
        Mode::MultiNodeMultiWriter if access == Access::Block => false,
        Mode::MultiNodeMultiWriter => {
            return Err(NodeError::invalid(
                "volume_capability.access_mode",
                "MULTI_NODE_MULTI_WRITER is supported for block access only",
            ));
        }
        Mode::MultiNodeSingleWriter | Mode::Unknown => {
            return Err(NodeError::invalid(
                "volume_capability.access_mode",
                format!("{} is not supported", mode.as_str_name()),
            ));
        }
    };
    Ok(Capability { access, read_only })
}

#[cfg(test)]
mod tests {
    use csi::v1::volume_capability::{AccessMode, BlockVolume, MountVolume};

    use super::*;

    fn cap(access_type: Option<AccessType>, mode: Mode) -> VolumeCapability {
        VolumeCapability {
            access_type,
            access_mode: Some(AccessMode { mode: mode as i32 }),
        }
    }

    fn mount(fs_type: &str) -> Option<AccessType> {
        Some(AccessType::Mount(MountVolume {
            fs_type: fs_type.into(),
            mount_flags: vec!["noatime".into()],
            volume_mount_group: String::new(),
        }))
    }

    #[test]
    fn mount_capability_keeps_fs_type_and_flags() {
        let parsed = parse(Some(&cap(mount("xfs"), Mode::SingleNodeWriter))).unwrap();
        assert_eq!(
            parsed.access,
            Access::Mount {
                fs_type: FsType::Xfs,
                flags: vec!["noatime".into()]
            }
        );
        assert!(!parsed.read_only);
    }

    #[test]
    fn reader_only_modes_are_read_only() {
        let parsed = parse(Some(&cap(mount(""), Mode::MultiNodeReaderOnly))).unwrap();
        assert!(parsed.read_only);
    }

    #[test]
    fn missing_parts_are_named() {
        assert!(matches!(
            parse(None),
            Err(NodeError::MissingField {
                field: "volume_capability"
            })
        ));
        assert!(matches!(
            parse(Some(&cap(None, Mode::SingleNodeWriter))),
            Err(NodeError::MissingField {
                field: "volume_capability.access_type"
            })
        ));
        let no_mode = VolumeCapability {
            access_type: mount(""),
            access_mode: None,
        };
        assert!(matches!(
            parse(Some(&no_mode)),
            Err(NodeError::MissingField {
                field: "volume_capability.access_mode"
            })
        ));
    }

    #[test]
    fn multi_writer_needs_block() {
        let block = Some(AccessType::Block(BlockVolume {}));
        assert!(parse(Some(&cap(block, Mode::MultiNodeMultiWriter))).is_ok());
        assert!(matches!(
            parse(Some(&cap(mount(""), Mode::MultiNodeMultiWriter))),
            Err(NodeError::InvalidField {
                field: "volume_capability.access_mode",
                ..
            })
        ));
        assert!(parse(Some(&cap(mount(""), Mode::Unknown))).is_err());
    }
}
