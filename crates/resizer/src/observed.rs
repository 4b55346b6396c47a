//! What the decision reads from a claim, its volume and its class, pulled out of the API
//! objects once, so [`crate::plan`] is a pure function over plain values and the table tests
//! need no Kubernetes objects.

use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim};
use k8s_openapi::api::storage::v1::StorageClass;
use sidecar::quantity::{QuantityError, parse_bytes};

use crate::keys::{self, STORAGE};

/// `status.allocatedResourceStatuses.storage`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResizeStatus {
    ControllerInProgress,
    ControllerInfeasible,
    NodePending,
    NodeInProgress,
    NodeInfeasible,
    /// A value this resizer does not know (a newer Kubernetes): treated as no status.
    Other(String),
}

impl ResizeStatus {
    pub fn parse(value: &str) -> Self {
        match value {
            keys::CONTROLLER_RESIZE_IN_PROGRESS => Self::ControllerInProgress,
            keys::CONTROLLER_RESIZE_INFEASIBLE => Self::ControllerInfeasible,
            keys::NODE_RESIZE_PENDING => Self::NodePending,
            keys::NODE_RESIZE_IN_PROGRESS => Self::NodeInProgress,
            keys::NODE_RESIZE_INFEASIBLE => Self::NodeInfeasible,
            other => Self::Other(other.to_owned()),
        }
    }
}

/// The claim as the decision sees it. Sizes are bytes; a malformed quantity is kept as the
/// error so the decision can name the field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimView {
    pub uid: String,
    pub bound: bool,
    pub volume_name: Option<String>,
    pub storage_class: Option<String>,
    pub deleting: bool,
    pub requested: Result<Option<u64>, QuantityError>,
    pub capacity: Result<Option<u64>, QuantityError>,
    pub allocated: Result<Option<u64>, QuantityError>,
    pub resize_status: Option<ResizeStatus>,
}

/// The bound PersistentVolume as the decision sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeView {
    pub driver: Option<String>,
    pub volume_handle: String,
    pub claim_uid: Option<String>,
    pub capacity: Result<Option<u64>, QuantityError>,
}

/// Whether the claim's class permits expansion (the admission plugin's rule, which nothing
/// enforces where claims are written without it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClassPolicy {
    Allows,
    Forbids,
    /// The claim names no class, or the class does not exist.
    Missing,
}

fn storage_of(
    map: Option<
        &std::collections::BTreeMap<
            String,
            k8s_openapi::apimachinery::pkg::api::resource::Quantity,
        >,
    >,
) -> Result<Option<u64>, QuantityError> {
    map.and_then(|m| m.get(STORAGE))
        .map(|q| parse_bytes(&q.0))
        .transpose()
}

impl ClaimView {
    pub fn of(pvc: &PersistentVolumeClaim) -> Self {
        let spec = pvc.spec.as_ref();
        let status = pvc.status.as_ref();
        Self {
            uid: pvc.metadata.uid.clone().unwrap_or_default(),
            bound: status.and_then(|s| s.phase.as_deref()) == Some("Bound"),
            volume_name: spec
                .and_then(|s| s.volume_name.clone())
                .filter(|n| !n.is_empty()),
            storage_class: spec
                .and_then(|s| s.storage_class_name.clone())
                .filter(|n| !n.is_empty()),
            deleting: pvc.metadata.deletion_timestamp.is_some(),
            requested: storage_of(
                spec.and_then(|s| s.resources.as_ref())
                    .and_then(|r| r.requests.as_ref()),
            ),
            capacity: storage_of(status.and_then(|s| s.capacity.as_ref())),
            allocated: storage_of(status.and_then(|s| s.allocated_resources.as_ref())),
            resize_status: status
                .and_then(|s| s.allocated_resource_statuses.as_ref())
                .and_then(|m| m.get(STORAGE))
                .map(|v| ResizeStatus::parse(v)),
        }
    }
}

impl VolumeView {
    pub fn of(pv: &PersistentVolume) -> Self {
        let spec = pv.spec.as_ref();
        let csi = spec.and_then(|s| s.csi.as_ref());
        Self {
            driver: csi.map(|c| c.driver.clone()),
            volume_handle: csi.map(|c| c.volume_handle.clone()).unwrap_or_default(),
            claim_uid: spec
                .and_then(|s| s.claim_ref.as_ref())
                .and_then(|r| r.uid.clone()),
            capacity: storage_of(spec.and_then(|s| s.capacity.as_ref())),
        }
    }
}

impl ClassPolicy {
    pub fn of(class: Option<&StorageClass>) -> Self {
        match class {
            None => Self::Missing,
            Some(c) if c.allow_volume_expansion == Some(true) => Self::Allows,
            Some(_) => Self::Forbids,
        }
    }
}
