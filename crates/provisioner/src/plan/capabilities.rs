//! A claim's access modes and volume mode as CSI volume capabilities, following
//! external-provisioner's mapping: one capability per access mode, each mapped by the table
//! the attacher and resizer share (`sidecar::volume_capability`), so a volume is created under
//! the same CSI mode it is later published under.

use csi::v1::VolumeCapability;
use csi::v1::volume_capability::access_mode::Mode;
use csi::v1::volume_capability::{AccessMode, AccessType, BlockVolume};
use serde::{Deserialize, Serialize};
use sidecar::volume_capability::{csi_access_mode, mount};

/// How the volume is consumed. (Serialized in the in-flight record of
/// [`crate::in_flight::recorded_call`].)
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "mode")]
pub enum VolumeMode {
    #[serde(rename_all = "camelCase")]
    Filesystem {
        fs_type: String,
        mount_flags: Vec<String>,
    },
    Block,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CapabilityError {
    #[error("spec.accessModes: at least one access mode is required")]
    NoAccessMode,
    #[error("spec.accessModes: {0:?} is not a Kubernetes access mode")]
    UnknownAccessMode(String),
}

/// One capability per access mode. `single_node_multi_writer` is the driver's controller
/// capability of that name.
pub fn volume_capabilities(
    access_modes: &[String],
    mode: &VolumeMode,
    single_node_multi_writer: bool,
) -> Result<Vec<VolumeCapability>, CapabilityError> {
    if access_modes.is_empty() {
        return Err(CapabilityError::NoAccessMode);
    }
    let csi_modes = access_modes
        .iter()
        .map(|access_mode| {
            csi_access_mode(access_mode, single_node_multi_writer)
                .ok_or_else(|| CapabilityError::UnknownAccessMode(access_mode.clone()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(capabilities_for(&csi_modes, mode))
}

/// One capability per CSI access mode, each of `mode`'s access type.
pub fn capabilities_for(csi_modes: &[Mode], mode: &VolumeMode) -> Vec<VolumeCapability> {
    let access_type = match mode {
        VolumeMode::Block => AccessType::Block(BlockVolume {}),
        VolumeMode::Filesystem {
            fs_type,
            mount_flags,
        } => mount(fs_type.clone(), mount_flags.clone()),
    };
    csi_modes
        .iter()
        .map(|csi_mode| VolumeCapability {
            access_mode: Some(AccessMode {
                mode: *csi_mode as i32,
            }),
            access_type: Some(access_type.clone()),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use csi::v1::volume_capability::access_mode::Mode;

    use super::*;

    fn modes(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    fn mode_of(cap: &VolumeCapability) -> Mode {
        Mode::try_from(cap.access_mode.as_ref().unwrap().mode).unwrap()
    }

    #[test]
    fn each_access_mode_maps_like_upstream() {
        let fs = VolumeMode::Filesystem {
            fs_type: "ext4".into(),
            mount_flags: vec![],
        };
        let table = [
            ("ReadWriteOnce", false, Mode::SingleNodeWriter),
            ("ReadWriteOnce", true, Mode::SingleNodeMultiWriter),
            ("ReadWriteOncePod", false, Mode::SingleNodeWriter),
            ("ReadWriteOncePod", true, Mode::SingleNodeSingleWriter),
            ("ReadOnlyMany", false, Mode::MultiNodeReaderOnly),
            ("ReadOnlyMany", true, Mode::MultiNodeReaderOnly),
            ("ReadWriteMany", false, Mode::MultiNodeMultiWriter),
            ("ReadWriteMany", true, Mode::MultiNodeMultiWriter),
        ];
        for (access, snmw, want) in table {
            let caps = volume_capabilities(&modes(&[access]), &fs, snmw).unwrap();
            assert_eq!(caps.len(), 1);
            assert_eq!(mode_of(&caps[0]), want, "{access} snmw={snmw}");
        }
    }

    #[test]
    fn filesystem_claims_carry_fs_type_and_mount_flags_and_block_claims_do_not() {
        let fs = VolumeMode::Filesystem {
            fs_type: "xfs".into(),
            mount_flags: vec!["discard".into()],
        };
        let caps =
            volume_capabilities(&modes(&["ReadWriteOnce", "ReadOnlyMany"]), &fs, false).unwrap();
        assert_eq!(caps.len(), 2);
        match caps[1].access_type.as_ref().unwrap() {
            AccessType::Mount(m) => {
                assert_eq!(m.fs_type, "xfs");
                assert_eq!(m.mount_flags, ["discard"]);
            }
            AccessType::Block(_) => panic!("expected mount"),
        }
        let caps =
            volume_capabilities(&modes(&["ReadWriteMany"]), &VolumeMode::Block, false).unwrap();
        assert!(matches!(caps[0].access_type, Some(AccessType::Block(_))));
    }

    #[test]
    fn missing_or_unknown_modes_are_refused() {
        let fs = VolumeMode::Block;
        assert_eq!(
            volume_capabilities(&[], &fs, false),
            Err(CapabilityError::NoAccessMode)
        );
        assert_eq!(
            volume_capabilities(&modes(&["ReadWriteSometimes"]), &fs, false),
            Err(CapabilityError::UnknownAccessMode(
                "ReadWriteSometimes".into()
            ))
        );
    }
}
