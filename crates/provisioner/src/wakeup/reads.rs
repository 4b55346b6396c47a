//! The API reads that tie a restoring claim to a CSI snapshot id without
//! `--extra-create-metadata`: its VolumeSnapshot's bound content and that content's
//! `status.snapshotHandle` (the provisioner's `get` on both, as for a restore itself).

use std::collections::HashMap;
use std::time::Duration;

use k8s_openapi::api::core::v1::PersistentVolumeClaim;
use kube::Client;
use kube::api::Api;
use snapshot_api::{VolumeSnapshot, VolumeSnapshotContent};

use crate::source::source_ref::claim_source;

/// Each read's bound: a slow API server delays a wake-up, never the consumer for long.
const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// `(namespace, name)` of a VolumeSnapshot → the snapshot handle of its bound content, for the
/// snapshots `claims` restore from whose content is `driver`'s. A snapshot that cannot be read
/// is left out: its claims keep their backoff.
pub async fn snapshot_handles(
    client: &Client,
    driver: &str,
    claims: &[&PersistentVolumeClaim],
) -> HashMap<(String, String), String> {
    let mut handles = HashMap::new();
    for claim in claims {
        let Some(source) = claim_source(claim) else {
            continue;
        };
        let key = (source.namespace, source.name);
        if handles.contains_key(&key) {
            continue;
        }
        match handle_of(client, driver, &key.0, &key.1).await {
            Ok(Some(handle)) => {
                handles.insert(key, handle);
            }
            Ok(None) => {}
            Err(error) => {
                tracing::debug!(snapshot = %format!("{}/{}", key.0, key.1), %error,
                    "snapshot not read for a wake-up; its claims keep their backoff");
            }
        }
    }
    handles
}

async fn handle_of(
    client: &Client,
    driver: &str,
    namespace: &str,
    name: &str,
) -> Result<Option<String>, String> {
    let snapshots: Api<VolumeSnapshot> = Api::namespaced(client.clone(), namespace);
    let Some(snapshot) = read(snapshots.get_opt(name)).await? else {
        return Ok(None);
    };
    let Some(content_name) = snapshot
        .status
        .and_then(|s| s.bound_volume_snapshot_content_name)
    else {
        return Ok(None);
    };
    let contents: Api<VolumeSnapshotContent> = Api::all(client.clone());
    let Some(content) = read(contents.get_opt(&content_name)).await? else {
        return Ok(None);
    };
    Ok(content
        .status
        .and_then(|s| s.snapshot_handle)
        .filter(|_| content.spec.driver == driver))
}

async fn read<T>(call: impl Future<Output = Result<T, kube::Error>>) -> Result<T, String> {
    match tokio::time::timeout(READ_TIMEOUT, call).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(error)) => Err(error.to_string()),
        Err(_) => Err(format!("no answer within {READ_TIMEOUT:?}")),
    }
}
