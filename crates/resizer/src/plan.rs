//! The resize decision: a claim, its volume and its class in, what to do out. Pure, so every
//! rule of the RecoverVolumeExpansionFailure model is a row in the table test below.
//!
//! The target size depends on `allocatedResourceStatuses.storage`:
//! - `ControllerResizeInProgress`: a ControllerExpandVolume for `allocatedResources` may still
//!   be running on the driver, so the target cannot go below it (a smaller request is a
//!   recovery attempt that must wait); a larger request raises it. The call is repeated even
//!   when the capacity already looks right, because only its answer finishes the bookkeeping.
//! - `NodeResize*`: the controller step is done for `allocatedResources`; only a request above
//!   it starts a new controller step, anything else is kubelet's business.
//! - `ControllerResizeInfeasible` (written after any final failure, see
//!   [`crate::claim_status::failed`]) or none: the request is the target, and the user may
//!   lower it; lowered back to the capacity abandons the resize.

use sidecar::quantity::QuantityError;

use crate::observed::{ClaimView, ClassPolicy, ResizeStatus, VolumeView};

/// What the resizer does with one claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// Nothing to do; why, for logs and tests.
    Idle(Idle),
    /// The claim asks for something this resizer must not do; tell the user, wait for a change.
    Refuse(Refusal),
    /// ControllerExpandVolume to `target` bytes.
    Expand { target: u64, volume_handle: String },
    /// The user lowered the request back to the capacity after an infeasible failure: drop
    /// the allocated size and statuses so the claim reads as never resized.
    Abandon { capacity: u64 },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Idle {
    Deleting,
    NotBound,
    VolumeMissing,
    OtherDriver,
    /// The volume is bound to another claim (a stale or re-used name).
    NotThisClaim,
    /// Bound, but the binder has not recorded the capacity yet.
    NoCapacityYet,
    UpToDate,
    NodeStepPending,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The class does not allow expansion (or the claim has no class).
    ExpansionNotAllowed { class: Option<String> },
    /// A size field the decision needs is not a quantity.
    Malformed { field: &'static str, error: String },
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::ExpansionNotAllowed { class: Some(class) } => write!(
                f,
                "StorageClass {class:?} does not exist or does not set allowVolumeExpansion: true"
            ),
            Self::ExpansionNotAllowed { class: None } => {
                f.write_str("the claim has no StorageClass, so expansion is not allowed")
            }
            Self::Malformed { field, error } => write!(f, "{field}: {error}"),
        }
    }
}

fn size(
    value: &Result<Option<u64>, QuantityError>,
    field: &'static str,
) -> Result<Option<u64>, Plan> {
    value.clone().map_err(|e| {
        Plan::Refuse(Refusal::Malformed {
            field,
            error: e.to_string(),
        })
    })
}

/// Decides for `claim`, whose volume (if found) is `volume`, for driver `driver`.
pub fn decide(
    driver: &str,
    claim: &ClaimView,
    volume: Option<&VolumeView>,
    class: ClassPolicy,
) -> Plan {
    match decide_inner(driver, claim, volume, class) {
        Ok(plan) | Err(plan) => plan,
    }
}

fn decide_inner(
    driver: &str,
    claim: &ClaimView,
    volume: Option<&VolumeView>,
    class: ClassPolicy,
) -> Result<Plan, Plan> {
    let idle = |why| Ok(Plan::Idle(why));
    if claim.deleting {
        return idle(Idle::Deleting);
    }
    if !claim.bound || claim.volume_name.is_none() {
        return idle(Idle::NotBound);
    }
    let Some(volume) = volume else {
        return idle(Idle::VolumeMissing);
    };
    if volume.driver.as_deref() != Some(driver) {
        return idle(Idle::OtherDriver);
    }
    if volume.claim_uid.as_deref() != Some(claim.uid.as_str()) {
        return idle(Idle::NotThisClaim);
    }
    let Some(requested) = size(&claim.requested, "spec.resources.requests.storage")? else {
        return Err(Plan::Refuse(Refusal::Malformed {
            field: "spec.resources.requests.storage",
            error: "it is missing".to_owned(),
        }));
    };
    let Some(capacity) = size(&claim.capacity, "status.capacity.storage")? else {
        return idle(Idle::NoCapacityYet);
    };
    let allocated = size(&claim.allocated, "status.allocatedResources.storage")?;

    let target = match &claim.resize_status {
        Some(ResizeStatus::ControllerInProgress) => requested.max(allocated.unwrap_or(requested)),
        Some(
            ResizeStatus::NodePending | ResizeStatus::NodeInProgress | ResizeStatus::NodeInfeasible,
        ) => {
            if requested <= allocated.unwrap_or(capacity) {
                return idle(Idle::NodeStepPending);
            }
            requested
        }
        Some(ResizeStatus::ControllerInfeasible) if requested <= capacity => {
            return Ok(Plan::Abandon { capacity });
        }
        Some(ResizeStatus::ControllerInfeasible | ResizeStatus::Other(_)) | None => {
            if requested <= capacity {
                return idle(Idle::UpToDate);
            }
            requested
        }
    };
    if class != ClassPolicy::Allows {
        return Ok(Plan::Refuse(Refusal::ExpansionNotAllowed {
            class: claim.storage_class.clone(),
        }));
    }
    Ok(Plan::Expand {
        target,
        volume_handle: volume.volume_handle.clone(),
    })
}

#[cfg(test)]
mod tests;
