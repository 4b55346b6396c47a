//! Readiness, size and time of a snapshot that existed before its Kubernetes objects (a
//! pre-provisioned content: a cross-cluster import or a backup), asked of the driver by id.
//!
//! GetSnapshot is alpha (CSI 1.12) and used only when the driver advertises GET_SNAPSHOT;
//! otherwise ListSnapshots filtered by the id, as upstream does. A driver with neither cannot
//! tell, so the snapshot is taken as ready (upstream).

use std::time::Instant;

use csi::SecretMap;
use csi::v1::controller_service_capability::rpc::Type as ControllerCap;
use csi::v1::{GetSnapshotRequest, ListSnapshotsRequest, Snapshot};
use snapshot_api::VolumeSnapshotContent;

use super::{CsiHalf, csi_error};
use crate::announce::{SnapshotEvent, failure_key, verbs};
use crate::content_status::{self, SnapshotAnswer};
use crate::error::Result;
use crate::{clock, kube_writes, secrets};
use sidecar::control_loop::workers::Outcome;

const FAILED: &str = "SnapshotContentCheckandUpdateFailed";

/// The RPC that asks the driver about one snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Query {
    Get,
    List,
}

impl Query {
    fn name(self) -> &'static str {
        match self {
            Query::Get => "GetSnapshot",
            Query::List => "ListSnapshots",
        }
    }

    fn method(self) -> &'static str {
        match self {
            Query::Get => "/csi.v1.Controller/GetSnapshot",
            Query::List => "/csi.v1.Controller/ListSnapshots",
        }
    }
}

impl CsiHalf {
    pub(super) async fn check(
        &self,
        content: &VolumeSnapshotContent,
        snapshot_id: &str,
    ) -> Result<Outcome> {
        let name = content.metadata.name.clone().unwrap_or_default();
        let started = Instant::now();
        let answer = if let Some(query) = self.query() {
            let class = self.class_of(content);
            let secret = match secrets::list_secret(content, class.as_deref()) {
                Ok(secret) => secret,
                Err(error) => {
                    self.record_failure(
                        content,
                        FAILED,
                        &format!("Failed to check and update snapshot content: {error}"),
                    )
                    .await?;
                    return Ok(Outcome::Retry(sidecar::Progress::Infeasible));
                }
            };
            let secrets = match secret {
                Some(secret) => match sidecar::secrets::fetch(
                    &self.client,
                    &secret.namespace,
                    &secret.name,
                    "the class's snapshotter-list secret",
                )
                .await
                {
                    Ok(secrets) => secrets,
                    Err(error) => {
                        self.record_failure(
                            content,
                            FAILED,
                            &format!("Failed to check and update snapshot content: {error}"),
                        )
                        .await?;
                        return Ok(Outcome::Retry(sidecar::Progress::Final));
                    }
                },
                None => Default::default(),
            };
            match self.ask(query, snapshot_id, secrets).await {
                Ok(snapshot) => SnapshotAnswer::from_csi(&snapshot),
                Err(status) => {
                    let error = csi_error(query.name(), content, &status);
                    tracing::warn!(content = %name, %error, "{} failed", query.name());
                    let code_name = telemetry::grpc_code_name(status.code());
                    self.notify.publish(SnapshotEvent {
                        verb: verbs::FAILED,
                        content,
                        snapshot_id: Some(snapshot_id),
                        request_name: None,
                        size_bytes: None,
                        duration: started.elapsed(),
                        outcome: Err((code_name, status.message())),
                        operation_key: failure_key(query.name(), code_name),
                    });
                    self.record_failure(
                        content,
                        FAILED,
                        &format!("Failed to check and update snapshot content: {error}"),
                    )
                    .await?;
                    return Ok(Outcome::Retry(sidecar::classify(status.code())));
                }
            }
        } else {
            SnapshotAnswer {
                snapshot_id: snapshot_id.to_owned(),
                ready: true,
                size_bytes: 0,
                creation_time_ns: None,
            }
        };
        let old = content.status.as_ref();
        let new = content_status::after_answer(old, &answer, clock::now_ns());
        kube_writes::write_status(&self.api(), content, &new).await?;
        if answer.ready {
            self.notify.publish(SnapshotEvent {
                verb: verbs::READY,
                content,
                snapshot_id: Some(snapshot_id),
                request_name: None,
                size_bytes: Some(answer.size_bytes),
                duration: started.elapsed(),
                outcome: Ok(()),
                operation_key: verbs::READY.to_owned(),
            });
            Ok(self.ready(&name))
        } else {
            Ok(self.poll_again(&name))
        }
    }
}

impl CsiHalf {
    /// GetSnapshot when the driver advertises it, else ListSnapshots, else nothing to ask.
    fn query(&self) -> Option<Query> {
        let driver = self.csi.driver();
        if driver.has_controller(ControllerCap::GetSnapshot) {
            Some(Query::Get)
        } else if driver.has_controller(ControllerCap::ListSnapshots) {
            Some(Query::List)
        } else {
            None
        }
    }

    /// The driver's view of `snapshot_id`; NOT_FOUND when it has none.
    async fn ask(
        &self,
        query: Query,
        snapshot_id: &str,
        secrets: SecretMap,
    ) -> std::result::Result<Snapshot, tonic::Status> {
        let missing = || tonic::Status::not_found(format!("snapshot {snapshot_id} does not exist"));
        match query {
            Query::Get => {
                let request = GetSnapshotRequest {
                    snapshot_id: snapshot_id.to_owned(),
                    secrets: secrets.into_csi(),
                };
                self.csi
                    .call(query.method(), request, |mut client, request| async move {
                        client.get_snapshot(request).await
                    })
                    .await?
                    .snapshot
                    .filter(|s| s.snapshot_id == snapshot_id)
                    .ok_or_else(missing)
            }
            Query::List => {
                let request = ListSnapshotsRequest {
                    snapshot_id: snapshot_id.to_owned(),
                    secrets: secrets.into_csi(),
                    ..ListSnapshotsRequest::default()
                };
                self.csi
                    .call(query.method(), request, |mut client, request| async move {
                        client.list_snapshots(request).await
                    })
                    .await?
                    .entries
                    .into_iter()
                    .find_map(|entry| entry.snapshot.filter(|s| s.snapshot_id == snapshot_id))
                    .ok_or_else(missing)
            }
        }
    }
}
