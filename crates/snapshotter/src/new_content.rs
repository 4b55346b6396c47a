//! The VolumeSnapshotContent the binding half creates for a dynamic VolumeSnapshot,
//! field by field as upstream's `createSnapshotContent` does — plus the bound finalizer from
//! the start, which upstream adds in a second write (a window in which a content could be
//! deleted without its backend snapshot being handled).

use k8s_openapi::api::core::v1::{ObjectReference, PersistentVolume};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use snapshot_api::{
    VolumeSnapshot, VolumeSnapshotClass, VolumeSnapshotContent, VolumeSnapshotContentSource,
    VolumeSnapshotContentSpec, keys, naming,
};

use sidecar::secret_template::SecretRef;

/// A reference to `snapshot` as contents carry it (with uid and resourceVersion).
pub fn snapshot_reference(snapshot: &VolumeSnapshot) -> ObjectReference {
    ObjectReference {
        api_version: Some(keys::API_VERSION.to_owned()),
        kind: Some(keys::VOLUME_SNAPSHOT_KIND.to_owned()),
        name: snapshot.metadata.name.clone(),
        namespace: snapshot.metadata.namespace.clone(),
        uid: snapshot.metadata.uid.clone(),
        resource_version: snapshot.metadata.resource_version.clone(),
        field_path: None,
    }
}

/// `snapcontent-<uid>` for `snapshot` of `volume` (a CSI PV) through `class`.
pub fn dynamic_content(
    snapshot: &VolumeSnapshot,
    class: &VolumeSnapshotClass,
    volume_handle: &str,
    volume: &PersistentVolume,
    secret: Option<&SecretRef>,
) -> VolumeSnapshotContent {
    let uid = snapshot.metadata.uid.as_deref().unwrap_or_default();
    let annotations = secret.map(|secret| {
        [
            (
                keys::DELETION_SECRET_NAME_ANNOTATION.to_owned(),
                secret.name.clone(),
            ),
            (
                keys::DELETION_SECRET_NAMESPACE_ANNOTATION.to_owned(),
                secret.namespace.clone(),
            ),
        ]
        .into()
    });
    VolumeSnapshotContent {
        metadata: ObjectMeta {
            name: Some(naming::dynamic_content_name(uid)),
            annotations,
            finalizers: Some(vec![keys::CONTENT_BOUND_FINALIZER.to_owned()]),
            ..ObjectMeta::default()
        },
        spec: VolumeSnapshotContentSpec {
            volume_snapshot_ref: snapshot_reference(snapshot),
            deletion_policy: class.deletion_policy,
            driver: class.driver.clone(),
            volume_snapshot_class_name: class.metadata.name.clone(),
            source: VolumeSnapshotContentSource {
                volume_handle: Some(volume_handle.to_owned()),
                snapshot_handle: None,
            },
            source_volume_mode: Some(
                volume
                    .spec
                    .as_ref()
                    .and_then(|s| s.volume_mode.clone())
                    .unwrap_or_else(|| "Filesystem".to_owned()),
            ),
        },
        status: None,
    }
}

#[cfg(test)]
mod tests {
    use snapshot_api::DeletionPolicy;

    use super::*;
    use crate::test_fixtures::*;

    #[test]
    fn content_carries_binding_policy_driver_and_secret() {
        let vs = snapshot("apps", "db-snap").of_claim("data").class("gold");
        let pvc = claim("apps", "data").bound_to("pv-1");
        let pv = volume("pv-1", DRIVER, "vol-handle", &pvc);
        let gold = class("gold", DRIVER, DeletionPolicy::Retain);
        let secret = SecretRef {
            name: "s".into(),
            namespace: "rook-ceph".into(),
        };
        let content = dynamic_content(&vs, &gold, "vol-handle", &pv, Some(&secret));
        assert_eq!(
            content.metadata.name.as_deref(),
            Some(format!("snapcontent-{UID}").as_str())
        );
        assert_eq!(content.spec.volume_snapshot_ref.uid.as_deref(), Some(UID));
        assert_eq!(
            content.spec.volume_snapshot_ref.namespace.as_deref(),
            Some("apps")
        );
        assert_eq!(
            content.spec.volume_snapshot_ref.kind.as_deref(),
            Some("VolumeSnapshot")
        );
        assert_eq!(content.spec.deletion_policy, DeletionPolicy::Retain);
        assert_eq!(content.spec.driver, DRIVER);
        assert_eq!(
            content.spec.volume_snapshot_class_name.as_deref(),
            Some("gold")
        );
        assert_eq!(
            content.spec.source.volume_handle.as_deref(),
            Some("vol-handle")
        );
        assert_eq!(
            content.spec.source_volume_mode.as_deref(),
            Some("Filesystem")
        );
        let annotations = content.metadata.annotations.unwrap();
        assert_eq!(annotations[keys::DELETION_SECRET_NAME_ANNOTATION], "s");
        assert_eq!(
            annotations[keys::DELETION_SECRET_NAMESPACE_ANNOTATION],
            "rook-ceph"
        );
        assert_eq!(
            content.metadata.finalizers.unwrap(),
            [keys::CONTENT_BOUND_FINALIZER]
        );
        let without = dynamic_content(&vs, &gold, "vol-handle", &pv, None);
        assert!(without.metadata.annotations.is_none());
    }
}
