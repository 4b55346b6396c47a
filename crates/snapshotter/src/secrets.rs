//! Which Secret a content's CSI calls carry: the content's deletion-secret annotations
//! (written when the content was made), else its class's parameters, resolved by
//! `sidecar::secret_template` under the snapshotter's token rules. Reading it is
//! `sidecar::secrets::fetch` (values go straight into the request, whose Debug redacts them).

use std::collections::BTreeMap;

use sidecar::secret_template::{Scope, SecretRef, read_pair, resolve};
use snapshot_api::{VolumeSnapshotClass, VolumeSnapshotContent, keys};

use crate::error::{Result, SnapshotterError};

/// Which pair of class parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretKind {
    /// `csi.storage.k8s.io/snapshotter-secret-*`: CreateSnapshot and DeleteSnapshot.
    Snapshotter,
    /// `csi.storage.k8s.io/snapshotter-list-secret-*`: ListSnapshots.
    SnapshotterList,
}

impl SecretKind {
    fn keys(self) -> (&'static str, &'static str) {
        match self {
            SecretKind::Snapshotter => (
                keys::SNAPSHOTTER_SECRET_NAME_KEY,
                keys::SNAPSHOTTER_SECRET_NAMESPACE_KEY,
            ),
            SecretKind::SnapshotterList => (
                keys::SNAPSHOTTER_LIST_SECRET_NAME_KEY,
                keys::SNAPSHOTTER_LIST_SECRET_NAMESPACE_KEY,
            ),
        }
    }
}

/// The Secret a VolumeSnapshotClass's `parameters` name for `kind` (upstream's
/// `GetSecretReference`), or `None` when they name none. `snapshot` is the VolumeSnapshot's
/// (namespace, name); upstream resolves without one for ListSnapshots.
///
/// # Errors
/// [`SnapshotterError::SecretTemplate`] naming the parameter and the broken rule.
pub fn class_secret(
    kind: SecretKind,
    parameters: &BTreeMap<String, String>,
    content_name: &str,
    snapshot: Option<(&str, &str)>,
) -> Result<Option<SecretRef>> {
    let (name_key, namespace_key) = kind.keys();
    let Some(template) = read_pair(parameters, name_key, namespace_key)? else {
        return Ok(None);
    };
    let scope = Scope::Snapshot {
        content_name,
        snapshot,
    };
    Ok(Some(resolve(&template, &scope)?))
}

/// The Secret for CreateSnapshot / DeleteSnapshot of `content`: its annotations (resolved by
/// the binding half, which saw the VolumeSnapshot), else its class's parameters
/// resolved with what the content knows of its snapshot.
///
/// # Errors
/// Half an annotation pair, or class parameters that do not resolve.
pub fn snapshotter_secret(
    content: &VolumeSnapshotContent,
    class: Option<&VolumeSnapshotClass>,
) -> Result<Option<SecretRef>> {
    let content_name = content.metadata.name.clone().unwrap_or_default();
    let annotations = content.metadata.annotations.clone().unwrap_or_default();
    let name = annotations.get(keys::DELETION_SECRET_NAME_ANNOTATION);
    let namespace = annotations.get(keys::DELETION_SECRET_NAMESPACE_ANNOTATION);
    match (name, namespace) {
        (Some(name), Some(namespace)) if !name.is_empty() && !namespace.is_empty() => {
            return Ok(Some(SecretRef {
                name: name.clone(),
                namespace: namespace.clone(),
            }));
        }
        (None, None) => {}
        _ => {
            return Err(SnapshotterError::ContentInput {
                content: content_name,
                what: format!(
                    "annotations {} and {} must both be set and non-empty",
                    keys::DELETION_SECRET_NAME_ANNOTATION,
                    keys::DELETION_SECRET_NAMESPACE_ANNOTATION
                ),
            });
        }
    }
    let Some(class) = class else {
        return Ok(None);
    };
    let reference = &content.spec.volume_snapshot_ref;
    let snapshot = reference
        .namespace
        .as_deref()
        .zip(reference.name.as_deref());
    class_secret(
        SecretKind::Snapshotter,
        class.parameters(),
        &content_name,
        snapshot,
    )
}

/// The Secret for ListSnapshots of a pre-provisioned content (its class's list secret;
/// upstream resolves it without the VolumeSnapshot).
///
/// # Errors
/// Class parameters that do not resolve.
pub fn list_secret(
    content: &VolumeSnapshotContent,
    class: Option<&VolumeSnapshotClass>,
) -> Result<Option<SecretRef>> {
    let Some(class) = class else {
        return Ok(None);
    };
    let content_name = content.metadata.name.clone().unwrap_or_default();
    class_secret(
        SecretKind::SnapshotterList,
        class.parameters(),
        &content_name,
        None,
    )
}

#[cfg(test)]
mod tests {
    use snapshot_api::DeletionPolicy;

    use super::*;
    use crate::test_fixtures::*;

    fn secret(name: &str, namespace: &str) -> Option<SecretRef> {
        Some(SecretRef {
            name: name.into(),
            namespace: namespace.into(),
        })
    }

    #[test]
    fn annotations_win_then_the_class() {
        let gold = class("gold", DRIVER, DeletionPolicy::Delete)
            .param(
                keys::SNAPSHOTTER_SECRET_NAME_KEY,
                "${volumesnapshot.name}-key",
            )
            .param(
                keys::SNAPSHOTTER_SECRET_NAMESPACE_KEY,
                "${volumesnapshot.namespace}",
            )
            .param(keys::SNAPSHOTTER_LIST_SECRET_NAME_KEY, "lister")
            .param(keys::SNAPSHOTTER_LIST_SECRET_NAMESPACE_KEY, "ops");
        let mut annotated = content("c").dynamic("v").bound_to("apps", "db", UID);
        annotated.metadata.annotations = Some(
            [
                (
                    keys::DELETION_SECRET_NAME_ANNOTATION.to_owned(),
                    "from-annotation".to_owned(),
                ),
                (
                    keys::DELETION_SECRET_NAMESPACE_ANNOTATION.to_owned(),
                    "rook-ceph".to_owned(),
                ),
            ]
            .into(),
        );
        assert_eq!(
            snapshotter_secret(&annotated, Some(&gold)).unwrap(),
            secret("from-annotation", "rook-ceph")
        );
        let plain = content("c").dynamic("v").bound_to("apps", "db", UID);
        assert_eq!(
            snapshotter_secret(&plain, Some(&gold)).unwrap(),
            secret("db-key", "apps")
        );
        assert_eq!(snapshotter_secret(&plain, None).unwrap(), None);
        assert_eq!(
            list_secret(&plain, Some(&gold)).unwrap(),
            secret("lister", "ops")
        );

        let mut half = plain.clone();
        half.metadata.annotations = Some(
            [(
                keys::DELETION_SECRET_NAME_ANNOTATION.to_owned(),
                "x".to_owned(),
            )]
            .into(),
        );
        let err = snapshotter_secret(&half, Some(&gold)).unwrap_err();
        assert!(err.to_string().contains("must both be set"), "{err}");
    }

    /// Upstream's snapshotter rules through the shared expander: the VolumeSnapshot's name may
    /// pick the Secret's name, never its namespace; ListSnapshots resolves without a snapshot.
    #[test]
    fn class_secrets_follow_the_snapshotter_token_rules() {
        let params = |name: &str, namespace: &str, list: bool| {
            let (name_key, namespace_key) = if list {
                SecretKind::SnapshotterList.keys()
            } else {
                SecretKind::Snapshotter.keys()
            };
            BTreeMap::from([
                (name_key.to_owned(), name.to_owned()),
                (namespace_key.to_owned(), namespace.to_owned()),
            ])
        };
        let snapshot = Some(("apps", "db"));
        assert_eq!(
            class_secret(
                SecretKind::Snapshotter,
                &params(
                    "${volumesnapshot.name}-key",
                    "${volumesnapshot.namespace}",
                    false
                ),
                "snapcontent-1",
                snapshot,
            )
            .unwrap(),
            secret("db-key", "apps")
        );
        let cases = [
            (
                SecretKind::Snapshotter,
                params("s", "${volumesnapshot.name}", false),
                snapshot,
                "csi.storage.k8s.io/snapshotter-secret-namespace = \"${volumesnapshot.name}\": \
                 ${volumesnapshot.name} is not allowed",
            ),
            (
                SecretKind::Snapshotter,
                params("${pvc.name}", "ns", false),
                snapshot,
                "${pvc.name} is not allowed in the snapshotter's Secret name",
            ),
            (
                SecretKind::SnapshotterList,
                params("s", "${volumesnapshot.namespace}", true),
                None,
                "csi.storage.k8s.io/snapshotter-list-secret-namespace = \
                 \"${volumesnapshot.namespace}\": ${volumesnapshot.namespace} has no value here",
            ),
        ];
        for (kind, parameters, snapshot, needle) in cases {
            let err = class_secret(kind, &parameters, "snapcontent-1", snapshot).unwrap_err();
            assert!(
                matches!(err, SnapshotterError::SecretTemplate(_)),
                "{err:?}"
            );
            assert!(err.to_string().contains(needle), "{err}");
        }
    }
}
