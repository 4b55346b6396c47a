//! Which Secret a content's CSI calls carry: the content's deletion-secret annotations
//! (written when the content was made), else its class's parameters. Reading it is
//! `sidecar::secrets::fetch` (values go straight into the request, whose Debug redacts them).

use snapshot_api::{VolumeSnapshotClass, VolumeSnapshotContent, keys};

use crate::error::{Result, SnapshotterError};
use crate::secret_template::{self, SecretKind, SecretRef, TemplateInputs};

/// The Secret for CreateSnapshot / DeleteSnapshot of `content`: its annotations (resolved by
/// the snapshot controller, which saw the VolumeSnapshot), else its class's parameters
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
    secret_template::resolve(
        SecretKind::Snapshotter,
        class.parameters(),
        TemplateInputs {
            content_name: &content_name,
            snapshot,
        },
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
    secret_template::resolve(
        SecretKind::SnapshotterList,
        class.parameters(),
        TemplateInputs {
            content_name: &content_name,
            snapshot: None,
        },
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
}
