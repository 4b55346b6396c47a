//! CSI Controller RPCs on volumes: CreateVolume, DeleteVolume, ControllerExpandVolume,
//! ValidateVolumeCapabilities, ListVolumes, ControllerGetVolume, and GetCapacity (how big a new
//! volume could be).

use csi::SecretMap;
use csi::v1::volume_content_source::{self, SnapshotSource, VolumeSource};
use csi::v1::*;
use events::vocabulary::{object, verb};
use journal::records::source::ContentSource;
use tonic::Request;

use super::{ControllerService, Reply, alpha_on, bytes, q};
use crate::advertised::Alpha;
use crate::capabilities::{self, Capability};
use crate::capacity;
use crate::error::{Error, Result};
use crate::params::{CapacityParams, VolumeParams};
use crate::pool::listing::{self, Token};
use crate::service::lifecycle::Report;
use crate::service::require::{Required, present};
use crate::size::{self, Capacity};
use crate::volume::create::CreateRequest;
use crate::volume::delete::delete_volume;
use crate::volume::expand::expand_volume;
use crate::volume::get::get_volume;
use crate::volume::list::list_volumes;
use crate::volume::provision::create_volume;
use crate::volume::validate::validate as validate_volume;

pub(super) async fn create(
    service: &ControllerService,
    request: Request<CreateVolumeRequest>,
) -> Reply<CreateVolumeResponse> {
    let (metadata, _, req) = request.into_parts();
    let state = &service.state;
    let report = Report::new(
        object::VOLUME,
        verb::CREATED,
        format!("create/{}", req.name),
    )
    .request_name(req.name.clone());
    let enrich = |report: Report, reply: &CreateVolumeResponse| match &reply.volume {
        Some(volume) => report
            .volume_id(volume.volume_id.clone())
            .size_bytes(bytes(volume.capacity_bytes)),
        None => report,
    };
    let subject = q(&req.name);
    service
        .run_reported(
            "CreateVolume",
            &subject,
            &metadata,
            report,
            enrich,
            async move {
                let name = req.name.required("name")?.to_owned();
                let capabilities =
                    Capability::parse_all(&req.volume_capabilities, "volume_capabilities")?;
                if !req.mutable_parameters.is_empty() {
                    return Err(Error::invalid(
                        "mutable_parameters",
                        "volume attribute classes are not supported (no MODIFY_VOLUME)",
                    ));
                }
                let source = content_source(req.volume_content_source.as_ref())?;
                let created = create_volume(
                    state,
                    CreateRequest {
                        name,
                        capacity: Capacity::from_csi(req.capacity_range.as_ref())?,
                        capabilities,
                        params: VolumeParams::parse(&req.parameters)?,
                        source,
                        secrets: req.secrets.into(),
                    },
                )
                .await?;
                Ok(CreateVolumeResponse {
                    volume: Some(Volume {
                        capacity_bytes: size::to_csi(created.capacity),
                        volume_id: created.volume_id,
                        volume_context: created.context,
                        content_source: req.volume_content_source,
                        accessible_topology: Vec::new(),
                    }),
                })
            },
        )
        .await
}

pub(super) async fn delete(
    service: &ControllerService,
    request: Request<DeleteVolumeRequest>,
) -> Reply<DeleteVolumeResponse> {
    let (metadata, _, req) = request.into_parts();
    let state = &service.state;
    let report = Report::new(
        object::VOLUME,
        verb::DELETED,
        format!("delete/{}", req.volume_id),
    )
    .volume_id(req.volume_id.clone());
    service
        .run_reported(
            "DeleteVolume",
            &q(&req.volume_id),
            &metadata,
            report,
            |report, _| report,
            async move {
                let volume_id = req.volume_id.required("volume_id")?;
                delete_volume(state, volume_id, &SecretMap::from(req.secrets)).await?;
                Ok(DeleteVolumeResponse {})
            },
        )
        .await
}

pub(super) async fn validate(
    service: &ControllerService,
    request: Request<ValidateVolumeCapabilitiesRequest>,
) -> Reply<ValidateVolumeCapabilitiesResponse> {
    let (metadata, _, req) = request.into_parts();
    let state = &service.state;
    service
        .run(
            "ValidateVolumeCapabilities",
            &q(&req.volume_id),
            &metadata,
            async move {
                let volume_id = req.volume_id.required("volume_id")?;
                let capabilities =
                    Capability::parse_all(&req.volume_capabilities, "volume_capabilities")?;
                if !req.mutable_parameters.is_empty() {
                    return Ok(ValidateVolumeCapabilitiesResponse {
                        confirmed: None,
                        message: "mutable parameters are not supported".to_owned(),
                    });
                }
                match validate_volume(
                    state,
                    volume_id,
                    &capabilities,
                    &SecretMap::from(req.secrets),
                )
                .await?
                {
                    None => Ok(ValidateVolumeCapabilitiesResponse {
                        confirmed: Some(validate_volume_capabilities_response::Confirmed {
                            volume_context: req.volume_context,
                            volume_capabilities: req.volume_capabilities,
                            parameters: req.parameters,
                            mutable_parameters: Default::default(),
                        }),
                        message: String::new(),
                    }),
                    Some(reason) => Ok(ValidateVolumeCapabilitiesResponse {
                        confirmed: None,
                        message: reason,
                    }),
                }
            },
        )
        .await
}

pub(super) async fn list(
    service: &ControllerService,
    request: Request<ListVolumesRequest>,
) -> Reply<ListVolumesResponse> {
    let (metadata, _, req) = request.into_parts();
    let state = &service.state;
    service
        .run(
            "ListVolumes",
            &q(&req.starting_token),
            &metadata,
            async move {
                let max = listing::page_size(req.max_entries)?;
                let start = Token::decode(&req.starting_token)?;
                let (volumes, next) = list_volumes(state, max, start).await?;
                Ok(ListVolumesResponse {
                    entries: volumes
                        .into_iter()
                        .map(|v| list_volumes_response::Entry {
                            volume: Some(Volume {
                                capacity_bytes: 0,
                                volume_id: v.volume_id,
                                volume_context: v.context,
                                content_source: None,
                                accessible_topology: Vec::new(),
                            }),
                            status: Some(list_volumes_response::VolumeStatus {
                                published_node_ids: v.published_nodes,
                                volume_condition: None,
                            }),
                        })
                        .collect(),
                    next_token: next.map(|t| t.encode()).unwrap_or_default(),
                })
            },
        )
        .await
}

pub(super) async fn capacity(
    service: &ControllerService,
    request: Request<GetCapacityRequest>,
) -> Reply<GetCapacityResponse> {
    let (metadata, _, req) = request.into_parts();
    let state = &service.state;
    let subject = req.parameters.get("pool").map(|p| q(p)).unwrap_or_default();
    service
        .run("GetCapacity", &subject, &metadata, async move {
            for (i, cap) in req.volume_capabilities.iter().enumerate() {
                let cap = Capability::parse(cap, &format!("volume_capabilities[{i}]"))?;
                if cap.unsupported(true).is_some() {
                    // No volume with this capability can be made: nothing is available for it.
                    return Ok(GetCapacityResponse::default());
                }
            }
            let params = CapacityParams::parse(&req.parameters)?;
            let available = capacity::available(state, &params).await?;
            Ok(GetCapacityResponse {
                available_capacity: size::to_csi(available),
                maximum_volume_size: None,
                minimum_volume_size: None,
            })
        })
        .await
}

pub(super) async fn expand(
    service: &ControllerService,
    request: Request<ControllerExpandVolumeRequest>,
) -> Reply<ControllerExpandVolumeResponse> {
    let (metadata, _, req) = request.into_parts();
    let state = &service.state;
    let target = req
        .capacity_range
        .as_ref()
        .map_or(0, |range| range.required_bytes);
    let report = Report::new(
        object::VOLUME,
        verb::EXPANDED,
        format!("expand/{}/{target}", req.volume_id),
    )
    .volume_id(req.volume_id.clone());
    let enrich = |report: Report, reply: &ControllerExpandVolumeResponse| {
        report.size_bytes(bytes(reply.capacity_bytes))
    };
    service
        .run_reported(
            "ControllerExpandVolume",
            &q(&req.volume_id),
            &metadata,
            report,
            enrich,
            async move {
                let volume_id = req.volume_id.required("volume_id")?;
                let range = present(&req.capacity_range, "capacity_range")?;
                let capacity = Capacity::from_csi(Some(range))?;
                if capacity.required == 0 {
                    return Err(Error::invalid(
                        "capacity_range.required_bytes",
                        "must be set to the new size",
                    ));
                }
                let block = match &req.volume_capability {
                    Some(cap) => {
                        capabilities::any_block(&[Capability::parse(cap, "volume_capability")?])
                    }
                    None => false,
                };
                let size = expand_volume(state, volume_id, capacity, &SecretMap::from(req.secrets))
                    .await?;
                Ok(ControllerExpandVolumeResponse {
                    capacity_bytes: size::to_csi(size),
                    // Raw block has no filesystem to grow.
                    node_expansion_required: !block,
                })
            },
        )
        .await
}

pub(super) async fn get(
    service: &ControllerService,
    request: Request<ControllerGetVolumeRequest>,
) -> Reply<ControllerGetVolumeResponse> {
    let (metadata, _, req) = request.into_parts();
    let state = &service.state;
    service
        .run(
            "ControllerGetVolume",
            &q(&req.volume_id),
            &metadata,
            async move {
                alpha_on(state, Alpha::GetVolume, "ControllerGetVolume")?;
                let volume_id = req.volume_id.required("volume_id")?;
                let status = get_volume(state, volume_id).await?;
                let condition = state.settings.alpha.enabled(Alpha::VolumeCondition);
                Ok(ControllerGetVolumeResponse {
                    volume: Some(Volume {
                        capacity_bytes: size::to_csi(status.capacity),
                        volume_id: status.volume_id,
                        volume_context: status.context,
                        content_source: None,
                        accessible_topology: Vec::new(),
                    }),
                    status: Some(controller_get_volume_response::VolumeStatus {
                        published_node_ids: status.published_nodes,
                        volume_condition: condition.then(|| VolumeCondition {
                            abnormal: status.abnormal.is_some(),
                            message: status.abnormal.unwrap_or_else(|| "ok".to_owned()),
                        }),
                    }),
                })
            },
        )
        .await
}

/// The request's content source, typed.
pub fn content_source(source: Option<&VolumeContentSource>) -> Result<Option<ContentSource>> {
    let Some(source) = source else {
        return Ok(None);
    };
    match &source.r#type {
        Some(volume_content_source::Type::Snapshot(SnapshotSource { snapshot_id })) => {
            Ok(Some(ContentSource::Snapshot(
                snapshot_id
                    .required("volume_content_source.snapshot.snapshot_id")?
                    .to_owned(),
            )))
        }
        Some(volume_content_source::Type::Volume(VolumeSource { volume_id })) => {
            Ok(Some(ContentSource::Volume(
                volume_id
                    .required("volume_content_source.volume.volume_id")?
                    .to_owned(),
            )))
        }
        None => Err(Error::invalid(
            "volume_content_source",
            "must name a snapshot or a volume",
        )),
    }
}
