//! What to do about one PersistentVolume — the pure core of the delete path (upstream's
//! `shouldDelete` plus the finalizer rules of "honor PV reclaim policy").
//!
//! The backend volume is deleted only once the PV is `Released` (or `Failed`): its claim is
//! gone. A deletion timestamp alone never deletes it — `kubectl delete pv` on a PV a claim
//! still holds (a StatefulSet scaled to zero keeps its claims) must not purge the data under
//! that claim. Our finalizer keeps such a PV until the claim goes; then the volume and the PV
//! go together.

use k8s_openapi::api::core::v1::PersistentVolume;

use crate::keys::{ANN_PROVISIONED_BY, FINALIZER_PV};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VolumeAction {
    Ignore(&'static str),
    /// Released (or Failed) with reclaim policy Delete: DeleteVolume, delete the PV, drop the
    /// finalizer.
    Delete,
    /// Deleted while a claim still holds it (reclaim policy Delete, our finalizer on it): the
    /// volume stays until the claim is gone and the PV is Released. Only say so on the PV.
    DeletePending,
    /// Not ours to delete in the backend (Retain): only let the PV object go.
    RemoveFinalizer,
    /// A live PV with reclaim policy Delete that lost our finalizer: put it back so deleting
    /// the PV first still deletes the volume.
    AddFinalizer,
}

pub fn has_finalizer(pv: &PersistentVolume) -> bool {
    pv.metadata
        .finalizers
        .as_ref()
        .is_some_and(|f| f.iter().any(|f| f == FINALIZER_PV))
}

pub fn decide(pv: &PersistentVolume, driver: &str) -> VolumeAction {
    let ours = pv
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(ANN_PROVISIONED_BY))
        .is_some_and(|p| p == driver);
    if !ours {
        return VolumeAction::Ignore("not provisioned by this driver");
    }
    let spec = pv.spec.clone().unwrap_or_default();
    if spec.csi.as_ref().is_none_or(|csi| csi.driver != driver) {
        return VolumeAction::Ignore("not a CSI volume of this driver");
    }
    let finalizer = has_finalizer(pv);
    let deleting = pv.metadata.deletion_timestamp.is_some();
    let released = matches!(
        pv.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Released" | "Failed")
    );
    let policy = spec
        .persistent_volume_reclaim_policy
        .as_deref()
        .unwrap_or("Retain");
    match (policy, finalizer) {
        ("Delete", true) if released => VolumeAction::Delete,
        // Finalizer lost on a live PV: still ours to delete (a deleted PV without it was
        // deleted already).
        ("Delete", false) if released && !deleting => VolumeAction::Delete,
        ("Delete", true) if deleting => VolumeAction::DeletePending,
        ("Delete", false) if !deleting => VolumeAction::AddFinalizer,
        ("Delete", _) => VolumeAction::Ignore("waiting for the claim to be released"),
        (_, true) => VolumeAction::RemoveFinalizer,
        (_, false) => VolumeAction::Ignore("reclaim policy keeps the volume"),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use k8s_openapi::api::core::v1::{
        CSIPersistentVolumeSource, PersistentVolumeSpec, PersistentVolumeStatus,
    };
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
    use k8s_openapi::jiff::Timestamp;

    use super::*;

    const D: &str = "rbd.csi.sepia.io";

    fn pv(
        by: &str,
        policy: Option<&str>,
        phase: &str,
        finalizer: bool,
        deleting: bool,
    ) -> PersistentVolume {
        PersistentVolume {
            metadata: ObjectMeta {
                name: Some("pvc-1".into()),
                annotations: Some(BTreeMap::from([(ANN_PROVISIONED_BY.into(), by.into())])),
                finalizers: finalizer.then(|| vec![FINALIZER_PV.into()]),
                deletion_timestamp: deleting.then(|| Time(Timestamp::now())),
                ..ObjectMeta::default()
            },
            spec: Some(PersistentVolumeSpec {
                persistent_volume_reclaim_policy: policy.map(Into::into),
                csi: Some(CSIPersistentVolumeSource {
                    driver: by.into(),
                    volume_handle: "v".into(),
                    ..CSIPersistentVolumeSource::default()
                }),
                ..PersistentVolumeSpec::default()
            }),
            status: Some(PersistentVolumeStatus {
                phase: Some(phase.into()),
                ..PersistentVolumeStatus::default()
            }),
        }
    }

    #[test]
    fn the_table() {
        use VolumeAction::*;
        let d = Some("Delete");
        let r = Some("Retain");
        let cases = [
            (
                "released, Delete",
                pv(D, d, "Released", true, false),
                Delete,
            ),
            (
                "released, Delete, finalizer lost",
                pv(D, d, "Released", false, false),
                Delete,
            ),
            ("failed, Delete", pv(D, d, "Failed", true, false), Delete),
            (
                "released and deleted, Delete",
                pv(D, d, "Released", true, true),
                Delete,
            ),
            (
                "PV deleted first while bound: the claim still holds the data",
                pv(D, d, "Bound", true, true),
                DeletePending,
            ),
            (
                "PV deleted while not yet bound",
                pv(D, d, "Available", true, true),
                DeletePending,
            ),
            (
                "PV deleted while bound, finalizer gone",
                pv(D, d, "Bound", false, true),
                Ignore("waiting for the claim to be released"),
            ),
            (
                "deleted, finalizer gone",
                pv(D, d, "Released", false, true),
                Ignore("waiting for the claim to be released"),
            ),
            (
                "bound, Delete",
                pv(D, d, "Bound", true, false),
                Ignore("waiting for the claim to be released"),
            ),
            (
                "bound, Delete, finalizer lost",
                pv(D, d, "Bound", false, false),
                AddFinalizer,
            ),
            (
                "released, Retain",
                pv(D, r, "Released", true, false),
                RemoveFinalizer,
            ),
            (
                "bound, Retain",
                pv(D, r, "Bound", true, false),
                RemoveFinalizer,
            ),
            (
                "no policy means Retain",
                pv(D, None, "Released", true, false),
                RemoveFinalizer,
            ),
            (
                "Retain without finalizer",
                pv(D, r, "Released", false, false),
                Ignore("reclaim policy keeps the volume"),
            ),
            (
                "Recycle is not ours to run",
                pv(D, Some("Recycle"), "Released", true, false),
                RemoveFinalizer,
            ),
            (
                "another driver's PV",
                pv("other", d, "Released", true, false),
                Ignore("not provisioned by this driver"),
            ),
        ];
        for (name, pv, want) in cases {
            assert_eq!(decide(&pv, D), want, "{name}");
        }
    }
}
