//! CSI Controller RPCs on snapshots: CreateSnapshot, DeleteSnapshot, ListSnapshots and
//! GetSnapshot.

use csi::SecretMap;
use csi::v1::*;
use events::vocabulary::{object, verb};
use tonic::Request;

use super::{ControllerService, Reply, alpha_on, bytes, q};
use crate::advertised::Alpha;
use crate::error::Error;
use crate::params::SnapshotParams;
use crate::pool::listing::{self, Token};
use crate::secrets::Source;
use crate::service::lifecycle::Report;
use crate::service::require::{CSI_STRING_LIMIT, Required, optional_within};
use crate::size;
use crate::snapshot::create::{CreateSnapshot, SnapshotInfo, create_snapshot};
use crate::snapshot::delete::delete_snapshot;
use crate::snapshot::list::{Filter, list_snapshots};
use crate::snapshot::record;

pub(super) async fn create(
    service: &ControllerService,
    request: Request<CreateSnapshotRequest>,
) -> Reply<CreateSnapshotResponse> {
    let (metadata, _, req) = request.into_parts();
    let state = &service.state;
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
    service
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

pub(super) async fn delete(
    service: &ControllerService,
    request: Request<DeleteSnapshotRequest>,
) -> Reply<DeleteSnapshotResponse> {
    let (metadata, _, req) = request.into_parts();
    let state = &service.state;
    let report = Report::new(
        object::SNAPSHOT,
        verb::DELETED,
        format!("delete/{}", req.snapshot_id),
    )
    .snapshot_id(req.snapshot_id.clone());
    service
        .run_reported(
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

pub(super) async fn list(
    service: &ControllerService,
    request: Request<ListSnapshotsRequest>,
) -> Reply<ListSnapshotsResponse> {
    let (metadata, _, req) = request.into_parts();
    let state = &service.state;
    let subject = [&req.snapshot_id, &req.source_volume_id]
        .into_iter()
        .filter(|id| !id.is_empty())
        .map(|id| q(id))
        .collect::<Vec<_>>()
        .join(" of ");
    service
        .run("ListSnapshots", &subject, &metadata, async move {
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

pub(super) async fn get(
    service: &ControllerService,
    request: Request<GetSnapshotRequest>,
) -> Reply<GetSnapshotResponse> {
    let (metadata, _, req) = request.into_parts();
    let state = &service.state;
    service
        .run("GetSnapshot", &q(&req.snapshot_id), &metadata, async move {
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
