//! DeleteSnapshot for a released content of policy Delete, then the status is cleared (the
//! mark that the backend snapshot is gone) and the bound finalizer removed, which lets the
//! API server remove the content and, through the binding half (or upstream's
//! snapshot-controller), the VolumeSnapshot.

use std::time::Instant;

use csi::v1::DeleteSnapshotRequest;
use snapshot_api::VolumeSnapshotContent;

use super::{CsiHalf, csi_error};
use crate::announce::{SnapshotEvent, failure_key, verbs};
use crate::content_status;
use crate::error::{Result, SnapshotterError};
use crate::snapshot_plan::EventType;
use crate::{kube_writes, secrets};
use sidecar::control_loop::workers::Outcome;

const METHOD: &str = "/csi.v1.Controller/DeleteSnapshot";
const FAILED: &str = "SnapshotDeleteError";

impl CsiHalf {
    pub(super) async fn delete(
        &self,
        content: &VolumeSnapshotContent,
        snapshot_id: &str,
    ) -> Result<Outcome> {
        let name = content.metadata.name.clone().unwrap_or_default();
        let class = self.class_of(content);
        let secrets = match secrets::snapshotter_secret(content, class.as_deref()) {
            Ok(Some(secret)) => sidecar::secrets::fetch(
                &self.client,
                &secret.namespace,
                &secret.name,
                "the content's snapshotter secret",
            )
            .await
            .map_err(SnapshotterError::from),
            Ok(None) => Ok(Default::default()),
            Err(error) => Err(error),
        };
        let secrets = match secrets {
            Ok(secrets) => secrets,
            Err(error) => {
                tracing::warn!(content = %name, %error, "no credentials for DeleteSnapshot");
                self.notify.content_event(
                    content,
                    EventType::Warning,
                    FAILED,
                    &format!("Failed to get snapshot class or credentials: {error}"),
                );
                return Ok(Outcome::Retry(sidecar::Progress::Final));
            }
        };
        let started = Instant::now();
        let request = DeleteSnapshotRequest {
            snapshot_id: snapshot_id.to_owned(),
            secrets: secrets.into_csi(),
        };
        let result = self
            .csi
            .call(METHOD, request, |mut client, request| async move {
                client.delete_snapshot(request).await
            })
            .await;
        let took = started.elapsed();
        if let Err(status) = result {
            let error = csi_error("DeleteSnapshot", content, &status);
            tracing::warn!(content = %name, %error, "DeleteSnapshot failed");
            let code_name = telemetry::grpc_code_name(status.code());
            self.notify.content_event(
                content,
                EventType::Warning,
                FAILED,
                &format!("Failed to delete snapshot: {error}"),
            );
            self.notify.publish(SnapshotEvent {
                verb: verbs::FAILED,
                content,
                snapshot_id: Some(snapshot_id),
                request_name: None,
                size_bytes: None,
                duration: took,
                outcome: Err((code_name, status.message())),
                operation_key: failure_key("DeleteSnapshot", code_name),
            });
            return Ok(Outcome::Retry(sidecar::classify(status.code())));
        }
        tracing::info!(content = %name, %snapshot_id, ?took, "DeleteSnapshot done");
        let old = content.status.as_ref();
        let cleared = content_status::after_delete(old);
        let current = kube_writes::write_status(&self.api(), content, &cleared)
            .await?
            .unwrap_or_else(|| content.clone());
        self.remove_finalizer(&current).await?;
        self.notify.publish(SnapshotEvent {
            verb: verbs::DELETED,
            content,
            snapshot_id: Some(snapshot_id),
            request_name: None,
            size_bytes: None,
            duration: took,
            outcome: Ok(()),
            operation_key: verbs::DELETED.to_owned(),
        });
        Ok(self.ready(&name))
    }
}
