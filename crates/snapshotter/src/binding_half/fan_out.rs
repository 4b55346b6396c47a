//! Which [`BindingKey`]s an object change touches. Besides the object itself:
//! - a snapshot's change may free or need its source PVC (the Claim key);
//! - a content's change is mirrored into its snapshot (fast readyToUse) and may free the PVC;
//! - a PVC's change may unblock its snapshots (it bound) or a snapshot it restores from;
//! - a class's change may unblock snapshots waiting for it (or for a default class).

use k8s_openapi::api::core::v1::PersistentVolumeClaim;
use kube::runtime::reflector::Store;
use snapshot_api::{VolumeSnapshot, VolumeSnapshotContent, keys};

use super::BindingKey;

/// Keys for a changed (or deleted) snapshot.
pub fn for_snapshot(snapshot: &VolumeSnapshot) -> Vec<BindingKey> {
    let namespace = snapshot.metadata.namespace.clone().unwrap_or_default();
    let mut out = vec![BindingKey::Snapshot {
        namespace: namespace.clone(),
        name: snapshot.metadata.name.clone().unwrap_or_default(),
    }];
    if let Some(claim) = &snapshot.spec.source.persistent_volume_claim_name {
        out.push(BindingKey::Claim {
            namespace,
            name: claim.clone(),
        });
    }
    out
}

/// Keys for a changed content: itself, its snapshot, and (when that snapshot is known) the
/// snapshot's source PVC.
pub fn for_content(
    content: &VolumeSnapshotContent,
    snapshots: &Store<VolumeSnapshot>,
) -> Vec<BindingKey> {
    let mut out = vec![BindingKey::Content(
        content.metadata.name.clone().unwrap_or_default(),
    )];
    let reference = &content.spec.volume_snapshot_ref;
    if let (Some(namespace), Some(name)) = (&reference.namespace, &reference.name) {
        let snapshot =
            snapshots.get(&kube::runtime::reflector::ObjectRef::new(name).within(namespace));
        match snapshot {
            Some(snapshot) => out.extend(for_snapshot(&snapshot)),
            None => out.push(BindingKey::Snapshot {
                namespace: namespace.clone(),
                name: name.clone(),
            }),
        }
    }
    out
}

/// Keys for a changed class: the not-ready snapshots that name it or name none (a default
/// class may have appeared).
pub fn for_class(class: &str, snapshots: &Store<VolumeSnapshot>) -> Vec<BindingKey> {
    snapshots
        .state_filter(|s| {
            !s.is_ready()
                && s.spec
                    .volume_snapshot_class_name
                    .as_deref()
                    .is_none_or(|c| c == class)
        })
        .iter()
        .map(|s| BindingKey::Snapshot {
            namespace: s.metadata.namespace.clone().unwrap_or_default(),
            name: s.metadata.name.clone().unwrap_or_default(),
        })
        .collect()
}

/// Keys for a changed PVC: its protection, the snapshots taken of it, and a snapshot it
/// restores from.
pub fn for_claim(
    claim: &PersistentVolumeClaim,
    snapshots: &Store<VolumeSnapshot>,
) -> Vec<BindingKey> {
    let namespace = claim.metadata.namespace.clone().unwrap_or_default();
    let name = claim.metadata.name.clone().unwrap_or_default();
    let mut out = vec![BindingKey::Claim {
        namespace: namespace.clone(),
        name: name.clone(),
    }];
    for snapshot in snapshots.state_filter(|s| {
        s.metadata.namespace.as_deref() == Some(namespace.as_str())
            && s.spec.source.persistent_volume_claim_name.as_deref() == Some(name.as_str())
    }) {
        out.push(BindingKey::Snapshot {
            namespace: namespace.clone(),
            name: snapshot.metadata.name.clone().unwrap_or_default(),
        });
    }
    let spec = claim.spec.as_ref();
    let source = spec
        .and_then(|s| {
            s.data_source_ref
                .as_ref()
                .map(|r| (r.api_group.as_deref(), r.kind.as_str(), r.name.clone()))
        })
        .or_else(|| {
            spec.and_then(|s| {
                s.data_source
                    .as_ref()
                    .map(|r| (r.api_group.as_deref(), r.kind.as_str(), r.name.clone()))
            })
        });
    if let Some((Some(keys::GROUP), keys::VOLUME_SNAPSHOT_KIND, snapshot)) = source {
        out.push(BindingKey::Snapshot {
            namespace,
            name: snapshot,
        });
    }
    out
}
