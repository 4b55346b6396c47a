//! The Secret a PV names in `spec.csi.controllerExpandSecretRef`, as the string map CSI wants.
//! Read on every call (not cached), so a rotated key is used at once and no secret lingers in
//! this process longer than one request.

use std::collections::HashMap;

use k8s_openapi::api::core::v1::{Secret, SecretReference};
use kube::{Api, Client};

use crate::error::ResizerError;

/// An absent reference is an empty map (CSI: secrets are optional).
pub async fn fetch(
    client: &Client,
    reference: Option<&SecretReference>,
) -> Result<HashMap<String, String>, ResizerError> {
    let Some(reference) = reference else {
        return Ok(HashMap::new());
    };
    let namespace = reference.namespace.clone().unwrap_or_default();
    let name = reference.name.clone().unwrap_or_default();
    let api: Api<Secret> = Api::namespaced(client.clone(), &namespace);
    let secret = api
        .get_opt(&name)
        .await
        .map_err(ResizerError::kube(format!(
            "reading Secret {namespace}/{name}"
        )))?
        .ok_or_else(|| ResizerError::SecretMissing {
            namespace: namespace.clone(),
            name: name.clone(),
        })?;
    let mut out = HashMap::new();
    for (key, value) in secret.data.unwrap_or_default() {
        let text = String::from_utf8(value.0).map_err(|_| ResizerError::SecretNotText {
            namespace: namespace.clone(),
            name: name.clone(),
            key: key.clone(),
        })?;
        out.insert(key, text);
    }
    for (key, value) in secret.string_data.unwrap_or_default() {
        out.entry(key).or_insert(value);
    }
    Ok(out)
}
