//! What every CSI call of the bench and the demo carries: the StorageClass's parameters, a
//! mount capability, a per-RPC deadline (a wedged driver shows up as DEADLINE_EXCEEDED instead
//! of a hung tool), the Identity calls, and the spec's names of gRPC codes.

use std::collections::HashMap;
use std::time::Duration;

use csi::v1::identity_client::IdentityClient;
use csi::v1::volume_capability::access_mode::Mode;
use csi::v1::volume_capability::{AccessMode, AccessType, MountVolume};
use csi::v1::{GetPluginInfoRequest, ProbeRequest, VolumeCapability};
use tonic::transport::Channel;

use crate::error::{Error, Result};

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
