//! What kubelet (and the attach/detach controller) do for a pod's volume, done over the real
//! CSI and plugin-registration sockets of the real `sepia-node`: register the plugin and fill
//! CSINode; for a "pod", create the VolumeAttachment, wait for the attacher, NodeStage,
//! NodePublish, run the pod's work on the mounted path, and tear all of it down again.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, ensure};
use csi::registration::registration_client::RegistrationClient;
use csi::registration::{InfoRequest, RegistrationStatus};
use csi::v1::node_client::NodeClient;
use csi::v1::volume_capability::access_mode::Mode;
use csi::v1::volume_capability::{AccessMode, AccessType, MountVolume};
use csi::v1::*;
use kube::api::{DeleteParams, DynamicObject, PostParams};
use serde_json::{Value, json};
use tonic::transport::Channel;

use crate::DRIVER;
use crate::objects::Kind;
use crate::wait;

pub const NODE: &str = "standin-node";

pub struct Kubelet {
    client: kube::Client,
    root: PathBuf,
    node: NodeClient<Channel>,
}

/// A volume staged and published for one pod.
pub struct Mounted {
    pub target: PathBuf,
    staging: PathBuf,
    volume_id: String,
    attachment: String,
    pub pv: DynamicObject,
}

impl Kubelet {
    /// kubelet's plugin watcher: GetInfo on the registration socket, NodeGetInfo on the
    /// endpoint it names, CSINode + Node annotation, NotifyRegistrationStatus.
    pub async fn register(client: kube::Client, root: &Path, registration: &Path) -> Result<Self> {
        let socket = registration.display().to_string();
        let reg_channel = wait::until_some("node plugin registration socket", || async {
            if !registration.exists() {
                return Ok(None);
            }
            Ok(
                csi::client::connect(&format!("unix://{socket}"), Duration::from_secs(5))
                    .await
                    .ok(),
            )
        })
        .await?;
        let mut reg = RegistrationClient::new(reg_channel);
        let info = reg.get_info(InfoRequest {}).await?.into_inner();
        ensure!(
            info.r#type == "CSIPlugin" && info.name == DRIVER,
            "registration GetInfo answered {info:?}"
        );
        ensure!(
            info.supported_versions.iter().any(|v| v.starts_with("1.")),
            "no CSI 1.x in {:?}",
            info.supported_versions
        );
        let channel = csi::client::connect(
            &format!("unix://{}", info.endpoint),
            Duration::from_secs(10),
        )
        .await?;
        let mut node = NodeClient::new(channel);
        let node_info = node
            .node_get_info(NodeGetInfoRequest {})
            .await?
            .into_inner();
        let topology_keys: Vec<String> = node_info
            .accessible_topology
            .map(|t| t.segments.into_keys().collect())
            .unwrap_or_default();
        let csinode = json!({
            "apiVersion": "storage.k8s.io/v1",
            "kind": "CSINode",
            "metadata": {"name": NODE},
            "spec": {"drivers": [{"name": DRIVER, "nodeID": node_info.node_id, "topologyKeys": topology_keys}]}
        });
        let csinode: DynamicObject = serde_json::from_value(csinode)?;
        Kind::CsiNode
            .api(&client, "")
            .create(&PostParams::default(), &csinode)
            .await?;
        reg.notify_registration_status(RegistrationStatus {
            plugin_registered: true,
            error: String::new(),
        })
        .await?;
        Ok(Self {
            client,
            root: root.to_owned(),
            node,
        })
    }

    /// Attach, stage and publish `pvc`'s volume for a new pod.
    pub async fn mount(&self, namespace: &str, pvc: &str) -> Result<Mounted> {
        let claim = Kind::Pvc.api(&self.client, namespace).get(pvc).await?;
        let pv_name = claim.data["spec"]["volumeName"]
            .as_str()
            .context("PVC not bound")?
            .to_owned();
        let pv = Kind::Pv.api(&self.client, "").get(&pv_name).await?;
        let csi_source = pv.data["spec"]["csi"].clone();
        let volume_id = csi_source["volumeHandle"]
            .as_str()
            .context("PV without volumeHandle")?
            .to_owned();

        // The attach/detach controller's part.
        let attachment = format!("csi-{}", uuid::Uuid::new_v4().simple());
        let va: DynamicObject = serde_json::from_value(json!({
            "apiVersion": "storage.k8s.io/v1",
            "kind": "VolumeAttachment",
            "metadata": {"name": attachment},
            "spec": {"attacher": DRIVER, "nodeName": NODE, "source": {"persistentVolumeName": pv_name}}
        }))?;
        let vas = Kind::VolumeAttachment.api(&self.client, "");
        vas.create(&PostParams::default(), &va).await?;
        let attached = wait::until(&vas, &attachment, "VolumeAttachment attached", |o| {
            o.is_some_and(|v| v["status"]["attached"] == true)
        })
        .await?
        .context("VolumeAttachment vanished")?;
        let publish_context = string_map(&attached["status"]["attachmentMetadata"]);

        let secrets = self.secret(&csi_source["nodeStageSecretRef"]).await?;
        let capability = VolumeCapability {
            access_type: Some(AccessType::Mount(MountVolume {
                fs_type: csi_source["fsType"].as_str().unwrap_or("ext4").to_owned(),
                mount_flags: pv.data["spec"]["mountOptions"]
                    .as_array()
                    .map(|o| {
                        o.iter()
                            .filter_map(|f| f.as_str().map(str::to_owned))
                            .collect()
                    })
                    .unwrap_or_default(),
                volume_mount_group: String::new(),
            })),
            access_mode: Some(AccessMode {
                mode: Mode::SingleNodeWriter as i32,
            }),
        };
        let volume_context = string_map(&csi_source["volumeAttributes"]);
        let staging = self.root.join(format!(
            "kubelet/plugins/kubernetes.io/csi/{DRIVER}/{pv_name}/globalmount"
        ));
        std::fs::create_dir_all(&staging)?;
        let mut node = self.node.clone();
        node.node_stage_volume(NodeStageVolumeRequest {
            volume_id: volume_id.clone(),
            publish_context: publish_context.clone(),
            staging_target_path: staging.display().to_string(),
            volume_capability: Some(capability.clone()),
            secrets,
            volume_context: volume_context.clone(),
        })
        .await
        .context("NodeStageVolume")?;
        let pod = uuid::Uuid::new_v4();
        let target = self.root.join(format!(
            "kubelet/pods/{pod}/volumes/kubernetes.io~csi/{pv_name}/mount"
        ));
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)?;
        }
        node.node_publish_volume(NodePublishVolumeRequest {
            volume_id: volume_id.clone(),
            publish_context,
            staging_target_path: staging.display().to_string(),
            target_path: target.display().to_string(),
            volume_capability: Some(capability),
            readonly: false,
            secrets: HashMap::new(),
            volume_context,
        })
        .await
        .context("NodePublishVolume")?;
        Ok(Mounted {
            target,
            staging,
            volume_id,
            attachment,
            pv,
        })
    }

    /// kubelet's online filesystem expansion once the controller side has grown the volume.
    pub async fn expand(&self, mounted: &Mounted, bytes: u64) -> Result<i64> {
        let mut node = self.node.clone();
        let response = node
            .node_expand_volume(NodeExpandVolumeRequest {
                volume_id: mounted.volume_id.clone(),
                volume_path: mounted.target.display().to_string(),
                capacity_range: Some(CapacityRange {
                    required_bytes: i64::try_from(bytes)?,
                    limit_bytes: 0,
                }),
                staging_target_path: mounted.staging.display().to_string(),
                volume_capability: None,
                secrets: HashMap::new(),
            })
            .await
            .context("NodeExpandVolume")?;
        Ok(response.into_inner().capacity_bytes)
    }

    /// Unpublish, unstage, detach.
    pub async fn unmount(&self, mounted: Mounted) -> Result<()> {
        let mut node = self.node.clone();
        node.node_unpublish_volume(NodeUnpublishVolumeRequest {
            volume_id: mounted.volume_id.clone(),
            target_path: mounted.target.display().to_string(),
        })
        .await
        .context("NodeUnpublishVolume")?;
        node.node_unstage_volume(NodeUnstageVolumeRequest {
            volume_id: mounted.volume_id.clone(),
            staging_target_path: mounted.staging.display().to_string(),
        })
        .await
        .context("NodeUnstageVolume")?;
        let vas = Kind::VolumeAttachment.api(&self.client, "");
        vas.delete(&mounted.attachment, &DeleteParams::default())
            .await?;
        wait::gone(&vas, &mounted.attachment, "VolumeAttachment").await
    }

    async fn secret(&self, reference: &Value) -> Result<HashMap<String, String>> {
        let (Some(name), Some(ns)) = (reference["name"].as_str(), reference["namespace"].as_str())
        else {
            return Ok(HashMap::new());
        };
        let secret = Kind::Secret.api(&self.client, ns).get(name).await?;
        let mut out = HashMap::new();
        if let Some(data) = secret.data["data"].as_object() {
            for (key, value) in data {
                let bytes: k8s_openapi::ByteString = serde_json::from_value(value.clone())?;
                out.insert(key.clone(), String::from_utf8(bytes.0)?);
            }
        }
        Ok(out)
    }
}

fn string_map(value: &Value) -> HashMap<String, String> {
    value
        .as_object()
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                .collect()
        })
        .unwrap_or_default()
}

/// Total bytes of the filesystem mounted at `path`, as a pod's `df` would show.
pub fn filesystem_bytes(path: &Path) -> Result<u64> {
    let c_path = std::ffi::CString::new(path.as_os_str().as_encoded_bytes())?;
    // SAFETY: statvfs writes into the zeroed struct we own; the path is a valid C string.
    let mut stat: libc::statvfs = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::statvfs(c_path.as_ptr(), &mut stat) };
    ensure!(
        rc == 0,
        "statvfs {}: {}",
        path.display(),
        std::io::Error::last_os_error()
    );
    Ok(stat.f_blocks * stat.f_frsize)
}
