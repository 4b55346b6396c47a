use serde_json::json;

use super::*;
use crate::plan::plan;
use crate::plan::tests::{claim as planned_claim, class as planned_class, settings};

/// A claim of 1 GiB, ReadWriteOnce and ReadOnlyMany (two capabilities).
fn claim() -> PersistentVolumeClaim {
    let mut claim = planned_claim(Some("1Gi"), None);
    if let Some(spec) = claim.spec.as_mut() {
        spec.access_modes = Some(vec!["ReadWriteOnce".into(), "ReadOnlyMany".into()]);
    }
    claim
}

fn class(pool: &str, fs_type: &str, secret: &str) -> k8s_openapi::api::storage::v1::StorageClass {
    planned_class(&[
        ("clusterID", "c1"),
        ("pool", pool),
        ("csi.storage.k8s.io/fstype", fs_type),
        ("csi.storage.k8s.io/provisioner-secret-name", secret),
        ("csi.storage.k8s.io/provisioner-secret-namespace", "ceph"),
        ("csi.storage.k8s.io/node-stage-secret-name", secret),
        ("csi.storage.k8s.io/node-stage-secret-namespace", "ceph"),
    ])
}

fn requirement() -> TopologyRequirement {
    let zone = |z: &str| Topology {
        segments: HashMap::from([("topology.kubernetes.io/zone".into(), z.into())]),
    };
    TopologyRequirement {
        requisite: vec![zone("a"), zone("b")],
        preferred: vec![zone("b")],
    }
}

fn recorded_on_claim(call: &RecordedCall) -> PersistentVolumeClaim {
    let mut claim = claim();
    claim.metadata.annotations = Some(BTreeMap::from([(
        ANN_PROVISIONING_REQUEST.to_owned(),
        call.encode().unwrap(),
    )]));
    claim
}

/// The repeated request is the planned one, field by field, after a trip through the
/// annotation; only the secrets (read again) and the content source (its own annotation) are
/// added by the caller.
#[test]
fn a_recorded_call_repeats_the_planned_request() {
    let planned = plan(&claim(), &class("rbd", "xfs", "prov"), &settings()).unwrap();
    let call = RecordedCall::of(&planned, Some(&requirement()));
    let read = RecordedCall::from_claim(&recorded_on_claim(&call))
        .unwrap()
        .unwrap();
    assert_eq!(read, call);
    let secrets = HashMap::from([("userKey".to_owned(), "k".to_owned())]);
    let request = read
        .request(&planned.request_name, secrets.clone().into(), None)
        .unwrap();
    assert_eq!(request.name, "pvc-0b5e");
    assert_eq!(
        request.capacity_range.unwrap().required_bytes,
        i64::try_from(planned.required_bytes).unwrap()
    );
    assert_eq!(request.volume_capabilities, planned.capabilities);
    assert_eq!(request.parameters, planned.parameters);
    assert_eq!(request.secrets, secrets);
    assert_eq!(request.accessibility_requirements, Some(requirement()));
    assert_eq!(request.volume_content_source, None);
}

/// What the annotation holds, to the letter: a later version must read it, and it names the
/// provisioner Secret only by reference.
#[test]
fn the_record_format_is_stable_and_holds_no_secret() {
    let planned = plan(&claim(), &class("rbd", "xfs", "prov"), &settings()).unwrap();
    let encoded: serde_json::Value =
        serde_json::from_str(&RecordedCall::of(&planned, None).encode().unwrap()).unwrap();
    assert_eq!(
        encoded,
        json!({
            "parameters": {
                "clusterID": "c1",
                "pool": "rbd",
                "csi.storage.k8s.io/pvc/name": "data",
                "csi.storage.k8s.io/pvc/namespace": "apps",
                "csi.storage.k8s.io/pv/name": "pvc-0b5e",
            },
            "requiredBytes": 1u64 << 30,
            "volumeMode": {"mode": "Filesystem", "fsType": "xfs", "mountFlags": ["discard"]},
            "accessModes": ["SINGLE_NODE_WRITER", "MULTI_NODE_READER_ONLY"],
            "secret": {"name": "prov", "namespace": "ceph"},
        })
    );
    let block: serde_json::Value = serde_json::from_str(
        &RecordedCall {
            volume_mode: VolumeMode::Block,
            secret: None,
            ..RecordedCall::of(&planned, None)
        }
        .encode()
        .unwrap(),
    )
    .unwrap();
    assert_eq!(block["volumeMode"], json!({"mode": "Block"}));
    assert!(block.get("secret").is_none());
}

/// A class made anew (another pool, file system and Secret) does not change the call being
/// repeated, nor what the PV says about its volume; the per-volume Secrets stay today's.
#[test]
fn applying_a_record_makes_the_plan_describe_the_recorded_call() {
    let first = plan(&claim(), &class("rbd", "xfs", "prov"), &settings()).unwrap();
    let call = RecordedCall::of(&first, None);
    let mut today = plan(&claim(), &class("other-pool", "ext4", "new"), &settings()).unwrap();
    call.apply_to(&mut today).unwrap();
    assert_eq!(today.parameters["pool"], "rbd");
    assert_eq!(today.parameters, first.parameters);
    assert_eq!(today.volume_mode, first.volume_mode);
    assert_eq!(today.fs_type(), Some("xfs"));
    assert_eq!(today.capabilities, first.capabilities);
    assert_eq!(today.required_bytes, first.required_bytes);
    assert_eq!(
        today.secret_refs[&SecretKind::Provisioner],
        first.secret_refs[&SecretKind::Provisioner]
    );
    assert_eq!(today.secret_refs[&SecretKind::NodeStage].name, "new");

    let mut without = call.clone();
    without.secret = None;
    without.apply_to(&mut today).unwrap();
    assert!(!today.secret_refs.contains_key(&SecretKind::Provisioner));
}

#[test]
fn unreadable_records_are_errors_naming_the_annotation() {
    let mut claim = claim();
    claim.metadata.annotations = Some(BTreeMap::from([(
        ANN_PROVISIONING_REQUEST.to_owned(),
        "{not json".to_owned(),
    )]));
    let err = RecordedCall::from_claim(&claim).unwrap_err();
    assert!(err.to_string().contains(ANN_PROVISIONING_REQUEST), "{err}");
    assert_eq!(RecordedCall::from_claim(&self::claim()), Ok(None));

    let planned = plan(&self::claim(), &class("rbd", "xfs", "prov"), &settings()).unwrap();
    let mut call = RecordedCall::of(&planned, None);
    call.access_modes = vec!["SOMETIMES_WRITER".into()];
    let err = call
        .request("pvc-0b5e", csi::SecretMap::default(), None)
        .unwrap_err();
    assert!(err.to_string().contains("SOMETIMES_WRITER"), "{err}");
}
