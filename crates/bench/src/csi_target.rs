//! A CSI controller reached over its socket, and the four calls the bench times.
//!
//! Requests look like the external-provisioner's and -snapshotter's: StorageClass parameters in
//! ceph-csi's names, the provisioner Secret's `userID`/`userKey`, a mount capability, and a
//! per-RPC deadline so a wedged driver shows up as DEADLINE_EXCEEDED instead of a hung bench.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use csi::v1::controller_client::ControllerClient;
use csi::v1::{
    CapacityRange, CreateSnapshotRequest, CreateVolumeRequest, DeleteSnapshotRequest,
    DeleteVolumeRequest,
};
use tonic::transport::Channel;

use rig::csi_call::{PluginInfo, StorageClass, mount_capability, plugin_info, with_timeout};

use crate::error::Result;
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
        Ok(plugin_info(&self.channel, self.rpc_timeout).await?)
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
