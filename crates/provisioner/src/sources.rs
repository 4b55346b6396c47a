//! Fetches a claim's data source objects and checks them ([`crate::data_source`]): the CSI
//! content source for CreateVolume and which object to protect while it is used.

use csi::v1::VolumeContentSource;
use csi::v1::volume_content_source::{SnapshotSource, Type, VolumeSource};
use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim};
use kube::Client;
use kube::api::{Api, DynamicObject};

use crate::data_source::{check_claim, check_snapshot};
use crate::error::ProvisionerError;
use crate::keys::{FINALIZER_SNAPSHOT_SOURCE_PROTECTION, KIND_PVC, KIND_VOLUME_SNAPSHOT};
use crate::snapshot_view::{
    ContentView, SnapshotView, volume_snapshot_content_resource, volume_snapshot_resource,
};

/// The object a clone or restore reads from, which must not go away meanwhile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceObject {
    Snapshot { namespace: String, name: String },
    Claim { namespace: String, name: String },
}

impl SourceObject {
    /// The `source` label of the provisioning metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            SourceObject::Snapshot { .. } => KIND_VOLUME_SNAPSHOT,
            SourceObject::Claim { .. } => KIND_PVC,
        }
    }
}

/// A usable data source.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedSource {
    pub content: VolumeContentSource,
    pub object: SourceObject,
}

fn kube_err(op: String) -> impl FnOnce(kube::Error) -> ProvisionerError {
    move |e| ProvisionerError::kube(op, e)
}

/// Resolves `claim.spec.dataSource` (only VolumeSnapshot and PVC get here; the decision
/// ignored other kinds).
///
/// # Errors
/// The source is missing, not ready, of another driver, too big, or the reads failed.
pub async fn resolve(
    client: &Client,
    claim: &PersistentVolumeClaim,
    driver: &str,
    requested_bytes: u64,
) -> Result<Option<ResolvedSource>, ProvisionerError> {
    let Some(source) = claim.spec.as_ref().and_then(|s| s.data_source.clone()) else {
        return Ok(None);
    };
    let namespace = claim.metadata.namespace.clone().unwrap_or_default();
    if source.kind == KIND_VOLUME_SNAPSHOT {
        let snapshots: Api<DynamicObject> =
            Api::namespaced_with(client.clone(), &namespace, &volume_snapshot_resource());
        let snapshot = snapshots
            .get_opt(&source.name)
            .await
            .map_err(kube_err(format!(
                "reading VolumeSnapshot {namespace}/{}",
                source.name
            )))?
            .ok_or_else(|| {
                ProvisionerError::Source(crate::data_source::SourceError {
                    kind: "VolumeSnapshot",
                    name: source.name.clone(),
                    rule: "it does not exist".to_owned(),
                })
            })?;
        let snapshot = SnapshotView::from_object(&snapshot);
        let content = match &snapshot.bound_content_name {
            Some(name) => {
                let contents: Api<DynamicObject> =
                    Api::all_with(client.clone(), &volume_snapshot_content_resource());
                contents
                    .get_opt(name)
                    .await
                    .map_err(kube_err(format!("reading VolumeSnapshotContent {name}")))?
                    .map(|c| ContentView::from_object(&c))
            }
            None => None,
        };
        let protected = snapshot
            .finalizers
            .iter()
            .any(|f| f == FINALIZER_SNAPSHOT_SOURCE_PROTECTION);
        let snapshot_id = check_snapshot(
            &snapshot,
            content.as_ref(),
            driver,
            requested_bytes,
            protected,
        )?;
        return Ok(Some(ResolvedSource {
            content: VolumeContentSource {
                r#type: Some(Type::Snapshot(SnapshotSource { snapshot_id })),
            },
            object: SourceObject::Snapshot {
                namespace,
                name: source.name,
            },
        }));
    }
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), &namespace);
    let source_claim = claims
        .get_opt(&source.name)
        .await
        .map_err(kube_err(format!(
            "reading claim {namespace}/{}",
            source.name
        )))?
        .ok_or_else(|| {
            ProvisionerError::Source(crate::data_source::SourceError {
                kind: "PersistentVolumeClaim",
                name: source.name.clone(),
                rule: "it does not exist".to_owned(),
            })
        })?;
    let pv = match source_claim
        .spec
        .as_ref()
        .and_then(|s| s.volume_name.clone())
    {
        Some(pv_name) => Api::<PersistentVolume>::all(client.clone())
            .get_opt(&pv_name)
            .await
            .map_err(kube_err(format!("reading PV {pv_name}")))?,
        None => None,
    };
    let volume_id = check_claim(claim, &source_claim, pv.as_ref(), driver, requested_bytes)?;
    Ok(Some(ResolvedSource {
        content: VolumeContentSource {
            r#type: Some(Type::Volume(VolumeSource { volume_id })),
        },
        object: SourceObject::Claim {
            namespace,
            name: source.name,
        },
    }))
}
