//! The CSI half (upstream's csi-snapshotter sidecar): for each VolumeSnapshotContent of our
//! driver, [`crate::content_plan`] decides and this module performs — CreateSnapshot
//! ([`create`]), GetSnapshot or ListSnapshots for pre-provisioned contents ([`check`]),
//! DeleteSnapshot ([`delete`]) — writing what the driver said into the content's status.
//!
//! A write refused because the content changed meanwhile (409) is not an error: the content
//! is read again and decided again, up to a few times per sync.

mod check;
mod create;
mod delete;

use std::collections::HashMap;
use std::sync::Arc;

use kube::Client;
use kube::api::Api;
use kube::runtime::reflector::{ObjectRef, Store};
use parking_lot::Mutex;
use sidecar::{CsiConnection, Progress, WorkQueue};
use snapshot_api::{VolumeSnapshotClass, VolumeSnapshotContent, keys};

use crate::announce::Announcer;
use crate::clock;
use crate::content_plan::{ContentPlan, plan_content};
use crate::content_status;
use crate::create_request::NamingOptions;
use crate::error::{Result, SnapshotterError};
use crate::kube_writes;
use crate::metrics::SnapshotMetrics;
use crate::ready_poll::PollSchedule;
use crate::snapshot_plan::EventType;
use sidecar::control_loop::workers::Outcome;

/// Decisions repeated after a conflict within one sync.
const ATTEMPTS: usize = 3;

/// Everything the CSI half needs. Shared by its workers.
pub struct CsiHalf {
    client: Client,
    csi: CsiConnection,
    contents: Store<VolumeSnapshotContent>,
    classes: Store<VolumeSnapshotClass>,
    naming: NamingOptions,
    poll: PollSchedule,
    notify: Announcer,
    metrics: SnapshotMetrics,
    /// The half's own queue, for polls on our schedule rather than the failure backoff.
    queue: WorkQueue<String>,
    /// Polls so far per not-ready content (for the poll delay).
    polls: Mutex<HashMap<String, u32>>,
}

/// The parts [`CsiHalf::new`] is built from.
pub struct CsiHalfParts {
    pub client: Client,
    pub csi: CsiConnection,
    pub contents: Store<VolumeSnapshotContent>,
    pub classes: Store<VolumeSnapshotClass>,
    pub naming: NamingOptions,
    pub poll: PollSchedule,
    pub notify: Announcer,
    pub metrics: SnapshotMetrics,
    pub queue: WorkQueue<String>,
}

impl CsiHalf {
    pub fn new(parts: CsiHalfParts) -> Arc<Self> {
        Arc::new(Self {
            client: parts.client,
            csi: parts.csi,
            contents: parts.contents,
            classes: parts.classes,
            naming: parts.naming,
            poll: parts.poll,
            notify: parts.notify,
            metrics: parts.metrics,
            queue: parts.queue,
            polls: Mutex::new(HashMap::new()),
        })
    }

    fn driver(&self) -> &str {
        self.csi.driver_name()
    }

    fn api(&self) -> Api<VolumeSnapshotContent> {
        Api::all(self.client.clone())
    }

    /// Whether a content change concerns this half (for the watch fan-out).
    pub fn is_ours(&self, content: &VolumeSnapshotContent) -> bool {
        content.spec.driver == self.driver()
    }

    /// One sync of the content `name`.
    pub async fn sync(&self, name: String) -> Outcome {
        let Some(cached) = self.contents.get(&ObjectRef::new(&name)) else {
            self.polls.lock().remove(&name);
            return Outcome::Done;
        };
        let mut content = (*cached).clone();
        for _ in 0..ATTEMPTS {
            match self.act(&content).await {
                Ok(outcome) => return outcome,
                Err(error) if error.is_conflict() => match self.api().get_opt(&name).await {
                    Ok(Some(fresh)) => content = fresh,
                    Ok(None) => return Outcome::Done,
                    Err(error) => {
                        tracing::warn!(content = %name, %error, "re-reading the content failed");
                        return Outcome::Retry(Progress::Final);
                    }
                },
                Err(error) if error.is_not_found() => return Outcome::Done,
                Err(error) => {
                    tracing::warn!(content = %name, %error, "sync failed");
                    return Outcome::Retry(Progress::Final);
                }
            }
        }
        Outcome::Retry(Progress::Final)
    }

    async fn act(&self, content: &VolumeSnapshotContent) -> Result<Outcome> {
        let name = content.metadata.name.clone().unwrap_or_default();
        let plan = plan_content(content, self.driver());
        tracing::debug!(content = %name, ?plan, "content plan");
        match plan {
            ContentPlan::Nothing => {
                self.polls.lock().remove(&name);
                Ok(Outcome::Done)
            }
            ContentPlan::ClearBeingCreated => {
                kube_writes::set_annotation(
                    &self.api(),
                    content,
                    keys::BEING_CREATED_ANNOTATION,
                    None,
                )
                .await?;
                Ok(Outcome::Done)
            }
            ContentPlan::RemoveFinalizer => {
                self.remove_finalizer(content).await?;
                Ok(Outcome::Done)
            }
            ContentPlan::CreateSnapshot { mark_being_created } => {
                self.create(content, mark_being_created).await
            }
            ContentPlan::CheckSnapshot { snapshot_id } => self.check(content, &snapshot_id).await,
            ContentPlan::DeleteSnapshot { snapshot_id } => self.delete(content, &snapshot_id).await,
        }
    }

    /// The content's class, if it names one that exists.
    fn class_of(&self, content: &VolumeSnapshotContent) -> Option<Arc<VolumeSnapshotClass>> {
        let name = content.spec.volume_snapshot_class_name.as_deref()?;
        self.classes.get(&ObjectRef::new(name))
    }

    async fn remove_finalizer(&self, content: &VolumeSnapshotContent) -> Result<()> {
        let finalizers =
            kube_writes::finalizers_with(content, &[], &[keys::CONTENT_BOUND_FINALIZER]);
        kube_writes::set_finalizers(&self.api(), content, finalizers).await?;
        Ok(())
    }

    /// Records a failure in the content's status (and a Warning Event) unless the same message
    /// is already there, so a retry loop neither spams nor rewrites.
    async fn record_failure(
        &self,
        content: &VolumeSnapshotContent,
        reason: &str,
        message: &str,
    ) -> Result<()> {
        let same = content
            .status
            .as_ref()
            .and_then(|s| s.error.as_ref())
            .and_then(|e| e.message.as_deref())
            == Some(message);
        if same {
            return Ok(());
        }
        let old = content.status.as_ref();
        let new = content_status::after_error(old, message, clock::now_time());
        kube_writes::write_status(&self.api(), content, &new).await?;
        self.notify
            .content_event(content, EventType::Warning, reason, message);
        Ok(())
    }

    /// Next poll of a not-ready snapshot.
    fn poll_again(&self, name: &str) -> Outcome {
        let polls = {
            let mut polls = self.polls.lock();
            let count = polls.entry(name.to_owned()).or_insert(0);
            *count = count.saturating_add(1);
            *count
        };
        self.metrics.poll(self.driver());
        let delay = self.poll.delay(polls);
        tracing::debug!(
            content = name,
            polls,
            delay_ms = delay.as_millis(),
            "snapshot not ready yet; polling again"
        );
        self.queue.add_after(name.to_owned(), delay);
        Outcome::Done
    }

    fn ready(&self, name: &str) -> Outcome {
        self.polls.lock().remove(name);
        Outcome::Done
    }
}

/// The gRPC failure of `method` on `content`, as an error value.
fn csi_error(
    method: &'static str,
    content: &VolumeSnapshotContent,
    status: &tonic::Status,
) -> SnapshotterError {
    SnapshotterError::Csi {
        method,
        object: content.metadata.name.clone().unwrap_or_default(),
        code: status.code(),
        message: status.message().to_owned(),
    }
}
