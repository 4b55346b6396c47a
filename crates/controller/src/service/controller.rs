//! The CSI Controller service: each RPC validates and translates its request, then calls one
//! domain function within the RPC's budget and a lock scope of its own, inside a span naming
//! the RPC and its object. Errors become statuses in one place (`status.rs`).

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use csi::SecretMap;
use csi::quote::quote;
use csi::v1::controller_server::Controller;
use csi::v1::controller_service_capability;
use csi::v1::volume_content_source::{self, SnapshotSource, VolumeSource};
use csi::v1::*;
use events::vocabulary::{object, verb};
use journal::records::source::ContentSource;
use tonic::metadata::MetadataMap;
use tonic::{Request, Response, Status};
use tracing::{Instrument as _, debug, info_span, warn};

use crate::advertised::Alpha;
use crate::capabilities::{self, Capability};
use crate::capacity;
use crate::error::{Error, Result};
use crate::params::{CapacityParams, SnapshotParams, VolumeParams};
use crate::pool::listing::{self, Token};
use crate::publish::{self, PublishRequest};
use crate::secrets::Source;
use crate::service::deadline;
use crate::service::lifecycle::Report;
use crate::service::require::{
    CSI_NODE_ID_LIMIT, CSI_STRING_LIMIT, Required, optional_within, present,
};
use crate::size::{self, Capacity};
use crate::snapshot::create::{CreateSnapshot, SnapshotInfo, create_snapshot};
use crate::snapshot::delete::delete_snapshot;
use crate::snapshot::list::{Filter, list_snapshots};
use crate::snapshot::record;
use crate::state::State;
use crate::status::to_status;
use crate::volume::create::CreateRequest;
use crate::volume::delete::delete_volume;
use crate::volume::expand::expand_volume;
use crate::volume::get::get_volume;
use crate::volume::list::list_volumes;
use crate::volume::provision::create_volume;
use crate::volume::validate::validate;

/// Runs one RPC's work in its own lock scope (`ceph::lock_scope`): its journal writes assert
/// the RADOS locks it holds, its locks are released only after its Ceph calls returned, and
/// losing one of them stops it (ABORTED).
async fn locked<T>(work: impl Future<Output = Result<T>>) -> Result<T> {
    ceph::lock_scope::scoped(work).await?
}

pub struct ControllerService {
    state: Arc<State>,
}

impl ControllerService {
    pub fn new(state: Arc<State>) -> Self {
        ControllerService { state }
    }

    /// Runs one RPC: budget, span, status mapping, one log line per failure. Public so the
    /// CephFS controller runs its RPCs the same way.
    pub async fn run<T>(
        &self,
        rpc: &'static str,
        subject: &str,
        metadata: &MetadataMap,
        work: impl Future<Output = Result<T>>,
    ) -> std::result::Result<Response<T>, Status> {
        let budget = deadline::budget(metadata, self.state.settings.rpc_timeout);
        let span = info_span!("csi", rpc, subject);
        let started = Instant::now();
        let result = deadline::within(budget, locked(work))
            .instrument(span.clone())
            .await;
        let _entered = span.enter();
        match result {
            Ok(reply) => {
                debug!(elapsed = ?started.elapsed(), "ok");
                Ok(Response::new(reply))
            }
            Err(e) => {
                let status = to_status(&e, &format!("{rpc} {subject}"));
                warn!(code = ?status.code(), elapsed = ?started.elapsed(), message = status.message(), "failed");
                Err(status)
            }
        }
    }

    /// [`ControllerService::run`] for a lifecycle RPC: publishes its outcome as an event.
    /// `enrich` adds what only the reply knows (a new volume's id, its size).
    pub async fn run_reported<T>(
        &self,
        rpc: &'static str,
        subject: &str,
        metadata: &MetadataMap,
        report: Report,
        enrich: impl FnOnce(Report, &T) -> Report,
        work: impl Future<Output = Result<T>>,
    ) -> std::result::Result<Response<T>, Status> {
        let started = Instant::now();
        let result = self.run(rpc, subject, metadata, work).await;
        let report = match &result {
            Ok(reply) => enrich(report, reply.get_ref()),
            Err(_) => report,
        };
        if let Some(event) = report.event(result.as_ref().map(|_| ()), started.elapsed()) {
            self.state.settings.events.publish(&event);
        }
        result
    }
}

/// A client's value in the RPC's subject (its span, log lines and status prefix): escaped and
/// cut, as anything the client sent is when it is echoed ([`quote`]).
fn q(value: &str) -> String {
    quote(value).to_string()
}

/// Sizes in events are bytes; CSI's are signed.
fn bytes(size: i64) -> u64 {
    u64::try_from(size).unwrap_or(0)
}

#[tonic::async_trait]
impl Controller for ControllerService {
    async fn create_volume(
        &self,
        request: Request<CreateVolumeRequest>,
    ) -> std::result::Result<Response<CreateVolumeResponse>, Status> {
        let (metadata, _, req) = request.into_parts();
        let state = &self.state;
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
        self.run_reported(
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

    async fn delete_volume(
        &self,
        request: Request<DeleteVolumeRequest>,
    ) -> std::result::Result<Response<DeleteVolumeResponse>, Status> {
        let (metadata, _, req) = request.into_parts();
        let state = &self.state;
        let report = Report::new(
            object::VOLUME,
            verb::DELETED,
            format!("delete/{}", req.volume_id),
        )
        .volume_id(req.volume_id.clone());
        self.run_reported(
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

    async fn controller_publish_volume(
        &self,
        request: Request<ControllerPublishVolumeRequest>,
    ) -> std::result::Result<Response<ControllerPublishVolumeResponse>, Status> {
        let (metadata, _, req) = request.into_parts();
        let state = &self.state;
        let subject = format!("{} to node {}", q(&req.volume_id), q(&req.node_id));
        let report = Report::new(
            object::VOLUME,
            verb::PUBLISHED,
            format!("publish/{}/{}", req.volume_id, req.node_id),
        )
        .volume_id(req.volume_id.clone())
        .node_id(req.node_id.clone());
        self.run_reported(
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

    async fn controller_unpublish_volume(
        &self,
        request: Request<ControllerUnpublishVolumeRequest>,
    ) -> std::result::Result<Response<ControllerUnpublishVolumeResponse>, Status> {
        let (metadata, _, req) = request.into_parts();
        let state = &self.state;
        let subject = format!("{} from node {}", q(&req.volume_id), q(&req.node_id));
        let report = Report::new(
            object::VOLUME,
            verb::UNPUBLISHED,
            format!("unpublish/{}/{}", req.volume_id, req.node_id),
        )
        .volume_id(req.volume_id.clone())
        .node_id(req.node_id.clone());
        self.run_reported(
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

    async fn validate_volume_capabilities(
        &self,
        request: Request<ValidateVolumeCapabilitiesRequest>,
    ) -> std::result::Result<Response<ValidateVolumeCapabilitiesResponse>, Status> {
        let (metadata, _, req) = request.into_parts();
        let state = &self.state;
        self.run(
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
                match validate(
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

    async fn list_volumes(
        &self,
        request: Request<ListVolumesRequest>,
    ) -> std::result::Result<Response<ListVolumesResponse>, Status> {
        let (metadata, _, req) = request.into_parts();
        let state = &self.state;
        self.run(
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

    async fn get_capacity(
        &self,
        request: Request<GetCapacityRequest>,
    ) -> std::result::Result<Response<GetCapacityResponse>, Status> {
        let (metadata, _, req) = request.into_parts();
        let state = &self.state;
        let subject = req.parameters.get("pool").map(|p| q(p)).unwrap_or_default();
        self.run("GetCapacity", &subject, &metadata, async move {
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

    async fn controller_get_capabilities(
        &self,
        _: Request<ControllerGetCapabilitiesRequest>,
    ) -> std::result::Result<Response<ControllerGetCapabilitiesResponse>, Status> {
        let capabilities = self
            .state
            .settings
            .alpha
            .controller_capabilities()
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
    ) -> std::result::Result<Response<CreateSnapshotResponse>, Status> {
        let (metadata, _, req) = request.into_parts();
        let state = &self.state;
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
        self.run_reported(
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
                    state,
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
    ) -> std::result::Result<Response<DeleteSnapshotResponse>, Status> {
        let (metadata, _, req) = request.into_parts();
        let state = &self.state;
        let report = Report::new(
            object::SNAPSHOT,
            verb::DELETED,
            format!("delete/{}", req.snapshot_id),
        )
        .snapshot_id(req.snapshot_id.clone());
        self.run_reported(
            "DeleteSnapshot",
            &q(&req.snapshot_id),
            &metadata,
            report,
            |report, _| report,
            async move {
                let snapshot_id = req.snapshot_id.required("snapshot_id")?;
                delete_snapshot(state, snapshot_id, &SecretMap::from(req.secrets)).await?;
                Ok(DeleteSnapshotResponse {})
            },
        )
        .await
    }

    async fn list_snapshots(
        &self,
        request: Request<ListSnapshotsRequest>,
    ) -> std::result::Result<Response<ListSnapshotsResponse>, Status> {
        let (metadata, _, req) = request.into_parts();
        let state = &self.state;
        let subject = [&req.snapshot_id, &req.source_volume_id]
            .into_iter()
            .filter(|id| !id.is_empty())
            .map(|id| q(id))
            .collect::<Vec<_>>()
            .join(" of ");
        self.run("ListSnapshots", &subject, &metadata, async move {
            let max = listing::page_size(req.max_entries)?;
            let start = Token::decode(&req.starting_token)?;
            optional_within(&req.snapshot_id, "snapshot_id", CSI_STRING_LIMIT)?;
            optional_within(&req.source_volume_id, "source_volume_id", CSI_STRING_LIMIT)?;
            let filter = Filter {
                snapshot_id: Some(req.snapshot_id).filter(|s| !s.is_empty()),
                source_volume_id: Some(req.source_volume_id).filter(|s| !s.is_empty()),
            };
            let (snapshots, next) =
                list_snapshots(state, &filter, max, start, &SecretMap::from(req.secrets)).await?;
            Ok(ListSnapshotsResponse {
                entries: snapshots
                    .into_iter()
                    .map(|s| list_snapshots_response::Entry {
                        snapshot: Some(snapshot_message(s)),
                    })
                    .collect(),
                next_token: next.map(|t| t.encode()).unwrap_or_default(),
            })
        })
        .await
    }

    async fn get_snapshot(
        &self,
        request: Request<GetSnapshotRequest>,
    ) -> std::result::Result<Response<GetSnapshotResponse>, Status> {
        let (metadata, _, req) = request.into_parts();
        let state = &self.state;
        self.run("GetSnapshot", &q(&req.snapshot_id), &metadata, async move {
            alpha_on(state, Alpha::GetSnapshot, "GetSnapshot")?;
            let snapshot_id = req.snapshot_id.required("snapshot_id")?;
            let secrets = SecretMap::from(req.secrets);
            let source = Source::RequestOrStanding(&secrets, "GetSnapshot");
            match crate::snapshot::list::one(state, snapshot_id, source).await? {
                Some(info) => Ok(GetSnapshotResponse {
                    snapshot: Some(snapshot_message(info)),
                }),
                None => Err(Error::SnapshotNotFound {
                    snapshot_id: snapshot_id.to_owned(),
                    why: "no such snapshot".to_owned(),
                }),
            }
        })
        .await
    }

    async fn controller_expand_volume(
        &self,
        request: Request<ControllerExpandVolumeRequest>,
    ) -> std::result::Result<Response<ControllerExpandVolumeResponse>, Status> {
        let (metadata, _, req) = request.into_parts();
        let state = &self.state;
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
        self.run_reported(
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

    async fn controller_get_volume(
        &self,
        request: Request<ControllerGetVolumeRequest>,
    ) -> std::result::Result<Response<ControllerGetVolumeResponse>, Status> {
        let (metadata, _, req) = request.into_parts();
        let state = &self.state;
        self.run(
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
}

/// UNIMPLEMENTED unless `--alpha-capabilities` turns `alpha` on.
fn alpha_on(state: &State, alpha: Alpha, rpc: &'static str) -> Result<()> {
    if state.settings.alpha.enabled(alpha) {
        Ok(())
    } else {
        Err(Error::AlphaOff {
            rpc,
            capability: alpha.flag_name(),
        })
    }
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

fn snapshot_message(info: SnapshotInfo) -> csi::v1::Snapshot {
    csi::v1::Snapshot {
        size_bytes: size::to_csi(info.record.size),
        snapshot_id: info.snapshot_id,
        source_volume_id: info.source_volume_id,
        creation_time: Some(record::timestamp(&info.record)),
        ready_to_use: info.ready,
        group_snapshot_id: String::new(),
    }
}
