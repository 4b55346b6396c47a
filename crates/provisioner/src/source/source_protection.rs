//! The finalizers that keep a clone's source claim and a restore's source snapshot from being
//! deleted while CreateVolume reads from them (upstream's keys). Added before CreateVolume;
//! removed after the PV exists, unless another pending claim still reads from the same source.

use std::fmt::Debug;

use k8s_openapi::api::core::v1::PersistentVolumeClaim;
use kube::api::Api;
use kube::runtime::reflector::Store;
use kube::{Client, Resource};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sidecar::patch::{self, Part};
use snapshot_api::VolumeSnapshot;

use crate::error::ProvisionerError;
use crate::keys::{FINALIZER_CLONING_PROTECTION, FINALIZER_SNAPSHOT_SOURCE_PROTECTION};
use crate::source::sources::{SourceObject, source_object};

/// Adds the protection finalizer if missing.
///
/// # Errors
/// The source vanished or the write failed; CreateVolume must not start then.
pub async fn protect(client: &Client, object: &SourceObject) -> Result<(), ProvisionerError> {
    set(client, object, true).await
}

/// Removes the protection finalizer unless a pending claim other than `done` (the claim just
/// provisioned) still uses the same source.
///
/// # Errors
/// The write failed; the caller retries.
pub async fn release(
    client: &Client,
    object: &SourceObject,
    claims: &Store<PersistentVolumeClaim>,
    done: &PersistentVolumeClaim,
) -> Result<(), ProvisionerError> {
    // Any pending claim, of any namespace (a granted dataSourceRef), reading the same object.
    let still_used = claims.state().iter().any(|claim| {
        claim.metadata.uid != done.metadata.uid
            && claim.spec.as_ref().is_some_and(|s| s.volume_name.is_none())
            && source_object(claim).as_ref() == Some(object)
    });
    if still_used {
        return Ok(());
    }
    set(client, object, false).await
}

async fn set(
    client: &Client,
    object: &SourceObject,
    present: bool,
) -> Result<(), ProvisionerError> {
    match object {
        SourceObject::Claim { namespace, name } => {
            let api: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), namespace);
            let op = format!("updating {FINALIZER_CLONING_PROTECTION} on claim {namespace}/{name}");
            toggle_on(&api, name, FINALIZER_CLONING_PROTECTION, present, op).await
        }
        SourceObject::Snapshot { namespace, name } => {
            let api: Api<VolumeSnapshot> = Api::namespaced(client.clone(), namespace);
            let op = format!(
                "updating {FINALIZER_SNAPSHOT_SOURCE_PROTECTION} on VolumeSnapshot {namespace}/{name}"
            );
            toggle_on(
                &api,
                name,
                FINALIZER_SNAPSHOT_SOURCE_PROTECTION,
                present,
                op,
            )
            .await
        }
    }
}

/// Reads object `name` and adds or removes `finalizer` on it with a conditional write; `op`
/// names the write in errors.
async fn toggle_on<K>(
    api: &Api<K>,
    name: &str,
    finalizer: &str,
    present: bool,
    op: String,
) -> Result<(), ProvisionerError>
where
    K: Resource + Clone + Serialize + DeserializeOwned + Debug,
{
    let Some(current) = api
        .get_opt(name)
        .await
        .map_err(|e| ProvisionerError::kube(op.clone(), e))?
    else {
        return missing(present, &op);
    };
    let mut object = current.clone();
    if toggle(&mut object.meta_mut().finalizers, finalizer, present) {
        patch::write_changes(api, &current, &object, Part::Object)
            .await
            .map_err(|e| ProvisionerError::kube(op, e))?;
    }
    Ok(())
}

fn missing(present: bool, op: &str) -> Result<(), ProvisionerError> {
    if present {
        Err(ProvisionerError::Claim(format!(
            "{op}: the source object is gone"
        )))
    } else {
        Ok(())
    }
}

/// Adds or removes `finalizer`; `true` if anything changed.
fn toggle(finalizers: &mut Option<Vec<String>>, finalizer: &str, present: bool) -> bool {
    let list = finalizers.get_or_insert_with(Vec::new);
    let has = list.iter().any(|f| f == finalizer);
    match (present, has) {
        (true, false) => {
            list.push(finalizer.to_owned());
            true
        }
        (false, true) => {
            list.retain(|f| f != finalizer);
            true
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toggle_adds_and_removes_once() {
        let mut f = None;
        assert!(toggle(&mut f, "a", true));
        assert!(!toggle(&mut f, "a", true));
        assert_eq!(f.as_deref(), Some(&["a".to_owned()][..]));
        assert!(toggle(&mut f, "a", false));
        assert!(!toggle(&mut f, "a", false));
    }
}
