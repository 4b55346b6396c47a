//! The sidecar's connection to its CSI driver: dial `--csi-address` (waiting while the socket
//! is not there yet), the upstream start-up handshake, and every later call timed against
//! `--timeout` and recorded in `csi_sidecar_operations_seconds`.
//!
//! Handshake (csi-lib-utils `ProbeForever` + the capability calls): Probe every second until
//! the driver says ready — a driver that never answers keeps us waiting, as upstream — then
//! GetPluginInfo, GetPluginCapabilities and ControllerGetCapabilities, whose errors are fatal
//! (the pod restarts).

use std::collections::HashSet;
use std::future::Future;
use std::time::Duration;

use csi::v1::controller_client::ControllerClient;
use csi::v1::controller_service_capability::rpc::Type as ControllerCap;
use csi::v1::identity_client::IdentityClient;
use csi::v1::plugin_capability::service::Type as PluginCap;
use csi::v1::{
    ControllerGetCapabilitiesRequest, GetPluginCapabilitiesRequest, GetPluginInfoRequest,
    ProbeRequest, controller_service_capability, plugin_capability,
};
use telemetry::CsiOperationMetrics;
use telemetry::prometheus_client::registry::Registry;
use tokio::time::Instant;
use tonic::transport::Channel;
use tonic::{Code, Status};
use tracing::Instrument as _;

use crate::error::SidecarError;

/// How often a waiting sidecar says it is still waiting.
const WAIT_LOG_INTERVAL: Duration = Duration::from_secs(10);
/// Upstream probes once a second.
const PROBE_INTERVAL: Duration = Duration::from_secs(1);

/// What the driver said about itself during the handshake.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DriverInfo {
    pub name: String,
    pub vendor_version: String,
    pub plugin_capabilities: HashSet<PluginCap>,
    pub controller_capabilities: HashSet<ControllerCap>,
}

impl DriverInfo {
    pub fn has_plugin(&self, cap: PluginCap) -> bool {
        self.plugin_capabilities.contains(&cap)
    }

    pub fn has_controller(&self, cap: ControllerCap) -> bool {
        self.controller_capabilities.contains(&cap)
    }
}

/// A connected, handshaken driver. Cheap to clone (tonic channels multiplex).
#[derive(Clone)]
pub struct CsiConnection {
    channel: Channel,
    info: DriverInfo,
    timeout: Duration,
    metrics: CsiOperationMetrics,
}

impl std::fmt::Debug for CsiConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CsiConnection")
            .field("driver", &self.info.name)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl CsiConnection {
    /// Dials `address` and runs the handshake, registering the operation histogram (labelled
    /// with the driver's name) in `registry`.
    ///
    /// # Errors
    /// A malformed endpoint, a failed GetPluginInfo/capability call, or an empty driver name.
    pub async fn connect(
        address: &str,
        timeout: Duration,
        registry: &mut Registry,
    ) -> Result<Self, SidecarError> {
        let channel = dial(address, timeout).await?;
        probe_until_ready(&channel, timeout).await?;
        let info = handshake(&channel, timeout).await?;
        tracing::info!(driver = %info.name, version = %info.vendor_version, "CSI driver ready");
        let metrics = CsiOperationMetrics::register(registry, info.name.clone());
        Ok(Self {
            channel,
            info,
            timeout,
            metrics,
        })
    }

    pub fn driver(&self) -> &DriverInfo {
        &self.info
    }

    pub fn driver_name(&self) -> &str {
        &self.info.name
    }

    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// A controller client on the shared channel; private, so every controller RPC goes
    /// through [`CsiConnection::call`] (span, deadline, metrics).
    fn controller(&self) -> ControllerClient<Channel> {
        ControllerClient::new(self.channel.clone())
    }

    pub fn identity(&self) -> IdentityClient<Channel> {
        IdentityClient::new(self.channel.clone())
    }

    /// Wraps a message for a call: `--timeout` as the gRPC deadline and the current trace
    /// context in the metadata, so the driver's spans join ours.
    fn request<M>(&self, message: M) -> tonic::Request<M> {
        let mut request = tonic::Request::new(message);
        request.set_timeout(self.timeout);
        telemetry::inject_into_metadata(request.metadata_mut());
        request
    }

    /// One controller RPC as every sidecar makes it: a `csi_call` client span (the request's
    /// `traceparent` names it, so the driver's server span is its child and the sidecar's
    /// reconcile span its parent), `--timeout` as deadline, metered as `method`.
    /// `send` issues the RPC on a fresh client, e.g.
    /// `|mut client, request| async move { client.create_snapshot(request).await }`.
    pub async fn call<M, T, F, Fut>(
        &self,
        method: &'static str,
        message: M,
        send: F,
    ) -> Result<T, Status>
    where
        F: FnOnce(ControllerClient<Channel>, tonic::Request<M>) -> Fut,
        Fut: Future<Output = Result<tonic::Response<T>, Status>>,
    {
        let span = tracing::info_span!("csi_call", rpc.method = method);
        async {
            // Made inside the span, so the metadata carries the span's context.
            let request = self.request(message);
            self.observe(method, send(self.controller(), request)).await
        }
        .instrument(span)
        .await
    }

    /// Runs one call under `--timeout` (also enforced locally: a wedged driver must not hold a
    /// worker) and records it as `method` (e.g. `/csi.v1.Controller/CreateVolume`).
    async fn observe<T>(
        &self,
        method: &str,
        call: impl Future<Output = Result<tonic::Response<T>, Status>>,
    ) -> Result<T, Status> {
        let started = Instant::now();
        let result = match tokio::time::timeout(self.timeout, call).await {
            // A server enforcing the same deadline answers CANCELLED; it is our deadline.
            Ok(Err(status))
                if status.code() == Code::Cancelled && started.elapsed() >= self.timeout =>
            {
                Err(Status::deadline_exceeded(format!(
                    "{method} did not answer within {:?}",
                    self.timeout
                )))
            }
            Ok(result) => result.map(tonic::Response::into_inner),
            Err(_) => Err(Status::deadline_exceeded(format!(
                "{method} did not answer within {:?}",
                self.timeout
            ))),
        };
        let code = result.as_ref().map_or_else(Status::code, |_| Code::Ok);
        self.metrics.observe(method, code, started.elapsed());
        result
    }
}

/// Dials until the socket accepts; only a malformed endpoint is fatal.
async fn dial(address: &str, timeout: Duration) -> Result<Channel, SidecarError> {
    let started = Instant::now();
    let mut last_log = started;
    loop {
        match csi::client::connect(address, timeout).await {
            Ok(channel) => return Ok(channel),
            Err(error @ csi::Error::InvalidEndpoint { .. }) => return Err(error.into()),
            Err(error) => {
                if last_log.elapsed() >= WAIT_LOG_INTERVAL || last_log == started {
                    tracing::warn!(%error, waited = ?started.elapsed(), "still connecting to the CSI driver");
                    last_log = Instant::now();
                }
            }
        }
        tokio::time::sleep(PROBE_INTERVAL).await;
    }
}

async fn probe_until_ready(channel: &Channel, timeout: Duration) -> Result<(), SidecarError> {
    let mut client = IdentityClient::new(channel.clone());
    loop {
        let mut request = tonic::Request::new(ProbeRequest {});
        request.set_timeout(timeout);
        match tokio::time::timeout(timeout, client.probe(request)).await {
            Ok(Ok(response)) => {
                // An absent `ready` means ready (CSI spec).
                if response.into_inner().ready.unwrap_or(true) {
                    return Ok(());
                }
                tracing::info!("CSI driver is not ready yet");
            }
            Ok(Err(status))
                if crate::control_loop::retry::classify(status.code())
                    == crate::control_loop::retry::Progress::InProgress =>
            {
                tracing::warn!(code = ?status.code(), "CSI Probe failed, retrying");
            }
            Ok(Err(status)) => {
                return Err(SidecarError::CsiHandshake {
                    method: "Probe",
                    code: status.code(),
                    message: status.message().to_owned(),
                });
            }
            Err(_) => tracing::warn!("CSI Probe timed out, retrying"),
        }
        tokio::time::sleep(PROBE_INTERVAL).await;
    }
}

async fn handshake(channel: &Channel, timeout: Duration) -> Result<DriverInfo, SidecarError> {
    let failed = |method| {
        move |status: Status| SidecarError::CsiHandshake {
            method,
            code: status.code(),
            message: status.message().to_owned(),
        }
    };
    fn bounded<M>(message: M, timeout: Duration) -> tonic::Request<M> {
        let mut request = tonic::Request::new(message);
        request.set_timeout(timeout);
        request
    }
    let mut identity = IdentityClient::new(channel.clone());
    let plugin = identity
        .get_plugin_info(bounded(GetPluginInfoRequest {}, timeout))
        .await
        .map_err(failed("GetPluginInfo"))?
        .into_inner();
    if plugin.name.is_empty() {
        return Err(SidecarError::DriverUnusable {
            driver: plugin.name,
            reason: "GetPluginInfo returned an empty name".to_owned(),
        });
    }
    let plugin_caps = identity
        .get_plugin_capabilities(bounded(GetPluginCapabilitiesRequest {}, timeout))
        .await
        .map_err(failed("GetPluginCapabilities"))?
        .into_inner();
    let plugin_capabilities: HashSet<PluginCap> = plugin_caps
        .capabilities
        .iter()
        .filter_map(|cap| match &cap.r#type {
            Some(plugin_capability::Type::Service(service)) => {
                PluginCap::try_from(service.r#type).ok()
            }
            _ => None,
        })
        .collect();
    let controller_capabilities = if plugin_capabilities.contains(&PluginCap::ControllerService) {
        ControllerClient::new(channel.clone())
            .controller_get_capabilities(bounded(ControllerGetCapabilitiesRequest {}, timeout))
            .await
            .map_err(failed("ControllerGetCapabilities"))?
            .into_inner()
            .capabilities
            .iter()
            .filter_map(|cap| match &cap.r#type {
                Some(controller_service_capability::Type::Rpc(rpc)) => {
                    ControllerCap::try_from(rpc.r#type).ok()
                }
                None => None,
            })
            .collect()
    } else {
        HashSet::new()
    };
    Ok(DriverInfo {
        name: plugin.name,
        vendor_version: plugin.vendor_version,
        plugin_capabilities,
        controller_capabilities,
    })
}
