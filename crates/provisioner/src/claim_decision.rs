//! What to do about one claim — the pure core of a claim's reconcile pass. Everything it needs
//! is passed in ([`ClaimFacts`]); it returns an [`ClaimAction`] and [`crate::reconcile::claim`]
//! carries it out.
//!
//! Upstream's `shouldProvision` rules, plus the durable in-flight record (see
//! [`crate::keys::ANN_PROVISIONING`]): a claim that carries the record is finished (PV exists)
//! or cleaned up (claim deleted, or bound elsewhere) before anything else is considered.
//!
//! A WaitForFirstConsumer claim whose selected node no longer exists is sent back to the
//! scheduler. Upstream finds that out only while building topology requirements (drivers with
//! VOLUME_ACCESSIBILITY_CONSTRAINTS); Sepia checks every such claim, because a volume made
//! for a node that is gone serves no pod, topology or not. The one fact the decision cannot
//! see in the claim, the Node's existence, it asks for ([`ClaimAction::LookUpNode`]).

use k8s_openapi::api::core::v1::PersistentVolumeClaim;
use k8s_openapi::api::storage::v1::StorageClass;

use crate::keys::{
    ANN_BETA_STORAGE_PROVISIONER, ANN_PROVISIONING, ANN_PROVISIONING_REQUEST,
    ANN_PROVISIONING_SOURCE, ANN_SELECTED_NODE, ANN_STORAGE_PROVISIONER, FINALIZER_PROVISIONING,
};
use crate::source::source_ref::{SourceKind, claim_source};

/// What the reconcile pass knows about a claim when deciding.
#[derive(Debug, Clone, Copy)]
pub struct ClaimFacts<'a> {
    pub claim: &'a PersistentVolumeClaim,
    /// Our driver name (from GetPluginInfo).
    pub driver: &'a str,
    /// The claim's StorageClass, if it exists.
    pub class: Option<&'a StorageClass>,
    /// Whether PV `pvc-<claim uid>` exists.
    pub pv_exists: bool,
    /// What the worker knows of the Node a WaitForFirstConsumer claim was scheduled to.
    pub selected_node: SelectedNode,
}

/// The Node named by `volume.kubernetes.io/selected-node`, as far as the worker looked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SelectedNode {
    /// Not looked up (the decision asks with [`ClaimAction::LookUpNode`] when it matters).
    Unknown,
    Exists,
    /// No such Node: the scheduler's choice is stale.
    Gone,
}

/// The decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimAction {
    /// Not ours to act on (yet); the reason is for debug logs.
    Ignore(&'static str),
    /// WaitForFirstConsumer claim without a selected node.
    WaitForNode,
    /// Ask the API whether the selected node exists, then decide again.
    LookUpNode(String),
    /// The selected node is gone: remove `volume.kubernetes.io/selected-node` so the
    /// scheduler picks another (upstream's ProvisioningReschedule) instead of provisioning for
    /// a node no pod can run on.
    Reschedule(String),
    /// Provisioning cannot proceed until the claim or class changes: event, retry with backoff.
    Fail(String),
    /// Refused for good (upstream's "claim Selector is not supported"): one event, no retry.
    Refuse(String),
    /// Call CreateVolume and create the PV.
    Provision,
    /// The PV exists: drop the in-flight record (and source protections).
    Finish,
    /// A CreateVolume may have been issued but the claim no longer wants the volume (deleted,
    /// or bound to another PV): repeat the same CreateVolume to learn the volume id, delete
    /// it, then drop the record.
    CleanUp,
}

/// Whether the claim carries our in-flight record (annotation or finalizer).
pub fn has_in_flight_record(claim: &PersistentVolumeClaim) -> bool {
    let meta = &claim.metadata;
    meta.annotations
        .as_ref()
        .is_some_and(|a| a.contains_key(ANN_PROVISIONING))
        || meta
            .finalizers
            .as_ref()
            .is_some_and(|f| f.iter().any(|f| f == FINALIZER_PROVISIONING))
}

/// The claim's class name: `spec.storageClassName`, else the beta annotation.
pub fn class_name(claim: &PersistentVolumeClaim) -> Option<&str> {
    claim
        .spec
        .as_ref()
        .and_then(|s| s.storage_class_name.as_deref())
        .or_else(|| {
            claim
                .metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get("volume.beta.kubernetes.io/storage-class"))
                .map(String::as_str)
        })
        .filter(|name| !name.is_empty())
}

fn annotation<'a>(claim: &'a PersistentVolumeClaim, key: &str) -> Option<&'a str> {
    claim
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(key))
        .map(String::as_str)
}

/// What [`decide`] reads of a claim that someone else may change. A watch event queues the
/// claim only when this changes: our own in-flight record (written and, after a final error,
/// dropped on every attempt) must not queue it again at once and undo the retry backoff.
#[derive(Debug, Clone, PartialEq)]
pub struct Fingerprint {
    uid: Option<String>,
    deleting: bool,
    spec: Option<k8s_openapi::api::core::v1::PersistentVolumeClaimSpec>,
    annotations: std::collections::BTreeMap<String, String>,
}

pub fn fingerprint(claim: &PersistentVolumeClaim) -> Fingerprint {
    let mut annotations = claim.metadata.annotations.clone().unwrap_or_default();
    annotations.retain(|key, _| {
        ![
            ANN_PROVISIONING,
            ANN_PROVISIONING_SOURCE,
            ANN_PROVISIONING_REQUEST,
        ]
        .contains(&key.as_str())
    });
    Fingerprint {
        uid: claim.metadata.uid.clone(),
        deleting: claim.metadata.deletion_timestamp.is_some(),
        spec: claim.spec.clone(),
        annotations,
    }
}

/// Decides; see [`ClaimAction`].
pub fn decide(facts: &ClaimFacts<'_>) -> ClaimAction {
    let claim = facts.claim;
    let spec = claim.spec.clone().unwrap_or_default();
    let in_flight = has_in_flight_record(claim);

    if claim.metadata.deletion_timestamp.is_some() {
        return match (in_flight, facts.pv_exists) {
            (false, _) => ClaimAction::Ignore("claim is being deleted"),
            (true, true) => ClaimAction::Finish,
            (true, false) => ClaimAction::CleanUp,
        };
    }
    if in_flight {
        if facts.pv_exists {
            return ClaimAction::Finish;
        }
        if spec.volume_name.as_deref().is_some_and(|v| !v.is_empty()) {
            // Bound to some other PV meanwhile: our volume would be an orphan.
            return ClaimAction::CleanUp;
        }
    }
    if spec.volume_name.as_deref().is_some_and(|v| !v.is_empty()) {
        return ClaimAction::Ignore("claim is already bound");
    }
    let ours = [ANN_STORAGE_PROVISIONER, ANN_BETA_STORAGE_PROVISIONER]
        .iter()
        .any(|key| annotation(claim, key) == Some(facts.driver));
    if !ours {
        return ClaimAction::Ignore("claim is not annotated for this provisioner");
    }
    if facts.pv_exists {
        return ClaimAction::Ignore("PV already exists");
    }
    if spec.selector.is_some() {
        return ClaimAction::Refuse("claim Selector is not supported".to_owned());
    }
    let Some(class_name) = class_name(claim) else {
        return ClaimAction::Fail("claim has no StorageClass".to_owned());
    };
    let Some(class) = facts.class else {
        return ClaimAction::Fail(format!("StorageClass {class_name:?} not found"));
    };
    if class.provisioner != facts.driver {
        return ClaimAction::Fail(format!(
            "StorageClass {class_name:?} names provisioner {:?}, not {:?}",
            class.provisioner, facts.driver
        ));
    }
    let wait_for_consumer = class.volume_binding_mode.as_deref() == Some("WaitForFirstConsumer");
    let selected = annotation(claim, ANN_SELECTED_NODE).filter(|n| !n.is_empty());
    if wait_for_consumer && selected.is_none() {
        return ClaimAction::WaitForNode;
    }
    // `dataSource`, else `dataSourceRef` (a cross-namespace source is named only there).
    if claim_source(claim).is_some_and(|s| s.kind() == SourceKind::Populator) {
        return ClaimAction::Ignore("data source is for an external populator");
    }
    // A call that may still be running is repeated to its end wherever the claim was meant
    // to go; only a claim with nothing in flight goes back to the scheduler.
    if let (true, Some(node), false) = (wait_for_consumer, selected, in_flight) {
        match facts.selected_node {
            SelectedNode::Unknown => return ClaimAction::LookUpNode(node.to_owned()),
            SelectedNode::Gone => return ClaimAction::Reschedule(node.to_owned()),
            SelectedNode::Exists => {}
        }
    }
    ClaimAction::Provision
}

#[cfg(test)]
mod tests;
