//! CSI secrets from Secret objects. Values are handed to the CSI request and nowhere else:
//! errors name the Secret, never its content.

use std::collections::HashMap;

use k8s_openapi::api::core::v1::Secret;
use kube::{Api, Client};

use crate::error::ProvisionerError;
use crate::secret_template::SecretRef;

/// The string data of `reference`; no reference, no secrets.
///
/// # Errors
/// [`ProvisionerError::Secret`] when the Secret is missing, unreadable or not UTF-8.
pub async fn read(
    client: &Client,
    reference: Option<&SecretRef>,
) -> Result<HashMap<String, String>, ProvisionerError> {
    let Some(reference) = reference else {
        return Ok(HashMap::new());
    };
    let fail = |reason: String| ProvisionerError::Secret {
        namespace: reference.namespace.clone(),
        name: reference.name.clone(),
        reason,
    };
    let api: Api<Secret> = Api::namespaced(client.clone(), &reference.namespace);
    let secret = api
        .get_opt(&reference.name)
        .await
        .map_err(|e| fail(format!("reading it failed: {e}")))?
        .ok_or_else(|| fail("it does not exist".to_owned()))?;
    let mut out = HashMap::new();
    for (key, value) in secret.data.unwrap_or_default() {
        let text =
            String::from_utf8(value.0).map_err(|_| fail(format!("key {key:?} is not UTF-8")))?;
        out.insert(key, text);
    }
    for (key, value) in secret.string_data.unwrap_or_default() {
        out.insert(key, value);
    }
    Ok(out)
}
