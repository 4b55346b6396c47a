//! What the RBD story holds between its acts: the `World` every act takes and clean-up works
//! from after a failure, the node plugin's side (`NodeSide`) and the volumes published to
//! the node (`Attachment`). Its own module so the acts, the flow that runs them, the node's
//! reads and the CephFS half share it without reaching into one another.

use std::collections::{HashMap, HashSet};

use ceph::Cluster;
use rig::scratch::ScratchNamespace;

use crate::drivers::controller::{Driver, Volume};
use crate::drivers::kubelet::{Kubelet, VolumePaths};
use crate::drivers::node_plugin::{NodeDriver, NodeVolume};
use crate::made::Made;

/// The node plugin and where kubelet's paths are.
pub(crate) struct NodeSide {
    pub driver: NodeDriver,
    /// NodeGetInfo's answer: the node ControllerPublish names.
    pub node_id: String,
    pub kubelet: Kubelet,
}

/// What the story has made and still holds; what clean-up works from after a failure.
pub(crate) struct World {
    pub driver: Option<Driver>,
    pub node: Option<NodeSide>,
    pub cluster: Option<Cluster>,
    pub scratch: Option<ScratchNamespace>,
    /// Volumes and snapshots in creation order: data, data-snap, data-restored, data-clone.
    pub made: Vec<Made>,
    /// IDs already deleted through CSI.
    pub deleted: HashSet<String>,
    /// Volumes published to the node, in order: data, then data-restored.
    pub attached: Vec<Attachment>,
}

/// A volume the story publishes to the node; what detaching, and clean-up after a failure,
/// work from. Recorded before the first call, so clean-up undoes a half-done attach too.
#[derive(Debug, Clone)]
pub(crate) struct Attachment {
    /// For the reader: `PVC demo/data`.
    pub label: String,
    /// `demo/writer`.
    pub pod: String,
    pub volume_id: String,
    pub volume_context: HashMap<String, String>,
    pub publish_context: HashMap<String, String>,
    pub paths: VolumePaths,
    /// NodeUnpublish, NodeUnstage and ControllerUnpublish all succeeded.
    pub detached: bool,
}

impl Attachment {
    pub(crate) fn new(
        node: &NodeSide,
        label: &str,
        volume: &Volume,
        pv_name: &str,
        pod: &str,
    ) -> Attachment {
        Attachment {
            label: label.to_owned(),
            pod: pod.to_owned(),
            volume_id: volume.volume_id.clone(),
            volume_context: volume.context.clone(),
            publish_context: HashMap::new(),
            paths: node.kubelet.paths(
                &volume.volume_id,
                pv_name,
                &uuid::Uuid::new_v4().to_string(),
            ),
            detached: false,
        }
    }

    /// The RBD image, as the volume context names it.
    pub(crate) fn image_name(&self) -> &str {
        self.volume_context
            .get("imageName")
            .map_or("", String::as_str)
    }

    pub(crate) fn node_volume(&self) -> NodeVolume<'_> {
        NodeVolume {
            volume_id: &self.volume_id,
            volume_context: &self.volume_context,
            publish_context: &self.publish_context,
            paths: &self.paths,
        }
    }
}
