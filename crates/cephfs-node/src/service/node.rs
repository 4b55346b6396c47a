//! CSI Node service: validation and translation around the domain operations. Every field
//! the node acts on is checked here, before any domain step: the volume ID, paths (confined to
//! kubelet's root, [`node::checks::kubelet_paths`]), secrets, names ([`crate::names`]) and options
//! ([`crate::mount_options`]).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use csi::v1::node_server::Node;
use csi::v1::node_service_capability::{Rpc, Type as CapabilityType, rpc::Type as RpcType};
use csi::v1::volume_usage::Unit;
use csi::v1::{
    NodeExpandVolumeRequest, NodeExpandVolumeResponse, NodeGetCapabilitiesRequest,
    NodeGetCapabilitiesResponse, NodeGetInfoRequest, NodeGetInfoResponse,
    NodeGetVolumeStatsRequest, NodeGetVolumeStatsResponse, NodePublishVolumeRequest,
    NodePublishVolumeResponse, NodeServiceCapability, NodeStageVolumeRequest,
    NodeStageVolumeResponse, NodeUnpublishVolumeRequest, NodeUnpublishVolumeResponse,
    NodeUnstageVolumeRequest, NodeUnstageVolumeResponse, VolumeCondition,
};
use node::NodeError;
use node::checks::kubelet_paths::Role;
use node::checks::names::check_user;
use node::secret::Secret;
use node::service::fields::{Required, entry, optional};
use node::service::node::{usage, volume_id};
use tonic::{Request, Response, Status};

use super::capability;
use crate::driver::CephfsNode;
use crate::mount_options;
use crate::mounter::Mounter;
use crate::names::{check_fs_name, check_subvolume_path};
use crate::publish::{self, PublishRequest, UnpublishRequest};
use crate::stage::{self, StageRequest};
use crate::stats::{self, StatsRequest};
use crate::unstage::{self, UnstageRequest};

/// Capabilities this node plugin implements, all of them for real. No EXPAND_VOLUME: a
/// CephFS quota grows on the server, and every client sees it at once.
const CAPABILITIES: [RpcType; 4] = [
    RpcType::StageUnstageVolume,
    RpcType::GetVolumeStats,
    RpcType::VolumeCondition,
    RpcType::SingleNodeMultiWriter,
];

#[derive(Debug, Clone)]
pub struct NodeService {
    node: Arc<CephfsNode>,
}

impl NodeService {
    pub fn new(node: Arc<CephfsNode>) -> Self {
        Self { node }
    }

    async fn stage_request(&self, req: NodeStageVolumeRequest) -> Result<StageRequest, NodeError> {
        let volume_id = volume_id(&req.volume_id)?;
        let staging_path = self.staging_path(&req.staging_target_path).await?;
        let capability = capability::parse(req.volume_capability.as_ref())?;
        let (user, key) = credentials(&req.secrets)?;
        let context = &req.volume_context;
        let cluster_id = entry(context, "clusterID", "volume_context.clusterID")?.to_string();
        let fs_name = entry(context, "fsName", "volume_context.fsName")?;
        check_fs_name("volume_context.fsName", fs_name)?;
        let subvolume_path = entry(context, "subvolumePath", "volume_context.subvolumePath")?;
        check_subvolume_path("volume_context.subvolumePath", subvolume_path)?;
        let mounter = optional(context, "mounter")
            .map(Mounter::from_context)
            .transpose()?;
        let fuse_options = optional(context, "fuseMountOptions")
            .map(|o| mount_options::parse_fuse("volume_context.fuseMountOptions", o))
            .transpose()?;
        let kernel_options = optional(context, "kernelMountOptions")
            .map(|o| mount_options::parse_kernel("volume_context.kernelMountOptions", o))
            .transpose()?;
        Ok(StageRequest {
            volume_id,
            staging_path,
            read_only: capability.read_only,
            cluster_id,
            fs_name: fs_name.to_string(),
            subvolume_path: subvolume_path.to_string(),
            user,
            key,
            mounter,
            fuse_options,
            kernel_options,
        })
    }

    async fn staging_path(&self, raw: &str) -> Result<PathBuf, NodeError> {
        self.confine(raw, "staging_target_path", Role::Staging)
            .await
    }

    /// `raw` (the request's `field`) as a path below kubelet's root, resolved.
    async fn confine(
        &self,
        raw: &str,
        field: &'static str,
        role: Role,
    ) -> Result<PathBuf, NodeError> {
        let raw = raw.required(field)?;
        self.node.kubelet.confine(field, raw, role).await
    }
}

/// `userID`/`userKey` (Rook's node secret), else `adminID`/`adminKey` as ceph-csi accepts for
/// statically provisioned volumes.
fn credentials(secrets: &HashMap<String, String>) -> Result<(String, Secret), NodeError> {
    let (user, key) =
        if optional(secrets, "userID").is_some() || optional(secrets, "adminID").is_none() {
            (
                entry(secrets, "userID", "secrets.userID")?,
                entry(secrets, "userKey", "secrets.userKey")?,
            )
        } else {
            (
                entry(secrets, "adminID", "secrets.adminID")?,
                entry(secrets, "adminKey", "secrets.adminKey")?,
            )
        };
    check_user("secrets.userID", user)?;
    Ok((user.to_string(), Secret::new(key)))
}

#[tonic::async_trait]
impl Node for NodeService {
    async fn node_stage_volume(
        &self,
        request: Request<NodeStageVolumeRequest>,
    ) -> Result<Response<NodeStageVolumeResponse>, Status> {
        let request = self.stage_request(request.into_inner()).await?;
        stage::stage(&self.node, request).await?;
        Ok(Response::new(NodeStageVolumeResponse {}))
    }

    async fn node_unstage_volume(
        &self,
        request: Request<NodeUnstageVolumeRequest>,
    ) -> Result<Response<NodeUnstageVolumeResponse>, Status> {
        let req = request.into_inner();
        let request = UnstageRequest {
            volume_id: volume_id(&req.volume_id)?,
            staging_path: self.staging_path(&req.staging_target_path).await?,
        };
        unstage::unstage(&self.node, request).await?;
        Ok(Response::new(NodeUnstageVolumeResponse {}))
    }

    async fn node_publish_volume(
        &self,
        request: Request<NodePublishVolumeRequest>,
    ) -> Result<Response<NodePublishVolumeResponse>, Status> {
        let req = request.into_inner();
        let volume_id = volume_id(&req.volume_id)?;
        let target_path = self
            .confine(&req.target_path, "target_path", Role::Target)
            .await?;
        let capability = capability::parse(req.volume_capability.as_ref())?;
        if req.staging_target_path.is_empty() {
            return Err(NodeError::StagingPathNotSet.into());
        }
        let staging_path = self.staging_path(&req.staging_target_path).await?;
        let request = PublishRequest {
            volume_id,
            staging_path,
            target_path,
            read_only: req.readonly || capability.read_only,
            flags: capability.flags,
        };
        publish::publish(&self.node, request).await?;
        Ok(Response::new(NodePublishVolumeResponse {}))
    }

    async fn node_unpublish_volume(
        &self,
        request: Request<NodeUnpublishVolumeRequest>,
    ) -> Result<Response<NodeUnpublishVolumeResponse>, Status> {
        let req = request.into_inner();
        let request = UnpublishRequest {
            volume_id: volume_id(&req.volume_id)?,
            target_path: self
                .confine(&req.target_path, "target_path", Role::Target)
                .await?,
        };
        publish::unpublish(&self.node, request).await?;
        Ok(Response::new(NodeUnpublishVolumeResponse {}))
    }

    async fn node_get_volume_stats(
        &self,
        request: Request<NodeGetVolumeStatsRequest>,
    ) -> Result<Response<NodeGetVolumeStatsResponse>, Status> {
        let req = request.into_inner();
        let request = StatsRequest {
            volume_id: volume_id(&req.volume_id)?,
            volume_path: self
                .confine(&req.volume_path, "volume_path", Role::Volume)
                .await?,
        };
        if !req.staging_target_path.is_empty() {
            self.staging_path(&req.staging_target_path).await?;
        }
        let stats = stats::stats(&self.node, request).await?;
        let usage = [
            usage(stats.bytes, Unit::Bytes),
            usage(stats.inodes, Unit::Inodes),
        ]
        .into_iter()
        .flatten()
        .collect();
        Ok(Response::new(NodeGetVolumeStatsResponse {
            usage,
            volume_condition: Some(VolumeCondition {
                abnormal: stats.abnormal.is_some(),
                message: stats
                    .abnormal
                    .unwrap_or_else(|| "volume is healthy".to_string()),
            }),
        }))
    }

    async fn node_expand_volume(
        &self,
        _request: Request<NodeExpandVolumeRequest>,
    ) -> Result<Response<NodeExpandVolumeResponse>, Status> {
        Err(Status::unimplemented(
            "NodeExpandVolume: a CephFS quota grows on the server; this plugin does not \
             advertise EXPAND_VOLUME",
        ))
    }

    async fn node_get_capabilities(
        &self,
        _request: Request<NodeGetCapabilitiesRequest>,
    ) -> Result<Response<NodeGetCapabilitiesResponse>, Status> {
        let capabilities = CAPABILITIES
            .iter()
            .map(|t| NodeServiceCapability {
                r#type: Some(CapabilityType::Rpc(Rpc { r#type: *t as i32 })),
            })
            .collect();
        Ok(Response::new(NodeGetCapabilitiesResponse { capabilities }))
    }

    async fn node_get_info(
        &self,
        _request: Request<NodeGetInfoRequest>,
    ) -> Result<Response<NodeGetInfoResponse>, Status> {
        let settings = &self.node.settings;
        Ok(Response::new(NodeGetInfoResponse {
            node_id: settings.node_id.clone(),
            max_volumes_per_node: settings.max_volumes_per_node,
            accessible_topology: None,
        }))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn node_secrets_first_then_admin_secrets() {
        let (user, key) = credentials(&map(&[
            ("userID", "u"),
            ("userKey", "K1"),
            ("adminID", "a"),
            ("adminKey", "K2"),
        ]))
        .unwrap();
        assert_eq!((user.as_str(), key.expose()), ("u", "K1"));
        let (user, key) = credentials(&map(&[("adminID", "a"), ("adminKey", "K2")])).unwrap();
        assert_eq!((user.as_str(), key.expose()), ("a", "K2"));
        assert!(matches!(
            credentials(&map(&[])),
            Err(NodeError::MissingField {
                field: "secrets.userID"
            })
        ));
        assert!(matches!(
            credentials(&map(&[("adminID", "a")])),
            Err(NodeError::MissingField {
                field: "secrets.adminKey"
            })
        ));
    }
}
