//! What kube-controller-manager's PV controller does for provisioned volumes, reduced to the
//! part the provisioner depends on: bind a new PV to its claim (both `Bound`), and mark a PV
//! `Released` when its claim is gone. It writes through the API with merge patches, as a
//! separate client would, so it never overwrites the provisioner's own changes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim};
use kube::Client;
use kube::api::{Api, ListParams, Patch, PatchParams};
use serde_json::json;

pub async fn run(client: Client) {
    let pvs: Api<PersistentVolume> = Api::all(client.clone());
    let params = PatchParams::default();
    loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let Ok(list) = pvs.list(&ListParams::default()).await else {
            continue;
        };
        let Ok(all_claims) = Api::<PersistentVolumeClaim>::all(client.clone())
            .list(&ListParams::default())
            .await
        else {
            continue;
        };
        let by_key: std::collections::HashMap<(String, String), PersistentVolumeClaim> = all_claims
            .into_iter()
            .filter_map(|c| Some(((c.metadata.namespace.clone()?, c.metadata.name.clone()?), c)))
            .collect();
        for pv in list {
            let Some(pv_name) = pv.metadata.name.clone() else {
                continue;
            };
            let spec = pv.spec.clone().unwrap_or_default();
            let Some(claim_ref) = spec.claim_ref.clone() else {
                continue;
            };
            let (Some(ns), Some(claim_name)) =
                (claim_ref.namespace.clone(), claim_ref.name.clone())
            else {
                continue;
            };
            let claims: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), &ns);
            let claim = by_key.get(&(ns.clone(), claim_name.clone())).cloned();
            let phase = pv
                .status
                .as_ref()
                .and_then(|s| s.phase.clone())
                .unwrap_or_default();
            match claim {
                Some(claim) if claim.metadata.uid == claim_ref.uid => {
                    if phase != "Bound" && phase != "Released" {
                        let _ = pvs
                            .patch_status(
                                &pv_name,
                                &params,
                                &Patch::Merge(json!({"status": {"phase": "Bound"}})),
                            )
                            .await;
                    }
                    let claim_phase = claim
                        .status
                        .as_ref()
                        .and_then(|s| s.phase.clone())
                        .unwrap_or_default();
                    if claim
                        .spec
                        .as_ref()
                        .and_then(|s| s.volume_name.clone())
                        .is_none()
                    {
                        let _ = claims
                            .patch(
                                &claim_name,
                                &params,
                                &Patch::Merge(json!({
                                    "metadata": {"annotations": {
                                        "pv.kubernetes.io/bind-completed": "yes",
                                        "pv.kubernetes.io/bound-by-controller": "yes",
                                    }},
                                    "spec": {"volumeName": pv_name},
                                })),
                            )
                            .await;
                    }
                    if claim_phase != "Bound" {
                        let _ = claims
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
                    if phase == "Bound" || phase.is_empty() || phase == "Available" {
                        let _ = pvs
                            .patch_status(
                                &pv_name,
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
