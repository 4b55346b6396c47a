//! A CSI controller reached over its socket, and the four calls the bench times.
//!
//! Requests look like the external-provisioner's and -snapshotter's: StorageClass parameters in
//! ceph-csi's names, the provisioner Secret's `userID`/`userKey`, a mount capability, and a
//! per-RPC deadline so a wedged driver shows up as DEADLINE_EXCEEDED instead of a hung bench.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use csi::v1::controller_client::ControllerClient;
use csi::v1::identity_client::IdentityClient;
use csi::v1::volume_capability::access_mode::Mode;
use csi::v1::volume_capability::{AccessMode, AccessType, MountVolume};
use csi::v1::{
    CapacityRange, CreateSnapshotRequest, CreateVolumeRequest, DeleteSnapshotRequest,
    DeleteVolumeRequest, GetPluginInfoRequest, ProbeRequest, VolumeCapability,
};
use tonic::transport::Channel;

use crate::error::{Error, Result};
use crate::outcome::{OpError, OpResult};
use crate::phase::Done;

/// How long to wait between CreateSnapshot calls while a snapshot is not ready.
const READY_POLL: Duration = Duration::from_millis(100);

/// Where and how to send requests. Cheap to clone (the channel multiplexes over one socket).
#[derive(Clone)]
pub struct CsiTarget {
    channel: Channel,
    /// StorageClass parameters (`clusterID`, `pool`, `imageFeatures`).
    volume_parameters: Arc<HashMap<String, String>>,
    /// VolumeSnapshotClass parameters (`clusterID`).
    snapshot_parameters: Arc<HashMap<String, String>>,
    secrets: Arc<HashMap<String, String>>,
    size: u64,
    rpc_timeout: Duration,
}

/// What Probe and GetPluginInfo said.
#[derive(Debug, Clone)]
pub struct PluginInfo {
    pub name: String,
    pub vendor_version: String,
    /// `None` when the plugin left `ready` unset (the spec reads that as ready).
    pub ready: Option<bool>,
}

/// The StorageClass of the runs.
#[derive(Debug, Clone)]
pub struct StorageClass {
    pub cluster_id: String,
    pub pool: String,
    pub image_features: String,
}

impl StorageClass {
    pub fn parameters(&self) -> HashMap<String, String> {
        HashMap::from([
            ("clusterID".to_owned(), self.cluster_id.clone()),
            ("pool".to_owned(), self.pool.clone()),
            ("imageFeatures".to_owned(), self.image_features.clone()),
            ("csi.storage.k8s.io/fstype".to_owned(), "ext4".to_owned()),
        ])
    }
}

impl CsiTarget {
    /// Dials `endpoint` (within `rpc_timeout`).
    pub async fn connect(
        endpoint: &str,
        class: &StorageClass,
        secrets: HashMap<String, String>,
        size: u64,
        rpc_timeout: Duration,
    ) -> Result<CsiTarget> {
        let channel = csi::client::connect(endpoint, rpc_timeout).await?;
        Ok(CsiTarget {
            channel,
            volume_parameters: Arc::new(class.parameters()),
            snapshot_parameters: Arc::new(HashMap::from([(
                "clusterID".to_owned(),
                class.cluster_id.clone(),
            )])),
            secrets: Arc::new(secrets),
            size,
            rpc_timeout,
        })
    }

    fn request<T>(&self, message: T) -> tonic::Request<T> {
        with_timeout(message, self.rpc_timeout)
    }

    /// Probe and GetPluginInfo: the driver answers and says who it is.
    pub async fn identify(&self) -> Result<PluginInfo> {
        plugin_info(&self.channel, self.rpc_timeout).await
    }

    fn controller(&self) -> ControllerClient<Channel> {
        ControllerClient::new(self.channel.clone())
    }

    /// CreateVolume `name` of the bench's size; the volume id.
    pub async fn create_volume(&self, name: String) -> OpResult<Done<String>> {
        let request = CreateVolumeRequest {
            name,
            capacity_range: Some(CapacityRange {
                required_bytes: i64::try_from(self.size).unwrap_or(i64::MAX),
                limit_bytes: 0,
            }),
            volume_capabilities: vec![mount_capability()],
            parameters: (*self.volume_parameters).clone(),
            secrets: (*self.secrets).clone(),
            ..Default::default()
        };
        let reply = self
            .controller()
            .create_volume(self.request(request))
            .await
            .map_err(|s| OpError::from_status(&s))?
            .into_inner();
        match reply.volume {
            Some(volume) if !volume.volume_id.is_empty() => Ok(Done::now(volume.volume_id)),
            _ => Err(OpError::new(
                "BAD_REPLY",
                "CreateVolume answered without a volume id",
            )),
        }
    }

    /// CreateSnapshot `name` of `volume_id`, repeated (as the external-snapshotter does) until
    /// the snapshot is ready; the snapshot id.
    pub async fn create_snapshot(&self, volume_id: String, name: String) -> OpResult<Done<String>> {
        let start = Instant::now();
        let mut first_reply = None;
        loop {
            let request = CreateSnapshotRequest {
                source_volume_id: volume_id.clone(),
                name: name.clone(),
                secrets: (*self.secrets).clone(),
                parameters: (*self.snapshot_parameters).clone(),
            };
            let reply = self
                .controller()
                .create_snapshot(self.request(request))
                .await
                .map_err(|s| OpError::from_status(&s))?
                .into_inner();
            let Some(snapshot) = reply.snapshot.filter(|s| !s.snapshot_id.is_empty()) else {
                return Err(OpError::new(
                    "BAD_REPLY",
                    "CreateSnapshot answered without a snapshot id",
                ));
            };
            if snapshot.ready_to_use {
                return Ok(Done {
                    value: snapshot.snapshot_id,
                    first_reply,
                });
            }
            first_reply.get_or_insert(start.elapsed());
            if start.elapsed() > self.rpc_timeout {
                return Err(OpError::new(
                    "NOT_READY",
                    format!("snapshot {name} not ready after {:?}", self.rpc_timeout),
                ));
            }
            tokio::time::sleep(READY_POLL).await;
        }
    }

    pub async fn delete_snapshot(&self, snapshot_id: String) -> OpResult<Done<()>> {
        let request = DeleteSnapshotRequest {
            snapshot_id,
            secrets: (*self.secrets).clone(),
        };
        self.controller()
            .delete_snapshot(self.request(request))
            .await
            .map_err(|s| OpError::from_status(&s))?;
        Ok(Done::now(()))
    }

    pub async fn delete_volume(&self, volume_id: String) -> OpResult<Done<()>> {
        let request = DeleteVolumeRequest {
            volume_id,
            secrets: (*self.secrets).clone(),
        };
        self.controller()
            .delete_volume(self.request(request))
            .await
            .map_err(|s| OpError::from_status(&s))?;
        Ok(Done::now(()))
    }
}

/// `message` with a deadline, as every CSI call of the bench and the demo carries.
pub fn with_timeout<T>(message: T, timeout: Duration) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.set_timeout(timeout);
    request
}

/// Probe and GetPluginInfo of the plugin behind `channel` (controller or node: every CSI
/// plugin serves Identity).
pub async fn plugin_info(channel: &Channel, timeout: Duration) -> Result<PluginInfo> {
    let mut identity = IdentityClient::new(channel.clone());
    let probe = identity
        .probe(with_timeout(ProbeRequest {}, timeout))
        .await
        .map_err(|s| Error::rpc("Probe", &s))?
        .into_inner();
    let info = identity
        .get_plugin_info(with_timeout(GetPluginInfoRequest {}, timeout))
        .await
        .map_err(|s| Error::rpc("GetPluginInfo", &s))?
        .into_inner();
    Ok(PluginInfo {
        name: info.name,
        vendor_version: info.vendor_version,
        ready: probe.ready,
    })
}

/// A filesystem volume for one node, what a default RWO PVC asks for.
pub fn mount_capability() -> VolumeCapability {
    mount_capability_with_fs("ext4")
}

/// [`mount_capability`] with another file system type (the StorageClass's
/// `csi.storage.k8s.io/fstype`).
pub fn mount_capability_with_fs(fs_type: &str) -> VolumeCapability {
    VolumeCapability {
        access_mode: Some(AccessMode {
            mode: Mode::SingleNodeWriter as i32,
        }),
        access_type: Some(AccessType::Mount(MountVolume {
            fs_type: fs_type.to_owned(),
            ..Default::default()
        })),
    }
}
