//! Which claims wait on a controller background event, and waking them: a claim restoring
//! from a VolumeSnapshot whose preparation just ended is requeued at once (it was in backoff
//! after its CreateVolume timed out or was ABORTED) and gets a Kubernetes Event saying what
//! Ceph did. The event names the VolumeSnapshot when the snapshotter passes
//! `--extra-create-metadata`; without that nothing here can match it and the claim keeps its
//! backoff. The consumer (`sidecar::wakeups`) hands each event here once, on the leader only.

use events::vocabulary::{object, verb};
use events::{Event, OutcomeStatus};
use k8s_openapi::api::core::v1::PersistentVolumeClaim;
use sidecar::Acted;

use crate::context::{ClaimKey, Context};
use crate::keys::{ANN_BETA_STORAGE_PROVISIONER, ANN_STORAGE_PROVISIONER, reason};
use crate::outcome::claim_ref;
use crate::source_ref::{SourceKind, claim_source};

const VOLUME_SNAPSHOT: &str = "VolumeSnapshot";

/// Requeues the claims waiting on `event` and records an Event on each.
pub fn act(ctx: &Context, event: &Event) -> Acted {
    let claims = ctx.claims.state();
    let waiting = waiting_claims(event, &ctx.driver, claims.iter().map(AsRef::as_ref));
    if waiting.is_empty() {
        return Acted::Unrelated;
    }
    let (ok, note) = note(event);
    for claim in waiting {
        let (Some(namespace), Some(name)) = (&claim.metadata.namespace, &claim.metadata.name)
        else {
            continue;
        };
        let key: ClaimKey = (namespace.clone(), name.clone());
        tracing::info!(claim = %format!("{namespace}/{name}"), event = %event.id, verb = %event.verb,
            "requeued by a background event");
        if ok {
            ctx.recorder
                .normal(&claim_ref(claim), reason::SNAPSHOT_PREPARED, note.clone());
        } else {
            ctx.recorder.warning(
                &claim_ref(claim),
                reason::BACKGROUND_PREPARATION_FAILED,
                note.clone(),
            );
        }
        ctx.claim_queue.add(key);
    }
    Acted::Requeued
}

/// The Event's note: what happened, in the words the issue asks for.
fn note(event: &Event) -> (bool, String) {
    let snapshot = event
        .kubernetes
        .as_ref()
        .map(|k| match &k.namespace {
            Some(ns) => format!("{ns}/{}", k.name),
            None => k.name.clone(),
        })
        .unwrap_or_default();
    match event.outcome.status {
        OutcomeStatus::Ok => (
            true,
            format!("snapshot prepared: {snapshot} can be restored now"),
        ),
        OutcomeStatus::Error => (
            false,
            format!(
                "background preparation failed: {}",
                event
                    .outcome
                    .message
                    .as_deref()
                    .unwrap_or(&event.outcome.code)
            ),
        ),
    }
}

/// The claims of `driver`, not yet provisioned, restoring from the VolumeSnapshot `event` is
/// about. Pure, for the tests.
pub fn waiting_claims<'a>(
    event: &Event,
    driver: &str,
    claims: impl Iterator<Item = &'a PersistentVolumeClaim>,
) -> Vec<&'a PersistentVolumeClaim> {
    let about_preparation = event.object == object::SNAPSHOT
        && (event.verb == verb::PREPARED || event.verb == verb::PREPARATION_FAILED);
    let Some(snapshot) = event
        .kubernetes
        .as_ref()
        .filter(|k| k.kind == VOLUME_SNAPSHOT)
    else {
        return Vec::new();
    };
    if !about_preparation {
        return Vec::new();
    }
    claims
        .filter(|claim| is_ours_and_pending(claim, driver))
        .filter(|claim| {
            claim_source(claim).is_some_and(|source| {
                source.kind() == SourceKind::Snapshot
                    && source.name == snapshot.name
                    && Some(&source.namespace) == snapshot.namespace.as_ref()
            })
        })
        .collect()
}

fn is_ours_and_pending(claim: &PersistentVolumeClaim, driver: &str) -> bool {
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

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use events::{KubernetesRef, Outcome};
    use k8s_openapi::api::core::v1::{PersistentVolumeClaimSpec, TypedLocalObjectReference};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    use super::*;

    const DRIVER: &str = "rbd.csi.ceph.com";

    fn claim(
        namespace: &str,
        name: &str,
        snapshot: &str,
        driver: &str,
        bound: bool,
    ) -> PersistentVolumeClaim {
        PersistentVolumeClaim {
            metadata: ObjectMeta {
                namespace: Some(namespace.to_owned()),
                name: Some(name.to_owned()),
                annotations: Some(BTreeMap::from([(
                    ANN_STORAGE_PROVISIONER.to_owned(),
                    driver.to_owned(),
                )])),
                ..ObjectMeta::default()
            },
            spec: Some(PersistentVolumeClaimSpec {
                data_source: Some(TypedLocalObjectReference {
                    api_group: Some("snapshot.storage.k8s.io".to_owned()),
                    kind: VOLUME_SNAPSHOT.to_owned(),
                    name: snapshot.to_owned(),
                }),
                volume_name: bound.then(|| "pv-1".to_owned()),
                ..PersistentVolumeClaimSpec::default()
            }),
            ..PersistentVolumeClaim::default()
        }
    }

    fn event(verb: &str, kind: &str, namespace: &str, name: &str) -> Event {
        let outcome = if verb == verb::PREPARED {
            Outcome::ok()
        } else {
            Outcome::error("Internal", "rbd clone failed")
        };
        Event::builder("controller", object::SNAPSHOT, verb)
            .operation_key("prepare")
            .snapshot_id("0001-id")
            .kubernetes(KubernetesRef {
                kind: kind.to_owned(),
                namespace: Some(namespace.to_owned()),
                name: name.to_owned(),
                uid: None,
            })
            .outcome(outcome)
            .build()
            .expect("valid event")
    }

    fn names(found: &[&PersistentVolumeClaim]) -> Vec<String> {
        found
            .iter()
            .filter_map(|c| c.metadata.name.clone())
            .collect()
    }

    #[test]
    fn only_our_pending_claims_restoring_from_that_snapshot_wait() {
        let claims = [
            claim("default", "waits", "snap", DRIVER, false),
            claim("default", "bound", "snap", DRIVER, true),
            claim("default", "other-snapshot", "snap2", DRIVER, false),
            claim("other", "other-namespace", "snap", DRIVER, false),
            claim("default", "other-driver", "snap", "ebs.csi.aws.com", false),
        ];
        let prepared = event(verb::PREPARED, VOLUME_SNAPSHOT, "default", "snap");
        assert_eq!(
            names(&waiting_claims(&prepared, DRIVER, claims.iter())),
            ["waits"]
        );
        let failed = event(verb::PREPARATION_FAILED, VOLUME_SNAPSHOT, "default", "snap");
        assert_eq!(
            names(&waiting_claims(&failed, DRIVER, claims.iter())),
            ["waits"]
        );
        let not_a_snapshot = event(verb::PREPARED, "PersistentVolumeClaim", "default", "snap");
        assert!(waiting_claims(&not_a_snapshot, DRIVER, claims.iter()).is_empty());
        let created = event(verb::CREATED, VOLUME_SNAPSHOT, "default", "snap");
        assert!(waiting_claims(&created, DRIVER, claims.iter()).is_empty());
    }

    #[test]
    fn notes_say_what_ceph_did() {
        let (ok, text) = note(&event(verb::PREPARED, VOLUME_SNAPSHOT, "default", "snap"));
        assert!(ok);
        assert_eq!(text, "snapshot prepared: default/snap can be restored now");
        let (ok, text) = note(&event(
            verb::PREPARATION_FAILED,
            VOLUME_SNAPSHOT,
            "default",
            "snap",
        ));
        assert!(!ok);
        assert_eq!(text, "background preparation failed: rbd clone failed");
    }
}
