//! Validation of a claim's data source against the objects it names — external-provisioner's
//! rules for restores (VolumeSnapshot) and clones (PVC). Pure: the controller fetches the
//! objects and passes them in.

use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim};
use sidecar::quantity::parse_bytes;

use crate::snapshot_view::{ContentView, SnapshotView};

/// Why a source cannot be used (yet). Retried with backoff and reported as ProvisioningFailed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("data source {kind} {name:?}: {rule}")]
pub struct SourceError {
    pub kind: &'static str,
    pub name: String,
    pub rule: String,
}

fn snapshot_error(name: &str, rule: impl Into<String>) -> SourceError {
    SourceError {
        kind: "VolumeSnapshot",
        name: name.to_owned(),
        rule: rule.into(),
    }
}

fn claim_error(name: &str, rule: impl Into<String>) -> SourceError {
    SourceError {
        kind: "PersistentVolumeClaim",
        name: name.to_owned(),
        rule: rule.into(),
    }
}

/// Checks a restore source; returns the CSI snapshot id.
///
/// `in_use_by_us`: the snapshot already carries our source-protection finalizer, so a restore
/// started earlier may go on even though the snapshot is being deleted (upstream's rule).
pub fn check_snapshot(
    snapshot: &SnapshotView,
    content: Option<&ContentView>,
    driver: &str,
    requested_bytes: u64,
    in_use_by_us: bool,
) -> Result<String, SourceError> {
    let name = &snapshot.name;
    if snapshot.deleting && !in_use_by_us {
        return Err(snapshot_error(name, "it is being deleted"));
    }
    let Some(content_name) = snapshot.bound_content_name.as_deref() else {
        return Err(snapshot_error(
            name,
            "it is not bound to a VolumeSnapshotContent yet",
        ));
    };
    let Some(content) = content else {
        return Err(snapshot_error(
            name,
            format!("its VolumeSnapshotContent {content_name:?} does not exist"),
        ));
    };
    let points_back = content.snapshot_ref_name.as_deref() == Some(name.as_str())
        && content.snapshot_ref_namespace.as_deref() == Some(snapshot.namespace.as_str())
        && content
            .snapshot_ref_uid
            .as_deref()
            .is_none_or(|uid| uid == snapshot.uid);
    if !points_back {
        return Err(snapshot_error(
            name,
            format!("VolumeSnapshotContent {content_name:?} is bound to another snapshot"),
        ));
    }
    if content.driver != driver {
        return Err(snapshot_error(
            name,
            format!(
                "it was taken by driver {:?}, not {driver:?}",
                content.driver
            ),
        ));
    }
    if !(snapshot.ready_to_use && content.ready_to_use) {
        return Err(snapshot_error(name, "it is not ready to use"));
    }
    let Some(handle) = content.snapshot_handle.clone().filter(|h| !h.is_empty()) else {
        return Err(snapshot_error(name, "its content has no snapshot handle"));
    };
    let restore_size = match (&snapshot.restore_size, content.restore_size) {
        (Some(quantity), _) => Some(
            parse_bytes(quantity)
                .map_err(|e| snapshot_error(name, format!("status.restoreSize: {e}")))?,
        ),
        (None, Some(bytes)) => u64::try_from(bytes).ok(),
        (None, None) => None,
    };
    if let Some(restore_size) = restore_size
        && requested_bytes < restore_size
    {
        return Err(snapshot_error(
            name,
            format!(
                "requested size {requested_bytes} is smaller than the snapshot's restore size {restore_size}"
            ),
        ));
    }
    Ok(handle)
}

/// Checks a clone source; returns the CSI volume id of the source volume.
pub fn check_claim(
    target: &PersistentVolumeClaim,
    source: &PersistentVolumeClaim,
    source_pv: Option<&PersistentVolume>,
    driver: &str,
    requested_bytes: u64,
) -> Result<String, SourceError> {
    let name = source.metadata.name.clone().unwrap_or_default();
    if source.metadata.namespace != target.metadata.namespace {
        return Err(claim_error(&name, "it must be in the claim's namespace"));
    }
    if source.metadata.deletion_timestamp.is_some() {
        return Err(claim_error(&name, "it is being deleted"));
    }
    let phase = source.status.as_ref().and_then(|s| s.phase.as_deref());
    let volume_name = source.spec.as_ref().and_then(|s| s.volume_name.as_deref());
    let (Some("Bound"), Some(volume_name)) = (phase, volume_name) else {
        return Err(claim_error(&name, "it is not bound"));
    };
    let source_bytes = source
        .spec
        .as_ref()
        .and_then(|s| s.resources.as_ref())
        .and_then(|r| r.requests.as_ref())
        .and_then(|r| r.get("storage"))
        .map(|q| parse_bytes(&q.0))
        .transpose()
        .map_err(|e| claim_error(&name, format!("spec.resources.requests.storage: {e}")))?
        .unwrap_or(0);
    if requested_bytes < source_bytes {
        return Err(claim_error(
            &name,
            format!("requested size {requested_bytes} is smaller than the source's {source_bytes}"),
        ));
    }
    let Some(pv) = source_pv else {
        return Err(claim_error(
            &name,
            format!("its PV {volume_name:?} does not exist"),
        ));
    };
    let pv_spec = pv.spec.clone().unwrap_or_default();
    let Some(csi) = pv_spec.csi.as_ref() else {
        return Err(claim_error(&name, "its PV is not a CSI volume"));
    };
    if csi.driver != driver {
        return Err(claim_error(
            &name,
            format!(
                "its volume belongs to driver {:?}, not {driver:?}",
                csi.driver
            ),
        ));
    }
    let claim_ref_ok = pv_spec.claim_ref.as_ref().is_some_and(|r| {
        r.name == source.metadata.name
            && r.namespace == source.metadata.namespace
            && r.uid
                .as_ref()
                .is_none_or(|uid| Some(uid) == source.metadata.uid.as_ref())
    });
    if !claim_ref_ok {
        return Err(claim_error(&name, "its PV is bound to another claim"));
    }
    let mode = |m: Option<&String>| m.map_or("Filesystem", String::as_str).to_owned();
    let target_mode = mode(target.spec.as_ref().and_then(|s| s.volume_mode.as_ref()));
    let source_mode = mode(source.spec.as_ref().and_then(|s| s.volume_mode.as_ref()));
    if target_mode != source_mode {
        return Err(claim_error(
            &name,
            format!("its volume mode {source_mode} differs from the claim's {target_mode}"),
        ));
    }
    Ok(csi.volume_handle.clone())
}

#[cfg(test)]
mod tests;
