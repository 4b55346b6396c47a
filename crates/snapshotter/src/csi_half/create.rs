//! CreateSnapshot for a dynamic content — the first call and every readiness poll.
//!
//! Inputs (class, request, Secret) are resolved before the being-created annotation is set:
//! a failure there means no call was made, so nothing can be in flight. The annotation goes
//! on before the call and comes off only after the answer is in the status, or after a final
//! error; on a "may still be running" error it stays, and the same call is repeated.

use std::time::Instant;

use snapshot_api::{VolumeSnapshotContent, keys};

use super::{CsiHalf, csi_error};
use crate::announce::{SnapshotEvent, failure_key, verbs};
use crate::content_status::{self, SnapshotAnswer};
use crate::create_request::create_snapshot_request;
use crate::csi_progress::{create_snapshot_progress, is_final};
use crate::error::{Result, SnapshotterError};
use crate::{clock, kube_writes, secrets};
use sidecar::control_loop::workers::Outcome;

const METHOD: &str = "/csi.v1.Controller/CreateSnapshot";
const FAILED: &str = "SnapshotCreationFailed";

impl CsiHalf {
    pub(super) async fn create(
        &self,
        content: &VolumeSnapshotContent,
        mark: bool,
    ) -> Result<Outcome> {
        let name = content.metadata.name.clone().unwrap_or_default();
        let request = match self.create_inputs(content).await {
            Ok(request) => request,
            Err(error) => {
                let progress = match error {
                    // Reading the Secret failed: it may appear or be readable later.
                    SnapshotterError::Sidecar(_) => sidecar::Progress::Final,
                    _ => sidecar::Progress::Infeasible,
                };
                self.record_failure(
                    content,
                    FAILED,
                    &format!("Failed to create snapshot: {error}"),
                )
                .await?;
                return Ok(Outcome::Retry(progress));
            }
        };
        let request_name = request.name.clone();
        let mut current = content.clone();
        if mark {
            current = kube_writes::set_annotation(
                &self.api(),
                &current,
                keys::BEING_CREATED_ANNOTATION,
                Some("yes"),
            )
            .await?;
        }

        let started = Instant::now();
        let result = self
            .csi
            .call(METHOD, request, |mut client, request| async move {
                client.create_snapshot(request).await
            })
            .await;
        let took = started.elapsed();
        let snapshot = match result.map(|r| r.snapshot) {
            Ok(Some(snapshot)) => snapshot,
            Ok(None) => {
                let status = tonic::Status::internal("CreateSnapshot answered without a snapshot");
                return self
                    .create_failed(&current, &status, &request_name, took)
                    .await;
            }
            Err(status) => {
                return self
                    .create_failed(&current, &status, &request_name, took)
                    .await;
            }
        };

        let answer = SnapshotAnswer::from_csi(&snapshot);
        let old = current.status.clone();
        let first = old
            .as_ref()
            .and_then(|s| s.snapshot_handle.as_ref())
            .is_none();
        let new = content_status::after_answer(old.as_ref(), &answer, clock::now_ns());
        if let Some(written) = kube_writes::write_status(&self.api(), &current, &new).await? {
            current = written;
        }
        if has_annotation(&current, keys::BEING_CREATED_ANNOTATION) {
            kube_writes::set_annotation(
                &self.api(),
                &current,
                keys::BEING_CREATED_ANNOTATION,
                None,
            )
            .await?;
        }
        tracing::info!(content = %name, snapshot_id = %answer.snapshot_id, ready = answer.ready,
            size = answer.size_bytes, ?took, "CreateSnapshot answered");
        let event = |verb| SnapshotEvent {
            verb,
            content: &current,
            snapshot_id: Some(&answer.snapshot_id),
            request_name: Some(&request_name),
            size_bytes: Some(answer.size_bytes),
            duration: took,
            outcome: Ok(()),
            operation_key: verb.to_owned(),
        };
        if first {
            self.notify.publish(event(verbs::CREATED));
        }
        if answer.ready {
            self.notify.publish(event(verbs::READY));
            Ok(self.ready(&name))
        } else {
            Ok(self.poll_again(&name))
        }
    }

    /// The request with its secrets, or why it cannot be made.
    async fn create_inputs(
        &self,
        content: &VolumeSnapshotContent,
    ) -> Result<csi::v1::CreateSnapshotRequest> {
        let content_name = content.metadata.name.clone().unwrap_or_default();
        let class_name = content.spec.volume_snapshot_class_name.clone();
        let class = self
            .class_of(content)
            .ok_or_else(|| SnapshotterError::ContentInput {
                content: content_name.clone(),
                what: match &class_name {
                    Some(class) => format!("VolumeSnapshotClass {class} does not exist"),
                    None => "a dynamic snapshot needs spec.volumeSnapshotClassName".to_owned(),
                },
            })?;
        let mut request = create_snapshot_request(content, class.parameters(), &self.naming)?;
        if let Some(secret) = secrets::snapshotter_secret(content, Some(&class))? {
            request.secrets = sidecar::secrets::fetch(
                &self.client,
                &secret.namespace,
                &secret.name,
                "the content's snapshotter secret",
            )
            .await?
            .into_csi();
        }
        Ok(request)
    }

    async fn create_failed(
        &self,
        content: &VolumeSnapshotContent,
        status: &tonic::Status,
        request_name: &str,
        took: std::time::Duration,
    ) -> Result<Outcome> {
        let name = content.metadata.name.clone().unwrap_or_default();
        let code = status.code();
        let error = csi_error("CreateSnapshot", content, status);
        tracing::warn!(content = %name, %error, final_error = is_final(code), "CreateSnapshot failed");
        // The failure is recorded on the object the annotation write returned (its
        // resourceVersion is the one the status write is conditioned on).
        let mut current = content.clone();
        if is_final(code) && has_annotation(content, keys::BEING_CREATED_ANNOTATION) {
            current = kube_writes::set_annotation(
                &self.api(),
                &current,
                keys::BEING_CREATED_ANNOTATION,
                None,
            )
            .await?;
        }
        let message = format!("Failed to create snapshot: {error}");
        let code_name = telemetry::grpc_code_name(code);
        self.notify.publish(SnapshotEvent {
            verb: verbs::FAILED,
            content,
            snapshot_id: None,
            request_name: Some(request_name),
            size_bytes: None,
            duration: took,
            outcome: Err((code_name, status.message())),
            operation_key: failure_key("CreateSnapshot", code_name),
        });
        self.record_failure(&current, FAILED, &message).await?;
        Ok(Outcome::Retry(create_snapshot_progress(code)))
    }
}

fn has_annotation(content: &VolumeSnapshotContent, key: &str) -> bool {
    content
        .metadata
        .annotations
        .as_ref()
        .is_some_and(|a| a.contains_key(key))
}
