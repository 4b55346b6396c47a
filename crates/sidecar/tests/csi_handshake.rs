//! The start-up handshake and call metering against a scripted CSI identity/controller server
//! on a real unix socket: the client side of the protocol, which no Ceph is needed to check.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use csi::v1::controller_server::{Controller, ControllerServer};
use csi::v1::controller_service_capability::rpc::Type as ControllerCap;
use csi::v1::identity_server::{Identity, IdentityServer};
use csi::v1::plugin_capability::service::Type as PluginCap;
use csi::v1::*;
use sidecar::{CsiConnection, SidecarError};
use telemetry::prometheus_client::registry::Registry;
use tonic::{Request, Response, Status};

struct Driver {
    name: String,
    probes_until_ready: u32,
    probes: Arc<AtomicU32>,
}

#[tonic::async_trait]
impl Identity for Driver {
    async fn get_plugin_info(
        &self,
        _: Request<GetPluginInfoRequest>,
    ) -> Result<Response<GetPluginInfoResponse>, Status> {
        Ok(Response::new(GetPluginInfoResponse {
            name: self.name.clone(),
            vendor_version: "9.9".into(),
            manifest: Default::default(),
        }))
    }
    async fn get_plugin_capabilities(
        &self,
        _: Request<GetPluginCapabilitiesRequest>,
    ) -> Result<Response<GetPluginCapabilitiesResponse>, Status> {
        let service = |t: PluginCap| PluginCapability {
            r#type: Some(plugin_capability::Type::Service(
                plugin_capability::Service { r#type: t as i32 },
            )),
        };
        Ok(Response::new(GetPluginCapabilitiesResponse {
            capabilities: vec![service(PluginCap::ControllerService)],
        }))
    }
    async fn probe(&self, _: Request<ProbeRequest>) -> Result<Response<ProbeResponse>, Status> {
        let n = self.probes.fetch_add(1, Ordering::SeqCst) + 1;
        if n == 1 {
            return Err(Status::unavailable("warming up"));
        }
        Ok(Response::new(ProbeResponse {
            ready: Some(n > self.probes_until_ready),
        }))
    }
}

#[tonic::async_trait]
impl Controller for Driver {
    async fn controller_get_capabilities(
        &self,
        _: Request<ControllerGetCapabilitiesRequest>,
    ) -> Result<Response<ControllerGetCapabilitiesResponse>, Status> {
        let rpc = |t: ControllerCap| ControllerServiceCapability {
            r#type: Some(controller_service_capability::Type::Rpc(
                controller_service_capability::Rpc { r#type: t as i32 },
            )),
        };
        Ok(Response::new(ControllerGetCapabilitiesResponse {
            capabilities: vec![
                rpc(ControllerCap::CreateDeleteVolume),
                rpc(ControllerCap::CloneVolume),
            ],
        }))
    }
    async fn delete_volume(
        &self,
        request: Request<DeleteVolumeRequest>,
    ) -> Result<Response<DeleteVolumeResponse>, Status> {
        if request.get_ref().volume_id == "slow" {
            tokio::time::sleep(Duration::from_secs(5)).await;
        }
        Ok(Response::new(DeleteVolumeResponse {}))
    }
}

async fn serve(name: &str, probes_until_ready: u32) -> (tempfile::TempDir, String, Arc<AtomicU32>) {
    let dir = tempfile::tempdir().unwrap();
    let endpoint = format!("unix://{}", dir.path().join("csi.sock").display());
    let probes = Arc::new(AtomicU32::new(0));
    let incoming = csi::server::bind(&endpoint).await.unwrap();
    let identity = Driver {
        name: name.into(),
        probes_until_ready,
        probes: Arc::clone(&probes),
    };
    let controller = Driver {
        name: name.into(),
        probes_until_ready,
        probes: Arc::new(AtomicU32::new(0)),
    };
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(IdentityServer::new(identity))
            .add_service(ControllerServer::new(controller))
            .serve_with_incoming(incoming),
    );
    (dir, endpoint, probes)
}

#[tokio::test]
async fn the_handshake_probes_until_ready_then_reads_name_and_capabilities() {
    let (_dir, endpoint, probes) = serve("test.csi.example", 3).await;
    let mut registry = Registry::default();
    let conn = CsiConnection::connect(&endpoint, Duration::from_secs(2), &mut registry)
        .await
        .unwrap();
    assert_eq!(
        probes.load(Ordering::SeqCst),
        4,
        "UNAVAILABLE, two not-ready, then ready"
    );
    let info = conn.driver();
    assert_eq!(info.name, "test.csi.example");
    assert_eq!(info.vendor_version, "9.9");
    assert!(info.has_plugin(PluginCap::ControllerService));
    assert!(info.has_controller(ControllerCap::CreateDeleteVolume));
    assert!(info.has_controller(ControllerCap::CloneVolume));
    assert!(!info.has_controller(ControllerCap::PublishUnpublishVolume));
}

#[tokio::test]
async fn calls_are_metered_and_bounded_by_the_timeout() {
    let (_dir, endpoint, _) = serve("test.csi.example", 0).await;
    let mut registry = Registry::default();
    let conn = CsiConnection::connect(&endpoint, Duration::from_millis(500), &mut registry)
        .await
        .unwrap();
    let method = "/csi.v1.Controller/DeleteVolume";
    let delete = |volume_id: &str| DeleteVolumeRequest {
        volume_id: volume_id.into(),
        secrets: Default::default(),
    };
    conn.call(method, delete("v"), |mut client, request| async move {
        client.delete_volume(request).await
    })
    .await
    .unwrap();
    let slow = conn
        .call(method, delete("slow"), |mut client, request| async move {
            client.delete_volume(request).await
        })
        .await
        .unwrap_err();
    assert_eq!(slow.code(), tonic::Code::DeadlineExceeded);
    let unimplemented = conn
        .call(
            "/csi.v1.Controller/CreateVolume",
            CreateVolumeRequest::default(),
            |mut client, request| async move { client.create_volume(request).await },
        )
        .await
        .unwrap_err();
    assert_eq!(unimplemented.code(), tonic::Code::Unimplemented);

    let mut text = String::new();
    telemetry::prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
    let count = |code: &str, method: &str| {
        let needle = format!(
            "csi_sidecar_operations_seconds_count{{driver_name=\"test.csi.example\",method_name=\"{method}\",grpc_status_code=\"{code}\"}} 1"
        );
        text.contains(&needle)
    };
    assert!(count("OK", method), "{text}");
    assert!(count("DeadlineExceeded", method), "{text}");
    assert!(
        count("Unimplemented", "/csi.v1.Controller/CreateVolume"),
        "{text}"
    );
}

#[tokio::test]
async fn a_driver_without_a_name_is_refused() {
    let (_dir, endpoint, _) = serve("", 0).await;
    let mut registry = Registry::default();
    let err = CsiConnection::connect(&endpoint, Duration::from_secs(2), &mut registry)
        .await
        .unwrap_err();
    assert!(matches!(err, SidecarError::DriverUnusable { .. }), "{err}");
}

#[tokio::test]
async fn a_malformed_address_fails_at_once() {
    let mut registry = Registry::default();
    let err = CsiConnection::connect("tcp://127.0.0.1:1", Duration::from_secs(1), &mut registry)
        .await
        .unwrap_err();
    assert!(matches!(err, SidecarError::CsiEndpoint(_)), "{err}");
}
