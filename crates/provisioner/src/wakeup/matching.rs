//! The pure rules: which background work an event ends, which of our pending claims wait on
//! it, and the Kubernetes Event each gets.

use std::collections::HashMap;

use events::vocabulary::{component, object, verb};
use events::{Event, OutcomeStatus};
use k8s_openapi::api::core::v1::PersistentVolumeClaim;

use crate::keys::{ANN_BETA_STORAGE_PROVISIONER, ANN_STORAGE_PROVISIONER, reason};
use crate::plan::request_name;
use crate::source::source_ref::{SourceKind, claim_source};

const VOLUME_SNAPSHOT: &str = "VolumeSnapshot";
const CLAIM: &str = "PersistentVolumeClaim";

/// The background work a claim's CreateVolume can wait on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Work {
    /// A snapshot's background preparation (RBD): restores from it wait.
    Preparation,
    /// A flatten at the hard clone-depth limit (RBD): the restore or clone that hit it waits.
    Flatten,
    /// A CephFS clone: the CreateVolume that started it waits.
    Clone,
}

impl Work {
    /// The work `event` announces the end of; `None` for anything no claim waits on (a purge).
    pub fn of(event: &Event) -> Option<Work> {
        match (
            event.component.as_str(),
            event.object.as_str(),
            event.verb.as_str(),
        ) {
            (
                component::CONTROLLER,
                object::SNAPSHOT,
                verb::PREPARED | verb::PREPARATION_FAILED,
            ) => Some(Work::Preparation),
            (component::CONTROLLER, object::VOLUME, verb::FLATTENED | verb::FLATTEN_FAILED) => {
                Some(Work::Flatten)
            }
            (component::CEPHFS_CONTROLLER, object::VOLUME, verb::CLONED | verb::CLONE_FAILED) => {
                Some(Work::Clone)
            }
            _ => None,
        }
    }

    /// Whether restores from the event's snapshot id wait on it.
    pub fn restores(self) -> bool {
        matches!(self, Work::Preparation | Work::Flatten)
    }

    /// Whether clones of the event's volume id wait on it.
    pub fn clones(self) -> bool {
        self == Work::Flatten
    }
}

/// Whether `claim` is `driver`'s to provision and not provisioned yet.
pub fn is_ours_and_pending(claim: &PersistentVolumeClaim, driver: &str) -> bool {
    let annotations = claim.metadata.annotations.as_ref();
    let ours = [ANN_STORAGE_PROVISIONER, ANN_BETA_STORAGE_PROVISIONER]
        .iter()
        .any(|key| {
            annotations
                .and_then(|a| a.get(*key))
                .is_some_and(|v| v == driver)
        });
    let unbound = claim
        .spec
        .as_ref()
        .and_then(|s| s.volume_name.as_deref())
        .is_none_or(str::is_empty);
    ours && unbound && claim.metadata.deletion_timestamp.is_none()
}

/// The claims (of `pending`) the event names: by its Kubernetes object (the VolumeSnapshot a
/// preparation served, the claim a flatten or clone served) or by its CreateVolume request
/// name, which is `<prefix>-<claim uid>`.
pub fn named<'a>(
    event: &Event,
    work: Work,
    prefix: &str,
    pending: &[&'a PersistentVolumeClaim],
) -> Vec<&'a PersistentVolumeClaim> {
    let object = event.kubernetes.as_ref();
    pending
        .iter()
        .copied()
        .filter(|claim| match work {
            Work::Preparation => object.is_some_and(|o| {
                o.kind == VOLUME_SNAPSHOT
                    && claim_source(claim).is_some_and(|s| {
                        s.kind() == SourceKind::Snapshot
                            && s.name == o.name
                            && Some(&s.namespace) == o.namespace.as_ref()
                    })
            }),
            Work::Flatten | Work::Clone => {
                let by_object = object.is_some_and(|o| {
                    o.kind == CLAIM
                        && claim.metadata.name.as_ref() == Some(&o.name)
                        && claim.metadata.namespace == o.namespace
                });
                let by_request = event.csi.request_name.as_deref().is_some_and(|r| {
                    claim
                        .metadata
                        .uid
                        .as_deref()
                        .is_some_and(|uid| request_name(prefix, uid) == r)
                });
                by_object || by_request
            }
        })
        .collect()
}

/// The claims restoring from a VolumeSnapshot whose content's handle is `snapshot_id`;
/// `handles` maps `(namespace, name)` of VolumeSnapshots to their handles.
pub fn restoring_from_handle<'a>(
    snapshot_id: &str,
    restores: &[&'a PersistentVolumeClaim],
    handles: &HashMap<(String, String), String>,
) -> Vec<&'a PersistentVolumeClaim> {
    restores
        .iter()
        .copied()
        .filter(|claim| {
            claim_source(claim).is_some_and(|s| {
                s.kind() == SourceKind::Snapshot
                    && handles.get(&(s.namespace, s.name)).map(String::as_str) == Some(snapshot_id)
            })
        })
        .collect()
}

/// The claims cloning a claim whose volume's handle is `volume_id`; `handle_of(namespace,
/// name)` gives a source claim's volume handle.
pub fn cloning_from_volume<'a>(
    volume_id: &str,
    pending: &[&'a PersistentVolumeClaim],
    handle_of: impl Fn(&str, &str) -> Option<String>,
) -> Vec<&'a PersistentVolumeClaim> {
    pending
        .iter()
        .copied()
        .filter(|claim| {
            claim_source(claim).is_some_and(|s| {
                s.kind() == SourceKind::Claim
                    && handle_of(&s.namespace, &s.name).as_deref() == Some(volume_id)
            })
        })
        .collect()
}

/// The Event recorded on `claim`: whether it is good news, its reason and its note.
pub fn note(
    event: &Event,
    work: Work,
    claim: &PersistentVolumeClaim,
) -> (bool, &'static str, String) {
    let failure = || {
        event
            .outcome
            .message
            .clone()
            .unwrap_or_else(|| event.outcome.code.clone())
    };
    let ok = event.outcome.status == OutcomeStatus::Ok;
    match (work, ok) {
        (Work::Preparation, true) => {
            let snapshot = claim_source(claim)
                .map(|s| format!("{}/{}", s.namespace, s.name))
                .unwrap_or_default();
            (
                true,
                reason::SNAPSHOT_PREPARED,
                format!("snapshot prepared: {snapshot} can be restored now"),
            )
        }
        (Work::Preparation, false) => (
            false,
            reason::BACKGROUND_PREPARATION_FAILED,
            format!("background preparation failed: {}", failure()),
        ),
        (Work::Flatten, true) => (
            true,
            reason::FLATTEN_FINISHED,
            "flatten finished: the clone chain is short enough to provision now".to_owned(),
        ),
        (Work::Flatten, false) => (
            false,
            reason::FLATTEN_FAILED,
            format!("flatten failed: {}", failure()),
        ),
        (Work::Clone, true) => (
            true,
            reason::CLONE_FINISHED,
            "clone finished: the volume's data is copied".to_owned(),
        ),
        (Work::Clone, false) => (
            false,
            reason::CLONE_FAILED,
            format!("clone failed: {}", failure()),
        ),
    }
}

#[cfg(test)]
mod tests;
