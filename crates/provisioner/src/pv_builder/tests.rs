use std::collections::HashMap;

use k8s_openapi::api::core::v1::{PersistentVolumeClaimSpec, VolumeResourceRequirements};

use super::*;
use crate::plan::capabilities::VolumeMode;
use sidecar::secret_template::SecretRef;

fn plan() -> VolumePlan {
    VolumePlan {
        request_name: "pvc-u1".into(),
        required_bytes: 1 << 30,
        volume_mode: VolumeMode::Filesystem {
            fs_type: "ext4".into(),
            mount_flags: vec![],
        },
        capabilities: vec![],
        parameters: HashMap::new(),
        secret_refs: BTreeMap::from([
            (
                SecretKind::Provisioner,
                SecretRef {
                    name: "prov".into(),
                    namespace: "ceph".into(),
                },
            ),
            (
                SecretKind::NodeStage,
                SecretRef {
                    name: "node".into(),
                    namespace: "ceph".into(),
                },
            ),
            (
                SecretKind::ControllerExpand,
                SecretRef {
                    name: "expand".into(),
                    namespace: "ceph".into(),
                },
            ),
        ]),
    }
}

fn claim() -> PersistentVolumeClaim {
    PersistentVolumeClaim {
        metadata: ObjectMeta {
            name: Some("data".into()),
            namespace: Some("apps".into()),
            uid: Some("u1".into()),
            ..ObjectMeta::default()
        },
        spec: Some(PersistentVolumeClaimSpec {
            access_modes: Some(vec!["ReadWriteOnce".into()]),
            resources: Some(VolumeResourceRequirements::default()),
            ..PersistentVolumeClaimSpec::default()
        }),
        status: None,
    }
}

fn class(reclaim: Option<&str>) -> StorageClass {
    StorageClass {
        metadata: ObjectMeta {
            name: Some("fast".into()),
            ..ObjectMeta::default()
        },
        provisioner: "rbd.csi.sepia.io".into(),
        reclaim_policy: reclaim.map(Into::into),
        mount_options: Some(vec!["discard".into()]),
        ..StorageClass::default()
    }
}

fn volume(topology: Vec<Topology>) -> Volume {
    Volume {
        capacity_bytes: 1 << 30,
        volume_id: "0001-0004-test-0000000000000001-uuid".into(),
        volume_context: HashMap::from([("pool".into(), "rbd".into())]),
        content_source: None,
        accessible_topology: topology,
    }
}

#[test]
fn the_pv_has_every_field_upstream_writes() {
    let pv = build_pv(
        &plan(),
        &claim(),
        &class(Some("Retain")),
        &volume(vec![]),
        1 << 30,
        "rbd.csi.sepia.io",
        "1700000000000-1234-rbd.csi.sepia.io",
    );
    assert_eq!(pv.metadata.name.as_deref(), Some("pvc-u1"));
    let ann = pv.metadata.annotations.as_ref().unwrap();
    assert_eq!(ann[ANN_PROVISIONED_BY], "rbd.csi.sepia.io");
    assert_eq!(ann[ANN_DELETION_SECRET_NAME], "prov");
    assert_eq!(ann[ANN_DELETION_SECRET_NAMESPACE], "ceph");
    assert_eq!(
        pv.metadata.finalizers.as_deref(),
        Some(&[FINALIZER_PV.to_owned()][..])
    );
    let spec = pv.spec.unwrap();
    assert_eq!(spec.capacity.unwrap()["storage"].0, "1Gi");
    assert_eq!(
        spec.persistent_volume_reclaim_policy.as_deref(),
        Some("Retain")
    );
    assert_eq!(spec.storage_class_name.as_deref(), Some("fast"));
    assert_eq!(spec.mount_options.unwrap(), ["discard"]);
    assert_eq!(spec.volume_mode.as_deref(), Some("Filesystem"));
    assert_eq!(spec.access_modes.unwrap(), ["ReadWriteOnce"]);
    let claim_ref = spec.claim_ref.unwrap();
    assert_eq!(
        (
            claim_ref.kind.as_deref(),
            claim_ref.namespace.as_deref(),
            claim_ref.name.as_deref(),
            claim_ref.uid.as_deref()
        ),
        (
            Some("PersistentVolumeClaim"),
            Some("apps"),
            Some("data"),
            Some("u1")
        )
    );
    let csi = spec.csi.unwrap();
    assert_eq!(csi.driver, "rbd.csi.sepia.io");
    assert_eq!(csi.volume_handle, "0001-0004-test-0000000000000001-uuid");
    assert_eq!(csi.fs_type.as_deref(), Some("ext4"));
    let attrs = csi.volume_attributes.unwrap();
    assert_eq!(attrs["pool"], "rbd");
    assert_eq!(
        attrs[ATTR_PROVISIONER_IDENTITY],
        "1700000000000-1234-rbd.csi.sepia.io"
    );
    assert_eq!(
        csi.node_stage_secret_ref.unwrap().name.as_deref(),
        Some("node")
    );
    assert_eq!(
        csi.controller_expand_secret_ref.unwrap().name.as_deref(),
        Some("expand")
    );
    assert!(csi.controller_publish_secret_ref.is_none());
    assert!(csi.node_publish_secret_ref.is_none());
    assert!(spec.node_affinity.is_none());
}

#[test]
fn reclaim_defaults_to_delete_and_no_provisioner_secret_leaves_empty_annotations() {
    let mut p = plan();
    p.secret_refs.clear();
    let pv = build_pv(&p, &claim(), &class(None), &volume(vec![]), 5, "d", "i");
    assert_eq!(
        pv.spec
            .as_ref()
            .unwrap()
            .persistent_volume_reclaim_policy
            .as_deref(),
        Some("Delete")
    );
    assert_eq!(pv.spec.unwrap().capacity.unwrap()["storage"].0, "5");
    let ann = pv.metadata.annotations.unwrap();
    assert_eq!(ann[ANN_DELETION_SECRET_NAME], "");
    assert_eq!(ann[ANN_DELETION_SECRET_NAMESPACE], "");
}

#[test]
fn accessible_topology_becomes_ored_node_selector_terms() {
    let segment = |pairs: &[(&str, &str)]| Topology {
        segments: pairs
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect(),
    };
    let affinity = node_affinity(&[
        segment(&[
            ("topology.kubernetes.io/zone", "a"),
            ("topology.kubernetes.io/region", "r"),
        ]),
        segment(&[("topology.kubernetes.io/zone", "b")]),
        segment(&[]),
    ])
    .unwrap();
    let terms = affinity.required.unwrap().node_selector_terms;
    assert_eq!(terms.len(), 2);
    let first = terms[0].match_expressions.as_ref().unwrap();
    assert_eq!(first[0].key, "topology.kubernetes.io/region");
    assert_eq!(first[1].key, "topology.kubernetes.io/zone");
    assert_eq!(first[1].operator, "In");
    assert_eq!(first[1].values.as_deref(), Some(&["a".to_owned()][..]));
    assert!(node_affinity(&[]).is_none());
}
