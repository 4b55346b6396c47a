//! What the first CreateVolume for a claim was asked, kept in the in-flight record
//! ([`ANN_PROVISIONING_REQUEST`]) so every repeat of that call — after an answer that never
//! came, and in the clean-up of a claim that went away meanwhile — is the very same request,
//! whatever the StorageClass says by then. A class is immutable but can be deleted and made
//! again with another `pool` or `clusterID`; a repeat built from it would create a second
//! volume there and leak the first.
//!
//! Recorded: the driver parameters (clusterID, pool, … and the extra metadata), the size, the
//! capabilities, the topology requirement and the *reference* to the provisioner Secret —
//! never a Secret's contents, which are read again for each call. The content source has its
//! own annotation (`sepia.io/provisioning-source`, see [`crate::in_flight`]).

use std::collections::{BTreeMap, HashMap};

use csi::v1::volume_capability::access_mode::Mode;
use csi::v1::{
    CapacityRange, CreateVolumeRequest, Topology, TopologyRequirement, VolumeContentSource,
};
use k8s_openapi::api::core::v1::PersistentVolumeClaim;
use serde::{Deserialize, Serialize};
use sidecar::secret_template::SecretRef;

use crate::error::ProvisionerError;
use crate::keys::ANN_PROVISIONING_REQUEST;
use crate::plan::VolumePlan;
use crate::plan::capabilities::{VolumeMode, capabilities_for};
use crate::plan::class_params::SecretKind;

/// One CreateVolume request without its secrets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordedCall {
    pub parameters: BTreeMap<String, String>,
    pub required_bytes: u64,
    pub volume_mode: VolumeMode,
    /// The capabilities' CSI access modes by their proto names (`SINGLE_NODE_WRITER`).
    pub access_modes: Vec<String>,
    /// The provisioner Secret the call carries (a reference, never its contents).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<SecretRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topology: Option<RecordedTopology>,
}

/// `accessibility_requirements`, segments in a stable order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedTopology {
    pub requisite: Vec<BTreeMap<String, String>>,
    pub preferred: Vec<BTreeMap<String, String>>,
}

/// A record this version cannot read or repeat.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("annotation {ANN_PROVISIONING_REQUEST}: {0}")]
pub struct RecordError(String);

/// A record this version cannot use: only a change (or an upgrade) can fix it.
pub(crate) fn record_error(error: RecordError) -> ProvisionerError {
    ProvisionerError::Claim(error.to_string())
}

impl RecordedCall {
    /// The call `plan` (with `requirement`) makes.
    pub fn of(plan: &VolumePlan, requirement: Option<&TopologyRequirement>) -> Self {
        Self {
            parameters: plan
                .parameters
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            required_bytes: plan.required_bytes,
            volume_mode: plan.volume_mode.clone(),
            access_modes: plan
                .capabilities
                .iter()
                .filter_map(|c| Mode::try_from(c.access_mode.as_ref()?.mode).ok())
                .map(|m| m.as_str_name().to_owned())
                .collect(),
            secret: plan.secret_refs.get(&SecretKind::Provisioner).cloned(),
            topology: requirement.map(|r| RecordedTopology {
                requisite: r.requisite.iter().map(segments).collect(),
                preferred: r.preferred.iter().map(segments).collect(),
            }),
        }
    }

    /// The call recorded on `claim`, if any.
    ///
    /// # Errors
    /// The annotation is not a record this version can read.
    pub fn from_claim(claim: &PersistentVolumeClaim) -> Result<Option<Self>, RecordError> {
        let Some(text) = claim
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(ANN_PROVISIONING_REQUEST))
        else {
            return Ok(None);
        };
        serde_json::from_str(text)
            .map(Some)
            .map_err(|e| RecordError(format!("not a CreateVolume record: {e}")))
    }

    /// The annotation value.
    ///
    /// # Errors
    /// Never in practice (plain maps and strings); typed so a failure is not swallowed.
    pub fn encode(&self) -> Result<String, RecordError> {
        serde_json::to_string(self).map_err(|e| RecordError(format!("encoding: {e}")))
    }

    /// `plan` made to describe this call's volume (size, mode, capabilities, parameters,
    /// provisioner Secret), so the PV built from it matches what the call created.
    ///
    /// # Errors
    /// A recorded access mode this version does not know.
    pub fn apply_to(&self, plan: &mut VolumePlan) -> Result<(), RecordError> {
        plan.required_bytes = self.required_bytes;
        plan.volume_mode = self.volume_mode.clone();
        plan.capabilities = capabilities_for(&self.modes()?, &self.volume_mode);
        plan.parameters = self
            .parameters
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        match &self.secret {
            Some(secret) => plan
                .secret_refs
                .insert(SecretKind::Provisioner, secret.clone()),
            None => plan.secret_refs.remove(&SecretKind::Provisioner),
        };
        Ok(())
    }

    /// The request, named `name`, carrying `secrets` and `content`.
    ///
    /// # Errors
    /// A recorded access mode this version does not know.
    pub fn request(
        &self,
        name: &str,
        secrets: csi::SecretMap,
        content: Option<VolumeContentSource>,
    ) -> Result<CreateVolumeRequest, RecordError> {
        Ok(CreateVolumeRequest {
            name: name.to_owned(),
            capacity_range: Some(CapacityRange {
                required_bytes: i64::try_from(self.required_bytes).unwrap_or(i64::MAX),
                limit_bytes: 0,
            }),
            volume_capabilities: capabilities_for(&self.modes()?, &self.volume_mode),
            parameters: self
                .parameters
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            secrets: secrets.into_csi(),
            volume_content_source: content,
            accessibility_requirements: self.topology.as_ref().map(|t| TopologyRequirement {
                requisite: t.requisite.iter().map(topology).collect(),
                preferred: t.preferred.iter().map(topology).collect(),
            }),
            mutable_parameters: HashMap::new(),
        })
    }

    fn modes(&self) -> Result<Vec<Mode>, RecordError> {
        self.access_modes
            .iter()
            .map(|name| {
                Mode::from_str_name(name)
                    .ok_or_else(|| RecordError(format!("unknown CSI access mode {name:?}")))
            })
            .collect()
    }
}

fn segments(topology: &Topology) -> BTreeMap<String, String> {
    topology
        .segments
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

fn topology(segments: &BTreeMap<String, String>) -> Topology {
    Topology {
        segments: segments
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    }
}

#[cfg(test)]
mod tests;
