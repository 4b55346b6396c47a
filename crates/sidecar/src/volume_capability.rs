//! Kubernetes access modes and volume modes as CSI volume capabilities, with the mapping the
//! upstream sidecars share (csi-lib-utils): the provisioner sends one capability per access
//! mode of a claim, while the attacher and the resizer send the single capability of a bound
//! PV, built from its widest access mode. One table serves both, so a volume is never created
//! under one mode and published under another.

use csi::v1::VolumeCapability;
use csi::v1::volume_capability::access_mode::Mode;
use csi::v1::volume_capability::{AccessMode, AccessType, BlockVolume, MountVolume};
use k8s_openapi::api::core::v1::PersistentVolumeSpec;

/// Kubernetes access modes from widest to narrowest: a PV with several is published (and
/// expanded) under the first it has, as upstream's `GetVolumeCapabilities` does.
const WIDEST_FIRST: [&str; 4] = [
    "ReadWriteMany",
    "ReadOnlyMany",
    "ReadWriteOncePod",
    "ReadWriteOnce",
];

/// The CSI mode of one Kubernetes access mode; `None` for a mode Kubernetes does not have.
/// `single_node_multi_writer` is the driver's controller capability of that name: only a
/// driver that advertises it can tell "one pod" (RWOP) from "one node" (RWO).
pub fn csi_access_mode(access_mode: &str, single_node_multi_writer: bool) -> Option<Mode> {
    Some(match (access_mode, single_node_multi_writer) {
        ("ReadWriteOnce", false) | ("ReadWriteOncePod", false) => Mode::SingleNodeWriter,
        ("ReadWriteOnce", true) => Mode::SingleNodeMultiWriter,
        ("ReadWriteOncePod", true) => Mode::SingleNodeSingleWriter,
        ("ReadOnlyMany", _) => Mode::MultiNodeReaderOnly,
        ("ReadWriteMany", _) => Mode::MultiNodeMultiWriter,
        _ => return None,
    })
}

/// A mount capability; an empty `fs_type` leaves the choice to the driver.
pub fn mount(fs_type: String, mount_flags: Vec<String>) -> AccessType {
    AccessType::Mount(MountVolume {
        fs_type,
        mount_flags,
        volume_mount_group: String::new(),
    })
}

/// The single capability of a bound PV: its widest access mode, raw block or a mount with the
/// PV's fsType (`default_fs_type` when it names none) and mount options.
///
/// # Errors
/// A message naming `spec.accessModes` when none of them can be expressed in CSI.
pub fn of_volume(
    spec: &PersistentVolumeSpec,
    single_node_multi_writer: bool,
    default_fs_type: &str,
) -> Result<VolumeCapability, String> {
    let modes = spec.access_modes.as_deref().unwrap_or_default();
    let mode = WIDEST_FIRST
        .into_iter()
        .find(|widest| modes.iter().any(|m| m == widest))
        .and_then(|widest| csi_access_mode(widest, single_node_multi_writer))
        .ok_or_else(|| format!("spec.accessModes {modes:?} has no access mode CSI can express"))?;
    let access_type = if spec.volume_mode.as_deref() == Some("Block") {
        AccessType::Block(BlockVolume {})
    } else {
        let fs_type = spec
            .csi
            .as_ref()
            .and_then(|c| c.fs_type.clone())
            .filter(|f| !f.is_empty())
            .unwrap_or_else(|| default_fs_type.to_owned());
        mount(fs_type, spec.mount_options.clone().unwrap_or_default())
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
    fn each_access_mode_maps_like_upstream() {
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
            assert_eq!(
                csi_access_mode(access, snmw),
                Some(want),
                "{access} snmw={snmw}"
            );
        }
        assert_eq!(csi_access_mode("ReadWriteSometimes", false), None);
    }

    #[test]
    fn a_volume_is_published_under_its_widest_access_mode() {
        let rows = [
            (&["ReadWriteOnce"][..], false, Mode::SingleNodeWriter),
            (&["ReadWriteOnce"][..], true, Mode::SingleNodeMultiWriter),
            (&["ReadWriteOncePod"][..], false, Mode::SingleNodeWriter),
            (
                &["ReadWriteOncePod"][..],
                true,
                Mode::SingleNodeSingleWriter,
            ),
            (&["ReadOnlyMany"][..], false, Mode::MultiNodeReaderOnly),
            (&["ReadOnlyMany"][..], true, Mode::MultiNodeReaderOnly),
            (
                &["ReadWriteOnce", "ReadWriteMany"][..],
                false,
                Mode::MultiNodeMultiWriter,
            ),
            (
                &["ReadWriteMany", "ReadWriteOnce"][..],
                true,
                Mode::MultiNodeMultiWriter,
            ),
        ];
        for (modes, snmw, want) in rows {
            assert_eq!(
                mode(&of_volume(&spec(modes, None, None), snmw, "").unwrap()),
                want,
                "{modes:?} {snmw}"
            );
        }
    }

    #[test]
    fn a_volume_without_an_expressible_access_mode_has_no_capability() {
        for modes in [&[][..], &["ReadWriteSometimes"][..]] {
            let err = of_volume(&spec(modes, None, None), false, "").unwrap_err();
            assert!(err.contains("spec.accessModes"), "{err}");
        }
    }

    #[test]
    fn block_and_filesystem_volumes_are_told_apart() {
        let cap = of_volume(
            &spec(&["ReadWriteOnce"], Some("Block"), Some("xfs")),
            false,
            "",
        )
        .unwrap();
        assert!(matches!(cap.access_type, Some(AccessType::Block(_))));
        let cap = of_volume(
            &spec(&["ReadWriteOnce"], Some("Filesystem"), Some("xfs")),
            false,
            "",
        )
        .unwrap();
        assert_eq!(mode(&cap), Mode::SingleNodeWriter);
        match cap.access_type {
            Some(AccessType::Mount(m)) => {
                assert_eq!(m.fs_type, "xfs");
                assert_eq!(m.mount_flags, ["discard"]);
            }
            other => panic!("mount expected: {other:?}"),
        }
    }

    #[test]
    fn fs_type_falls_back_to_the_default() {
        for pv_fs_type in [None, Some("")] {
            let cap =
                of_volume(&spec(&["ReadWriteOnce"], None, pv_fs_type), false, "ext4").unwrap();
            assert!(
                matches!(cap.access_type, Some(AccessType::Mount(ref m))
                    if m.fs_type == "ext4" && m.mount_flags == ["discard"]),
                "{pv_fs_type:?}"
            );
        }
        let cap = of_volume(&spec(&["ReadWriteOnce"], None, Some("xfs")), false, "ext4").unwrap();
        assert!(matches!(cap.access_type, Some(AccessType::Mount(ref m)) if m.fs_type == "xfs"));
        let cap = of_volume(&spec(&["ReadWriteOnce"], None, None), false, "").unwrap();
        assert!(matches!(cap.access_type, Some(AccessType::Mount(ref m)) if m.fs_type.is_empty()));
    }
}
