//! The CSI VolumeCapability reduced to what a CephFS node acts on: a mount (block access has
//! no meaning for a shared file system), read-only for reader-only modes, every access mode
//! including MULTI_NODE_MULTI_WRITER (CephFS is coherent across clients; that is why users
//! pick it). The mount's `fs_type` is not read: the provisioner may fill in a default
//! (`ext4`) that means nothing here, and ceph-csi ignores it too.

use csi::v1::VolumeCapability;
use csi::v1::volume_capability::AccessType;
use csi::v1::volume_capability::access_mode::Mode;
use node::NodeError;

use crate::mount_options;

#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Capability {
    pub read_only: bool,
    /// Checked mount flags, for the pod's bind.
    pub flags: Vec<String>,
}

pub(crate) fn parse(capability: Option<&VolumeCapability>) -> Result<Capability, NodeError> {
    let capability = capability.ok_or(NodeError::MissingField {
        field: "volume_capability",
    })?;
    let flags = match &capability.access_type {
        Some(AccessType::Mount(mount)) => mount_options::parse_mount_flags(&mount.mount_flags)?,
        Some(AccessType::Block(_)) => {
            return Err(NodeError::invalid(
                "volume_capability.access_type",
                "block access is not supported by CephFS volumes; use a mount",
            ));
        }
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
    let read_only = match Mode::try_from(mode).unwrap_or(Mode::Unknown) {
        Mode::SingleNodeReaderOnly | Mode::MultiNodeReaderOnly => true,
        Mode::SingleNodeWriter
        | Mode::SingleNodeSingleWriter
        | Mode::SingleNodeMultiWriter
        | Mode::MultiNodeSingleWriter
        | Mode::MultiNodeMultiWriter => false,
        Mode::Unknown => {
            return Err(NodeError::invalid(
                "volume_capability.access_mode",
                format!("{mode} is not a known access mode"),
            ));
        }
    };
    Ok(Capability { read_only, flags })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use csi::v1::volume_capability::{AccessMode, BlockVolume, MountVolume};

    use super::*;

    fn cap(access_type: Option<AccessType>, mode: Mode) -> VolumeCapability {
        VolumeCapability {
            access_type,
            access_mode: Some(AccessMode { mode: mode as i32 }),
        }
    }

    fn mount(flags: &[&str]) -> Option<AccessType> {
        Some(AccessType::Mount(MountVolume {
            fs_type: "ext4".into(),
            mount_flags: flags.iter().map(|f| f.to_string()).collect(),
            volume_mount_group: String::new(),
        }))
    }

    #[test]
    fn every_mode_mounts_and_readers_are_read_only() {
        let rwx = parse(Some(&cap(mount(&["noatime"]), Mode::MultiNodeMultiWriter))).unwrap();
        assert_eq!(
            rwx,
            Capability {
                read_only: false,
                flags: vec!["noatime".into()]
            }
        );
        assert!(
            parse(Some(&cap(mount(&[]), Mode::MultiNodeReaderOnly)))
                .unwrap()
                .read_only
        );
        assert!(
            !parse(Some(&cap(mount(&[]), Mode::SingleNodeWriter)))
                .unwrap()
                .read_only
        );
    }

    #[test]
    fn block_unknown_modes_and_bad_flags_are_invalid() {
        let block = Some(AccessType::Block(BlockVolume {}));
        for bad in [
            cap(block, Mode::MultiNodeMultiWriter),
            cap(mount(&[]), Mode::Unknown),
            cap(mount(&["bind"]), Mode::SingleNodeWriter),
        ] {
            assert!(
                matches!(parse(Some(&bad)), Err(NodeError::InvalidField { .. })),
                "{bad:?}"
            );
        }
        assert!(matches!(
            parse(None),
            Err(NodeError::MissingField {
                field: "volume_capability"
            })
        ));
    }
}
