//! The CSI calls of the story, shaped like the Kubernetes sidecars send them: StorageClass
//! parameters plus the PVC/PV names the external-provisioner adds with
//! `--extra-create-metadata`, VolumeSnapshotClass parameters plus the snapshot names, and the
//! provisioner Secret in every call. The external-attacher's calls are in [`crate::drivers::attacher`].

use std::collections::HashMap;
use std::time::{Duration, Instant};

use csi::v1::controller_client::ControllerClient;
use csi::v1::controller_service_capability::{Rpc, rpc};
use csi::v1::volume_content_source::{SnapshotSource, Type, VolumeSource};
use csi::v1::{
    CapacityRange, ControllerExpandVolumeRequest, ControllerGetCapabilitiesRequest,
    CreateSnapshotRequest, CreateVolumeRequest, DeleteSnapshotRequest, DeleteVolumeRequest,
    VolumeCapability, VolumeContentSource,
};
use rig::csi_call::{StorageClass, mount_capability_with_fs, plugin_info, with_timeout};
use tonic::transport::Channel;

use crate::error::{Error, Result};

/// Pause between CreateSnapshot calls while the snapshot is not ready.
const READY_POLL: Duration = Duration::from_millis(200);

/// Who the driver says it is.
#[derive(Debug, Clone)]
pub struct Identity {
    pub name: String,
    pub vendor_version: String,
    pub ready: Option<bool>,
    /// Controller RPC capabilities, by their spec names.
    pub capabilities: Vec<String>,
}

/// The PVC a CreateVolume stands for (what the external-provisioner passes as metadata).
#[derive(Debug, Clone)]
pub struct Claim {
    pub namespace: String,
    pub name: String,
    /// The PV name, which is also the CSI request name (`pvc-<uid>`).
    pub pv_name: String,
}

/// Where a new volume's content comes from.
#[derive(Debug, Clone)]
pub enum Source {
    Snapshot(String),
    Volume(String),
}

/// A created volume.
#[derive(Debug, Clone)]
pub struct Volume {
    pub volume_id: String,
    pub capacity_bytes: i64,
    pub context: HashMap<String, String>,
}

/// A ready snapshot.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub snapshot_id: String,
    pub size_bytes: i64,
    /// CreateSnapshot calls until `ready_to_use`.
    pub calls: usize,
}

/// What the story's StorageClass and PVs say, whichever driver serves them.
#[derive(Debug, Clone)]
pub struct VolumeClass {
    pub cluster_id: String,
    /// The StorageClass's parameters (with `csi.storage.k8s.io/fstype` when it names one).
    pub parameters: HashMap<String, String>,
    /// The PVs' capability: access mode and mount.
    pub capability: VolumeCapability,
}

/// A connected driver.
pub struct Driver {
    channel: Channel,
    class: VolumeClass,
    secrets: HashMap<String, String>,
    rpc_timeout: Duration,
}

impl Driver {
    /// An RBD driver: `class` plus the `csi.storage.k8s.io/fstype` of its PVs, ReadWriteOnce.
    pub async fn connect(
        endpoint: &str,
        class: StorageClass,
        fs_type: &str,
        secrets: HashMap<String, String>,
        rpc_timeout: Duration,
    ) -> Result<Driver> {
        let mut parameters = class.parameters();
        parameters.insert("csi.storage.k8s.io/fstype".to_owned(), fs_type.to_owned());
        let class = VolumeClass {
            cluster_id: class.cluster_id,
            parameters,
            capability: mount_capability_with_fs(fs_type),
        };
        Driver::connect_with(endpoint, class, secrets, rpc_timeout).await
    }

    /// A driver whose volumes `class` describes.
    pub async fn connect_with(
        endpoint: &str,
        class: VolumeClass,
        secrets: HashMap<String, String>,
        rpc_timeout: Duration,
    ) -> Result<Driver> {
        Ok(Driver {
            channel: csi::client::connect(endpoint, rpc_timeout).await?,
            class,
            secrets,
            rpc_timeout,
        })
    }

    pub(crate) fn request<T>(&self, message: T) -> tonic::Request<T> {
        with_timeout(message, self.rpc_timeout)
    }

    /// The deadline of one RPC, also how long the story retries one.
    pub(crate) fn rpc_timeout(&self) -> Duration {
        self.rpc_timeout
    }

    pub(crate) fn controller(&self) -> ControllerClient<Channel> {
        ControllerClient::new(self.channel.clone())
    }

    /// The provisioner Secret (also what the attacher and resizer send).
    pub(crate) fn secrets(&self) -> &HashMap<String, String> {
        &self.secrets
    }

    /// The mount capability of the story's PVs.
    pub(crate) fn capability(&self) -> VolumeCapability {
        self.class.capability.clone()
    }

    /// Probe, GetPluginInfo, ControllerGetCapabilities.
    pub async fn identify(&self) -> Result<Identity> {
        let info = plugin_info(&self.channel, self.rpc_timeout).await?;
        let capabilities = self
            .controller()
            .controller_get_capabilities(self.request(ControllerGetCapabilitiesRequest {}))
            .await
            .map_err(|s| Error::rpc("ControllerGetCapabilities", &s))?
            .into_inner()
            .capabilities
            .into_iter()
            .filter_map(|c| match c.r#type {
                Some(csi::v1::controller_service_capability::Type::Rpc(Rpc { r#type })) => {
                    rpc::Type::try_from(r#type)
                        .ok()
                        .map(|t| t.as_str_name().to_owned())
                }
                None => None,
            })
            .collect();
        Ok(Identity {
            name: info.name,
            vendor_version: info.vendor_version,
            ready: info.ready,
            capabilities,
        })
    }

    /// CreateVolume for `claim` of `size` bytes, from `source` when given.
    pub async fn create_volume(
        &self,
        claim: &Claim,
        size: u64,
        source: Option<&Source>,
    ) -> Result<Volume> {
        let mut parameters = self.class.parameters.clone();
        parameters.extend([
            ("csi.storage.k8s.io/pvc/name".to_owned(), claim.name.clone()),
            (
                "csi.storage.k8s.io/pvc/namespace".to_owned(),
                claim.namespace.clone(),
            ),
            (
                "csi.storage.k8s.io/pv/name".to_owned(),
                claim.pv_name.clone(),
            ),
        ]);
        let volume_content_source = source.map(|source| VolumeContentSource {
            r#type: Some(match source {
                Source::Snapshot(snapshot_id) => Type::Snapshot(SnapshotSource {
                    snapshot_id: snapshot_id.clone(),
                }),
                Source::Volume(volume_id) => Type::Volume(VolumeSource {
                    volume_id: volume_id.clone(),
                }),
            }),
        });
        let request = CreateVolumeRequest {
            name: claim.pv_name.clone(),
            capacity_range: Some(at_least(size)),
            volume_capabilities: vec![self.capability()],
            parameters,
            secrets: self.secrets.clone(),
            volume_content_source,
            ..Default::default()
        };
        let volume = self
            .controller()
            .create_volume(self.request(request))
            .await
            .map_err(|s| Error::rpc("CreateVolume", &s))?
            .into_inner()
            .volume
            .filter(|v| !v.volume_id.is_empty())
            .ok_or(Error::BadReply {
                rpc: "CreateVolume",
                missing: "a volume id",
            })?;
        Ok(Volume {
            volume_id: volume.volume_id,
            capacity_bytes: volume.capacity_bytes,
            context: volume.volume_context,
        })
    }

    /// CreateSnapshot `name` of `volume_id` for VolumeSnapshot `namespace/snapshot_name`,
    /// repeated until the snapshot is ready (as the external-snapshotter does).
    pub async fn create_snapshot(
        &self,
        volume_id: &str,
        name: &str,
        namespace: &str,
        snapshot_name: &str,
    ) -> Result<Snapshot> {
        let parameters = HashMap::from([
            ("clusterID".to_owned(), self.class.cluster_id.clone()),
            (
                "csi.storage.k8s.io/volumesnapshot/name".to_owned(),
                snapshot_name.to_owned(),
            ),
            (
                "csi.storage.k8s.io/volumesnapshot/namespace".to_owned(),
                namespace.to_owned(),
            ),
            (
                "csi.storage.k8s.io/volumesnapshotcontent/name".to_owned(),
                format!("snapcontent-{}", name.trim_start_matches("snapshot-")),
            ),
        ]);
        let start = Instant::now();
        let mut calls = 0;
        loop {
            calls += 1;
            let request = CreateSnapshotRequest {
                source_volume_id: volume_id.to_owned(),
                name: name.to_owned(),
                secrets: self.secrets.clone(),
                parameters: parameters.clone(),
            };
            let snapshot = self
                .controller()
                .create_snapshot(self.request(request))
                .await
                .map_err(|s| Error::rpc("CreateSnapshot", &s))?
                .into_inner()
                .snapshot
                .filter(|s| !s.snapshot_id.is_empty())
                .ok_or(Error::BadReply {
                    rpc: "CreateSnapshot",
                    missing: "a snapshot id",
                })?;
            if snapshot.ready_to_use {
                return Ok(Snapshot {
                    snapshot_id: snapshot.snapshot_id,
                    size_bytes: snapshot.size_bytes,
                    calls,
                });
            }
            if start.elapsed() > self.rpc_timeout {
                return Err(Error::BadReply {
                    rpc: "CreateSnapshot",
                    missing: "ready_to_use=true within the RPC timeout",
                });
            }
            tokio::time::sleep(READY_POLL).await;
        }
    }

    /// ControllerExpandVolume to `size` bytes: (new capacity, node expansion required).
    pub async fn expand(&self, volume_id: &str, size: u64) -> Result<(i64, bool)> {
        let request = ControllerExpandVolumeRequest {
            volume_id: volume_id.to_owned(),
            capacity_range: Some(at_least(size)),
            secrets: self.secrets.clone(),
            volume_capability: Some(self.capability()),
        };
        let reply = self
            .controller()
            .controller_expand_volume(self.request(request))
            .await
            .map_err(|s| Error::rpc("ControllerExpandVolume", &s))?
            .into_inner();
        Ok((reply.capacity_bytes, reply.node_expansion_required))
    }

    pub async fn delete_volume(&self, volume_id: &str) -> Result<()> {
        let request = DeleteVolumeRequest {
            volume_id: volume_id.to_owned(),
            secrets: self.secrets.clone(),
        };
        self.controller()
            .delete_volume(self.request(request))
            .await
            .map_err(|s| Error::rpc("DeleteVolume", &s))?;
        Ok(())
    }

    pub async fn delete_snapshot(&self, snapshot_id: &str) -> Result<()> {
        let request = DeleteSnapshotRequest {
            snapshot_id: snapshot_id.to_owned(),
            secrets: self.secrets.clone(),
        };
        self.controller()
            .delete_snapshot(self.request(request))
            .await
            .map_err(|s| Error::rpc("DeleteSnapshot", &s))?;
        Ok(())
    }
}

/// A capacity range asking for at least `size` bytes, with no upper limit (what a PVC asks).
fn at_least(size: u64) -> CapacityRange {
    CapacityRange {
        required_bytes: i64::try_from(size).unwrap_or(i64::MAX),
        limit_bytes: 0,
    }
}
