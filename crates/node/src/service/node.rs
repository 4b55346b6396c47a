//! CSI Node service: validation and translation around the domain operations.

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
    NodeUnstageVolumeRequest, NodeUnstageVolumeResponse, VolumeCondition, VolumeUsage,
};
use tonic::{Request, Response, Status};

use super::capability;
use super::fields::{Required, entry, optional, optional_path};
use crate::driver::NodeDriver;
use crate::error::NodeError;
use crate::expand::{self, ExpandRequest};
use crate::mapper::{ImageSpec, MapperKind};
use crate::publish::{self, PublishRequest, UnpublishRequest};
use crate::secret::Secret;
use crate::stage::{self, StageRequest};
use crate::stats::{self, StatsRequest, Usage};
use crate::unstage::{self, UnstageRequest};

/// Capabilities this node plugin implements, all of them for real.
const CAPABILITIES: [RpcType; 5] = [
    RpcType::StageUnstageVolume,
    RpcType::GetVolumeStats,
    RpcType::ExpandVolume,
    RpcType::VolumeCondition,
    RpcType::SingleNodeMultiWriter,
];

#[derive(Debug, Clone)]
pub struct NodeService {
    driver: Arc<NodeDriver>,
}

impl NodeService {
    pub fn new(driver: Arc<NodeDriver>) -> Self {
        Self { driver }
    }

    fn stage_request(&self, req: NodeStageVolumeRequest) -> Result<StageRequest, NodeError> {
        let volume_id = req.volume_id.required("volume_id")?.to_string();
        let staging_path = req
            .staging_target_path
            .required_path("staging_target_path")?;
        let capability = capability::parse(req.volume_capability.as_ref())?;
        let user = entry(&req.secrets, "userID", "secrets.userID")?.to_string();
        let key = Secret::new(entry(&req.secrets, "userKey", "secrets.userKey")?);
        let context = &req.volume_context;
        let cluster_id = entry(context, "clusterID", "volume_context.clusterID")?.to_string();
        let pool = entry(context, "pool", "volume_context.pool")?.to_string();
        // A static PV names its image by the volume handle (ceph-csi's `staticVolume`).
        let image = match optional(context, "imageName") {
            Some(image) => image.to_string(),
            None if optional(context, "staticVolume") == Some("true") => volume_id.clone(),
            None => {
                return Err(NodeError::MissingField {
                    field: "volume_context.imageName",
                });
            }
        };
        // The context names the namespace when the controller made the volume; otherwise it
        // is the cluster's, as in ceph-csi.
        let namespace = match context.get("radosNamespace") {
            Some(namespace) => namespace.clone(),
            None => self
                .driver
                .clusters
                .current()
                .get(&cluster_id)
                .map(|c| c.rbd.rados_namespace.clone())
                .unwrap_or_default(),
        };
        let mounter = optional(context, "mounter")
            .map(MapperKind::from_mounter)
            .transpose()?;
        let mkfs_options = optional(context, "mkfsOptions")
            .map(|o| o.split_whitespace().map(str::to_string).collect::<Vec<_>>());
        Ok(StageRequest {
            volume_id,
            staging_path,
            access: capability.access,
            read_only: capability.read_only,
            cluster_id,
            image: ImageSpec {
                pool,
                namespace,
                image,
            },
            user,
            key,
            mounter,
            map_options: optional(context, "mapOptions")
                .unwrap_or_default()
                .to_string(),
            mkfs_options,
        })
    }
}

fn usage(usage: Option<Usage>, unit: Unit) -> Option<VolumeUsage> {
    usage.map(|u| VolumeUsage {
        available: clamp(u.available),
        total: clamp(u.total),
        used: clamp(u.used),
        unit: unit as i32,
    })
}

fn clamp(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

#[tonic::async_trait]
impl Node for NodeService {
    async fn node_stage_volume(
        &self,
        request: Request<NodeStageVolumeRequest>,
    ) -> Result<Response<NodeStageVolumeResponse>, Status> {
        let request = self.stage_request(request.into_inner())?;
        stage::stage(&self.driver, request).await?;
        Ok(Response::new(NodeStageVolumeResponse {}))
    }

    async fn node_unstage_volume(
        &self,
        request: Request<NodeUnstageVolumeRequest>,
    ) -> Result<Response<NodeUnstageVolumeResponse>, Status> {
        let req = request.into_inner();
        let request = UnstageRequest {
            volume_id: req.volume_id.required("volume_id")?.to_string(),
            staging_path: req
                .staging_target_path
                .required_path("staging_target_path")?,
        };
        unstage::unstage(&self.driver, request).await?;
        Ok(Response::new(NodeUnstageVolumeResponse {}))
    }

    async fn node_publish_volume(
        &self,
        request: Request<NodePublishVolumeRequest>,
    ) -> Result<Response<NodePublishVolumeResponse>, Status> {
        let req = request.into_inner();
        let volume_id = req.volume_id.required("volume_id")?.to_string();
        let target_path = req.target_path.required_path("target_path")?;
        let capability = capability::parse(req.volume_capability.as_ref())?;
        let staging_path =
            optional_path(&req.staging_target_path).ok_or(NodeError::StagingPathNotSet)?;
        let request = PublishRequest {
            volume_id,
            staging_path,
            target_path,
            access: capability.access,
            read_only: req.readonly || capability.read_only,
        };
        publish::publish(&self.driver, request).await?;
        Ok(Response::new(NodePublishVolumeResponse {}))
    }

    async fn node_unpublish_volume(
        &self,
        request: Request<NodeUnpublishVolumeRequest>,
    ) -> Result<Response<NodeUnpublishVolumeResponse>, Status> {
        let req = request.into_inner();
        let request = UnpublishRequest {
            volume_id: req.volume_id.required("volume_id")?.to_string(),
            target_path: req.target_path.required_path("target_path")?,
        };
        publish::unpublish(&self.driver, request).await?;
        Ok(Response::new(NodeUnpublishVolumeResponse {}))
    }

    async fn node_get_volume_stats(
        &self,
        request: Request<NodeGetVolumeStatsRequest>,
    ) -> Result<Response<NodeGetVolumeStatsResponse>, Status> {
        let req = request.into_inner();
        let request = StatsRequest {
            volume_id: req.volume_id.required("volume_id")?.to_string(),
            volume_path: req.volume_path.required_path("volume_path")?,
        };
        let stats = stats::stats(&self.driver, request).await?;
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
        request: Request<NodeExpandVolumeRequest>,
    ) -> Result<Response<NodeExpandVolumeResponse>, Status> {
        let req = request.into_inner();
        let required_bytes = req
            .capacity_range
            .map(|r| r.required_bytes)
            .filter(|b| *b > 0)
            .map(|b| b as u64);
        let request = ExpandRequest {
            volume_id: req.volume_id.required("volume_id")?.to_string(),
            volume_path: req.volume_path.required_path("volume_path")?,
            staging_path: optional_path(&req.staging_target_path),
            required_bytes,
        };
        let size = expand::expand(&self.driver, request).await?;
        Ok(Response::new(NodeExpandVolumeResponse {
            capacity_bytes: clamp(size),
        }))
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
        let settings = &self.driver.settings;
        Ok(Response::new(NodeGetInfoResponse {
            node_id: settings.node_id.clone(),
            max_volumes_per_node: settings.max_volumes_per_node,
            accessible_topology: None,
        }))
    }
}
