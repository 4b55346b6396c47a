//! The CreateSnapshot request for a dynamic content, built as upstream builds it so a driver
//! sees the same name and parameters under either snapshotter:
//! - name `<--snapshot-name-prefix>-<VolumeSnapshot UID>` (from the content's
//!   `volumeSnapshotRef.uid`: the same on every retry, which makes the call idempotent);
//! - the class parameters without the `csi.storage.k8s.io/` keys (those are for sidecars);
//! - with `--extra-create-metadata`, the VolumeSnapshot's name and namespace and the content's
//!   name.

use std::collections::{BTreeMap, HashMap};

use csi::v1::CreateSnapshotRequest;
use snapshot_api::{VolumeSnapshotContent, keys, naming};

use crate::error::SnapshotterError;

/// How names and parameters are formed (from the flags).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamingOptions {
    pub prefix: String,
    pub uuid_length: Option<usize>,
    pub extra_create_metadata: bool,
}

/// The request (without secrets: the caller adds them last, so nothing here can log them).
///
/// # Errors
/// [`SnapshotterError::NoVolumeHandle`] / [`SnapshotterError::NoSnapshotUid`].
pub fn create_snapshot_request(
    content: &VolumeSnapshotContent,
    class_parameters: &BTreeMap<String, String>,
    options: &NamingOptions,
) -> Result<CreateSnapshotRequest, SnapshotterError> {
    let content_name = content.metadata.name.clone().unwrap_or_default();
    let source_volume_id = content
        .spec
        .source
        .volume_handle
        .clone()
        .filter(|h| !h.is_empty())
        .ok_or_else(|| SnapshotterError::NoVolumeHandle {
            content: content_name.clone(),
        })?;
    let uid = content
        .bound_snapshot_uid()
        .ok_or_else(|| SnapshotterError::NoSnapshotUid {
            content: content_name.clone(),
        })?;
    let mut parameters: HashMap<String, String> = class_parameters
        .iter()
        .filter(|(key, _)| !key.starts_with(keys::CSI_PARAMETER_PREFIX))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if options.extra_create_metadata {
        let reference = &content.spec.volume_snapshot_ref;
        parameters.insert(
            keys::PARAM_VOLUMESNAPSHOT_NAME.to_owned(),
            reference.name.clone().unwrap_or_default(),
        );
        parameters.insert(
            keys::PARAM_VOLUMESNAPSHOT_NAMESPACE.to_owned(),
            reference.namespace.clone().unwrap_or_default(),
        );
        parameters.insert(
            keys::PARAM_VOLUMESNAPSHOTCONTENT_NAME.to_owned(),
            content_name,
        );
    }
    Ok(CreateSnapshotRequest {
        source_volume_id,
        name: naming::csi_snapshot_name(&options.prefix, uid, options.uuid_length),
        secrets: HashMap::new(),
        parameters,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_fixtures::*;

    fn options(extra: bool) -> NamingOptions {
        NamingOptions {
            prefix: "snapshot".to_owned(),
            uuid_length: None,
            extra_create_metadata: extra,
        }
    }

    fn class_parameters() -> BTreeMap<String, String> {
        [
            ("clusterID", "rook-ceph"),
            ("pool", "replicapool"),
            (keys::SNAPSHOTTER_SECRET_NAME_KEY, "s"),
            (keys::SNAPSHOTTER_SECRET_NAMESPACE_KEY, "n"),
            ("csi.storage.k8s.io/anything-else", "x"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
    }

    #[test]
    fn name_parameters_and_metadata_follow_upstream() {
        let content = content("snapcontent-1")
            .dynamic("vol-1")
            .bound_to("apps", "db", UID);
        let request =
            create_snapshot_request(&content, &class_parameters(), &options(true)).unwrap();
        assert_eq!(request.name, format!("snapshot-{UID}"));
        assert_eq!(request.source_volume_id, "vol-1");
        assert!(request.secrets.is_empty());
        let mut keys: Vec<_> = request
            .parameters
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        keys.sort();
        assert_eq!(
            keys,
            [
                "clusterID=rook-ceph",
                "csi.storage.k8s.io/volumesnapshot/name=db",
                "csi.storage.k8s.io/volumesnapshot/namespace=apps",
                "csi.storage.k8s.io/volumesnapshotcontent/name=snapcontent-1",
                "pool=replicapool",
            ]
        );
    }

    #[test]
    fn without_extra_metadata_only_driver_parameters_pass() {
        let content = content("c").dynamic("vol-1").bound_to("apps", "db", UID);
        let request =
            create_snapshot_request(&content, &class_parameters(), &options(false)).unwrap();
        assert_eq!(request.parameters.len(), 2);
        let short = NamingOptions {
            uuid_length: Some(8),
            prefix: "snap".into(),
            ..options(false)
        };
        let request = create_snapshot_request(&content, &BTreeMap::new(), &short).unwrap();
        assert_eq!(request.name, "snap-11111111");
    }

    #[test]
    fn missing_fields_are_named() {
        let unbound = content("c").dynamic("vol-1").bound_to("apps", "db", "");
        let err = create_snapshot_request(&unbound, &BTreeMap::new(), &options(true)).unwrap_err();
        assert!(err.to_string().contains("volumeSnapshotRef.uid"), "{err}");
        let imported = content("c")
            .pre_provisioned("s")
            .bound_to("apps", "db", UID);
        let err = create_snapshot_request(&imported, &BTreeMap::new(), &options(true)).unwrap_err();
        assert!(err.to_string().contains("volumeHandle"), "{err}");
    }
}
