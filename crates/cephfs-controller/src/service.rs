//! The CSI Controller service of the CephFS driver: each RPC validates and translates its
//! request and calls one domain function. Budget, span, lock scope, status mapping and
//! lifecycle events are the RBD controller's (`ControllerService::run`/`run_reported`), so both
//! drivers answer alike.

use std::sync::Arc;

use controller::capabilities::Capability;
use controller::error::Error;
use controller::pool::listing::{self, Token};
use controller::service::ControllerService as Runner;
use controller::service::controller::volumes::content_source;
use controller::service::lifecycle::Report;
use controller::service::require::{Required, present};
use controller::size::{self, Capacity};
use csi::SecretMap;
use csi::quote::quote;
use csi::v1::controller_server::Controller;
use csi::v1::controller_service_capability::{self, rpc};
use csi::v1::*;
use events::vocabulary::{object, verb};
use tonic::{Request, Response, Status};

use crate::capacity::get_capacity;
use crate::driver::Driver;
use crate::listing::{list_snapshots, list_volumes};
use crate::params::{CapacityParams, SnapshotParams, VolumeParams};
use crate::snapshot::create::{CreateSnapshot, SnapshotInfo, create_snapshot};
use crate::snapshot::delete::delete_snapshot;
use crate::volume::create::create_volume;
use crate::volume::delete::delete_volume;
use crate::volume::expand::expand_volume;
use crate::volume::get::{get_volume, validate};
use crate::volume::request::CreateRequest;

/// The RPCs this controller serves (no publish: CephFS needs no attach).
const CAPABILITIES: [rpc::Type; 9] = [
    rpc::Type::CreateDeleteVolume,
    rpc::Type::CreateDeleteSnapshot,
    rpc::Type::CloneVolume,
    rpc::Type::ExpandVolume,
    rpc::Type::GetCapacity,
    rpc::Type::ListVolumes,
    rpc::Type::ListSnapshots,
    rpc::Type::GetVolume,
    rpc::Type::VolumeCondition,
];

pub struct ControllerService {
    driver: Arc<Driver>,
    runner: Runner,
}

impl ControllerService {
    pub fn new(driver: Arc<Driver>) -> Self {
        let runner = Runner::new(Arc::clone(&driver.state));
        ControllerService { driver, runner }
    }
}

fn q(value: &str) -> String {
    quote(value).to_string()
}

fn bytes(size: i64) -> u64 {
    u64::try_from(size).unwrap_or(0)
}

fn snapshot_message(info: SnapshotInfo) -> Snapshot {
    Snapshot {
        size_bytes: size::to_csi(info.size),
        snapshot_id: info.snapshot_id,
        source_volume_id: info.source_volume_id,
        creation_time: info.created,
        ready_to_use: true,
        group_snapshot_id: String::new(),
    }
}

#[tonic::async_trait]
impl Controller for ControllerService {
    async fn create_volume(
        &self,
        request: Request<CreateVolumeRequest>,
    ) -> Result<Response<CreateVolumeResponse>, Status> {
        let (metadata, _, req) = request.into_parts();
        let driver = &self.driver;
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
        self.runner
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
                        driver,
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

    async fn delete_volume(
        &self,
        request: Request<DeleteVolumeRequest>,
    ) -> Result<Response<DeleteVolumeResponse>, Status> {
        let (metadata, _, req) = request.into_parts();
        let driver = &self.driver;
        let report = Report::new(
            object::VOLUME,
            verb::DELETED,
            format!("delete/{}", req.volume_id),
        )
        .volume_id(req.volume_id.clone());
        self.runner
            .run_reported(
                "DeleteVolume",
                &q(&req.volume_id),
                &metadata,
                report,
                |report, _| report,
                async move {
                    let volume_id = req.volume_id.required("volume_id")?;
                    delete_volume(driver, volume_id, &SecretMap::from(req.secrets)).await?;
                    Ok(DeleteVolumeResponse {})
                },
            )
            .await
    }

    async fn validate_volume_capabilities(
        &self,
        request: Request<ValidateVolumeCapabilitiesRequest>,
    ) -> Result<Response<ValidateVolumeCapabilitiesResponse>, Status> {
        let (metadata, _, req) = request.into_parts();
        let driver = &self.driver;
        self.runner
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
                    let secrets = SecretMap::from(req.secrets);
                    match validate(driver, volume_id, &capabilities, &secrets).await? {
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

    async fn list_volumes(
        &self,
        request: Request<ListVolumesRequest>,
    ) -> Result<Response<ListVolumesResponse>, Status> {
        let (metadata, _, req) = request.into_parts();
        let driver = &self.driver;
        self.runner
            .run("ListVolumes", "", &metadata, async move {
                let max = listing::page_size(req.max_entries)?;
                let token = Token::decode(&req.starting_token)?;
                let page = list_volumes(driver, token, max).await?;
                Ok(ListVolumesResponse {
                    entries: page
                        .entries
                        .into_iter()
                        .map(|v| list_volumes_response::Entry {
                            volume: Some(Volume {
                                volume_id: v.volume_id,
                                ..Default::default()
                            }),
                            status: None,
                        })
                        .collect(),
                    next_token: page.next.unwrap_or_default(),
                })
            })
            .await
    }

    async fn list_snapshots(
        &self,
        request: Request<ListSnapshotsRequest>,
    ) -> Result<Response<ListSnapshotsResponse>, Status> {
        let (metadata, _, req) = request.into_parts();
        let driver = &self.driver;
        self.runner
            .run("ListSnapshots", "", &metadata, async move {
                let max = listing::page_size(req.max_entries)?;
                let token = Token::decode(&req.starting_token)?;
                let non_empty = |s: &String| (!s.is_empty()).then(|| s.clone());
                let page = list_snapshots(
                    driver,
                    token,
                    max,
                    non_empty(&req.snapshot_id).as_deref(),
                    non_empty(&req.source_volume_id).as_deref(),
                )
                .await?;
                Ok(ListSnapshotsResponse {
                    entries: page
                        .entries
                        .into_iter()
                        .map(|s| list_snapshots_response::Entry {
                            snapshot: Some(Snapshot {
                                size_bytes: size::to_csi(s.size),
                                snapshot_id: s.snapshot_id,
                                source_volume_id: s.source_volume_id.unwrap_or_default(),
                                creation_time: s.created,
                                ready_to_use: true,
                                group_snapshot_id: String::new(),
                            }),
                        })
                        .collect(),
                    next_token: page.next.unwrap_or_default(),
                })
            })
            .await
    }

    async fn controller_get_volume(
        &self,
        request: Request<ControllerGetVolumeRequest>,
    ) -> Result<Response<ControllerGetVolumeResponse>, Status> {
        let (metadata, _, req) = request.into_parts();
        let driver = &self.driver;
        self.runner
            .run(
                "ControllerGetVolume",
                &q(&req.volume_id),
                &metadata,
                async move {
                    let volume_id = req.volume_id.required("volume_id")?;
                    let got = get_volume(driver, volume_id).await?;
                    let subvolume = got.volume.fs.spec(&got.volume.entry.image_name);
                    let condition = match &got.info {
                        Some(_) => VolumeCondition {
                            abnormal: false,
                            message: "ok".to_owned(),
                        },
                        None => VolumeCondition {
                            abnormal: true,
                            message: format!("subvolume {subvolume} is gone"),
                        },
                    };
                    Ok(ControllerGetVolumeResponse {
                        volume: Some(Volume {
                            capacity_bytes: size::to_csi(
                                got.info.as_ref().and_then(|i| i.quota()).unwrap_or(0),
                            ),
                            volume_id: req.volume_id,
                            ..Default::default()
                        }),
                        status: Some(controller_get_volume_response::VolumeStatus {
                            // No publish step: CephFS volumes are never attached.
                            published_node_ids: Vec::new(),
                            volume_condition: Some(condition),
                        }),
                    })
                },
            )
            .await
    }

    async fn get_capacity(
        &self,
        request: Request<GetCapacityRequest>,
    ) -> Result<Response<GetCapacityResponse>, Status> {
        let (metadata, _, req) = request.into_parts();
        let driver = &self.driver;
        self.runner
            .run("GetCapacity", "", &metadata, async move {
                let params = CapacityParams::parse(&req.parameters)?;
                let available = get_capacity(driver, &params).await?;
                Ok(GetCapacityResponse {
                    available_capacity: size::to_csi(available),
                    maximum_volume_size: None,
                    minimum_volume_size: None,
                })
            })
            .await
    }

    async fn controller_get_capabilities(
        &self,
        _: Request<ControllerGetCapabilitiesRequest>,
    ) -> Result<Response<ControllerGetCapabilitiesResponse>, Status> {
        let capabilities = CAPABILITIES
            .into_iter()
            .map(|kind| ControllerServiceCapability {
                r#type: Some(controller_service_capability::Type::Rpc(
                    controller_service_capability::Rpc {
                        r#type: kind as i32,
                    },
                )),
            })
            .collect();
        Ok(Response::new(ControllerGetCapabilitiesResponse {
            capabilities,
        }))
    }

    async fn create_snapshot(
        &self,
        request: Request<CreateSnapshotRequest>,
    ) -> Result<Response<CreateSnapshotResponse>, Status> {
        let (metadata, _, req) = request.into_parts();
        let driver = &self.driver;
        let report = Report::new(
            object::SNAPSHOT,
            verb::CREATED,
            format!("create/{}", req.name),
        )
        .request_name(req.name.clone())
        .volume_id(req.source_volume_id.clone());
        let enrich = |report: Report, reply: &CreateSnapshotResponse| match &reply.snapshot {
            Some(snapshot) => report
                .snapshot_id(snapshot.snapshot_id.clone())
                .size_bytes(bytes(snapshot.size_bytes)),
            None => report,
        };
        let subject = q(&req.name);
        self.runner
            .run_reported(
                "CreateSnapshot",
                &subject,
                &metadata,
                report,
                enrich,
                async move {
                    let name = req.name.required("name")?.to_owned();
                    let source_volume_id = req
                        .source_volume_id
                        .required("source_volume_id")?
                        .to_owned();
                    let info = create_snapshot(
                        driver,
                        CreateSnapshot {
                            name,
                            source_volume_id,
                            params: SnapshotParams::parse(&req.parameters)?,
                            secrets: req.secrets.into(),
                        },
                    )
                    .await?;
                    Ok(CreateSnapshotResponse {
                        snapshot: Some(snapshot_message(info)),
                    })
                },
            )
            .await
    }

    async fn delete_snapshot(
        &self,
        request: Request<DeleteSnapshotRequest>,
    ) -> Result<Response<DeleteSnapshotResponse>, Status> {
        let (metadata, _, req) = request.into_parts();
        let driver = &self.driver;
        let report = Report::new(
            object::SNAPSHOT,
            verb::DELETED,
            format!("delete/{}", req.snapshot_id),
        )
        .snapshot_id(req.snapshot_id.clone());
        self.runner
            .run_reported(
                "DeleteSnapshot",
                &q(&req.snapshot_id),
                &metadata,
                report,
                |report, _| report,
                async move {
                    let snapshot_id = req.snapshot_id.required("snapshot_id")?;
                    delete_snapshot(driver, snapshot_id, &SecretMap::from(req.secrets)).await?;
                    Ok(DeleteSnapshotResponse {})
                },
            )
            .await
    }

    async fn controller_expand_volume(
        &self,
        request: Request<ControllerExpandVolumeRequest>,
    ) -> Result<Response<ControllerExpandVolumeResponse>, Status> {
        let (metadata, _, req) = request.into_parts();
        let driver = &self.driver;
        let target = req.capacity_range.as_ref().map_or(0, |r| r.required_bytes);
        let report = Report::new(
            object::VOLUME,
            verb::EXPANDED,
            format!("expand/{}/{target}", req.volume_id),
        )
        .volume_id(req.volume_id.clone());
        let enrich = |report: Report, reply: &ControllerExpandVolumeResponse| {
            report.size_bytes(bytes(reply.capacity_bytes))
        };
        self.runner
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
                    if let Some(cap) = &req.volume_capability
                        && let Some(rule) = crate::volume::create::unsupported(&Capability::parse(
                            cap,
                            "volume_capability",
                        )?)
                    {
                        return Err(Error::invalid("volume_capability", rule));
                    }
                    let size =
                        expand_volume(driver, volume_id, capacity, &SecretMap::from(req.secrets))
                            .await?;
                    Ok(ControllerExpandVolumeResponse {
                        capacity_bytes: size::to_csi(size),
                        // The quota holds at once for every mount; no node step.
                        node_expansion_required: false,
                    })
                },
            )
            .await
    }
}
