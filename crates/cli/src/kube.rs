//! Optional Kubernetes access (`--kubeconfig`): which PV, PVC, VolumeAttachment and
//! VolumeSnapshot(Content) reference a volume or snapshot ID, and PVC/PV names as handles.
//! Read-only: the tool never writes to Kubernetes. For `doctor`: CSIDrivers, StorageClasses,
//! and which keys a Secret holds (never the values).

use std::path::Path;

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim, Secret};
use k8s_openapi::api::storage::v1::{CSIDriver, StorageClass, VolumeAttachment};
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, ListParams};
use kube::{Client, Resource};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{Error, Result};

/// Objects listed per request.
const PAGE: u32 = 500;

pub struct Kube {
    client: Client,
}

/// A PersistentVolume's name and the CSI volume handle it carries.
#[derive(Debug, Clone)]
pub struct PvHandle {
    pub name: String,
    pub handle: String,
    /// `namespace/name` of the claim bound to it.
    pub claim: Option<String>,
}

/// The Kubernetes objects that reference one volume or snapshot ID.
#[derive(Debug, Default, Serialize)]
pub struct References {
    pub persistent_volumes: Vec<String>,
    pub claims: Vec<String>,
    /// `name (node …, attached …)`.
    pub volume_attachments: Vec<String>,
    pub volume_snapshot_contents: Vec<String>,
    /// `namespace/name` of the VolumeSnapshots their contents are bound to.
    pub volume_snapshots: Vec<String>,
}

fn kube_error(what: impl Into<String>) -> impl FnOnce(kube::Error) -> Error {
    let what = what.into();
    move |e| Error::Kube {
        what: format!("{what}: {e}"),
    }
}

impl Kube {
    pub async fn connect(kubeconfig: &Path) -> Result<Kube> {
        let config = sidecar::kube_client::load_config(Some(kubeconfig))
            .await
            .map_err(|e| Error::Kube {
                what: e.to_string(),
            })?;
        let client = Client::try_from(config).map_err(kube_error("build a client"))?;
        Ok(Kube { client })
    }

    /// The volume handle of the PV bound to PVC `namespace/name`.
    pub async fn claim_handle(&self, namespace: &str, name: &str) -> Result<String> {
        let claims: Api<PersistentVolumeClaim> = Api::namespaced(self.client.clone(), namespace);
        let claim = claims
            .get_opt(name)
            .await
            .map_err(kube_error(format!("get PVC {namespace}/{name}")))?
            .ok_or_else(|| Error::Usage {
                what: format!("PVC {namespace}/{name} does not exist"),
            })?;
        let volume = claim
            .spec
            .and_then(|s| s.volume_name)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| Error::Usage {
                what: format!("PVC {namespace}/{name} is not bound to a PV yet"),
            })?;
        self.volume_handle(&volume)
            .await?
            .ok_or_else(|| Error::Usage {
                what: format!("PV {volume} of PVC {namespace}/{name} does not exist or is not CSI"),
            })
    }

    /// The CSI volume handle of PV `name`, or `None` when there is no such (CSI) PV.
    pub async fn volume_handle(&self, name: &str) -> Result<Option<String>> {
        let volumes: Api<PersistentVolume> = Api::all(self.client.clone());
        let pv = volumes
            .get_opt(name)
            .await
            .map_err(kube_error(format!("get PV {name}")))?;
        Ok(pv.and_then(|pv| pv_handle(&pv)).map(|h| h.handle))
    }

    /// Every CSI PersistentVolume with its handle.
    pub async fn persistent_volumes(&self) -> Result<Vec<PvHandle>> {
        let volumes: Api<PersistentVolume> = Api::all(self.client.clone());
        Ok(list_all(&volumes, "PersistentVolumes")
            .await?
            .iter()
            .filter_map(pv_handle)
            .collect())
    }

    /// Whether a CSIDriver object named `name` exists.
    pub async fn csi_driver_exists(&self, name: &str) -> Result<bool> {
        let drivers: Api<CSIDriver> = Api::all(self.client.clone());
        let found = drivers
            .get_opt(name)
            .await
            .map_err(kube_error(format!("get CSIDriver {name}")))?;
        Ok(found.is_some())
    }

    /// Every StorageClass.
    pub async fn storage_classes(&self) -> Result<Vec<StorageClass>> {
        let classes: Api<StorageClass> = Api::all(self.client.clone());
        list_all(&classes, "StorageClasses").await
    }

    /// The keys with non-empty values of Secret `namespace/name`, or `None` when it does not
    /// exist. The values are dropped here, unread.
    pub async fn secret_keys(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<Option<BTreeSet<String>>> {
        let secrets: Api<Secret> = Api::namespaced(self.client.clone(), namespace);
        let Some(secret) = secrets
            .get_opt(name)
            .await
            .map_err(kube_error(format!("get Secret {namespace}/{name}")))?
        else {
            return Ok(None);
        };
        let data = secret
            .data
            .unwrap_or_default()
            .into_iter()
            .filter(|(_, v)| !v.0.is_empty())
            .map(|(k, _)| k);
        let string_data = secret
            .string_data
            .unwrap_or_default()
            .into_iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, _)| k);
        Ok(Some(data.chain(string_data).collect()))
    }

    /// What references `id` (a volume or snapshot ID).
    pub async fn references(&self, id: &str) -> Result<References> {
        let mut refs = References::default();
        for pv in self.persistent_volumes().await? {
            if pv.handle == id {
                refs.persistent_volumes.push(pv.name);
                refs.claims.extend(pv.claim);
            }
        }
        let attachments: Api<VolumeAttachment> = Api::all(self.client.clone());
        for va in list_all(&attachments, "VolumeAttachments").await? {
            let source = va
                .spec
                .source
                .persistent_volume_name
                .as_deref()
                .unwrap_or_default();
            if refs.persistent_volumes.iter().any(|pv| pv == source) {
                let attached = va.status.as_ref().is_some_and(|s| s.attached);
                refs.volume_attachments.push(format!(
                    "{} (node {}, attached {attached})",
                    va.meta().name.as_deref().unwrap_or_default(),
                    va.spec.node_name
                ));
            }
        }
        let gvk = GroupVersionKind::gvk("snapshot.storage.k8s.io", "v1", "VolumeSnapshotContent");
        let resource = ApiResource::from_gvk_with_plural(&gvk, "volumesnapshotcontents");
        let contents: Api<DynamicObject> = Api::all_with(self.client.clone(), &resource);
        match list_all(&contents, "VolumeSnapshotContents").await {
            Ok(contents) => {
                for content in contents {
                    let handle = content.data["status"]["snapshotHandle"].as_str();
                    if handle == Some(id) {
                        refs.volume_snapshot_contents
                            .push(content.metadata.name.clone().unwrap_or_default());
                        let snapshot = &content.data["spec"]["volumeSnapshotRef"];
                        if let (Some(ns), Some(name)) =
                            (snapshot["namespace"].as_str(), snapshot["name"].as_str())
                        {
                            refs.volume_snapshots.push(format!("{ns}/{name}"));
                        }
                    }
                }
            }
            // Without the snapshot CRDs there are no snapshots to reference it.
            Err(Error::Kube { what }) if what.contains("404") => {}
            Err(e) => return Err(e),
        }
        Ok(refs)
    }
}

fn pv_handle(pv: &PersistentVolume) -> Option<PvHandle> {
    let spec = pv.spec.as_ref()?;
    let csi = spec.csi.as_ref()?;
    let claim = spec.claim_ref.as_ref().and_then(|c| {
        Some(format!(
            "{}/{}",
            c.namespace.as_deref()?,
            c.name.as_deref()?
        ))
    });
    Some(PvHandle {
        name: pv.metadata.name.clone()?,
        handle: csi.volume_handle.clone(),
        claim,
    })
}

/// Every object of `api`, a page at a time.
async fn list_all<K>(api: &Api<K>, what: &str) -> Result<Vec<K>>
where
    K: Resource + Clone + DeserializeOwned + std::fmt::Debug,
{
    let mut all = Vec::new();
    let mut params = ListParams::default().limit(PAGE);
    loop {
        let page = api
            .list(&params)
            .await
            .map_err(kube_error(format!("list {what}")))?;
        let next = page.metadata.continue_.clone().filter(|c| !c.is_empty());
        all.extend(page.items);
        match next {
            Some(token) => params = params.continue_token(&token),
            None => return Ok(all),
        }
    }
}
