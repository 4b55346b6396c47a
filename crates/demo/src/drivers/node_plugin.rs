//! The node plugin's CSI calls, shaped like kubelet sends them: the volume context and publish
//! context the controller handed out, the node-stage Secret on NodeStage, kubelet's staging
//! and target paths, and a per-RPC deadline.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use csi::v1::node_client::NodeClient;
use csi::v1::node_service_capability::{Rpc, rpc};
use csi::v1::{
    CapacityRange, NodeExpandVolumeRequest, NodeGetCapabilitiesRequest, NodeGetInfoRequest,
    NodePublishVolumeRequest, NodeStageVolumeRequest, NodeUnpublishVolumeRequest,
    NodeUnstageVolumeRequest, VolumeCapability,
};
use rig::csi_call::{mount_capability_with_fs, plugin_info, with_timeout};
use tonic::transport::Channel;

use crate::drivers::kubelet::VolumePaths;
use crate::error::{Error, Result};

/// Who the node plugin says it is.
#[derive(Debug, Clone)]
pub struct NodeIdentity {
    pub name: String,
    pub vendor_version: String,
    pub ready: Option<bool>,
    /// NodeGetInfo's node ID: what the external-attacher passes to ControllerPublish.
    pub node_id: String,
    pub max_volumes_per_node: i64,
    /// Node RPC capabilities, by their spec names.
    pub capabilities: Vec<String>,
}

/// What kubelet knows of a volume when it stages and publishes it.
#[derive(Debug, Clone)]
pub struct NodeVolume<'a> {
    pub volume_id: &'a str,
    pub volume_context: &'a HashMap<String, String>,
    pub publish_context: &'a HashMap<String, String>,
    pub paths: &'a VolumePaths,
}

/// A connected node plugin.
pub struct NodeDriver {
    channel: Channel,
    /// The node-stage Secret (`csi.storage.k8s.io/node-stage-secret-*`).
    secrets: HashMap<String, String>,
    capability: VolumeCapability,
    rpc_timeout: Duration,
}

impl NodeDriver {
    pub async fn connect(
        endpoint: &str,
        fs_type: &str,
        secrets: HashMap<String, String>,
        rpc_timeout: Duration,
    ) -> Result<NodeDriver> {
        NodeDriver::connect_with(
            endpoint,
            mount_capability_with_fs(fs_type),
            secrets,
            rpc_timeout,
        )
        .await
    }

    /// A node plugin whose volumes have `capability` (e.g. CephFS's, shared by many pods).
    pub async fn connect_with(
        endpoint: &str,
        capability: VolumeCapability,
        secrets: HashMap<String, String>,
        rpc_timeout: Duration,
    ) -> Result<NodeDriver> {
        Ok(NodeDriver {
            channel: csi::client::connect(endpoint, rpc_timeout).await?,
            secrets,
            capability,
            rpc_timeout,
        })
    }

    fn request<T>(&self, message: T) -> tonic::Request<T> {
        with_timeout(message, self.rpc_timeout)
    }

    fn node(&self) -> NodeClient<Channel> {
        NodeClient::new(self.channel.clone())
    }

    /// Probe, GetPluginInfo, NodeGetInfo, NodeGetCapabilities: what kubelet asks when the
    /// plugin registers.
    pub async fn identify(&self) -> Result<NodeIdentity> {
        let info = plugin_info(&self.channel, self.rpc_timeout).await?;
        let node_info = self
            .node()
            .node_get_info(self.request(NodeGetInfoRequest {}))
            .await
            .map_err(|s| Error::rpc("NodeGetInfo", &s))?
            .into_inner();
        let capabilities = self
            .node()
            .node_get_capabilities(self.request(NodeGetCapabilitiesRequest {}))
            .await
            .map_err(|s| Error::rpc("NodeGetCapabilities", &s))?
            .into_inner()
            .capabilities
            .into_iter()
            .filter_map(|c| match c.r#type {
                Some(csi::v1::node_service_capability::Type::Rpc(Rpc { r#type })) => {
                    rpc::Type::try_from(r#type)
                        .ok()
                        .map(|t| t.as_str_name().to_owned())
                }
                None => None,
            })
            .collect();
        Ok(NodeIdentity {
            name: info.name,
            vendor_version: info.vendor_version,
            ready: info.ready,
            node_id: node_info.node_id,
            max_volumes_per_node: node_info.max_volumes_per_node,
            capabilities,
        })
    }

    /// NodeStageVolume: map the image, make the file system if there is none, mount it below
    /// the staging path.
    pub async fn stage(&self, volume: &NodeVolume<'_>) -> Result<()> {
        let request = NodeStageVolumeRequest {
            volume_id: volume.volume_id.to_owned(),
            publish_context: volume.publish_context.clone(),
            staging_target_path: path_string(&volume.paths.staging),
            volume_capability: Some(self.capability.clone()),
            secrets: self.secrets.clone(),
            volume_context: volume.volume_context.clone(),
        };
        self.node()
            .node_stage_volume(self.request(request))
            .await
            .map_err(|s| Error::rpc("NodeStageVolume", &s))?;
        Ok(())
    }

    /// NodePublishVolume: bind the staged file system to the pod's target path, read-write.
    pub async fn publish(&self, volume: &NodeVolume<'_>) -> Result<()> {
        let request = NodePublishVolumeRequest {
            volume_id: volume.volume_id.to_owned(),
            publish_context: volume.publish_context.clone(),
            staging_target_path: path_string(&volume.paths.staging),
            target_path: path_string(&volume.paths.target),
            volume_capability: Some(self.capability.clone()),
            readonly: false,
            secrets: HashMap::new(),
            volume_context: volume.volume_context.clone(),
        };
        self.node()
            .node_publish_volume(self.request(request))
            .await
            .map_err(|s| Error::rpc("NodePublishVolume", &s))?;
        Ok(())
    }

    pub async fn unpublish(&self, volume_id: &str, paths: &VolumePaths) -> Result<()> {
        let request = NodeUnpublishVolumeRequest {
            volume_id: volume_id.to_owned(),
            target_path: path_string(&paths.target),
        };
        self.node()
            .node_unpublish_volume(self.request(request))
            .await
            .map_err(|s| Error::rpc("NodeUnpublishVolume", &s))?;
        Ok(())
    }

    pub async fn unstage(&self, volume_id: &str, paths: &VolumePaths) -> Result<()> {
        let request = NodeUnstageVolumeRequest {
            volume_id: volume_id.to_owned(),
            staging_target_path: path_string(&paths.staging),
        };
        self.node()
            .node_unstage_volume(self.request(request))
            .await
            .map_err(|s| Error::rpc("NodeUnstageVolume", &s))?;
        Ok(())
    }

    /// NodeExpandVolume of the published volume to `size` bytes: the new capacity.
    pub async fn expand(&self, volume_id: &str, paths: &VolumePaths, size: u64) -> Result<i64> {
        let request = NodeExpandVolumeRequest {
            volume_id: volume_id.to_owned(),
            volume_path: path_string(&paths.target),
            capacity_range: Some(CapacityRange {
                required_bytes: i64::try_from(size).unwrap_or(i64::MAX),
                limit_bytes: 0,
            }),
            staging_target_path: path_string(&paths.staging),
            volume_capability: Some(self.capability.clone()),
            secrets: HashMap::new(),
        };
        Ok(self
            .node()
            .node_expand_volume(self.request(request))
            .await
            .map_err(|s| Error::rpc("NodeExpandVolume", &s))?
            .into_inner()
            .capacity_bytes)
    }
}

fn path_string(path: &Path) -> String {
    path.display().to_string()
}
