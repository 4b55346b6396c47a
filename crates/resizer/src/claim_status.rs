//! The PVC status each step of a resize leaves behind — the fields kubelet and
//! kube-controller-manager read (`allocatedResources`, `allocatedResourceStatuses`,
//! `conditions`, `capacity`). Pure functions from one status to the next, so the transitions
//! are tested without an API server, and idempotent, so a repeated step writes nothing new
//! (no watch event, no hot loop).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{PersistentVolumeClaimCondition, PersistentVolumeClaimStatus};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use sidecar::Progress;
use sidecar::quantity::format_bytes;

use crate::keys::{self, STORAGE};

/// ControllerExpandVolume is about to run for `target` bytes.
pub fn begin(status: &mut PersistentVolumeClaimStatus, target: u64, now: Timestamp) {
    set_storage(&mut status.allocated_resources, target);
    set_resize_status(status, Some(keys::CONTROLLER_RESIZE_IN_PROGRESS));
    remove_conditions(status, &[keys::CONDITION_FS_RESIZE_PENDING]);
    set_condition(status, keys::CONDITION_RESIZING, None, now);
}

/// ControllerExpandVolume answered with `size` bytes. With a node step left, kubelet takes
/// over (NodeResizePending); without, the claim reaches its new capacity now.
pub fn controller_done(
    status: &mut PersistentVolumeClaimStatus,
    size: u64,
    node_expansion_required: bool,
    now: Timestamp,
) {
    remove_conditions(
        status,
        &[
            keys::CONDITION_RESIZING,
            keys::CONDITION_CONTROLLER_RESIZE_ERROR,
        ],
    );
    if node_expansion_required {
        set_resize_status(status, Some(keys::NODE_RESIZE_PENDING));
        set_condition(
            status,
            keys::CONDITION_FS_RESIZE_PENDING,
            Some(keys::FS_RESIZE_PENDING_MESSAGE),
            now,
        );
    } else {
        set_storage(&mut status.capacity, size);
        set_resize_status(status, None);
        remove_conditions(status, &[keys::CONDITION_FS_RESIZE_PENDING]);
    }
}

/// ControllerExpandVolume failed; `progress` says whether the call may still be running.
///
/// After a final answer (infeasible or not) no call is running, so the target is unlocked:
/// `ControllerResizeInfeasible`, which the Kubernetes API defines as "resize has failed in
/// resize controller with a terminal error", and under which the user may lower the request
/// to anything still above `status.capacity` (upstream keeps `ControllerResizeInProgress` and
/// remembers the final error in memory only, so a restart locks the target again). While the
/// call may still complete, the status stays `ControllerResizeInProgress` with its target.
pub fn failed(
    status: &mut PersistentVolumeClaimStatus,
    progress: Progress,
    message: &str,
    now: Timestamp,
) {
    if progress == Progress::InProgress {
        set_resize_status(status, Some(keys::CONTROLLER_RESIZE_IN_PROGRESS));
    } else {
        set_resize_status(status, Some(keys::CONTROLLER_RESIZE_INFEASIBLE));
        remove_conditions(status, &[keys::CONDITION_RESIZING]);
    }
    set_condition(
        status,
        keys::CONDITION_CONTROLLER_RESIZE_ERROR,
        Some(message),
        now,
    );
}

/// The request is back at `capacity` after an infeasible failure: no resize is wanted.
pub fn abandon(status: &mut PersistentVolumeClaimStatus, capacity: u64) {
    set_storage(&mut status.allocated_resources, capacity);
    set_resize_status(status, None);
    remove_conditions(
        status,
        &[
            keys::CONDITION_RESIZING,
            keys::CONDITION_CONTROLLER_RESIZE_ERROR,
            keys::CONDITION_FS_RESIZE_PENDING,
        ],
    );
}

fn set_storage(map: &mut Option<BTreeMap<String, Quantity>>, bytes: u64) {
    map.get_or_insert_with(BTreeMap::new)
        .insert(STORAGE.to_owned(), Quantity(format_bytes(bytes)));
}

fn set_resize_status(status: &mut PersistentVolumeClaimStatus, value: Option<&str>) {
    match value {
        Some(value) => {
            status
                .allocated_resource_statuses
                .get_or_insert_with(BTreeMap::new)
                .insert(STORAGE.to_owned(), value.to_owned());
        }
        None => {
            if let Some(map) = status.allocated_resource_statuses.as_mut() {
                map.remove(STORAGE);
                if map.is_empty() {
                    status.allocated_resource_statuses = None;
                }
            }
        }
    }
}

/// Sets condition `type_` to True with `message`. The transition time only moves when the
/// condition was not already True, and an unchanged condition is left as it is.
fn set_condition(
    status: &mut PersistentVolumeClaimStatus,
    type_: &str,
    message: Option<&str>,
    now: Timestamp,
) {
    let conditions = status.conditions.get_or_insert_with(Vec::new);
    let message = message.map(str::to_owned);
    if let Some(existing) = conditions.iter_mut().find(|c| c.type_ == type_) {
        if existing.status != "True" {
            existing.status = "True".to_owned();
            existing.last_transition_time = Some(Time(now));
        }
        if existing.message != message {
            existing.message = message;
            existing.last_probe_time = Some(Time(now));
        }
        return;
    }
    conditions.push(PersistentVolumeClaimCondition {
        type_: type_.to_owned(),
        status: "True".to_owned(),
        message,
        last_probe_time: Some(Time(now)),
        last_transition_time: Some(Time(now)),
        ..PersistentVolumeClaimCondition::default()
    });
}

fn remove_conditions(status: &mut PersistentVolumeClaimStatus, types: &[&str]) {
    if let Some(conditions) = status.conditions.as_mut() {
        conditions.retain(|c| !types.contains(&c.type_.as_str()));
        if conditions.is_empty() {
            status.conditions = None;
        }
    }
}

#[cfg(test)]
mod tests;
