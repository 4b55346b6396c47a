use k8s_openapi::api::core::v1::{PersistentVolumeClaimSpec, VolumeResourceRequirements};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::*;

pub(crate) fn settings() -> PlanSettings {
    PlanSettings {
        name_prefix: "pvc".into(),
        default_fs_type: "ext4".into(),
        extra_metadata: true,
        single_node_multi_writer: false,
    }
}

pub(crate) fn claim(size: Option<&str>, mode: Option<&str>) -> PersistentVolumeClaim {
    PersistentVolumeClaim {
        metadata: ObjectMeta {
            name: Some("data".into()),
            namespace: Some("apps".into()),
            uid: Some("0b5e".into()),
            ..ObjectMeta::default()
        },
        spec: Some(PersistentVolumeClaimSpec {
            access_modes: Some(vec!["ReadWriteOnce".into()]),
            volume_mode: mode.map(Into::into),
            resources: Some(VolumeResourceRequirements {
                requests: size.map(|s| BTreeMap::from([("storage".into(), Quantity(s.into()))])),
                ..VolumeResourceRequirements::default()
            }),
            ..PersistentVolumeClaimSpec::default()
        }),
        status: None,
    }
}

pub(crate) fn class(params: &[(&str, &str)]) -> StorageClass {
    StorageClass {
        metadata: ObjectMeta {
            name: Some("fast".into()),
            ..ObjectMeta::default()
        },
        provisioner: "rbd.csi.sepia.io".into(),
        parameters: Some(
            params
                .iter()
                .map(|(k, v)| ((*k).into(), (*v).into()))
                .collect(),
        ),
        mount_options: Some(vec!["discard".into()]),
        ..StorageClass::default()
    }
}

#[test]
fn a_filesystem_claim_plans_name_size_parameters_and_secrets() {
    let class = class(&[
        ("clusterID", "c1"),
        ("pool", "rbd"),
        ("csi.storage.k8s.io/fstype", "xfs"),
        (
            "csi.storage.k8s.io/provisioner-secret-name",
            "rbd-provisioner",
        ),
        ("csi.storage.k8s.io/provisioner-secret-namespace", "ceph"),
        (
            "csi.storage.k8s.io/node-stage-secret-name",
            "${pvc.name}-node",
        ),
        (
            "csi.storage.k8s.io/node-stage-secret-namespace",
            "${pvc.namespace}",
        ),
    ]);
    let plan = plan(&claim(Some("1Gi"), None), &class, &settings()).unwrap();
    assert_eq!(plan.request_name, "pvc-0b5e");
    assert_eq!(plan.required_bytes, 1 << 30);
    assert_eq!(plan.fs_type(), Some("xfs"));
    let want: HashMap<String, String> = [
        ("clusterID", "c1"),
        ("pool", "rbd"),
        ("csi.storage.k8s.io/pvc/name", "data"),
        ("csi.storage.k8s.io/pvc/namespace", "apps"),
        ("csi.storage.k8s.io/pv/name", "pvc-0b5e"),
    ]
    .iter()
    .map(|(k, v)| ((*k).into(), (*v).into()))
    .collect();
    assert_eq!(plan.parameters, want);
    assert_eq!(
        plan.secret_refs[&SecretKind::Provisioner],
        SecretRef {
            name: "rbd-provisioner".into(),
            namespace: "ceph".into()
        }
    );
    assert_eq!(
        plan.secret_refs[&SecretKind::NodeStage],
        SecretRef {
            name: "data-node".into(),
            namespace: "apps".into()
        }
    );
    assert_eq!(
        plan.volume_mode,
        VolumeMode::Filesystem {
            fs_type: "xfs".into(),
            mount_flags: vec!["discard".into()]
        }
    );
}

#[test]
fn defaults_block_mode_and_no_extra_metadata() {
    let mut s = settings();
    s.extra_metadata = false;
    let fs = plan(&claim(Some("10Mi"), None), &class(&[("pool", "rbd")]), &s).unwrap();
    assert_eq!(fs.fs_type(), Some("ext4"), "--default-fstype applies");
    assert_eq!(fs.parameters.len(), 1);
    let block = plan(&claim(Some("10Mi"), Some("Block")), &class(&[]), &s).unwrap();
    assert_eq!(block.volume_mode, VolumeMode::Block);
    assert_eq!(block.fs_type(), None);
}

#[test]
fn broken_claims_and_classes_are_typed_errors() {
    assert_eq!(
        plan(&claim(None, None), &class(&[]), &settings()),
        Err(PlanError::NoSize)
    );
    assert!(matches!(
        plan(&claim(Some("big"), None), &class(&[]), &settings()),
        Err(PlanError::Size(_))
    ));
    assert!(matches!(
        plan(
            &claim(Some("1Gi"), None),
            &class(&[("csi.storage.k8s.io/bogus", "x")]),
            &settings()
        ),
        Err(PlanError::ClassParam(_))
    ));
    assert!(matches!(
        plan(
            &claim(Some("1Gi"), None),
            &class(&[
                (
                    "csi.storage.k8s.io/provisioner-secret-name",
                    "${pvc.annotations['nope']}"
                ),
                ("csi.storage.k8s.io/provisioner-secret-namespace", "ns"),
            ]),
            &settings()
        ),
        Err(PlanError::Template(_))
    ));
    let mut no_uid = claim(Some("1Gi"), None);
    no_uid.metadata.uid = None;
    assert_eq!(
        plan(&no_uid, &class(&[]), &settings()),
        Err(PlanError::NoUid)
    );
}

/// A claim's name and annotations may steer the Secrets of operations on its own volume, never
/// the provisioner's: a claim must not pick the credentials CreateVolume runs with.
#[test]
fn only_volume_operation_secrets_read_the_claims_name_and_annotations() {
    let mut annotated = claim(Some("1Gi"), None);
    annotated.metadata.annotations =
        Some(BTreeMap::from([("team.io/secret".into(), "gold".into())]));
    for kind in SecretKind::ALL {
        for (template, resolved) in [
            ("${pvc.annotations['team.io/secret']}", "gold"),
            ("${pvc.name}-key", "data-key"),
        ] {
            let stem = kind.key_stem();
            let name_key = format!("csi.storage.k8s.io/{stem}-secret-name");
            let namespace_key = format!("csi.storage.k8s.io/{stem}-secret-namespace");
            let class = class(&[(&name_key, template), (&namespace_key, "ceph")]);
            let got = plan(&annotated, &class, &settings());
            if kind == SecretKind::Provisioner {
                let Err(PlanError::Template(error)) = got else {
                    panic!("{stem} must refuse {template}: {got:?}");
                };
                assert_eq!(error.key, name_key);
                assert!(
                    matches!(
                        error.problem,
                        sidecar::secret_template::Problem::NotAllowed { .. }
                    ),
                    "{error}"
                );
            } else {
                let refs = got
                    .unwrap_or_else(|e| panic!("{stem} {template}: {e}"))
                    .secret_refs;
                assert_eq!(refs[&kind].name, resolved, "{stem} {template}");
            }
        }
    }
}
