//! CSI Controller RPCs on publication: ControllerPublishVolume and ControllerUnpublishVolume
//! (the records of which node uses a volume, see [`crate::publish`]).

use csi::SecretMap;
use csi::v1::*;
use events::vocabulary::{object, verb};
use tonic::Request;

use super::{ControllerService, Reply, q};
use crate::capabilities::Capability;
use crate::publish::{self, PublishRequest};
use crate::service::lifecycle::Report;
use crate::service::require::{CSI_NODE_ID_LIMIT, Required, optional_within, present};

pub(super) async fn publish(
    service: &ControllerService,
    request: Request<ControllerPublishVolumeRequest>,
) -> Reply<ControllerPublishVolumeResponse> {
    let (metadata, _, req) = request.into_parts();
    let state = &service.state;
    let subject = format!("{} to node {}", q(&req.volume_id), q(&req.node_id));
    let report = Report::new(
        object::VOLUME,
        verb::PUBLISHED,
        format!("publish/{}/{}", req.volume_id, req.node_id),
    )
    .volume_id(req.volume_id.clone())
    .node_id(req.node_id.clone());
    service
        .run_reported(
            "ControllerPublishVolume",
            &subject,
            &metadata,
            report,
            |report, _| report,
            async move {
                let volume_id = req.volume_id.required("volume_id")?.to_owned();
                let node_id = req
                    .node_id
                    .required_within("node_id", CSI_NODE_ID_LIMIT)?
                    .to_owned();
                let capability = Capability::parse(
                    present(&req.volume_capability, "volume_capability")?,
                    "volume_capability",
                )?;
                let publish_context = publish::publish(
                    state,
                    &PublishRequest {
                        volume_id,
                        node_id,
                        capability,
                        readonly: req.readonly,
                        secrets: req.secrets.into(),
                    },
                )
                .await?;
                Ok(ControllerPublishVolumeResponse { publish_context })
            },
        )
        .await
}

pub(super) async fn unpublish(
    service: &ControllerService,
    request: Request<ControllerUnpublishVolumeRequest>,
) -> Reply<ControllerUnpublishVolumeResponse> {
    let (metadata, _, req) = request.into_parts();
    let state = &service.state;
    let subject = format!("{} from node {}", q(&req.volume_id), q(&req.node_id));
    let report = Report::new(
        object::VOLUME,
        verb::UNPUBLISHED,
        format!("unpublish/{}/{}", req.volume_id, req.node_id),
    )
    .volume_id(req.volume_id.clone())
    .node_id(req.node_id.clone());
    service
        .run_reported(
            "ControllerUnpublishVolume",
            &subject,
            &metadata,
            report,
            |report, _| report,
            async move {
                let volume_id = req.volume_id.required("volume_id")?;
                let node_id = optional_within(&req.node_id, "node_id", CSI_NODE_ID_LIMIT)?;
                publish::unpublish(state, volume_id, node_id, &SecretMap::from(req.secrets))
                    .await?;
                Ok(ControllerUnpublishVolumeResponse {})
            },
        )
        .await
}
