//! One claim, one pass: read the cached claim, volume and class, [`decide`], and carry out the
//! plan against the API server and the driver. Each write goes to the copy the previous write
//! returned, so a stale cache shows up as a 409 (retried at once), never as a lost update.
//!
//! Order of writes for an expansion, chosen so a crash anywhere is finished by the next pass:
//! claim status `ControllerResizeInProgress` (target locked) → ControllerExpandVolume →
//! PV capacity → claim annotation (no node step) → claim status done. The call is idempotent
//! and is repeated while the status says in progress.

use std::sync::Arc;
use std::time::Instant;

use csi::v1::{CapacityRange, ControllerExpandVolumeRequest};
use events::Publisher;
use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim};
use k8s_openapi::api::storage::v1::StorageClass;
use k8s_openapi::jiff::Timestamp;
use kube::api::Api;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Client, ResourceExt};
use serde_json::json;
use sidecar::patch::{self, Part};
use sidecar::quantity::format_bytes;
use sidecar::{CsiConnection, EventRecorder, Outcome, Progress, secrets, volume_capability};

use crate::announce::Announcer;
use crate::claim_status;
use crate::error::ResizerError;
use crate::failure;
use crate::keys::{self, STORAGE};
use crate::observed::{ClaimView, ClassPolicy, VolumeView};
use crate::plan::{Plan, decide};

/// `namespace/name` of a claim: the work queue key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ClaimKey {
    pub namespace: String,
    pub name: String,
}

impl std::fmt::Display for ClaimKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

/// Everything a pass needs; shared by all workers.
pub struct Context {
    pub driver: String,
    pub client: Client,
    pub csi: CsiConnection,
    pub recorder: EventRecorder,
    pub publisher: Publisher,
    pub claims: Store<PersistentVolumeClaim>,
    pub volumes: Store<PersistentVolume>,
    pub classes: Store<StorageClass>,
}

pub async fn reconcile(ctx: &Arc<Context>, key: &ClaimKey) -> Outcome {
    match run(ctx, key).await {
        Ok(outcome) => outcome,
        Err(error) if error.is_conflict() => {
            tracing::debug!(claim = %key, %error, "stale copy, retrying");
            Outcome::Retry(Progress::InProgress)
        }
        Err(error) => {
            tracing::warn!(claim = %key, %error, "resize pass failed");
            Outcome::Retry(Progress::Final)
        }
    }
}

async fn run(ctx: &Arc<Context>, key: &ClaimKey) -> Result<Outcome, ResizerError> {
    let Some(pvc) = ctx
        .claims
        .get(&ObjectRef::new(&key.name).within(&key.namespace))
    else {
        return Ok(Outcome::Done);
    };
    let claim = ClaimView::of(&pvc);
    let pv = claim
        .volume_name
        .as_deref()
        .and_then(|name| ctx.volumes.get(&ObjectRef::new(name)));
    let class = claim
        .storage_class
        .as_deref()
        .and_then(|name| ctx.classes.get(&ObjectRef::new(name)));
    let plan = decide(
        &ctx.driver,
        &claim,
        pv.as_deref().map(VolumeView::of).as_ref(),
        ClassPolicy::of(class.as_deref()),
    );
    tracing::debug!(claim = %key, ?plan, "decided");
    match (plan, pv) {
        (Plan::Idle(_), _) => Ok(Outcome::Done),
        (Plan::Refuse(why), pv) => {
            let pv_name = pv.as_ref().map(|p| p.name_any()).unwrap_or_default();
            announcer(ctx, &pvc, &pv_name, "").refused(&why.to_string());
            Ok(Outcome::Done)
        }
        (Plan::Abandon { capacity }, _) => {
            let mut updated = (*pvc).clone();
            claim_status::abandon(
                updated.status.get_or_insert_with(Default::default),
                capacity,
            );
            write_status(ctx, &pvc, updated).await?;
            Ok(Outcome::Done)
        }
        (
            Plan::Expand {
                target,
                volume_handle,
            },
            Some(pv),
        ) => expand(ctx, (*pvc).clone(), &pv, target, &volume_handle).await,
        (Plan::Expand { .. }, None) => Ok(Outcome::Done),
    }
}

async fn expand(
    ctx: &Arc<Context>,
    pvc: PersistentVolumeClaim,
    pv: &PersistentVolume,
    target: u64,
    volume_id: &str,
) -> Result<Outcome, ResizerError> {
    let pv_name = pv.name_any();

    // 1. Lock the target in the claim's status before anything can run on the driver.
    let pvc = clear_not_required_annotation(ctx, pvc).await?;
    let mut begun = pvc.clone();
    claim_status::begin(
        begun.status.get_or_insert_with(Default::default),
        target,
        Timestamp::now(),
    );
    let pvc = if begun.status != pvc.status {
        let written = write_status(ctx, &pvc, begun).await?;
        announcer(ctx, &written, &pv_name, volume_id).resizing();
        written
    } else {
        pvc
    };

    // 2. The call.
    let csi_spec = pv.spec.as_ref().and_then(|s| s.csi.as_ref());
    let secrets = match secrets::fetch_referenced(
        &ctx.client,
        csi_spec.and_then(|c| c.controller_expand_secret_ref.as_ref()),
        "the PV's controllerExpandSecretRef",
    )
    .await
    {
        Ok(secrets) => secrets,
        Err(error) => {
            announcer(ctx, &pvc, &pv_name, volume_id).refused(&error.to_string());
            return Err(error.into());
        }
    };
    let request = ControllerExpandVolumeRequest {
        volume_id: volume_id.to_owned(),
        capacity_range: Some(CapacityRange {
            required_bytes: i64::try_from(target).unwrap_or(i64::MAX),
            limit_bytes: 0,
        }),
        secrets: secrets.into_csi(),
        // The PV's capability tells the driver a raw block volume (no filesystem to grow, no
        // node step) from a filesystem one. Like external-resizer, without the
        // SINGLE_NODE_MULTI_WRITER refinement; a PV CSI cannot express goes without one.
        volume_capability: pv
            .spec
            .as_ref()
            .and_then(|spec| volume_capability::of_volume(spec, false, "").ok()),
    };
    let started = Instant::now();
    let answer = ctx
        .csi
        .call(
            keys::CONTROLLER_EXPAND_METHOD,
            request,
            |mut client, request| async move { client.controller_expand_volume(request).await },
        )
        .await;
    let took = started.elapsed();

    match answer {
        Err(status) => {
            let progress = failure::classify(status.code());
            let mut failed = pvc.clone();
            claim_status::failed(
                failed.status.get_or_insert_with(Default::default),
                progress,
                &format!("{:?}: {}", status.code(), status.message()),
                Timestamp::now(),
            );
            let written = write_status(ctx, &pvc, failed).await?;
            announcer(ctx, &written, &pv_name, volume_id).failed(
                target,
                status.code(),
                status.message(),
                took,
            );
            Ok(Outcome::Retry(progress))
        }
        Ok(response) => {
            let size = u64::try_from(response.capacity_bytes)
                .ok()
                .filter(|&s| s > 0)
                .unwrap_or(target);
            let node_step = response.node_expansion_required;
            // 3. The PV first: it is what kubelet sizes the node step by.
            update_volume(ctx, pv, size, node_step).await?;
            // 4. Tell kubelet to skip the node step before the status says done.
            let pvc = if node_step {
                pvc
            } else {
                set_not_required_annotation(ctx, pvc).await?
            };
            let mut done = pvc.clone();
            claim_status::controller_done(
                done.status.get_or_insert_with(Default::default),
                size,
                node_step,
                Timestamp::now(),
            );
            let written = write_status(ctx, &pvc, done).await?;
            tracing::info!(claim = %written.name_any(), volume_id, size, node_step, "controller expansion done");
            announcer(ctx, &written, &pv_name, volume_id).expanded(target, size, node_step, took);
            Ok(Outcome::Done)
        }
    }
}

fn announcer<'a>(
    ctx: &'a Context,
    claim: &'a PersistentVolumeClaim,
    pv_name: &'a str,
    volume_id: &'a str,
) -> Announcer<'a> {
    Announcer {
        recorder: &ctx.recorder,
        publisher: &ctx.publisher,
        claim,
        pv_name,
        volume_id,
    }
}

/// Patches what changed in the claim's status, conditional on `current`'s resourceVersion;
/// returns the claim as stored (`updated` itself when nothing changed).
async fn write_status(
    ctx: &Context,
    current: &PersistentVolumeClaim,
    updated: PersistentVolumeClaim,
) -> Result<PersistentVolumeClaim, ResizerError> {
    let written = patch::write_changes(&claims_api(ctx, current), current, &updated, Part::Status)
        .await
        .map_err(ResizerError::kube(format!(
            "updating the status of PVC {}/{}",
            current.namespace().unwrap_or_default(),
            current.name_any()
        )))?;
    Ok(written.unwrap_or(updated))
}

fn claims_api(ctx: &Context, pvc: &PersistentVolumeClaim) -> Api<PersistentVolumeClaim> {
    Api::namespaced(ctx.client.clone(), &pvc.namespace().unwrap_or_default())
}

/// A new resize starts: kubelet must not skip its node step on the strength of the last one.
async fn clear_not_required_annotation(
    ctx: &Context,
    pvc: PersistentVolumeClaim,
) -> Result<PersistentVolumeClaim, ResizerError> {
    if !pvc
        .annotations()
        .contains_key(keys::NODE_EXPANSION_NOT_REQUIRED)
    {
        return Ok(pvc);
    }
    patch_claim_annotation(ctx, &pvc, serde_json::Value::Null).await
}

async fn set_not_required_annotation(
    ctx: &Context,
    pvc: PersistentVolumeClaim,
) -> Result<PersistentVolumeClaim, ResizerError> {
    if pvc
        .annotations()
        .get(keys::NODE_EXPANSION_NOT_REQUIRED)
        .map(String::as_str)
        == Some("true")
    {
        return Ok(pvc);
    }
    patch_claim_annotation(ctx, &pvc, json!("true")).await
}

async fn patch_claim_annotation(
    ctx: &Context,
    pvc: &PersistentVolumeClaim,
    value: serde_json::Value,
) -> Result<PersistentVolumeClaim, ResizerError> {
    let patch = json!({"metadata": {"annotations": {keys::NODE_EXPANSION_NOT_REQUIRED: value}}});
    patch::patch_if_unchanged(&claims_api(ctx, pvc), pvc, Part::Object, patch)
        .await
        .map_err(ResizerError::kube(format!(
            "annotating PVC {}/{}",
            pvc.namespace().unwrap_or_default(),
            pvc.name_any()
        )))
}

/// Grows `spec.capacity` (never shrinks it). With a node step left, records the size before
/// the resize so kubelet can finish even if the claim is deleted meanwhile.
async fn update_volume(
    ctx: &Context,
    pv: &PersistentVolume,
    size: u64,
    node_step: bool,
) -> Result<(), ResizerError> {
    let view = VolumeView::of(pv);
    let current = view.capacity.ok().flatten();
    if current.is_some_and(|c| c >= size) {
        return Ok(());
    }
    let mut metadata = json!({});
    if node_step
        && !pv.annotations().contains_key(keys::PRE_RESIZE_CAPACITY)
        && let Some(old) = pv
            .spec
            .as_ref()
            .and_then(|s| s.capacity.as_ref())
            .and_then(|c| c.get(STORAGE))
    {
        metadata = json!({"annotations": {keys::PRE_RESIZE_CAPACITY: old.0}});
    }
    let patch = json!({
        "metadata": metadata,
        "spec": {"capacity": {STORAGE: format_bytes(size)}},
    });
    patch::patch_if_unchanged(
        &Api::<PersistentVolume>::all(ctx.client.clone()),
        pv,
        Part::Object,
        patch,
    )
    .await
    .map_err(ResizerError::kube(format!(
        "updating the capacity of PV {}",
        pv.name_any()
    )))?;
    Ok(())
}
