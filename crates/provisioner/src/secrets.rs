//! CSI secrets from the Secret objects a StorageClass names, read through
//! `sidecar::secrets` (on every call, never cached). Errors keep the provisioner's wording:
//! they name the Secret and what went wrong, never a value.

use csi::SecretMap;
use kube::Client;
use sidecar::SidecarError;
use sidecar::secret_template::SecretRef;

use crate::error::ProvisionerError;

/// The string data of `reference`; no reference, no secrets.
///
/// # Errors
/// [`ProvisionerError::Secret`] when the Secret is missing, unreadable or not UTF-8.
pub async fn read(
    client: &Client,
    reference: Option<&SecretRef>,
) -> Result<SecretMap, ProvisionerError> {
    let Some(reference) = reference else {
        return Ok(SecretMap::new());
    };
    sidecar::secrets::fetch(
        client,
        &reference.namespace,
        &reference.name,
        "named by the StorageClass",
    )
    .await
    .map_err(|error| ProvisionerError::Secret {
        namespace: reference.namespace.clone(),
        name: reference.name.clone(),
        reason: match error {
            SidecarError::SecretMissing { .. } => "it does not exist".to_owned(),
            SidecarError::SecretNotText { key, .. } => format!("key {key:?} is not UTF-8"),
            SidecarError::Kube { source, .. } => format!("reading it failed: {source}"),
            other => format!("reading it failed: {other}"),
        },
    })
}
