//! Which claims wait on a controller background event, and waking them: a claim whose
//! CreateVolume was answered ABORTED (or timed out) because Ceph was still busy — its source
//! snapshot preparing, its clone chain being flattened at the hard depth limit, a CephFS clone
//! copying — is requeued at once when the event says that work ended, and gets a Kubernetes
//! Event saying what Ceph did. The consumer (`sidecar::wakeups`) hands each event of our driver
//! here once, on the leader only.
//!
//! A claim is found by what the event names ([`matching::named`]: the VolumeSnapshot or claim
//! of `--extra-create-metadata`, or the CreateVolume request name, which is the claim's) and by
//! its CSI ids, which need no extra metadata: a restore whose VolumeSnapshot is bound to a
//! content with the event's snapshot handle ([`reads::snapshot_handles`]), a clone whose source
//! claim's volume has the event's volume id.

mod matching;
mod reads;

use std::collections::BTreeMap;
use std::sync::Arc;

use events::Event;
use k8s_openapi::api::core::v1::PersistentVolumeClaim;
use sidecar::Acted;

use crate::announce::claim_ref;
use crate::context::{ClaimKey, Context};
use crate::source::source_ref::{SourceKind, claim_source};

pub use matching::{
    Work, cloning_from_volume, is_ours_and_pending, named, note, restoring_from_handle,
};

/// Requeues the claims waiting on `event` and records an Event on each.
pub async fn act(ctx: Arc<Context>, event: Event) -> Acted {
    let Some(work) = Work::of(&event) else {
        return Acted::Unrelated;
    };
    let claims = ctx.claims.state();
    let pending: Vec<&PersistentVolumeClaim> = claims
        .iter()
        .map(AsRef::as_ref)
        .filter(|claim| is_ours_and_pending(claim, &ctx.driver))
        .collect();
    let mut waiting: BTreeMap<ClaimKey, &PersistentVolumeClaim> = BTreeMap::new();
    add(
        &mut waiting,
        named(&event, work, &ctx.settings.name_prefix, &pending),
    );
    if let Some(snapshot_id) = event.csi.snapshot_id.as_deref().filter(|_| work.restores()) {
        let restores: Vec<&PersistentVolumeClaim> = pending
            .iter()
            .copied()
            .filter(|c| claim_source(c).is_some_and(|s| s.kind() == SourceKind::Snapshot))
            .collect();
        let handles = reads::snapshot_handles(&ctx.client, &ctx.driver, &restores).await;
        add(
            &mut waiting,
            restoring_from_handle(snapshot_id, &restores, &handles),
        );
    }
    if let Some(volume_id) = event.csi.volume_id.as_deref().filter(|_| work.clones()) {
        let handle_of_claim = |namespace: &str, name: &str| {
            let claim = ctx.claim(&(namespace.to_owned(), name.to_owned()))?;
            let pv = ctx.volume(claim.spec?.volume_name.as_deref()?)?;
            Some(pv.spec?.csi?.volume_handle)
        };
        add(
            &mut waiting,
            cloning_from_volume(volume_id, &pending, handle_of_claim),
        );
    }
    if waiting.is_empty() {
        return Acted::Unrelated;
    }
    for ((namespace, name), claim) in waiting {
        let (ok, reason, text) = note(&event, work, claim);
        tracing::info!(claim = %format!("{namespace}/{name}"), event = %event.id, verb = %event.verb,
            "requeued by a background event");
        if ok {
            ctx.recorder.normal(&claim_ref(claim), reason, text);
        } else {
            ctx.recorder.warning(&claim_ref(claim), reason, text);
        }
        ctx.claim_queue.add((namespace, name));
    }
    Acted::Requeued
}

/// Adds `found` to `waiting`, once per claim.
fn add<'a>(
    waiting: &mut BTreeMap<ClaimKey, &'a PersistentVolumeClaim>,
    found: Vec<&'a PersistentVolumeClaim>,
) {
    for claim in found {
        if let (Some(namespace), Some(name)) = (&claim.metadata.namespace, &claim.metadata.name) {
            waiting.insert((namespace.clone(), name.clone()), claim);
        }
    }
}
