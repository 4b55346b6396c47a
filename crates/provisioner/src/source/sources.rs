//! Fetches a claim's data source objects and checks them ([`super::source_ref`] for the
//! namespace, [`super::data_source`] for the rest): the CSI content source for CreateVolume
//! and which object to protect while it is used.

use csi::v1::VolumeContentSource;
use csi::v1::volume_content_source::{SnapshotSource, Type, VolumeSource};
use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim};
use kube::Client;
use kube::api::{Api, DynamicObject, ListParams};
use snapshot_api::{VolumeSnapshot, VolumeSnapshotContent};

use crate::error::{ProvisionerError, SourceError};
use crate::keys::{FINALIZER_SNAPSHOT_SOURCE_PROTECTION, KIND_PVC, KIND_VOLUME_SNAPSHOT};
use crate::source::data_source::{
    RestoreRequest, SourceRules, check_claim, check_snapshot, volume_mode,
};
use crate::source::source_ref::{
    Grant, SourceKind, claim_source, permit, reference_grant_resource,
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

/// The object a claim's data source names (`dataSource`, else `dataSourceRef`), if it is one
/// the provisioner reads from.
pub fn source_object(claim: &PersistentVolumeClaim) -> Option<SourceObject> {
    let source = claim_source(claim)?;
    let (namespace, name) = (source.namespace.clone(), source.name.clone());
    match source.kind() {
        SourceKind::Snapshot => Some(SourceObject::Snapshot { namespace, name }),
        SourceKind::Claim => Some(SourceObject::Claim { namespace, name }),
        SourceKind::Populator => None,
    }
}

/// The ReferenceGrants in `namespace`; none when the Gateway API is not installed.
async fn grants_in(client: &Client, namespace: &str) -> Result<Vec<Grant>, ProvisionerError> {
    let api: Api<DynamicObject> =
        Api::namespaced_with(client.clone(), namespace, &reference_grant_resource());
    match api.list(&ListParams::default()).await {
        Ok(list) => Ok(list.items.iter().map(Grant::from_object).collect()),
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(Vec::new()),
        Err(e) => Err(ProvisionerError::kube(
            format!("listing ReferenceGrants in namespace {namespace}"),
            e,
        )),
    }
}

/// Resolves the claim's data source (only VolumeSnapshot and PVC get here; the decision
/// ignored other kinds).
///
/// # Errors
/// The source is in a namespace the claim may not read, missing, not ready, of another
/// driver, too big, in another volume mode, or the reads failed.
pub async fn resolve(
    client: &Client,
    claim: &PersistentVolumeClaim,
    driver: &str,
    requested_bytes: u64,
    rules: SourceRules,
) -> Result<Option<ResolvedSource>, ProvisionerError> {
    let Some(source) = claim_source(claim) else {
        return Ok(None);
    };
    let own_namespace = claim.metadata.namespace.as_deref().unwrap_or_default();
    let grants = if source.namespace != own_namespace && rules.cross_namespace {
        grants_in(client, &source.namespace).await?
    } else {
        Vec::new()
    };
    permit(claim, &source, rules.cross_namespace, &grants)?;
    let namespace = source.namespace.clone();
    if source.kind() == SourceKind::Snapshot {
        let snapshots: Api<VolumeSnapshot> = Api::namespaced(client.clone(), &namespace);
        let snapshot = snapshots
            .get_opt(&source.name)
            .await
            .map_err(kube_err(format!(
                "reading VolumeSnapshot {namespace}/{}",
                source.name
            )))?
            .ok_or_else(|| {
                ProvisionerError::Source(SourceError {
                    kind: "VolumeSnapshot",
                    name: source.name.clone(),
                    rule: "it does not exist".to_owned(),
                })
            })?;
        let bound = snapshot
            .status
            .as_ref()
            .and_then(|s| s.bound_volume_snapshot_content_name.as_deref());
        let content = match bound {
            Some(name) => {
                let contents: Api<VolumeSnapshotContent> = Api::all(client.clone());
                contents
                    .get_opt(name)
                    .await
                    .map_err(kube_err(format!("reading VolumeSnapshotContent {name}")))?
            }
            None => None,
        };
        let in_use_by_us = snapshot
            .metadata
            .finalizers
            .iter()
            .flatten()
            .any(|f| f == FINALIZER_SNAPSHOT_SOURCE_PROTECTION);
        let snapshot_id = check_snapshot(
            &snapshot,
            content.as_ref(),
            &RestoreRequest {
                driver,
                requested_bytes,
                volume_mode: volume_mode(claim),
                prevent_volume_mode_conversion: rules.prevent_volume_mode_conversion,
                in_use_by_us,
            },
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
            ProvisionerError::Source(SourceError {
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
