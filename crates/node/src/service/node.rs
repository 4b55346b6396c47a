//! CSI Node service: validation and translation around the domain operations. Every field
//! the node acts on is checked here, before any domain step: the volume ID, paths (confined to
//! kubelet's root, [`crate::checks::kubelet_paths`]), names ([`crate::checks::names`]) and options
//! ([`crate::checks::mkfs_options`], [`crate::checks::map_options`]).

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
    NodeUnstageVolumeRequest, NodeUnstageVolumeResponse, VolumeCondition, VolumeUsage,
};
use tonic::{Request, Response, Status};

use super::capability;
use super::fields::{Required, entry, optional};
use crate::access::{Access, check_volume_id};
use crate::checks::kubelet_paths::Role;
use crate::checks::{map_options, mkfs_options, names};
use crate::driver::NodeDriver;
use crate::error::NodeError;
use crate::health::stats_gate::Usage;
use crate::mapper::ImageSpec;
use crate::mapper_kind::MapperKind;
use crate::operation::expand::{self, ExpandRequest};
use crate::operation::publish::{self, PublishRequest, UnpublishRequest};
use crate::operation::stage::{self, StageRequest};
use crate::operation::stats::{self, StatsRequest};
use crate::operation::unstage::{self, UnstageRequest};
use crate::secret::Secret;

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

    async fn stage_request(&self, req: NodeStageVolumeRequest) -> Result<StageRequest, NodeError> {
        let volume_id = volume_id(&req.volume_id)?;
        let staging_path = self.staging_path(&req.staging_target_path).await?;
        let capability = capability::parse(req.volume_capability.as_ref())?;
        let user = entry(&req.secrets, "userID", "secrets.userID")?;
        names::check_user("secrets.userID", user)?;
        let key = Secret::new(entry(&req.secrets, "userKey", "secrets.userKey")?);
        let context = &req.volume_context;
        let cluster_id = entry(context, "clusterID", "volume_context.clusterID")?.to_string();
        let pool = entry(context, "pool", "volume_context.pool")?;
        names::check_rbd_name("volume_context.pool", pool)?;
        // A static PV names its image by the volume handle (ceph-csi's `staticVolume`).
        let image = match optional(context, "imageName") {
            Some(image) => {
                names::check_rbd_name("volume_context.imageName", image)?;
                image.to_string()
            }
            None if optional(context, "staticVolume") == Some("true") => {
                names::check_rbd_name("volume_id", &volume_id)?;
                volume_id.clone()
            }
            None => {
                return Err(NodeError::MissingField {
                    field: "volume_context.imageName",
                });
            }
        };
        // The context names the namespace when the controller made the volume; otherwise it
        // is the cluster's, as in ceph-csi.
        let namespace = match context.get("radosNamespace") {
            Some(namespace) => {
                names::check_namespace("volume_context.radosNamespace", namespace)?;
                namespace.clone()
            }
            None => {
                let namespace = self
                    .driver
                    .clusters
                    .current()
                    .get(&cluster_id)
                    .map(|c| c.rbd.rados_namespace.clone())
                    .unwrap_or_default();
                names::check_namespace("cluster config rbd.radosNamespace", &namespace)?;
                namespace
            }
        };
        let mounter = optional(context, "mounter")
            .map(MapperKind::from_mounter)
            .transpose()?;
        // Only a file system is made; for block access the option is not read.
        let mkfs_options = match (&capability.access, optional(context, "mkfsOptions")) {
            (Access::Mount { fs_type, .. }, Some(options)) => {
                Some(mkfs_options::parse(*fs_type, options)?)
            }
            _ => None,
        };
        Ok(StageRequest {
            volume_id,
            staging_path,
            access: capability.access,
            read_only: capability.read_only,
            cluster_id,
            image: ImageSpec {
                pool: pool.to_string(),
                namespace,
                image,
            },
            user: user.to_string(),
            key,
            mounter,
            map_options: map_options::parse_map(
                optional(context, "mapOptions").unwrap_or_default(),
            )?,
            unmap_options: map_options::parse_unmap(
                optional(context, "unmapOptions").unwrap_or_default(),
            )?,
            mkfs_options,
        })
    }

    async fn staging_path(&self, raw: &str) -> Result<PathBuf, NodeError> {
        self.confine(raw, "staging_target_path", Role::Staging)
            .await
    }

    /// A staging path the request may leave out (stats, expand: the stage is found from the
    /// volume path); when sent, it must still be one kubelet could have sent.
    async fn optional_staging_path(&self, raw: &str) -> Result<(), NodeError> {
        if !raw.is_empty() {
            self.staging_path(raw).await?;
        }
        Ok(())
    }

    /// `raw` (the request's `field`) as a path below kubelet's root, resolved.
    async fn confine(
        &self,
        raw: &str,
        field: &'static str,
        role: Role,
    ) -> Result<PathBuf, NodeError> {
        let raw = raw.required(field)?;
        self.driver.kubelet.confine(field, raw, role).await
    }
}

/// The request's volume ID, present and usable as one path component.
pub fn volume_id(raw: &str) -> Result<String, NodeError> {
    let volume_id = raw.required("volume_id")?;
    check_volume_id(volume_id)?;
    Ok(volume_id.to_string())
}

/// A usage as CSI reports it (in `unit`), if known.
pub fn usage(usage: Option<Usage>, unit: Unit) -> Option<VolumeUsage> {
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
        let request = self.stage_request(request.into_inner()).await?;
        stage::stage(&self.driver, request).await?;
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
        unstage::unstage(&self.driver, request).await?;
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
            volume_id: volume_id(&req.volume_id)?,
            target_path: self
                .confine(&req.target_path, "target_path", Role::Target)
                .await?,
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
            volume_id: volume_id(&req.volume_id)?,
            volume_path: self
                .confine(&req.volume_path, "volume_path", Role::Volume)
                .await?,
        };
        self.optional_staging_path(&req.staging_target_path).await?;
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
            volume_id: volume_id(&req.volume_id)?,
            volume_path: self
                .confine(&req.volume_path, "volume_path", Role::Volume)
                .await?,
            required_bytes,
        };
        self.optional_staging_path(&req.staging_target_path).await?;
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
