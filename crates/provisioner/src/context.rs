//! What every worker shares: clients, caches, queues and the outlets [`crate::announce`] uses.

use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim};
use k8s_openapi::api::storage::v1::{StorageClass, VolumeAttachment};
use kube::Client;
use kube::runtime::reflector::{ObjectRef, Store};
use sidecar::{CsiConnection, EventRecorder, WorkQueue};

use crate::metrics::ProvisionerMetrics;
use crate::plan::PlanSettings;
use crate::source::data_source::SourceRules;

/// A claim's queue key: namespace and name.
pub type ClaimKey = (String, String);

pub struct Context {
    pub client: Client,
    pub csi: CsiConnection,
    /// Our driver name, from GetPluginInfo.
    pub driver: String,
    /// `storage.kubernetes.io/csiProvisionerIdentity` of this process.
    pub provisioner_identity: String,
    pub settings: PlanSettings,
    /// How data sources are checked (volume mode conversion, other namespaces).
    pub sources: SourceRules,
    pub recorder: EventRecorder,
    pub publisher: events::Publisher,
    pub metrics: ProvisionerMetrics,
    pub claims: Store<PersistentVolumeClaim>,
    pub volumes: Store<PersistentVolume>,
    pub classes: Store<StorageClass>,
    /// Only watched when the driver publishes volumes (PUBLISH_UNPUBLISH_VOLUME).
    pub attachments: Option<Store<VolumeAttachment>>,
    pub claim_queue: WorkQueue<ClaimKey>,
    pub volume_queue: WorkQueue<String>,
}

impl Context {
    pub fn claim(&self, key: &ClaimKey) -> Option<PersistentVolumeClaim> {
        self.claims
            .get(&ObjectRef::new(&key.1).within(&key.0))
            .map(|c| (*c).clone())
    }

    pub fn volume(&self, name: &str) -> Option<PersistentVolume> {
        self.volumes
            .get(&ObjectRef::new(name))
            .map(|v| (*v).clone())
    }

    pub fn class(&self, name: &str) -> Option<StorageClass> {
        self.classes
            .get(&ObjectRef::new(name))
            .map(|c| (*c).clone())
    }
}
