//! What each operation leaves behind for people and tools: a Kubernetes Event on the claim or
//! PV (upstream's reasons and wording), a NATS event (`sepia.provisioner.<object>.<verb>`) and
//! the provisioning metrics. None of it can fail or delay the operation.

use std::time::Duration;

use events::vocabulary::{component, object, verb};
use events::{Event, KubernetesRef, Outcome};
use k8s_openapi::api::core::v1::{ObjectReference, PersistentVolume, PersistentVolumeClaim};

use crate::context::Context;
use crate::error::ProvisionerError;
use crate::keys::reason;

pub fn claim_ref(claim: &PersistentVolumeClaim) -> ObjectReference {
    ObjectReference {
        api_version: Some("v1".to_owned()),
        kind: Some("PersistentVolumeClaim".to_owned()),
        name: claim.metadata.name.clone(),
        namespace: claim.metadata.namespace.clone(),
        uid: claim.metadata.uid.clone(),
        resource_version: claim.metadata.resource_version.clone(),
        ..ObjectReference::default()
    }
}

pub fn pv_ref(pv: &PersistentVolume) -> ObjectReference {
    ObjectReference {
        api_version: Some("v1".to_owned()),
        kind: Some("PersistentVolume".to_owned()),
        name: pv.metadata.name.clone(),
        uid: pv.metadata.uid.clone(),
        resource_version: pv.metadata.resource_version.clone(),
        ..ObjectReference::default()
    }
}

fn claim_kube_ref(claim: &PersistentVolumeClaim) -> KubernetesRef {
    KubernetesRef {
        kind: "PersistentVolumeClaim".to_owned(),
        namespace: claim.metadata.namespace.clone(),
        name: claim.metadata.name.clone().unwrap_or_default(),
        uid: claim.metadata.uid.clone(),
    }
}

fn claim_display(claim: &PersistentVolumeClaim) -> String {
    format!(
        "{}/{}",
        claim.metadata.namespace.as_deref().unwrap_or(""),
        claim.metadata.name.as_deref().unwrap_or("")
    )
}

fn publish(ctx: &Context, event: Result<Event, events::EventsError>) {
    match event {
        Ok(event) => ctx.publisher.publish(&event),
        Err(error) => tracing::warn!(%error, "building a NATS event failed"),
    }
}

pub fn provisioning(ctx: &Context, claim: &PersistentVolumeClaim) {
    ctx.recorder.normal(
        &claim_ref(claim),
        reason::PROVISIONING,
        format!(
            "External provisioner is provisioning volume for claim \"{}\"",
            claim_display(claim)
        ),
    );
}

pub struct Provisioned<'a> {
    pub claim: &'a PersistentVolumeClaim,
    pub class: &'a str,
    pub source: &'a str,
    pub request_name: &'a str,
    pub volume_id: &'a str,
    pub capacity_bytes: u64,
    pub took: Duration,
}

pub fn provisioned(ctx: &Context, done: &Provisioned<'_>) {
    ctx.recorder.normal(
        &claim_ref(done.claim),
        reason::PROVISIONING_SUCCEEDED,
        format!("Successfully provisioned volume {}", done.request_name),
    );
    ctx.metrics
        .provision(done.class, done.source, true, done.took);
    publish(
        ctx,
        Event::builder(component::PROVISIONER, object::VOLUME, verb::CREATED)
            .operation_key("create")
            .request_name(done.request_name)
            .volume_id(done.volume_id)
            .kubernetes(claim_kube_ref(done.claim))
            .size_bytes(done.capacity_bytes)
            .duration(done.took)
            .build(),
    );
}

pub fn provision_failed(
    ctx: &Context,
    claim: &PersistentVolumeClaim,
    class: &str,
    source: &str,
    error: &ProvisionerError,
    attempt: u32,
) {
    let retry_note = if error.progress() == sidecar::Progress::Infeasible {
        ". Retries will be delayed"
    } else {
        ""
    };
    ctx.recorder.warning(
        &claim_ref(claim),
        reason::PROVISIONING_FAILED,
        format!("failed to provision volume with StorageClass \"{class}\": {error}{retry_note}"),
    );
    ctx.metrics.provision(class, source, false, Duration::ZERO);
    let uid = claim.metadata.uid.clone().unwrap_or_default();
    publish(
        ctx,
        Event::builder(component::PROVISIONER, object::CLAIM, verb::FAILED)
            .operation_key(format!("{uid}/{attempt}"))
            .kubernetes(claim_kube_ref(claim))
            .outcome(Outcome::error(error.code_name(), error.to_string()))
            .build(),
    );
}

/// A refused claim (a selector): one event, no retry.
pub fn refused(ctx: &Context, claim: &PersistentVolumeClaim, class: &str, why: &str) {
    ctx.recorder.warning(
        &claim_ref(claim),
        reason::PROVISIONING_FAILED,
        format!("failed to provision volume with StorageClass \"{class}\": {why}"),
    );
}

/// A WaitForFirstConsumer claim went back to the scheduler because its selected node is
/// gone: a Warning, as upstream reports a reschedule (ProvisioningFailed with the reason).
pub fn rescheduled(ctx: &Context, claim: &PersistentVolumeClaim, class: &str, node: &str) {
    ctx.recorder.warning(
        &claim_ref(claim),
        reason::PROVISIONING_FAILED,
        format!(
            "failed to provision volume with StorageClass \"{class}\": the selected node \
             {node:?} does not exist; asked the scheduler to choose another"
        ),
    );
}

pub struct Deleted<'a> {
    pub request_name: &'a str,
    pub volume_id: &'a str,
    pub claim: Option<KubernetesRef>,
    pub class: &'a str,
    pub took: Duration,
    /// `delete` for a PV's volume, `cleanup` for an in-flight volume of a deleted claim.
    pub operation: &'a str,
}

pub fn volume_deleted(ctx: &Context, done: &Deleted<'_>) {
    ctx.metrics.delete(done.class, true, done.took);
    let mut builder = Event::builder(component::PROVISIONER, object::VOLUME, verb::DELETED)
        .operation_key(done.operation)
        .request_name(done.request_name)
        .volume_id(done.volume_id)
        .duration(done.took);
    if let Some(claim) = done.claim.clone() {
        builder = builder.kubernetes(claim);
    }
    publish(ctx, builder.build());
}

/// A PV deleted while its claim still holds it: nothing happens until the claim is gone, and
/// `kubectl describe pv` says so instead of a silent wait.
pub fn delete_pending(ctx: &Context, pv: &PersistentVolume) {
    let claim = pv
        .spec
        .as_ref()
        .and_then(|s| s.claim_ref.as_ref())
        .map(|r| {
            format!(
                "{}/{}",
                r.namespace.as_deref().unwrap_or(""),
                r.name.as_deref().unwrap_or("")
            )
        })
        .unwrap_or_default();
    ctx.recorder.normal(
        &pv_ref(pv),
        reason::VOLUME_DELETE_PENDING,
        format!(
            "the PersistentVolume is being deleted while claim \"{claim}\" still holds it; its \
             volume is deleted once the claim is gone and the PV is released"
        ),
    );
}

pub fn delete_failed(ctx: &Context, pv: &PersistentVolume, class: &str, error: &ProvisionerError) {
    ctx.recorder
        .warning(&pv_ref(pv), reason::VOLUME_FAILED_DELETE, error.to_string());
    ctx.metrics.delete(class, false, Duration::ZERO);
}

/// The claim as a NATS reference (for clean-up events).
pub fn claim_reference(claim: &PersistentVolumeClaim) -> KubernetesRef {
    claim_kube_ref(claim)
}
