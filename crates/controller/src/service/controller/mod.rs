//! The CSI Controller service: each RPC validates and translates its request, then calls one
//! domain function within the RPC's budget and a lock scope of its own, inside a span naming
//! the RPC and its object. Errors become statuses in one place (`status.rs`).
//!
//! tonic serves one `impl Controller`; it stays here, one line per RPC, and each RPC's
//! translation lives with its kind: [`volumes`] (create, delete, expand, validate, list, get,
//! capacity), [`snapshots`] (create, delete, list, get), [`publication`] (publish, unpublish).

pub mod publication;
pub mod snapshots;
pub mod volumes;

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use csi::quote::quote;
use csi::v1::controller_server::Controller;
use csi::v1::controller_service_capability;
use csi::v1::*;
use tonic::metadata::MetadataMap;
use tonic::{Request, Response, Status};
use tracing::{Instrument as _, debug, info_span, warn};

use crate::advertised::Alpha;
use crate::error::{Error, Result};
use crate::service::deadline;
use crate::service::lifecycle::Report;
use crate::state::State;
use crate::status::to_status;

/// What every RPC answers.
type Reply<T> = std::result::Result<Response<T>, Status>;

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
    ) -> Reply<T> {
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
    ) -> Reply<T> {
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
    ) -> Reply<CreateVolumeResponse> {
        volumes::create(self, request).await
    }

    async fn delete_volume(
        &self,
        request: Request<DeleteVolumeRequest>,
    ) -> Reply<DeleteVolumeResponse> {
        volumes::delete(self, request).await
    }

    async fn controller_publish_volume(
        &self,
        request: Request<ControllerPublishVolumeRequest>,
    ) -> Reply<ControllerPublishVolumeResponse> {
        publication::publish(self, request).await
    }

    async fn controller_unpublish_volume(
        &self,
        request: Request<ControllerUnpublishVolumeRequest>,
    ) -> Reply<ControllerUnpublishVolumeResponse> {
        publication::unpublish(self, request).await
    }

    async fn validate_volume_capabilities(
        &self,
        request: Request<ValidateVolumeCapabilitiesRequest>,
    ) -> Reply<ValidateVolumeCapabilitiesResponse> {
        volumes::validate(self, request).await
    }

    async fn list_volumes(
        &self,
        request: Request<ListVolumesRequest>,
    ) -> Reply<ListVolumesResponse> {
        volumes::list(self, request).await
    }

    async fn get_capacity(
        &self,
        request: Request<GetCapacityRequest>,
    ) -> Reply<GetCapacityResponse> {
        volumes::capacity(self, request).await
    }

    async fn controller_get_capabilities(
        &self,
        _: Request<ControllerGetCapabilitiesRequest>,
    ) -> Reply<ControllerGetCapabilitiesResponse> {
        Ok(Response::new(ControllerGetCapabilitiesResponse {
            capabilities: advertised(&self.state),
        }))
    }

    async fn create_snapshot(
        &self,
        request: Request<CreateSnapshotRequest>,
    ) -> Reply<CreateSnapshotResponse> {
        snapshots::create(self, request).await
    }

    async fn delete_snapshot(
        &self,
        request: Request<DeleteSnapshotRequest>,
    ) -> Reply<DeleteSnapshotResponse> {
        snapshots::delete(self, request).await
    }

    async fn list_snapshots(
        &self,
        request: Request<ListSnapshotsRequest>,
    ) -> Reply<ListSnapshotsResponse> {
        snapshots::list(self, request).await
    }

    async fn get_snapshot(
        &self,
        request: Request<GetSnapshotRequest>,
    ) -> Reply<GetSnapshotResponse> {
        snapshots::get(self, request).await
    }

    async fn controller_expand_volume(
        &self,
        request: Request<ControllerExpandVolumeRequest>,
    ) -> Reply<ControllerExpandVolumeResponse> {
        volumes::expand(self, request).await
    }

    async fn controller_get_volume(
        &self,
        request: Request<ControllerGetVolumeRequest>,
    ) -> Reply<ControllerGetVolumeResponse> {
        volumes::get(self, request).await
    }
}

/// The RPCs this controller answers: the stable ones, and alpha ones `--alpha-capabilities`
/// names.
fn advertised(state: &State) -> Vec<ControllerServiceCapability> {
    state
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
        .collect()
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
