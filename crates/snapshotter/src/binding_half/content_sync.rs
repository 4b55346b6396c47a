//! Performs a content's binding actions (bound finalizer, being-deleted mark, the report of an
//! orphan kept) and passes the change on to its snapshot, whose status mirrors the content's.

use kube::api::Api;
use kube::runtime::reflector::ObjectRef;
use sidecar::Progress;
use snapshot_api::{VolumeSnapshotContent, keys};

use super::CONFLICT_RETRY;
use super::{BindingHalf, BindingKey, fan_out};
use crate::content_binding::{
    ContentBindingAction, ORPHANED_REASON, orphaned_message, plan_content_binding,
};
use crate::error::Result;
use crate::kube_writes::{self, finalizers_with};
use crate::snapshot_plan::EventType;
use sidecar::control_loop::workers::Outcome;

impl BindingHalf {
    pub(super) async fn sync_content(&self, name: &str) -> Outcome {
        let Some(cached) = self.stores.contents.get(&ObjectRef::new(name)) else {
            return Outcome::Done;
        };
        for key in fan_out::for_content(&cached, &self.stores.snapshots)
            .into_iter()
            .skip(1)
        {
            self.queue.add(key);
        }
        let api: Api<VolumeSnapshotContent> = Api::all(self.client.clone());
        match self.act_on_content(&api, &cached).await {
            Ok(()) => Outcome::Done,
            Err(error) if error.is_not_found() => Outcome::Done,
            Err(error) => {
                if !error.is_conflict() {
                    tracing::warn!(content = %name, %error, "sync failed");
                }
                if error.is_conflict() {
                    // The newer version is on its way through the watch.
                    self.queue
                        .add_after(BindingKey::Content(name.to_owned()), CONFLICT_RETRY);
                    Outcome::Done
                } else {
                    Outcome::Retry(Progress::Final)
                }
            }
        }
    }

    async fn act_on_content(
        &self,
        api: &Api<VolumeSnapshotContent>,
        content: &VolumeSnapshotContent,
    ) -> Result<()> {
        let reference = &content.spec.volume_snapshot_ref;
        let snapshot = match (&reference.namespace, &reference.name) {
            (Some(namespace), Some(name)) => self
                .stores
                .snapshots
                .get(&ObjectRef::new(name).within(namespace)),
            _ => None,
        };
        let mut current = content.clone();
        for action in plan_content_binding(content, snapshot.as_deref()) {
            current = match action {
                ContentBindingAction::AddFinalizer => {
                    let list = finalizers_with(&current, &[keys::CONTENT_BOUND_FINALIZER], &[]);
                    kube_writes::set_finalizers(api, &current, list).await?
                }
                ContentBindingAction::MarkBeingDeleted => {
                    kube_writes::set_annotation(
                        api,
                        &current,
                        keys::BEING_DELETED_ANNOTATION,
                        Some("yes"),
                    )
                    .await?
                }
                ContentBindingAction::ReportOrphaned => {
                    tracing::info!(content = ?current.metadata.name,
                        "bound VolumeSnapshot is gone: content kept, not released");
                    self.notify.content_event(
                        &current,
                        EventType::Warning,
                        ORPHANED_REASON,
                        &orphaned_message(&current),
                    );
                    current
                }
            };
        }
        Ok(())
    }
}
