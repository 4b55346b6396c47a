//! Validation of a claim's data source against the objects it names — external-provisioner's
//! rules for restores (VolumeSnapshot) and clones (PVC). Pure: the controller fetches the
//! objects and passes them in. Whether the claim may read a source in another namespace at
//! all is [`crate::source_ref`]'s question, answered before these rules run.

use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim};
use sidecar::quantity::parse_bytes;

use crate::keys::ANN_ALLOW_VOLUME_MODE_CHANGE;
use crate::snapshot_view::{ContentView, SnapshotView};

/// Why a source cannot be used (yet). Retried with backoff and reported as ProvisioningFailed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("data source {kind} {name:?}: {rule}")]
pub struct SourceError {
    pub kind: &'static str,
    pub name: String,
    pub rule: String,
}

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

/// Checks a restore source; returns the CSI snapshot id.
pub fn check_snapshot(
    snapshot: &SnapshotView,
    content: Option<&ContentView>,
    request: &RestoreRequest<'_>,
) -> Result<String, SourceError> {
    let name = &snapshot.name;
    let driver = request.driver;
    if snapshot.deleting && !request.in_use_by_us {
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
    content: &ContentView,
    volume_mode: &str,
) -> Result<(), SourceError> {
    let Some(source_mode) = content.source_volume_mode.as_deref() else {
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
    match content
        .allow_volume_mode_change
        .as_deref()
        .map(parse_go_bool)
    {
        Some(Some(true)) => Ok(()),
        Some(Some(false)) => refuse(format!(
            "VolumeSnapshotContent {:?} sets {ANN_ALLOW_VOLUME_MODE_CHANGE} to false",
            content.name
        )),
        Some(None) => refuse(format!(
            "{ANN_ALLOW_VOLUME_MODE_CHANGE} on VolumeSnapshotContent {:?} is not a boolean",
            content.name
        )),
        None => refuse(format!(
            "VolumeSnapshotContent {:?} lacks {ANN_ALLOW_VOLUME_MODE_CHANGE}: \"true\"",
            content.name
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
