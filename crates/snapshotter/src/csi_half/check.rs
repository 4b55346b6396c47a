//! ListSnapshots for a pre-provisioned content: readiness, size and time of a snapshot that
//! existed before its Kubernetes objects (a cross-cluster import or a backup). A driver
//! without LIST_SNAPSHOTS cannot tell, so the snapshot is taken as ready (upstream).

use std::time::Instant;

use csi::v1::ListSnapshotsRequest;
use snapshot_api::VolumeSnapshotContent;

use super::{CsiHalf, csi_error};
use crate::content_status::{self, SnapshotAnswer};
use crate::error::Result;
use crate::notify::{SnapshotEvent, failure_key, verbs};
use crate::{clock, kube_writes, secrets};
use sidecar::workers::Outcome;

const METHOD: &str = "/csi.v1.Controller/ListSnapshots";
const FAILED: &str = "SnapshotContentCheckandUpdateFailed";

impl CsiHalf {
    pub(super) async fn check(
        &self,
        content: &VolumeSnapshotContent,
        snapshot_id: &str,
    ) -> Result<Outcome> {
        let name = content.metadata.name.clone().unwrap_or_default();
        let started = Instant::now();
        let answer = if self.supports_list() {
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
            let request = ListSnapshotsRequest {
                snapshot_id: snapshot_id.to_owned(),
                secrets: secrets.into_csi(),
                ..ListSnapshotsRequest::default()
            };
            let mut client = self.csi.controller();
            let result = self
                .csi
                .observe(METHOD, client.list_snapshots(self.csi.request(request)))
                .await
                .and_then(|response| {
                    response
                        .entries
                        .into_iter()
                        .find_map(|entry| entry.snapshot.filter(|s| s.snapshot_id == snapshot_id))
                        .ok_or_else(|| {
                            tonic::Status::not_found(format!(
                                "snapshot {snapshot_id} does not exist"
                            ))
                        })
                });
            match result {
                Ok(snapshot) => SnapshotAnswer::from_csi(&snapshot),
                Err(status) => {
                    let error = csi_error("ListSnapshots", content, &status);
                    tracing::warn!(content = %name, %error, "ListSnapshots failed");
                    let code_name = telemetry::grpc_code_name(status.code());
                    self.notify.publish(SnapshotEvent {
                        verb: verbs::FAILED,
                        content,
                        snapshot_id: Some(snapshot_id),
                        request_name: None,
                        size_bytes: None,
                        duration: started.elapsed(),
                        outcome: Err((code_name, status.message())),
                        operation_key: failure_key("ListSnapshots", code_name),
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
        kube_writes::write_status(&self.api(), content, old, &new).await?;
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
