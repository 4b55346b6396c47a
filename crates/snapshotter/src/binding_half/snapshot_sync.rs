//! Performs a VolumeSnapshot's plan. Each action reads the object as the previous write left
//! it (so every resourceVersion precondition is the latest); a conflict anywhere means
//! someone else changed it, and the whole decision is made again on a fresh read.

use std::sync::Arc;

use kube::api::Api;
use kube::runtime::reflector::ObjectRef;
use serde_json::json;
use sidecar::Progress;
use snapshot_api::{VolumeSnapshot, VolumeSnapshotClass, VolumeSnapshotContent, keys};

use super::BindingHalf;
use crate::claim_protection::restores_from;
use crate::clock;
use crate::error::{Result, SnapshotterError};
use crate::kube_writes::{self, finalizers_with};
use crate::metrics::operation;
use crate::snapshot_plan::{Next, SnapshotAction, SnapshotWorld, content_name_for, plan_snapshot};
use sidecar::control_loop::workers::Outcome;

/// Decisions repeated after a conflict within one sync.
const ATTEMPTS: usize = 3;

impl BindingHalf {
    pub(super) async fn sync_snapshot(&self, namespace: &str, name: &str) -> Outcome {
        let Some(cached) = self
            .stores
            .snapshots
            .get(&ObjectRef::new(name).within(namespace))
        else {
            return Outcome::Done;
        };
        let api: Api<VolumeSnapshot> = Api::namespaced(self.client.clone(), namespace);
        let mut snapshot = (*cached).clone();
        for _ in 0..ATTEMPTS {
            match self.act_on_snapshot(&api, &snapshot).await {
                Ok(outcome) => return outcome,
                Err(error) if error.is_conflict() => match api.get_opt(name).await {
                    Ok(Some(fresh)) => snapshot = fresh,
                    Ok(None) => return Outcome::Done,
                    Err(error) => {
                        tracing::warn!(snapshot = %format!("{namespace}/{name}"), %error, "re-reading failed");
                        return Outcome::Retry(Progress::Final);
                    }
                },
                Err(error) if error.is_not_found() => return Outcome::Done,
                Err(error) => {
                    tracing::warn!(snapshot = %format!("{namespace}/{name}"), %error, "sync failed");
                    return Outcome::Retry(Progress::Final);
                }
            }
        }
        Outcome::Retry(Progress::Final)
    }

    async fn act_on_snapshot(
        &self,
        api: &Api<VolumeSnapshot>,
        snapshot: &VolumeSnapshot,
    ) -> Result<Outcome> {
        let namespace = snapshot.metadata.namespace.clone().unwrap_or_default();
        let name = snapshot.metadata.name.clone().unwrap_or_default();
        let contents: Api<VolumeSnapshotContent> = Api::all(self.client.clone());
        let content = match content_name_for(snapshot) {
            Some(name) => match self.stores.contents.get(&ObjectRef::new(&name)) {
                Some(content) => Some(content),
                // Not in the store: maybe we created it a moment ago and the watch has not
                // delivered it yet. Ask the API server before deciding it is missing.
                None if snapshot.bound_content_name().is_some() => contents
                    .get_opt(&name)
                    .await
                    .map_err(|e| {
                        SnapshotterError::kube(format!("reading VolumeSnapshotContent {name}"), e)
                    })?
                    .map(Arc::new),
                None => None,
            },
            None => None,
        };
        let claim = snapshot
            .spec
            .source
            .persistent_volume_claim_name
            .as_deref()
            .and_then(|claim| {
                self.stores
                    .claims
                    .get(&ObjectRef::new(claim).within(&namespace))
            });
        let volume = claim
            .as_ref()
            .and_then(|c| c.spec.as_ref()?.volume_name.clone())
            .and_then(|volume| self.stores.volumes.get(&ObjectRef::new(&volume)));
        let classes: Vec<VolumeSnapshotClass> = self
            .stores
            .classes
            .state()
            .iter()
            .map(|c| (**c).clone())
            .collect();
        let restoring = !self
            .stores
            .claims
            .state_filter(|c| {
                c.metadata.namespace.as_deref() == Some(namespace.as_str())
                    && restores_from(c, &name)
            })
            .is_empty();
        let now = clock::now_time();
        let world = SnapshotWorld {
            snapshot,
            content: content.as_deref(),
            claim: claim.as_deref(),
            volume: volume.as_deref(),
            classes: &classes,
            restoring,
            now: &now,
        };
        let plan = plan_snapshot(&world);
        if !plan.actions.is_empty() {
            tracing::debug!(snapshot = %format!("{namespace}/{name}"), actions = ?plan.actions, next = ?plan.next, "snapshot plan");
        }

        let mut current = snapshot.clone();
        for action in plan.actions {
            match action {
                SnapshotAction::SetDefaultClass(class) => {
                    current = kube_writes::patch_guarded(
                        api,
                        &current,
                        json!({ "spec": { "volumeSnapshotClassName": class } }),
                        "setting the default VolumeSnapshotClass",
                    )
                    .await?;
                }
                SnapshotAction::AddFinalizers(add) => {
                    let list = finalizers_with(&current, &add, &[]);
                    current = kube_writes::set_finalizers(api, &current, list).await?;
                }
                SnapshotAction::RemoveFinalizers(remove) => {
                    let list = finalizers_with(&current, &[], &remove);
                    current = kube_writes::set_finalizers(api, &current, list).await?;
                    self.record_deleted(&current, content.as_deref());
                }
                SnapshotAction::ProtectClaim => {
                    if let Some(claim) = claim.as_deref() {
                        let claims = Api::namespaced(self.client.clone(), &namespace);
                        let list = finalizers_with(claim, &[keys::PVC_AS_SOURCE_FINALIZER], &[]);
                        kube_writes::set_finalizers(&claims, claim, list).await?;
                    }
                }
                SnapshotAction::CreateContent(new) => {
                    kube_writes::create_idempotent(&contents, &*new).await?;
                }
                SnapshotAction::BindContent {
                    content: _,
                    snapshot_uid,
                    class,
                } => {
                    if let Some(content) = content.as_deref() {
                        let mut spec = json!({ "volumeSnapshotRef": { "uid": snapshot_uid } });
                        if let Some(class) = class {
                            spec["volumeSnapshotClassName"] = json!(class);
                        }
                        kube_writes::patch_guarded(
                            &contents,
                            content,
                            json!({ "spec": spec }),
                            "binding",
                        )
                        .await?;
                    }
                }
                SnapshotAction::MarkContentBeingDeleted { content: marked } => {
                    // The plan marks the content it was shown; the write is conditional on
                    // that copy.
                    if let Some(content) = content
                        .as_deref()
                        .filter(|c| c.metadata.name.as_deref() == Some(marked.as_str()))
                    {
                        kube_writes::set_annotation(
                            &contents,
                            content,
                            keys::BEING_DELETED_ANNOTATION,
                            Some("yes"),
                        )
                        .await?;
                    }
                }
                SnapshotAction::DeleteContent { content } => {
                    kube_writes::delete_idempotent(&contents, &content).await?;
                }
                SnapshotAction::WriteStatus(status) => {
                    let old = current.status.clone();
                    if let Some(updated) =
                        kube_writes::write_status(api, &current, &*status).await?
                    {
                        let turned_ready = status.ready_to_use == Some(true)
                            && old.as_ref().and_then(|s| s.ready_to_use) != Some(true);
                        if turned_ready {
                            self.record_ready(&current, content.as_deref());
                        }
                        current = updated;
                    }
                }
                SnapshotAction::Event {
                    kind,
                    reason,
                    message,
                } => self.notify.snapshot_event(&current, kind, reason, &message),
            }
        }
        Ok(match plan.next {
            Next::Done => Outcome::Done,
            Next::Retry(progress) => Outcome::Retry(progress),
        })
    }

    fn record_ready(&self, snapshot: &VolumeSnapshot, content: Option<&VolumeSnapshotContent>) {
        let Some(created) = &snapshot.metadata.creation_timestamp else {
            return;
        };
        let took = clock::since(created);
        let driver = self.driver_of(snapshot, content);
        let pre_provisioned = snapshot.spec.source.volume_snapshot_content_name.is_some();
        tracing::info!(snapshot = %format!("{}/{}", snapshot.metadata.namespace.as_deref().unwrap_or_default(),
            snapshot.metadata.name.as_deref().unwrap_or_default()), ?took, "VolumeSnapshot ready");
        self.metrics.operation(
            &driver,
            operation::CREATE_AND_READY,
            true,
            pre_provisioned,
            took,
        );
    }

    /// The driver label: the content's, else the class's (a deleted snapshot's content is
    /// usually gone by the time its last finalizer goes).
    fn driver_of(
        &self,
        snapshot: &VolumeSnapshot,
        content: Option<&VolumeSnapshotContent>,
    ) -> String {
        content
            .map(|c| c.spec.driver.clone())
            .or_else(|| {
                let class = snapshot.spec.volume_snapshot_class_name.as_deref()?;
                Some(
                    self.stores
                        .classes
                        .get(&ObjectRef::new(class))?
                        .driver
                        .clone(),
                )
            })
            .unwrap_or_default()
    }

    fn record_deleted(&self, snapshot: &VolumeSnapshot, content: Option<&VolumeSnapshotContent>) {
        let ours = [
            keys::SNAPSHOT_AS_SOURCE_FINALIZER,
            keys::SNAPSHOT_BOUND_FINALIZER,
        ];
        let holds = snapshot
            .metadata
            .finalizers
            .as_ref()
            .is_some_and(|f| f.iter().any(|x| ours.contains(&x.as_str())));
        let Some(deleted) = &snapshot.metadata.deletion_timestamp else {
            return;
        };
        if holds {
            return;
        }
        let driver = self.driver_of(snapshot, content);
        let pre_provisioned = snapshot.spec.source.volume_snapshot_content_name.is_some();
        self.metrics.operation(
            &driver,
            operation::DELETE,
            true,
            pre_provisioned,
            clock::since(deleted),
        );
    }
}
