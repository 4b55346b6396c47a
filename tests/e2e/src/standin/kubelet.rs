//! What kubelet (and the attach/detach controller) do for a pod's volume, done over the real
//! CSI and plugin-registration sockets of the real node plugins (`sepia-node`,
//! `sepia-cephfs-node`): register each plugin and fill CSINode; for "pods", create the
//! VolumeAttachment when the driver's CSIDriver asks for attach and wait for the attacher,
//! NodeStage once, NodePublish per pod, run the pods' work on the mounted paths, and tear all of
//! it down again.

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

use crate::objects::Kind;
use crate::wait;

pub const NODE: &str = "standin-node";

pub struct Kubelet {
    client: kube::Client,
    root: PathBuf,
    /// Each registered driver's node plugin.
    nodes: HashMap<String, NodeClient<Channel>>,
}

/// A volume staged once and published for one or more pods.
pub struct Mounted {
    /// One publish target per pod.
    pub targets: Vec<PathBuf>,
    staging: PathBuf,
    volume_id: String,
    driver: String,
    /// The VolumeAttachment, for drivers that require attach.
    attachment: Option<String>,
    pub pv: DynamicObject,
}

impl Mounted {
    /// The first pod's path.
    pub fn target(&self) -> &Path {
        &self.targets[0]
    }
}

impl Kubelet {
    /// kubelet's plugin watcher, for each of `drivers`: GetInfo on `<registry>/<driver>-reg.sock`,
    /// NodeGetInfo on the endpoint it names, the driver's entry in CSINode,
    /// NotifyRegistrationStatus.
    pub async fn register(
        client: kube::Client,
        root: &Path,
        registry: &Path,
        drivers: &[&str],
    ) -> Result<Self> {
        let mut nodes = HashMap::new();
        let mut entries = Vec::new();
        let mut registrations = Vec::new();
        for driver in drivers {
            let registration = registry.join(format!("{driver}-reg.sock"));
            let (reg, node, entry) = Self::plugin(&registration, driver)
                .await
                .with_context(|| format!("registering {driver}"))?;
            registrations.push(reg);
            nodes.insert((*driver).to_owned(), node);
            entries.push(entry);
        }
        let csinode = json!({
            "apiVersion": "storage.k8s.io/v1",
            "kind": "CSINode",
            "metadata": {"name": NODE},
            "spec": {"drivers": entries}
        });
        let csinode: DynamicObject = serde_json::from_value(csinode)?;
        Kind::CsiNode
            .api(&client, "")
            .create(&PostParams::default(), &csinode)
            .await?;
        for mut reg in registrations {
            reg.notify_registration_status(RegistrationStatus {
                plugin_registered: true,
                error: String::new(),
            })
            .await?;
        }
        Ok(Self {
            client,
            root: root.to_owned(),
            nodes,
        })
    }

    /// One plugin's registration client, node client and CSINode driver entry.
    async fn plugin(
        registration: &Path,
        driver: &str,
    ) -> Result<(RegistrationClient<Channel>, NodeClient<Channel>, Value)> {
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
            info.r#type == "CSIPlugin" && info.name == driver,
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
        let entry =
            json!({"name": driver, "nodeID": node_info.node_id, "topologyKeys": topology_keys});
        Ok((reg, node, entry))
    }

    /// Attach, stage and publish `pvc`'s volume for a new pod.
    pub async fn mount(&self, namespace: &str, pvc: &str) -> Result<Mounted> {
        self.mount_pods(namespace, pvc, 1).await
    }

    /// Attach (when the driver requires it) and stage `pvc`'s volume once, and publish it for
    /// `pods` pods at once, as kubelet does for pods on one node sharing a claim.
    pub async fn mount_pods(&self, namespace: &str, pvc: &str, pods: usize) -> Result<Mounted> {
        ensure!(pods > 0, "a volume is mounted for at least one pod");
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
        let driver = csi_source["driver"]
            .as_str()
            .context("PV without csi.driver")?
            .to_owned();
        let mut node = self
            .nodes
            .get(&driver)
            .with_context(|| format!("no node plugin registered for {driver}"))?
            .clone();

        // The attach/detach controller's part, when the CSIDriver asks for it (the default).
        let csidriver = Kind::CsiDriver
            .api(&self.client, "")
            .get_opt(&driver)
            .await?;
        let attach_required = csidriver
            .as_ref()
            .and_then(|d| d.data["spec"]["attachRequired"].as_bool())
            .unwrap_or(true);
        let (attachment, publish_context) = if attach_required {
            let (name, context) = self.attach(&driver, &pv_name).await?;
            (Some(name), context)
        } else {
            (None, HashMap::new())
        };

        let secrets = self.secret(&csi_source["nodeStageSecretRef"]).await?;
        let shared = pv.data["spec"]["accessModes"]
            .as_array()
            .is_some_and(|m| m.iter().any(|m| m == "ReadWriteMany"));
        let capability = VolumeCapability {
            access_type: Some(AccessType::Mount(MountVolume {
                fs_type: csi_source["fsType"].as_str().unwrap_or_default().to_owned(),
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
                mode: if shared {
                    Mode::MultiNodeMultiWriter as i32
                } else {
                    Mode::SingleNodeWriter as i32
                },
            }),
        };
        let volume_context = string_map(&csi_source["volumeAttributes"]);
        let staging = self.root.join(format!(
            "kubelet/plugins/kubernetes.io/csi/{driver}/{pv_name}/globalmount"
        ));
        std::fs::create_dir_all(&staging)?;
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
        let mut targets = Vec::new();
        for _ in 0..pods {
            let pod = uuid::Uuid::new_v4();
            let target = self.root.join(format!(
                "kubelet/pods/{pod}/volumes/kubernetes.io~csi/{pv_name}/mount"
            ));
            if let Some(parent) = target.parent() {
                std::fs::create_dir_all(parent)?;
            }
            node.node_publish_volume(NodePublishVolumeRequest {
                volume_id: volume_id.clone(),
                publish_context: publish_context.clone(),
                staging_target_path: staging.display().to_string(),
                target_path: target.display().to_string(),
                volume_capability: Some(capability.clone()),
                readonly: false,
                secrets: HashMap::new(),
                volume_context: volume_context.clone(),
            })
            .await
            .context("NodePublishVolume")?;
            targets.push(target);
        }
        Ok(Mounted {
            targets,
            staging,
            volume_id,
            driver,
            attachment,
            pv,
        })
    }

    /// Creates the VolumeAttachment and waits for the attacher: its name and metadata.
    async fn attach(
        &self,
        driver: &str,
        pv_name: &str,
    ) -> Result<(String, HashMap<String, String>)> {
        let attachment = format!("csi-{}", uuid::Uuid::new_v4().simple());
        let va: DynamicObject = serde_json::from_value(json!({
            "apiVersion": "storage.k8s.io/v1",
            "kind": "VolumeAttachment",
            "metadata": {"name": attachment},
            "spec": {"attacher": driver, "nodeName": NODE, "source": {"persistentVolumeName": pv_name}}
        }))?;
        let vas = Kind::VolumeAttachment.api(&self.client, "");
        vas.create(&PostParams::default(), &va).await?;
        let attached = wait::until(&vas, &attachment, "VolumeAttachment attached", |o| {
            o.is_some_and(|v| v["status"]["attached"] == true)
        })
        .await?
        .context("VolumeAttachment vanished")?;
        let metadata = string_map(&attached["status"]["attachmentMetadata"]);
        Ok((attachment, metadata))
    }

    fn node(&self, mounted: &Mounted) -> Result<NodeClient<Channel>> {
        self.nodes
            .get(&mounted.driver)
            .cloned()
            .with_context(|| format!("no node plugin registered for {}", mounted.driver))
    }

    /// kubelet's online filesystem expansion once the controller side has grown the volume.
    pub async fn expand(&self, mounted: &Mounted, bytes: u64) -> Result<i64> {
        let mut node = self.node(mounted)?;
        let response = node
            .node_expand_volume(NodeExpandVolumeRequest {
                volume_id: mounted.volume_id.clone(),
                volume_path: mounted.target().display().to_string(),
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

    /// Unpublish every pod's target, unstage, detach.
    pub async fn unmount(&self, mounted: Mounted) -> Result<()> {
        let mut node = self.node(&mounted)?;
        for target in &mounted.targets {
            node.node_unpublish_volume(NodeUnpublishVolumeRequest {
                volume_id: mounted.volume_id.clone(),
                target_path: target.display().to_string(),
            })
            .await
            .context("NodeUnpublishVolume")?;
        }
        node.node_unstage_volume(NodeUnstageVolumeRequest {
            volume_id: mounted.volume_id.clone(),
            staging_target_path: mounted.staging.display().to_string(),
        })
        .await
        .context("NodeUnstageVolume")?;
        let Some(attachment) = mounted.attachment else {
            return Ok(());
        };
        let vas = Kind::VolumeAttachment.api(&self.client, "");
        vas.delete(&attachment, &DeleteParams::default()).await?;
        wait::gone(&vas, &attachment, "VolumeAttachment").await
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
