//! Which object a claim's data source names, read as external-provisioner reads it:
//! `spec.dataSource` first, else `spec.dataSourceRef` — the only field set when the source is
//! in another namespace, so reading `dataSource` alone turns a cross-namespace restore into a
//! blank volume. A source in another namespace needs the `CrossNamespaceVolumeDataSource`
//! feature gate and a Gateway API ReferenceGrant in the source's namespace allowing claims of
//! the claim's namespace to read it (upstream's `IsGranted`). Pure: the grants are passed in.

use k8s_openapi::api::core::v1::PersistentVolumeClaim;
use kube::api::{ApiResource, DynamicObject, GroupVersionKind};
use serde_json::Value;

use crate::error::SourceError;
use crate::keys::{KIND_PVC, KIND_VOLUME_SNAPSHOT, SNAPSHOT_GROUP};

/// The Gateway API group and the ReferenceGrant version upstream reads.
pub const GATEWAY_GROUP: &str = "gateway.networking.k8s.io";

pub fn reference_grant_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk(GATEWAY_GROUP, "v1beta1", "ReferenceGrant"),
        "referencegrants",
    )
}

/// What the source is, for the provisioner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceKind {
    /// A VolumeSnapshot (restore).
    Snapshot,
    /// A PersistentVolumeClaim (clone).
    Claim,
    /// Anything else: an external volume populator's, not ours to provision.
    Populator,
}

/// The object a claim's data source names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimSource {
    /// API group (`""` for the core group).
    pub group: String,
    pub kind: String,
    pub name: String,
    /// The source's namespace: the claim's, unless `dataSourceRef.namespace` says otherwise.
    pub namespace: String,
}

impl ClaimSource {
    pub fn kind(&self) -> SourceKind {
        match (self.group.as_str(), self.kind.as_str()) {
            (SNAPSHOT_GROUP, KIND_VOLUME_SNAPSHOT) => SourceKind::Snapshot,
            ("", KIND_PVC) => SourceKind::Claim,
            _ => SourceKind::Populator,
        }
    }

    fn error(&self, rule: String) -> SourceError {
        SourceError {
            kind: match self.kind() {
                SourceKind::Snapshot => KIND_VOLUME_SNAPSHOT,
                SourceKind::Claim => KIND_PVC,
                SourceKind::Populator => "data source",
            },
            name: format!("{}/{}", self.namespace, self.name),
            rule,
        }
    }
}

/// The claim's data source: `dataSource`, else `dataSourceRef`; `None` for a blank volume.
pub fn claim_source(claim: &PersistentVolumeClaim) -> Option<ClaimSource> {
    let spec = claim.spec.as_ref()?;
    let own_namespace = claim.metadata.namespace.clone().unwrap_or_default();
    if let Some(source) = &spec.data_source {
        return Some(ClaimSource {
            group: source.api_group.clone().unwrap_or_default(),
            kind: source.kind.clone(),
            name: source.name.clone(),
            namespace: own_namespace,
        });
    }
    let source = spec.data_source_ref.as_ref()?;
    Some(ClaimSource {
        group: source.api_group.clone().unwrap_or_default(),
        kind: source.kind.clone(),
        name: source.name.clone(),
        namespace: source
            .namespace
            .clone()
            .filter(|n| !n.is_empty())
            .unwrap_or(own_namespace),
    })
}

/// One ReferenceGrant as the check reads it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Grant {
    pub namespace: String,
    /// `from`: (group, kind, namespace).
    pub from: Vec<(String, String, String)>,
    /// `to`: (group, kind, name; `None` for every object of the kind).
    pub to: Vec<(String, String, Option<String>)>,
}

impl Grant {
    pub fn from_object(object: &DynamicObject) -> Self {
        let field = |entry: &Value, key: &str| {
            entry
                .get(key)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        let entries = |key: &str| {
            object
                .data
                .get("spec")
                .and_then(|s| s.get(key))
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default()
        };
        Self {
            namespace: object.metadata.namespace.clone().unwrap_or_default(),
            from: entries("from")
                .iter()
                .map(|e| (field(e, "group"), field(e, "kind"), field(e, "namespace")))
                .collect(),
            to: entries("to")
                .iter()
                .map(|e| {
                    let name = field(e, "name");
                    (
                        field(e, "group"),
                        field(e, "kind"),
                        (!name.is_empty()).then_some(name),
                    )
                })
                .collect(),
        }
    }

    fn allows(&self, claim_namespace: &str, source: &ClaimSource) -> bool {
        self.namespace == source.namespace
            && self
                .from
                .iter()
                .any(|(g, k, ns)| g.is_empty() && k == KIND_PVC && ns == claim_namespace)
            && self.to.iter().any(|(g, k, name)| {
                *g == source.group
                    && *k == source.kind
                    && name.as_ref().is_none_or(|n| *n == source.name)
            })
    }
}

/// Whether the claim may read `source`: always in its own namespace; in another only with
/// the feature gate on and a grant in the source's namespace.
///
/// # Errors
/// Which of the two is missing, naming the source.
pub fn permit(
    claim: &PersistentVolumeClaim,
    source: &ClaimSource,
    cross_namespace: bool,
    grants: &[Grant],
) -> Result<(), SourceError> {
    let claim_namespace = claim.metadata.namespace.as_deref().unwrap_or_default();
    if source.namespace == claim_namespace {
        return Ok(());
    }
    if !cross_namespace {
        return Err(source.error(
            "dataSourceRef names another namespace but the CrossNamespaceVolumeDataSource \
             feature gate is off"
                .to_owned(),
        ));
    }
    if grants.iter().any(|g| g.allows(claim_namespace, source)) {
        return Ok(());
    }
    Err(source.error(format!(
        "no ReferenceGrant in namespace {} lets PersistentVolumeClaims of namespace \
         {claim_namespace} use it",
        source.namespace
    )))
}

#[cfg(test)]
mod tests;
