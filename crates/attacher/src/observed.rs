//! What the attach/detach decision reads, pulled out of the API objects once so
//! [`crate::plan`] is a pure function of plain values.

use k8s_openapi::api::core::v1::PersistentVolume;
use k8s_openapi::api::storage::v1::{CSINode, VolumeAttachment};

use crate::keys::NODE_ID_ANNOTATION;

/// A VolumeAttachment as the decision sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachmentView {
    pub ours: bool,
    pub node_name: String,
    /// `spec.source.persistentVolumeName`; `None` for an inline (migrated) volume.
    pub pv_name: Option<String>,
    pub deleting: bool,
    pub has_finalizer: bool,
    pub node_id_annotation: Option<String>,
    pub attached: bool,
}

/// The PV the attachment names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeView {
    pub driver: Option<String>,
    pub deleting: bool,
    pub has_finalizer: bool,
}

/// What the CSINode of the attachment's node says about our driver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeEntry {
    /// The node plugin registered with this node id.
    Registered(String),
    /// The CSINode exists but our plugin is not (or no longer) registered on it.
    NotRegistered,
    /// No CSINode object.
    Absent,
}

impl AttachmentView {
    pub fn of(va: &VolumeAttachment, driver: &str, finalizer: &str) -> Self {
        Self {
            ours: va.spec.attacher == driver,
            node_name: va.spec.node_name.clone(),
            pv_name: va.spec.source.persistent_volume_name.clone(),
            deleting: va.metadata.deletion_timestamp.is_some(),
            has_finalizer: va
                .metadata
                .finalizers
                .iter()
                .flatten()
                .any(|f| f == finalizer),
            node_id_annotation: va
                .metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get(NODE_ID_ANNOTATION))
                .filter(|id| !id.is_empty())
                .cloned(),
            attached: va.status.as_ref().is_some_and(|s| s.attached),
        }
    }
}

impl VolumeView {
    pub fn of(pv: &PersistentVolume, finalizer: &str) -> Self {
        Self {
            driver: pv
                .spec
                .as_ref()
                .and_then(|s| s.csi.as_ref())
                .map(|c| c.driver.clone()),
            deleting: pv.metadata.deletion_timestamp.is_some(),
            has_finalizer: pv
                .metadata
                .finalizers
                .iter()
                .flatten()
                .any(|f| f == finalizer),
        }
    }
}

impl NodeEntry {
    pub fn of(csinode: Option<&CSINode>, driver: &str) -> Self {
        match csinode {
            None => Self::Absent,
            Some(node) => node
                .spec
                .drivers
                .iter()
                .find(|d| d.name == driver && !d.node_id.is_empty())
                .map_or(Self::NotRegistered, |d| Self::Registered(d.node_id.clone())),
        }
    }
}
