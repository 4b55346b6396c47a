//! The CSI capability ControllerPublishVolume carries, from the PV — external-attacher's
//! mapping: the widest access mode wins; the single-node modes are refined when the driver
//! advertises SINGLE_NODE_MULTI_WRITER; `--default-fstype` fills an empty fsType.

use csi::v1::VolumeCapability;
use csi::v1::volume_capability::access_mode::Mode;
use csi::v1::volume_capability::{AccessMode, AccessType, BlockVolume, MountVolume};
use k8s_openapi::api::core::v1::PersistentVolumeSpec;

/// `Err` names the PV field that cannot be expressed in CSI.
pub fn of(
    spec: &PersistentVolumeSpec,
    single_node_multi_writer: bool,
    default_fs_type: &str,
) -> Result<VolumeCapability, String> {
    let modes = spec.access_modes.as_deref().unwrap_or_default();
    let has = |m: &str| modes.iter().any(|x| x == m);
    let mode = if has("ReadWriteMany") {
        Mode::MultiNodeMultiWriter
    } else if has("ReadOnlyMany") {
        Mode::MultiNodeReaderOnly
    } else if has("ReadWriteOncePod") {
        if single_node_multi_writer {
            Mode::SingleNodeSingleWriter
        } else {
            Mode::SingleNodeWriter
        }
    } else if has("ReadWriteOnce") {
        if single_node_multi_writer {
            Mode::SingleNodeMultiWriter
        } else {
            Mode::SingleNodeWriter
        }
    } else {
        return Err(format!(
            "spec.accessModes {modes:?} has no access mode CSI can express"
        ));
    };
    let access_type = if spec.volume_mode.as_deref() == Some("Block") {
        AccessType::Block(BlockVolume {})
    } else {
        let fs_type = spec
            .csi
            .as_ref()
            .and_then(|c| c.fs_type.clone())
            .filter(|f| !f.is_empty())
            .unwrap_or_else(|| default_fs_type.to_owned());
        AccessType::Mount(MountVolume {
            fs_type,
            mount_flags: spec.mount_options.clone().unwrap_or_default(),
            volume_mount_group: String::new(),
        })
    };
    Ok(VolumeCapability {
        access_mode: Some(AccessMode { mode: mode as i32 }),
        access_type: Some(access_type),
    })
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::CSIPersistentVolumeSource;

    use super::*;

    fn spec(modes: &[&str], volume_mode: Option<&str>, fs: Option<&str>) -> PersistentVolumeSpec {
        PersistentVolumeSpec {
            access_modes: Some(modes.iter().map(|m| (*m).to_owned()).collect()),
            volume_mode: volume_mode.map(str::to_owned),
            mount_options: Some(vec!["discard".into()]),
            csi: Some(CSIPersistentVolumeSource {
                fs_type: fs.map(str::to_owned),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn mode(cap: &VolumeCapability) -> Mode {
        Mode::try_from(cap.access_mode.unwrap().mode).unwrap()
    }

    #[test]
    fn access_modes_map_like_upstream() {
        let rows = [
            (&["ReadWriteOnce"][..], false, Mode::SingleNodeWriter),
            (&["ReadWriteOnce"][..], true, Mode::SingleNodeMultiWriter),
            (&["ReadWriteOncePod"][..], false, Mode::SingleNodeWriter),
            (
                &["ReadWriteOncePod"][..],
                true,
                Mode::SingleNodeSingleWriter,
            ),
            (&["ReadOnlyMany"][..], true, Mode::MultiNodeReaderOnly),
            (
                &["ReadWriteMany", "ReadWriteOnce"][..],
                true,
                Mode::MultiNodeMultiWriter,
            ),
        ];
        for (modes, snmw, want) in rows {
            assert_eq!(
                mode(&of(&spec(modes, None, None), snmw, "").unwrap()),
                want,
                "{modes:?} {snmw}"
            );
        }
        let err = of(&spec(&[], None, None), false, "").unwrap_err();
        assert!(err.contains("spec.accessModes"), "{err}");
    }

    #[test]
    fn fs_type_falls_back_to_the_default_and_block_has_none() {
        let cap = of(&spec(&["ReadWriteOnce"], None, None), false, "ext4").unwrap();
        match cap.access_type.unwrap() {
            AccessType::Mount(m) => {
                assert_eq!(m.fs_type, "ext4");
                assert_eq!(m.mount_flags, ["discard"]);
            }
            AccessType::Block(_) => panic!("mount expected"),
        }
        let cap = of(&spec(&["ReadWriteOnce"], None, Some("xfs")), false, "ext4").unwrap();
        assert!(matches!(cap.access_type, Some(AccessType::Mount(ref m)) if m.fs_type == "xfs"));
        let cap = of(
            &spec(&["ReadWriteOnce"], Some("Block"), Some("xfs")),
            false,
            "",
        )
        .unwrap();
        assert!(matches!(cap.access_type, Some(AccessType::Block(_))));
    }
}
