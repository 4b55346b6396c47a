//! From claim + class to the volume we will ask for: request name, size, capabilities,
//! driver parameters (class parameters minus reserved keys, plus the extra metadata) and the
//! resolved secret references. Pure; [`crate::reconcile::claim`] adds the secret *values*, the
//! data source and topology, which need API reads.

//!
//! The plan's inputs live beside it, since nothing else builds a request: [`class_params`]
//! (the class's parameters split into the provisioner's and the driver's) and
//! [`capabilities`] (access modes and volume mode as CSI capabilities).

pub mod capabilities;
pub mod class_params;

use std::collections::{BTreeMap, HashMap};

use k8s_openapi::api::core::v1::PersistentVolumeClaim;
use k8s_openapi::api::storage::v1::StorageClass;
use sidecar::quantity::{QuantityError, parse_bytes};
use sidecar::secret_template::{Scope, SecretRef, TemplateError, resolve};

use crate::keys::{PARAM_PV_NAME, PARAM_PVC_NAME, PARAM_PVC_NAMESPACE};
use capabilities::{CapabilityError, VolumeMode, volume_capabilities};
use class_params::{ClassParamError, SecretKind};

/// Settings from the provisioner's flags that shape every request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanSettings {
    /// `--volume-name-prefix` (`pvc`).
    pub name_prefix: String,
    /// `--default-fstype`, used when the class names none.
    pub default_fs_type: String,
    /// `--extra-create-metadata`: add the pvc/pv names to the parameters.
    pub extra_metadata: bool,
    /// The driver advertises SINGLE_NODE_MULTI_WRITER.
    pub single_node_multi_writer: bool,
}

/// The volume to request for one claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumePlan {
    /// CreateVolume `name` = PV name: deterministic, so every retry is the same request.
    pub request_name: String,
    pub required_bytes: u64,
    pub volume_mode: VolumeMode,
    pub capabilities: Vec<csi::v1::VolumeCapability>,
    pub parameters: HashMap<String, String>,
    pub secret_refs: BTreeMap<SecretKind, SecretRef>,
}

impl VolumePlan {
    /// The filesystem type recorded in the PV (`spec.csi.fsType`); none for block volumes.
    pub fn fs_type(&self) -> Option<&str> {
        match &self.volume_mode {
            VolumeMode::Filesystem { fs_type, .. } if !fs_type.is_empty() => Some(fs_type),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("claim has no metadata.uid")]
    NoUid,
    #[error("spec.resources.requests.storage is missing")]
    NoSize,
    #[error("spec.resources.requests.storage: {0}")]
    Size(#[from] QuantityError),
    #[error(transparent)]
    Capability(#[from] CapabilityError),
    #[error(transparent)]
    ClassParam(#[from] ClassParamError),
    #[error(transparent)]
    Template(#[from] TemplateError),
}

/// The request name (= PV name) of a claim.
pub fn request_name(prefix: &str, claim_uid: &str) -> String {
    format!("{prefix}-{claim_uid}")
}

/// Plans the volume for `claim` in `class`.
///
/// # Errors
/// A claim without uid or size, an unknown access mode, broken reserved class parameters, or a
/// secret template that does not resolve.
pub fn plan(
    claim: &PersistentVolumeClaim,
    class: &StorageClass,
    settings: &PlanSettings,
) -> Result<VolumePlan, PlanError> {
    let uid = claim.metadata.uid.as_deref().ok_or(PlanError::NoUid)?;
    let request_name = request_name(&settings.name_prefix, uid);
    let spec = claim.spec.clone().unwrap_or_default();
    let size = spec
        .resources
        .as_ref()
        .and_then(|r| r.requests.as_ref())
        .and_then(|r| r.get("storage"))
        .ok_or(PlanError::NoSize)?;
    let required_bytes = parse_bytes(&size.0)?;
    let params = class_params::parse(&class.parameters.clone().unwrap_or_default())?;
    let volume_mode = if spec.volume_mode.as_deref() == Some("Block") {
        VolumeMode::Block
    } else {
        VolumeMode::Filesystem {
            fs_type: params
                .fs_type
                .clone()
                .unwrap_or_else(|| settings.default_fs_type.clone()),
            mount_flags: class.mount_options.clone().unwrap_or_default(),
        }
    };
    let capabilities = volume_capabilities(
        &spec.access_modes.unwrap_or_default(),
        &volume_mode,
        settings.single_node_multi_writer,
    )?;
    let claim_name = claim.metadata.name.clone().unwrap_or_default();
    let claim_namespace = claim.metadata.namespace.clone().unwrap_or_default();
    let mut parameters: HashMap<String, String> =
        params.driver_params.clone().into_iter().collect();
    if settings.extra_metadata {
        parameters.insert(PARAM_PVC_NAME.to_owned(), claim_name.clone());
        parameters.insert(PARAM_PVC_NAMESPACE.to_owned(), claim_namespace.clone());
        parameters.insert(PARAM_PV_NAME.to_owned(), request_name.clone());
    }
    let annotations = claim.metadata.annotations.clone().unwrap_or_default();
    let secret_refs = params
        .secrets
        .iter()
        .map(|(kind, template)| {
            let scope = secret_scope(*kind, &request_name, claim, &annotations);
            Ok((*kind, resolve(template, &scope)?))
        })
        .collect::<Result<BTreeMap<_, _>, TemplateError>>()?;
    Ok(VolumePlan {
        request_name,
        required_bytes,
        volume_mode,
        capabilities,
        parameters,
        secret_refs,
    })
}

/// The tokens a class's secret template of `kind` may use for `claim`: the provisioner's own
/// Secret only what the claim's author cannot choose (its namespace), the per-volume
/// operations' Secrets also the claim's name and annotations (upstream's rules).
pub fn secret_scope<'a>(
    kind: SecretKind,
    pv_name: &'a str,
    claim: &'a PersistentVolumeClaim,
    annotations: &'a BTreeMap<String, String>,
) -> Scope<'a> {
    let claim_namespace = claim.metadata.namespace.as_deref().unwrap_or_default();
    match kind {
        SecretKind::Provisioner => Scope::Provisioner {
            pv_name,
            claim_namespace,
        },
        SecretKind::ControllerPublish
        | SecretKind::NodeStage
        | SecretKind::NodePublish
        | SecretKind::ControllerExpand
        | SecretKind::NodeExpand
        | SecretKind::ControllerModify => Scope::VolumeOperation {
            pv_name,
            claim_name: claim.metadata.name.as_deref().unwrap_or_default(),
            claim_namespace,
            claim_annotations: annotations,
        },
    }
}

#[cfg(test)]
pub(crate) mod tests;
