//! Validation of a claim's data source against the objects it names — external-provisioner's
//! rules for restores (VolumeSnapshot) and clones (PVC). Pure: [`super::sources`] fetches the
//! objects (as `snapshot_api`'s types) and passes them in. Whether the claim may read a source
//! in another namespace at all is [`super::source_ref`]'s question, answered before these rules
//! run.

use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim};
use sidecar::quantity::parse_bytes;
use snapshot_api::{VolumeSnapshot, VolumeSnapshotContent};

use crate::error::SourceError;
use crate::keys::ANN_ALLOW_VOLUME_MODE_CHANGE;

/// The flags that shape the source rules (`--prevent-volume-mode-conversion`,
/// `--feature-gates=CrossNamespaceVolumeDataSource=…`); `Default` is upstream's defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SourceRules {
    /// A restore may not change the volume mode recorded on the snapshot's content
    /// (`sourceVolumeMode`) unless the content allows it with [`ANN_ALLOW_VOLUME_MODE_CHANGE`].
    pub prevent_volume_mode_conversion: bool,
    /// `dataSourceRef` may name another namespace (with a ReferenceGrant there).
    pub cross_namespace: bool,
}

impl Default for SourceRules {
    fn default() -> Self {
        Self {
            prevent_volume_mode_conversion: true,
            cross_namespace: false,
        }
    }
}

/// What a claim asks of the snapshot it restores from.
#[derive(Debug, Clone, Copy)]
pub struct RestoreRequest<'a> {
    /// Our driver name: the snapshot must be one of its.
    pub driver: &'a str,
    pub requested_bytes: u64,
    /// The claim's `volumeMode` (`Filesystem` when unset, as the API server defaults it).
    pub volume_mode: &'a str,
    pub prevent_volume_mode_conversion: bool,
    /// The snapshot already carries our source-protection finalizer, so a restore started
    /// earlier may go on even though the snapshot is being deleted (upstream's rule).
    pub in_use_by_us: bool,
}

/// A claim's `volumeMode`, defaulted as the API server defaults it.
pub fn volume_mode(claim: &PersistentVolumeClaim) -> &str {
    claim
        .spec
        .as_ref()
        .and_then(|s| s.volume_mode.as_deref())
        .unwrap_or("Filesystem")
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

/// Checks a restore source; returns the CSI snapshot id. Every field it reads may be missing:
/// a missing status reads as not bound, not ready, no handle and no size.
pub fn check_snapshot(
    snapshot: &VolumeSnapshot,
    content: Option<&VolumeSnapshotContent>,
    request: &RestoreRequest<'_>,
) -> Result<String, SourceError> {
    let name = snapshot.metadata.name.as_deref().unwrap_or_default();
    let status = snapshot.status.clone().unwrap_or_default();
    let driver = request.driver;
    if snapshot.metadata.deletion_timestamp.is_some() && !request.in_use_by_us {
        return Err(snapshot_error(name, "it is being deleted"));
    }
    let Some(content_name) = status.bound_volume_snapshot_content_name.as_deref() else {
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
    let reference = &content.spec.volume_snapshot_ref;
    let points_back = reference.name.as_deref() == Some(name)
        && reference.namespace.as_deref()
            == Some(snapshot.metadata.namespace.as_deref().unwrap_or_default())
        && reference
            .uid
            .as_deref()
            .is_none_or(|uid| uid == snapshot.metadata.uid.as_deref().unwrap_or_default());
    if !points_back {
        return Err(snapshot_error(
            name,
            format!("VolumeSnapshotContent {content_name:?} is bound to another snapshot"),
        ));
    }
    if content.spec.driver != driver {
        return Err(snapshot_error(
            name,
            format!(
                "it was taken by driver {:?}, not {driver:?}",
                content.spec.driver
            ),
        ));
    }
    if !(snapshot.is_ready() && content.is_ready()) {
        return Err(snapshot_error(name, "it is not ready to use"));
    }
    let content_status = content.status.clone().unwrap_or_default();
    let Some(handle) = content_status.snapshot_handle.filter(|h| !h.is_empty()) else {
        return Err(snapshot_error(name, "its content has no snapshot handle"));
    };
    let restore_size = match (&status.restore_size, content_status.restore_size) {
        (Some(quantity), _) => Some(
            parse_bytes(&quantity.0)
                .map_err(|e| snapshot_error(name, format!("status.restoreSize: {e}")))?,
        ),
        (None, Some(bytes)) => u64::try_from(bytes).ok(),
        (None, None) => None,
    };
    let requested_bytes = request.requested_bytes;
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
    if request.prevent_volume_mode_conversion {
        check_mode_change(name, content, request.volume_mode)?;
    }
    Ok(handle)
}

/// Upstream's `--prevent-volume-mode-conversion`: a restore into another volume mode than
/// the snapshot's source (`sourceVolumeMode`, when recorded) needs the content's
/// [`ANN_ALLOW_VOLUME_MODE_CHANGE`] set to a true value — raw blocks read as a filesystem (or
/// the reverse) are how a user could reach data the filesystem hid.
fn check_mode_change(
    name: &str,
    content: &VolumeSnapshotContent,
    volume_mode: &str,
) -> Result<(), SourceError> {
    let Some(source_mode) = content.spec.source_volume_mode.as_deref() else {
        return Ok(());
    };
    if source_mode == volume_mode {
        return Ok(());
    }
    let refuse = |why: String| {
        Err(snapshot_error(
            name,
            format!(
                "the claim's volume mode {volume_mode} differs from the snapshot's source \
                 volume mode {source_mode}, and {why}"
            ),
        ))
    };
    let content_name = content.metadata.name.as_deref().unwrap_or_default();
    match content
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(ANN_ALLOW_VOLUME_MODE_CHANGE))
        .map(|value| parse_go_bool(value))
    {
        Some(Some(true)) => Ok(()),
        Some(Some(false)) => refuse(format!(
            "VolumeSnapshotContent {content_name:?} sets {ANN_ALLOW_VOLUME_MODE_CHANGE} to false"
        )),
        Some(None) => refuse(format!(
            "{ANN_ALLOW_VOLUME_MODE_CHANGE} on VolumeSnapshotContent {content_name:?} is not a boolean"
        )),
        None => refuse(format!(
            "VolumeSnapshotContent {content_name:?} lacks {ANN_ALLOW_VOLUME_MODE_CHANGE}: \"true\""
        )),
    }
}

/// A boolean as Go's `strconv.ParseBool` reads it (upstream parses the annotation so).
fn parse_go_bool(text: &str) -> Option<bool> {
    match text {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
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
    let target_mode = volume_mode(target);
    let source_mode = volume_mode(source);
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
