//! The PersistentVolume for a created volume, field for field what external-provisioner
//! writes, so kube-controller-manager binds it and the attacher, node plugin and resizer find
//! what they expect.

use std::collections::BTreeMap;

use csi::v1::{Topology, Volume};
use k8s_openapi::api::core::v1::{
    CSIPersistentVolumeSource, NodeSelector, NodeSelectorRequirement, NodeSelectorTerm,
    ObjectReference, PersistentVolume, PersistentVolumeClaim, PersistentVolumeSpec,
    SecretReference, VolumeNodeAffinity,
};
use k8s_openapi::api::storage::v1::StorageClass;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use sidecar::quantity::format_bytes;

use crate::keys::{
    ANN_DELETION_SECRET_NAME, ANN_DELETION_SECRET_NAMESPACE, ANN_PROVISIONED_BY,
    ATTR_PROVISIONER_IDENTITY, FINALIZER_PV,
};
use crate::plan::VolumePlan;
use crate::plan::class_params::SecretKind;

/// Builds the PV. `capacity_bytes` is what the driver reported (or the request when it said 0);
/// `identity` goes to `spec.csi.volumeAttributes[storage.kubernetes.io/csiProvisionerIdentity]`.
pub fn build_pv(
    plan: &VolumePlan,
    claim: &PersistentVolumeClaim,
    class: &StorageClass,
    volume: &Volume,
    capacity_bytes: u64,
    driver: &str,
    identity: &str,
) -> PersistentVolume {
    let secret = |kind| {
        plan.secret_refs.get(&kind).map(|r| SecretReference {
            name: Some(r.name.clone()),
            namespace: Some(r.namespace.clone()),
        })
    };
    let deletion = plan.secret_refs.get(&SecretKind::Provisioner);
    let annotations = BTreeMap::from([
        (ANN_PROVISIONED_BY.to_owned(), driver.to_owned()),
        (
            ANN_DELETION_SECRET_NAME.to_owned(),
            deletion.map(|r| r.name.clone()).unwrap_or_default(),
        ),
        (
            ANN_DELETION_SECRET_NAMESPACE.to_owned(),
            deletion.map(|r| r.namespace.clone()).unwrap_or_default(),
        ),
    ]);
    let mut attributes: BTreeMap<String, String> = volume
        .volume_context
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    attributes.insert(ATTR_PROVISIONER_IDENTITY.to_owned(), identity.to_owned());
    let claim_spec = claim.spec.clone().unwrap_or_default();
    PersistentVolume {
        metadata: ObjectMeta {
            name: Some(plan.request_name.clone()),
            annotations: Some(annotations),
            finalizers: Some(vec![FINALIZER_PV.to_owned()]),
            ..ObjectMeta::default()
        },
        spec: Some(PersistentVolumeSpec {
            access_modes: claim_spec.access_modes.clone(),
            capacity: Some(BTreeMap::from([(
                "storage".to_owned(),
                Quantity(format_bytes(capacity_bytes)),
            )])),
            claim_ref: Some(ObjectReference {
                api_version: Some("v1".to_owned()),
                kind: Some("PersistentVolumeClaim".to_owned()),
                name: claim.metadata.name.clone(),
                namespace: claim.metadata.namespace.clone(),
                uid: claim.metadata.uid.clone(),
                resource_version: claim.metadata.resource_version.clone(),
                ..ObjectReference::default()
            }),
            storage_class_name: class.metadata.name.clone(),
            persistent_volume_reclaim_policy: Some(
                class
                    .reclaim_policy
                    .clone()
                    .unwrap_or_else(|| "Delete".to_owned()),
            ),
            mount_options: class.mount_options.clone(),
            volume_mode: Some(
                claim_spec
                    .volume_mode
                    .clone()
                    .unwrap_or_else(|| "Filesystem".to_owned()),
            ),
            csi: Some(CSIPersistentVolumeSource {
                driver: driver.to_owned(),
                volume_handle: volume.volume_id.clone(),
                fs_type: plan.fs_type().map(str::to_owned),
                volume_attributes: Some(attributes),
                controller_publish_secret_ref: secret(SecretKind::ControllerPublish),
                node_stage_secret_ref: secret(SecretKind::NodeStage),
                node_publish_secret_ref: secret(SecretKind::NodePublish),
                controller_expand_secret_ref: secret(SecretKind::ControllerExpand),
                node_expand_secret_ref: secret(SecretKind::NodeExpand),
                read_only: None,
            }),
            node_affinity: node_affinity(&volume.accessible_topology),
            ..PersistentVolumeSpec::default()
        }),
        status: None,
    }
}

/// One node-selector term per accessible segment (the terms are ORed, the keys within a
/// term ANDed), as upstream's `GenerateVolumeNodeAffinity`. No topology, no affinity.
pub fn node_affinity(topology: &[Topology]) -> Option<VolumeNodeAffinity> {
    let terms: Vec<NodeSelectorTerm> = topology
        .iter()
        .filter(|segment| !segment.segments.is_empty())
        .map(|segment| {
            let mut keys: Vec<_> = segment.segments.iter().collect();
            keys.sort();
            NodeSelectorTerm {
                match_expressions: Some(
                    keys.into_iter()
                        .map(|(key, value)| NodeSelectorRequirement {
                            key: key.clone(),
                            operator: "In".to_owned(),
                            values: Some(vec![value.clone()]),
                        })
                        .collect(),
                ),
                match_fields: None,
            }
        })
        .collect();
    (!terms.is_empty()).then_some(VolumeNodeAffinity {
        required: Some(NodeSelector {
            node_selector_terms: terms,
        }),
    })
}

#[cfg(test)]
mod tests;
