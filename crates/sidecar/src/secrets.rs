//! CSI secrets from a Secret object, as the string map a CSI request carries (a
//! [`SecretMap`], which never prints a value). Read on every
//! call, never cached: a rotated key is used at once, and no secret lingers in the process
//! longer than the one request it is read for. Values go into the request and nowhere else;
//! errors name the Secret and at most a key, never a value.

use csi::SecretMap;
use k8s_openapi::api::core::v1::{Secret, SecretReference};
use kube::{Api, Client};

use crate::error::SidecarError;

/// The string data of Secret `namespace/name`. `referenced_by` says which field named it
/// (`the PV's controllerExpandSecretRef`), for the error when it does not exist.
///
/// `stringData` wins over `data` for a key in both, as it does when the API server merges
/// them on write (a real API server never returns `stringData`; a test's stand-in may).
///
/// # Errors
/// [`SidecarError::Kube`] when reading fails, [`SidecarError::SecretMissing`],
/// [`SidecarError::SecretNotText`] naming the key whose value is not UTF-8.
pub async fn fetch(
    client: &Client,
    namespace: &str,
    name: &str,
    referenced_by: &'static str,
) -> Result<SecretMap, SidecarError> {
    let api: Api<Secret> = Api::namespaced(client.clone(), namespace);
    let secret = api
        .get_opt(name)
        .await
        .map_err(|source| SidecarError::Kube {
            op: format!("reading Secret {namespace}/{name}"),
            source,
        })?
        .ok_or_else(|| SidecarError::SecretMissing {
            namespace: namespace.to_owned(),
            name: name.to_owned(),
            referenced_by,
        })?;
    let mut out = SecretMap::new();
    for (key, value) in secret.data.unwrap_or_default() {
        let text = String::from_utf8(value.0).map_err(|_| SidecarError::SecretNotText {
            namespace: namespace.to_owned(),
            name: name.to_owned(),
            key: key.clone(),
        })?;
        out.insert(key, text);
    }
    out.extend(secret.string_data.unwrap_or_default());
    Ok(out)
}

/// [`fetch`] for a PV's `SecretReference`; no reference is no secrets (CSI: they are
/// optional).
///
/// # Errors
/// As [`fetch`].
pub async fn fetch_referenced(
    client: &Client,
    reference: Option<&SecretReference>,
    referenced_by: &'static str,
) -> Result<SecretMap, SidecarError> {
    match reference {
        None => Ok(SecretMap::new()),
        Some(reference) => {
            let namespace = reference.namespace.as_deref().unwrap_or_default();
            let name = reference.name.as_deref().unwrap_or_default();
            fetch(client, namespace, name, referenced_by).await
        }
    }
}
