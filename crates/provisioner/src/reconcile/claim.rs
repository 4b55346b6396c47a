//! Carries out a claim decision: provision (record intent → CreateVolume → PV), finish (drop
//! the record once the PV exists) or clean up (repeat the recorded CreateVolume to a final
//! answer and delete what it returns).

use std::time::Instant;

use csi::v1::plugin_capability::service::Type as PluginCap;
use k8s_openapi::api::core::v1::{Node, PersistentVolume, PersistentVolumeClaim};
use k8s_openapi::api::storage::v1::StorageClass;
use kube::api::{Api, PostParams};
use sidecar::Outcome;
use sidecar::patch::{self, Part};
use tracing::Instrument;

use crate::announce;
use crate::claim_decision::{self, ClaimAction, ClaimFacts, SelectedNode};
use crate::context::{ClaimKey, Context};
use crate::csi_calls::{create_volume, delete_volume};
use crate::error::ProvisionerError;
use crate::in_flight;
use crate::in_flight::recorded_call::{RecordedCall, record_error};
use crate::keys::ANN_SELECTED_NODE;
use crate::plan::class_params::SecretKind;
use crate::plan::{plan, request_name};
use crate::pv_builder::build_pv;
use crate::reconcile::cleanup;
use crate::secrets;
use crate::source::source_protection;
use crate::source::sources;
use crate::topology;

/// What a failed reconcile was about, for the failure event and metrics.
#[derive(Debug, Clone, Default)]
pub struct FailureContext {
    pub claim: Option<PersistentVolumeClaim>,
    pub class: String,
    pub source: String,
}

/// One pass over the claim `key`, as a worker of the claim queue runs it: a failure gets its
/// Event and metrics (with the attempt it was) and is retried after the key's backoff.
pub async fn reconcile(ctx: &Context, key: &ClaimKey) -> Outcome {
    let span = tracing::info_span!("claim", claim = %format!("{}/{}", key.0, key.1));
    match pass(ctx, key).instrument(span).await {
        Ok(()) => Outcome::Done,
        Err((error, failure)) => {
            let attempt = ctx.claim_queue.failures(key) + 1;
            if let Some(claim) = &failure.claim {
                announce::provision_failed(
                    ctx,
                    claim,
                    &failure.class,
                    &failure.source,
                    &error,
                    attempt,
                );
            }
            tracing::warn!(claim = %format!("{}/{}", key.0, key.1), %error, attempt,
                "provisioning failed; will retry");
            Outcome::Retry(error.progress())
        }
    }
}

/// One pass over one claim.
///
/// # Errors
/// Anything that needs a retry; [`reconcile`] records the failure and requeues with backoff.
async fn pass(ctx: &Context, key: &ClaimKey) -> Result<(), (ProvisionerError, FailureContext)> {
    let Some(claim) = ctx.claim(key) else {
        return Ok(());
    };
    let class_name = claim_decision::class_name(&claim).map(str::to_owned);
    let class = class_name.as_deref().and_then(|n| ctx.class(n));
    let uid = claim.metadata.uid.clone().unwrap_or_default();
    let pv_name = request_name(&ctx.settings.name_prefix, &uid);
    let pv_exists = ctx.volume(&pv_name).is_some();
    let failure = FailureContext {
        claim: Some(claim.clone()),
        class: class_name.clone().unwrap_or_default(),
        source: source_kind(&claim).unwrap_or_default(),
    };
    let mut facts = ClaimFacts {
        claim: &claim,
        driver: &ctx.driver,
        class: class.as_ref(),
        pv_exists,
        selected_node: SelectedNode::Unknown,
    };
    let mut action = claim_decision::decide(&facts);
    if let ClaimAction::LookUpNode(node) = &action {
        facts.selected_node = match node_exists(ctx, node).await {
            Ok(true) => SelectedNode::Exists,
            Ok(false) => SelectedNode::Gone,
            Err(error) => return Err((error, failure)),
        };
        action = claim_decision::decide(&facts);
    }
    tracing::debug!(claim = %format!("{}/{}", key.0, key.1), ?action, "claim decision");
    let result = match action {
        ClaimAction::Ignore(_) | ClaimAction::WaitForNode | ClaimAction::LookUpNode(_) => Ok(()),
        ClaimAction::Reschedule(node) => reschedule(ctx, &claim).await.map(|()| {
            announce::rescheduled(ctx, &claim, &failure.class, &node);
        }),
        ClaimAction::Refuse(why) => {
            announce::refused(ctx, &claim, &failure.class, &why);
            Ok(())
        }
        ClaimAction::Fail(why) => Err(ProvisionerError::Claim(why)),
        ClaimAction::Finish => in_flight::finish(&ctx.client, &ctx.claims, &claim).await,
        ClaimAction::CleanUp => cleanup::clean_up(ctx, &claim, class.as_ref(), &pv_name).await,
        ClaimAction::Provision => match class {
            Some(class) => provision(ctx, &claim, &class).await,
            None => Err(ProvisionerError::Claim("StorageClass not found".to_owned())),
        },
    };
    result.map_err(|e| (e, failure))
}

fn source_kind(claim: &PersistentVolumeClaim) -> Option<String> {
    crate::source::source_ref::claim_source(claim).map(|s| s.kind)
}

async fn provision(
    ctx: &Context,
    claim: &PersistentVolumeClaim,
    class: &StorageClass,
) -> Result<(), ProvisionerError> {
    let started = Instant::now();
    announce::provisioning(ctx, claim);
    let mut plan = plan(claim, class, &ctx.settings)?;
    let source = sources::resolve(
        &ctx.client,
        claim,
        &ctx.driver,
        plan.required_bytes,
        ctx.sources,
    )
    .await?;
    let content = source.as_ref().map(|s| s.content.clone());
    // Everything that can fail without a call comes before the record, so such a failure
    // leaves the claim as it was (deletable at once).
    let requirement = accessibility(ctx, claim).await?;
    let planned_secret = plan.secret_refs.get(&SecretKind::Provisioner).cloned();
    let mut secrets = secrets::read(&ctx.client, planned_secret.as_ref()).await?;
    // The durable record comes next: from here on a volume may exist in the backend.
    let planned_call = RecordedCall::of(&plan, requirement.as_ref());
    let claim = in_flight::record(
        &ctx.client,
        claim,
        &plan.request_name,
        in_flight::encode_source(content.as_ref()).as_deref(),
        &planned_call.encode().map_err(record_error)?,
    )
    .await?;
    // An earlier attempt whose outcome is unknown recorded its call: repeat exactly that, and
    // describe its volume in the PV, whatever the class says now.
    let call = RecordedCall::from_claim(&claim)
        .map_err(record_error)?
        .unwrap_or(planned_call);
    call.apply_to(&mut plan).map_err(record_error)?;
    let content = in_flight::recorded_source(&claim)?;
    if call.secret != planned_secret {
        secrets = secrets::read(&ctx.client, call.secret.as_ref()).await?;
    }
    if let Some(source) = &source {
        source_protection::protect(&ctx.client, &source.object).await?;
    }
    let request = call
        .request(&plan.request_name, secrets.clone(), content)
        .map_err(record_error)?;
    let volume = match create_volume(ctx, request).await {
        Ok(volume) => volume,
        Err(error) => {
            reschedule_if_exhausted(ctx, &claim, &error).await;
            if error.created_nothing() {
                // No call is running and nothing was made: drop the record and the source
                // protection, so a claim whose class or secret then goes can be deleted. The
                // next attempt records again before it calls.
                if let Err(cleanup) = in_flight::finish(&ctx.client, &ctx.claims, &claim).await {
                    tracing::warn!(%cleanup, "dropping the in-flight record after a final error failed");
                }
            }
            return Err(error);
        }
    };
    let capacity = u64::try_from(volume.capacity_bytes).unwrap_or(0);
    let capacity = if capacity == 0 {
        plan.required_bytes
    } else {
        capacity
    };
    if source.is_some() && volume.content_source.is_none() {
        delete_volume(ctx, &volume.volume_id, secrets).await?;
        return Err(ProvisionerError::SourceIgnored {
            volume_id: volume.volume_id,
        });
    }
    if capacity < plan.required_bytes {
        // A volume we cannot use: delete it and ask again (upstream does the same).
        delete_volume(ctx, &volume.volume_id, secrets).await?;
        return Err(ProvisionerError::TooSmall {
            got: capacity,
            wanted: plan.required_bytes,
        });
    }
    let pv = build_pv(
        &plan,
        &claim,
        class,
        &volume,
        capacity,
        &ctx.driver,
        &ctx.provisioner_identity,
    );
    let pvs: Api<PersistentVolume> = Api::all(ctx.client.clone());
    match pvs.create(&PostParams::default(), &pv).await {
        Ok(_) => {}
        // Created by an earlier attempt whose answer we lost: same name, same volume.
        Err(kube::Error::Api(status)) if status.code == 409 => {}
        Err(e) => {
            return Err(ProvisionerError::kube(
                format!("creating PV {}", plan.request_name),
                e,
            ));
        }
    }
    announce::provisioned(
        ctx,
        &announce::Provisioned {
            claim: &claim,
            class: class.metadata.name.as_deref().unwrap_or(""),
            source: source.as_ref().map_or("", |s| s.object.kind()),
            request_name: &plan.request_name,
            volume_id: &volume.volume_id,
            capacity_bytes: capacity,
            took: started.elapsed(),
        },
    );
    in_flight::finish(&ctx.client, &ctx.claims, &claim).await
}

fn selected_node(claim: &PersistentVolumeClaim) -> Option<String> {
    claim
        .metadata
        .annotations
        .as_ref()?
        .get(ANN_SELECTED_NODE)
        .filter(|n| !n.is_empty())
        .cloned()
}

async fn accessibility(
    ctx: &Context,
    claim: &PersistentVolumeClaim,
) -> Result<Option<csi::v1::TopologyRequirement>, ProvisionerError> {
    if !ctx
        .csi
        .driver()
        .has_plugin(PluginCap::VolumeAccessibilityConstraints)
    {
        return Ok(None);
    }
    match selected_node(claim) {
        Some(node) => topology::requirement(&ctx.client, &ctx.driver, &node).await,
        None => Ok(None),
    }
}

/// RESOURCE_EXHAUSTED on the selected node of a topology-aware driver: drop the selected-node
/// annotation so the scheduler picks another node (upstream's "reschedule").
async fn reschedule_if_exhausted(
    ctx: &Context,
    claim: &PersistentVolumeClaim,
    error: &ProvisionerError,
) {
    let exhausted = matches!(
        error,
        ProvisionerError::Csi {
            code: tonic::Code::ResourceExhausted,
            ..
        }
    );
    if !exhausted
        || !ctx
            .csi
            .driver()
            .has_plugin(PluginCap::VolumeAccessibilityConstraints)
        || selected_node(claim).is_none()
    {
        return;
    }
    if let Err(error) = reschedule(ctx, claim).await {
        tracing::warn!(%error, claim = ?claim.metadata.name,
            "removing the selected node for rescheduling failed");
    }
}

/// Removes `volume.kubernetes.io/selected-node`, so the scheduler picks a node again.
async fn reschedule(ctx: &Context, claim: &PersistentVolumeClaim) -> Result<(), ProvisionerError> {
    let name = claim.metadata.name.clone().unwrap_or_default();
    let api: Api<PersistentVolumeClaim> = Api::namespaced(
        ctx.client.clone(),
        claim.metadata.namespace.as_deref().unwrap_or("default"),
    );
    let patch = serde_json::json!({"metadata": {"annotations": {ANN_SELECTED_NODE: null}}});
    patch::patch_if_unchanged(&api, claim, Part::Object, patch)
        .await
        .map(|_| ())
        .map_err(|e| {
            ProvisionerError::kube(format!("removing the selected node of claim {name}"), e)
        })
}

/// Whether Node `name` exists (read from the API: the provisioner keeps no Node cache).
async fn node_exists(ctx: &Context, name: &str) -> Result<bool, ProvisionerError> {
    Api::<Node>::all(ctx.client.clone())
        .get_metadata_opt(name)
        .await
        .map(|node| node.is_some())
        .map_err(|e| ProvisionerError::kube(format!("reading node {name}"), e))
}
