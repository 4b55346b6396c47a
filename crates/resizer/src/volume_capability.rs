//! The CSI capability of a bound PV, sent with ControllerExpandVolume so the driver can tell
//! a raw block volume (no filesystem to grow, no node step) from a filesystem one.
//! external-resizer builds it from the PV the same way the attacher does.

use csi::v1::VolumeCapability;
use csi::v1::volume_capability::access_mode::Mode;
use csi::v1::volume_capability::{AccessMode, AccessType, BlockVolume, MountVolume};
use k8s_openapi::api::core::v1::PersistentVolume;

/// `None` when the PV has no access mode the CSI spec can express (the call then goes without
/// a capability, which the spec allows).
pub fn of(pv: &PersistentVolume) -> Option<VolumeCapability> {
    let spec = pv.spec.as_ref()?;
    let modes = spec.access_modes.as_deref().unwrap_or_default();
    let has = |m: &str| modes.iter().any(|x| x == m);
    // The widest mode wins, as in upstream's GetVolumeCapabilities.
    let mode = if has("ReadWriteMany") {
        Mode::MultiNodeMultiWriter
    } else if has("ReadOnlyMany") {
        Mode::MultiNodeReaderOnly
    } else if has("ReadWriteOnce") || has("ReadWriteOncePod") {
        Mode::SingleNodeWriter
    } else {
        return None;
    };
    let access_type = if spec.volume_mode.as_deref() == Some("Block") {
        AccessType::Block(BlockVolume {})
    } else {
        AccessType::Mount(MountVolume {
            fs_type: spec
                .csi
                .as_ref()
                .and_then(|c| c.fs_type.clone())
                .unwrap_or_default(),
            mount_flags: spec.mount_options.clone().unwrap_or_default(),
            volume_mount_group: String::new(),
        })
    };
    Some(VolumeCapability {
        access_mode: Some(AccessMode { mode: mode as i32 }),
        access_type: Some(access_type),
    })
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::{CSIPersistentVolumeSource, PersistentVolumeSpec};

    use super::*;

    fn pv(modes: &[&str], volume_mode: Option<&str>) -> PersistentVolume {
        PersistentVolume {
            spec: Some(PersistentVolumeSpec {
                access_modes: Some(modes.iter().map(|m| (*m).to_owned()).collect()),
                volume_mode: volume_mode.map(str::to_owned),
                csi: Some(CSIPersistentVolumeSource {
                    fs_type: Some("xfs".into()),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn block_and_filesystem_volumes_are_told_apart() {
        let cap = of(&pv(&["ReadWriteOnce"], Some("Block"))).unwrap();
        assert!(matches!(cap.access_type, Some(AccessType::Block(_))));
        let cap = of(&pv(&["ReadWriteOnce"], Some("Filesystem"))).unwrap();
        match cap.access_type {
            Some(AccessType::Mount(m)) => assert_eq!(m.fs_type, "xfs"),
            other => panic!("{other:?}"),
        }
        assert_eq!(cap.access_mode.unwrap().mode, Mode::SingleNodeWriter as i32);
    }

    #[test]
    fn the_widest_access_mode_wins_and_none_means_no_capability() {
        let cap = of(&pv(&["ReadWriteOnce", "ReadWriteMany"], None)).unwrap();
        assert_eq!(
            cap.access_mode.unwrap().mode,
            Mode::MultiNodeMultiWriter as i32
        );
        let cap = of(&pv(&["ReadOnlyMany"], None)).unwrap();
        assert_eq!(
            cap.access_mode.unwrap().mode,
            Mode::MultiNodeReaderOnly as i32
        );
        assert!(of(&pv(&[], None)).is_none());
    }
}
