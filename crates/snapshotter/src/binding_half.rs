//! The binding half (the job of upstream's cluster-wide snapshot-controller): one queue of
//! keys — VolumeSnapshots, contents and source PVCs — each synced by deciding with a pure
//! plan ([`crate::snapshot_plan`], [`crate::content_binding`], [`crate::claim_protection`])
//! and performing it ([`snapshot_sync`], [`content_sync`], [`claim_sync`]). [`fan_out`] says
//! which keys an object change touches.

pub mod fan_out;

mod claim_sync;
mod content_sync;
mod snapshot_sync;

use std::sync::Arc;

use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim};
use kube::Client;
use kube::runtime::reflector::Store;
use sidecar::WorkQueue;
use sidecar::control_loop::workers::Outcome;
use snapshot_api::{VolumeSnapshot, VolumeSnapshotClass, VolumeSnapshotContent};

use crate::announce::Announcer;
use crate::metrics::SnapshotMetrics;

/// How soon a key whose write met a newer version is looked at again (the watch delivers
/// that version within milliseconds).
const CONFLICT_RETRY: std::time::Duration = std::time::Duration::from_millis(50);

/// What the binding half syncs.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum BindingKey {
    Snapshot {
        namespace: String,
        name: String,
    },
    Content(String),
    Claim {
        namespace: String,
        name: String,
    },
    /// A class changed: snapshots that may have waited for it are looked at again.
    Class(String),
}

/// The stores the binding half reads.
#[derive(Clone)]
pub struct BindingStores {
    pub snapshots: Store<VolumeSnapshot>,
    pub contents: Store<VolumeSnapshotContent>,
    pub classes: Store<VolumeSnapshotClass>,
    pub claims: Store<PersistentVolumeClaim>,
    pub volumes: Store<PersistentVolume>,
}

/// Everything the binding half needs. Shared by its workers.
pub struct BindingHalf {
    client: Client,
    stores: BindingStores,
    queue: WorkQueue<BindingKey>,
    notify: Announcer,
    metrics: SnapshotMetrics,
}

impl BindingHalf {
    pub fn new(
        client: Client,
        stores: BindingStores,
        queue: WorkQueue<BindingKey>,
        notify: Announcer,
        metrics: SnapshotMetrics,
    ) -> Arc<Self> {
        Arc::new(Self {
            client,
            stores,
            queue,
            notify,
            metrics,
        })
    }

    /// One sync of `key`.
    pub async fn sync(&self, key: BindingKey) -> Outcome {
        tracing::trace!(?key, "sync");
        match key {
            BindingKey::Snapshot { namespace, name } => self.sync_snapshot(&namespace, &name).await,
            BindingKey::Content(name) => self.sync_content(&name).await,
            BindingKey::Claim { namespace, name } => self.sync_claim(&namespace, &name).await,
            BindingKey::Class(name) => {
                for key in fan_out::for_class(&name, &self.stores.snapshots) {
                    self.queue.add(key);
                }
                Outcome::Done
            }
        }
    }
}
