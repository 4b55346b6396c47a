//! The rest of a cluster around the snapshotter for restore scenarios, all real binaries except
//! the two Kubernetes control loops no binary of ours replaces:
//! - [`binder`]: kube-controller-manager's PV binding (bind a new PV to its claim, mark a PV
//!   Released when its claim is gone), through the API with merge patches;
//! - [`Kubelet`]: what kubelet does with a bound PV on the real `sepia-node` plugin —
//!   NodeStage + NodePublish to read and write files, and back.
#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::Duration;

use csi::v1::node_client::NodeClient;
use csi::v1::volume_capability::access_mode::Mode;
use csi::v1::volume_capability::{AccessMode, AccessType, MountVolume};
use csi::v1::{
    NodePublishVolumeRequest, NodeStageVolumeRequest, NodeUnpublishVolumeRequest,
    NodeUnstageVolumeRequest, VolumeCapability,
};
use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim};
use k8s_openapi::api::storage::v1::StorageClass;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Client;
use kube::api::{Api, ListParams, Patch, PatchParams};
use kube_standin::Gvr;
use serde_json::{Value, json};
use tonic::transport::Channel;

use crate::harness::*;

pub const STORAGE_CLASS: &str = "rbd";

/// kube-controller-manager's part of provisioning, until the task is aborted.
pub async fn binder(client: Client) {
    let pvs: Api<PersistentVolume> = Api::all(client.clone());
    let params = PatchParams::default();
    loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let (Ok(volumes), Ok(claims)) = (
            pvs.list(&ListParams::default()).await,
            Api::<PersistentVolumeClaim>::all(client.clone())
                .list(&ListParams::default())
                .await,
        ) else {
            continue;
        };
        let claims: HashMap<(String, String), PersistentVolumeClaim> = claims
            .into_iter()
            .filter_map(|c| Some(((c.metadata.namespace.clone()?, c.metadata.name.clone()?), c)))
            .collect();
        for pv in volumes {
            let name = pv.metadata.name.clone().unwrap_or_default();
            let spec = pv.spec.clone().unwrap_or_default();
            let Some(claim_ref) = spec.claim_ref.clone() else {
                continue;
            };
            let (Some(namespace), Some(claim_name)) =
                (claim_ref.namespace.clone(), claim_ref.name.clone())
            else {
                continue;
            };
            let phase = pv
                .status
                .as_ref()
                .and_then(|s| s.phase.clone())
                .unwrap_or_default();
            match claims.get(&(namespace.clone(), claim_name.clone())) {
                Some(claim) if claim.metadata.uid == claim_ref.uid => {
                    if phase != "Bound" {
                        let _ = pvs
                            .patch_status(
                                &name,
                                &params,
                                &Patch::Merge(json!({"status": {"phase": "Bound"}})),
                            )
                            .await;
                    }
                    let api: Api<PersistentVolumeClaim> =
                        Api::namespaced(client.clone(), &namespace);
                    if claim
                        .spec
                        .as_ref()
                        .and_then(|s| s.volume_name.clone())
                        .is_none()
                    {
                        let _ = api
                            .patch(
                                &claim_name,
                                &params,
                                &Patch::Merge(json!({"spec": {"volumeName": name}})),
                            )
                            .await;
                    }
                    if claim.status.as_ref().and_then(|s| s.phase.as_deref()) != Some("Bound") {
                        let _ = api
                            .patch_status(
                                &claim_name,
                                &params,
                                &Patch::Merge(json!({"status": {
                                    "phase": "Bound",
                                    "accessModes": spec.access_modes,
                                    "capacity": spec.capacity,
                                }})),
                            )
                            .await;
                    }
                }
                _ => {
                    if phase != "Released" && phase != "Failed" {
                        let _ = pvs
                            .patch_status(
                                &name,
                                &params,
                                &Patch::Merge(json!({"status": {"phase": "Released"}})),
                            )
                            .await;
                    }
                }
            }
        }
    }
}

impl Env {
    /// The StorageClass the provisioner serves (Delete reclaim, ext4, the test's Secret).
    pub fn put_storage_class(&self) {
        let parameters: BTreeMap<String, String> = [
            ("clusterID", CLUSTER_ID),
            ("pool", self.bed.pool.as_str()),
            ("imageFeatures", "layering"),
            ("csi.storage.k8s.io/fstype", "ext4"),
            ("csi.storage.k8s.io/provisioner-secret-name", SECRET_NAME),
            (
                "csi.storage.k8s.io/provisioner-secret-namespace",
                SECRET_NAMESPACE,
            ),
            ("csi.storage.k8s.io/node-stage-secret-name", SECRET_NAME),
            (
                "csi.storage.k8s.io/node-stage-secret-namespace",
                SECRET_NAMESPACE,
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        self.standin
            .put(&StorageClass {
                metadata: ObjectMeta {
                    name: Some(STORAGE_CLASS.to_owned()),
                    ..ObjectMeta::default()
                },
                provisioner: DRIVER.to_owned(),
                reclaim_policy: Some("Delete".to_owned()),
                volume_binding_mode: Some("Immediate".to_owned()),
                parameters: Some(parameters),
                ..StorageClass::default()
            })
            .unwrap();
    }

    /// A claim for the provisioner (annotated as kube-controller-manager does), optionally
    /// restoring from VolumeSnapshot `from_snapshot`.
    pub fn put_provisioned_claim(
        &self,
        namespace: &str,
        name: &str,
        size: &str,
        from_snapshot: Option<&str>,
    ) {
        let mut spec = json!({
            "accessModes": ["ReadWriteOnce"],
            "storageClassName": STORAGE_CLASS,
            "resources": {"requests": {"storage": size}},
        });
        if let Some(snapshot) = from_snapshot {
            spec["dataSource"] = json!({"apiGroup": "snapshot.storage.k8s.io", "kind": "VolumeSnapshot", "name": snapshot});
        }
        let claim = json!({
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {
                "name": name,
                "namespace": namespace,
                "annotations": {"volume.kubernetes.io/storage-provisioner": DRIVER},
            },
            "spec": spec,
        });
        self.standin
            .put_object(&Gvr::of::<PersistentVolumeClaim>(), claim)
            .unwrap();
    }

    /// Waits until the claim is bound; its PV.
    pub async fn wait_claim_bound(&self, namespace: &str, name: &str) -> PersistentVolume {
        let claim = self
            .wait::<PersistentVolumeClaim>(
                namespace,
                name,
                &format!("PVC {namespace}/{name} bound"),
                |c| {
                    c.is_some_and(|c| {
                        c.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Bound")
                    })
                },
            )
            .await
            .unwrap();
        let volume = claim.spec.and_then(|s| s.volume_name).expect("volumeName");
        self.get::<PersistentVolume>("", &volume).expect("PV")
    }

    /// Starts the node plugin; a kubelet for it.
    pub async fn start_node(&mut self) -> Kubelet {
        let root = std::fs::canonicalize(self.dir.path()).unwrap();
        let socket = root.join("node/csi.sock");
        let args = vec![
            format!("--endpoint=unix://{}", socket.display()),
            format!("--driver-name={DRIVER}"),
            "--node-id=node-1".to_owned(),
            format!("--cluster-config={}", self.config_path.display()),
            "--no-kubelet-registration".to_owned(),
            format!("--state-dir={}", root.join("node-state").display()),
            // The kubelet below stages and publishes under <root>/kubelet.
            format!("--kubelet-root={}", root.join("kubelet").display()),
        ];
        let process = Process::spawn(
            "node",
            &binary("sepia-node", "sepia-node"),
            &args,
            self.dir.path(),
            &[("RUST_LOG", "info")],
        );
        self.processes.push(process);
        let endpoint = format!("unix://{}", socket.display());
        let channel = connect_endpoint(&endpoint).await;
        Kubelet {
            node: NodeClient::new(channel),
            root: root.join("kubelet"),
            secrets: self.secrets(),
        }
    }
}

/// kubelet's side of a mount.
pub struct Kubelet {
    node: NodeClient<Channel>,
    root: PathBuf,
    secrets: HashMap<String, String>,
}

fn capability() -> VolumeCapability {
    VolumeCapability {
        access_type: Some(AccessType::Mount(MountVolume {
            fs_type: "ext4".to_owned(),
            ..MountVolume::default()
        })),
        access_mode: Some(AccessMode {
            mode: Mode::SingleNodeWriter as i32,
        }),
    }
}

impl Kubelet {
    fn paths(&self, pv: &PersistentVolume) -> (PathBuf, PathBuf) {
        let name = pv.metadata.name.clone().unwrap_or_default();
        (
            self.root.join(format!(
                "plugins/kubernetes.io/csi/{DRIVER}/{name}/globalmount"
            )),
            self.root.join(format!(
                "pods/pod-{name}/volumes/kubernetes.io~csi/{name}/mount"
            )),
        )
    }

    /// NodeStage + NodePublish of `pv`; the pod's mount path.
    pub async fn mount(&mut self, pv: &PersistentVolume) -> PathBuf {
        let csi = pv
            .spec
            .as_ref()
            .and_then(|s| s.csi.clone())
            .expect("CSI PV");
        let context: HashMap<String, String> = csi
            .volume_attributes
            .clone()
            .unwrap_or_default()
            .into_iter()
            .collect();
        let (staging, target) = self.paths(pv);
        self.node
            .node_stage_volume(NodeStageVolumeRequest {
                volume_id: csi.volume_handle.clone(),
                publish_context: HashMap::new(),
                staging_target_path: staging.display().to_string(),
                volume_capability: Some(capability()),
                secrets: self.secrets.clone(),
                volume_context: context.clone(),
            })
            .await
            .unwrap_or_else(|s| panic!("NodeStage {}: {s:?}", csi.volume_handle));
        self.node
            .node_publish_volume(NodePublishVolumeRequest {
                volume_id: csi.volume_handle.clone(),
                publish_context: HashMap::new(),
                staging_target_path: staging.display().to_string(),
                target_path: target.display().to_string(),
                volume_capability: Some(capability()),
                readonly: false,
                secrets: HashMap::new(),
                volume_context: context,
            })
            .await
            .unwrap_or_else(|s| panic!("NodePublish {}: {s:?}", csi.volume_handle));
        target
    }

    /// NodeUnpublish + NodeUnstage of `pv`.
    pub async fn unmount(&mut self, pv: &PersistentVolume) {
        let csi = pv
            .spec
            .as_ref()
            .and_then(|s| s.csi.clone())
            .expect("CSI PV");
        let (staging, target) = self.paths(pv);
        self.node
            .node_unpublish_volume(NodeUnpublishVolumeRequest {
                volume_id: csi.volume_handle.clone(),
                target_path: target.display().to_string(),
            })
            .await
            .unwrap_or_else(|s| panic!("NodeUnpublish: {s:?}"));
        self.node
            .node_unstage_volume(NodeUnstageVolumeRequest {
                volume_id: csi.volume_handle,
                staging_target_path: staging.display().to_string(),
            })
            .await
            .unwrap_or_else(|s| panic!("NodeUnstage: {s:?}"));
    }
}

/// Writes `data` and makes it durable (file and directory), as an application would before
/// relying on a snapshot.
pub fn write_durably(path: &Path, data: &[u8]) {
    use std::io::Write;
    let mut file = std::fs::File::create(path).unwrap();
    file.write_all(data).unwrap();
    file.sync_all().unwrap();
    std::fs::File::open(path.parent().unwrap())
        .unwrap()
        .sync_all()
        .unwrap();
}

pub fn json_of<T: serde::Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap()
}
