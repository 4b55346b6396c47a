//! Upstream-shaped objects survive deserialize → serialize unchanged: a read-modify-write
//! through our types never drops a field another tool (kubectl, Velero, upstream's
//! controller) wrote.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use snapshot_api::{
    DeletionPolicy, VolumeSnapshot, VolumeSnapshotClass, VolumeSnapshotContent, keys,
};

fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).expect(&path)).expect(&path)
}

fn round_trip<T: DeserializeOwned + Serialize>(name: &str) -> T {
    let original = fixture(name);
    let typed: T = serde_json::from_value(original.clone()).expect(name);
    let back = serde_json::to_value(&typed).unwrap();
    assert_eq!(back, original, "{name} changed in a round trip");
    typed
}

#[test]
fn dynamic_volume_snapshot_round_trips() {
    let vs: VolumeSnapshot = round_trip("volumesnapshot-dynamic.json");
    assert_eq!(
        vs.spec.source.persistent_volume_claim_name.as_deref(),
        Some("pvc-test")
    );
    assert!(vs.is_ready());
    assert_eq!(
        vs.bound_content_name(),
        Some("snapcontent-2a4d7f1c-5b36-4d5e-9a0b-1c2d3e4f5a6b")
    );
    let status = vs.status.unwrap();
    assert_eq!(status.restore_size.unwrap().0, "10Gi");
    assert_eq!(
        status.creation_time.unwrap().0.to_string(),
        "2024-05-01T10:00:01Z"
    );
}

#[test]
fn failed_and_pre_provisioned_volume_snapshots_round_trip() {
    let failed: VolumeSnapshot = round_trip("volumesnapshot-failed.json");
    assert!(!failed.is_ready());
    assert!(
        failed
            .status
            .unwrap()
            .error
            .unwrap()
            .message
            .unwrap()
            .contains("failed to update")
    );
    let pre: VolumeSnapshot = round_trip("volumesnapshot-preprovisioned.json");
    assert_eq!(
        pre.spec.source.volume_snapshot_content_name.as_deref(),
        Some("test-content")
    );
    assert!(pre.status.is_none());
    assert_eq!(pre.bound_content_name(), None);
}

#[test]
fn dynamic_content_keeps_nanoseconds_and_bytes() {
    let vsc: VolumeSnapshotContent = round_trip("volumesnapshotcontent-dynamic.json");
    let status = vsc.status.as_ref().unwrap();
    assert_eq!(status.creation_time, Some(1_714_557_601_123_456_789));
    assert_eq!(status.restore_size, Some(10_737_418_240));
    assert_eq!(vsc.spec.deletion_policy, DeletionPolicy::Delete);
    assert_eq!(
        vsc.bound_snapshot_uid(),
        Some("2a4d7f1c-5b36-4d5e-9a0b-1c2d3e4f5a6b")
    );
    assert!(!vsc.is_pre_provisioned());
    assert!(vsc.is_ready());
}

#[test]
fn pre_provisioned_content_is_unbound_until_a_uid_is_set() {
    let vsc: VolumeSnapshotContent = round_trip("volumesnapshotcontent-preprovisioned.json");
    assert!(vsc.is_pre_provisioned());
    assert_eq!(vsc.bound_snapshot_uid(), None);
    assert_eq!(vsc.spec.deletion_policy, DeletionPolicy::Retain);
    assert_eq!(vsc.status_snapshot_handle(), None);
}

#[test]
fn classes_round_trip_with_their_top_level_fields() {
    let class: VolumeSnapshotClass = round_trip("volumesnapshotclass.json");
    assert!(class.is_default());
    assert_eq!(class.driver, "rbd.csi.sepia.io");
    assert_eq!(
        class
            .parameters()
            .get(keys::SNAPSHOTTER_SECRET_NAME_KEY)
            .map(String::as_str),
        Some("rook-csi-rbd-provisioner")
    );
    let zonal: VolumeSnapshotClass = round_trip("volumesnapshotclass-topology.json");
    assert!(!zonal.is_default());
    assert!(zonal.parameters().is_empty());
    assert_eq!(zonal.allowed_topologies.unwrap().len(), 1);
}

#[test]
fn a_new_class_serializes_with_api_version_and_kind() {
    let class = VolumeSnapshotClass::new("c", "d", DeletionPolicy::Retain);
    let json = serde_json::to_value(&class).unwrap();
    assert_eq!(json["apiVersion"], "snapshot.storage.k8s.io/v1");
    assert_eq!(json["kind"], "VolumeSnapshotClass");
    assert_eq!(json["deletionPolicy"], "Retain");
    assert!(json.get("parameters").is_none());
}

#[test]
fn is_default_needs_exactly_true() {
    let mut class = VolumeSnapshotClass::new("c", "d", DeletionPolicy::Delete);
    for (value, want) in [("true", true), ("True", false), ("yes", false), ("", false)] {
        class.metadata.annotations = Some(
            [(
                keys::IS_DEFAULT_CLASS_ANNOTATION.to_owned(),
                value.to_owned(),
            )]
            .into(),
        );
        assert_eq!(class.is_default(), want, "{value:?}");
    }
}

#[test]
fn an_unknown_deletion_policy_is_rejected_naming_the_values() {
    let mut json = fixture("volumesnapshotclass.json");
    json["deletionPolicy"] = "Keep".into();
    let err = serde_json::from_value::<VolumeSnapshotClass>(json)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("Keep") && err.contains("Delete") && err.contains("Retain"),
        "{err}"
    );
}
