//! The part of kube-controller-manager's PV controller the flows need (the stand-in has no
//! controller manager): hand claims of our classes to the external provisioner, bind the PV it
//! creates to its claim, and mark a PV Released when its claim is gone. Polls every 300 ms.

use std::time::Duration;

use anyhow::Result;
use kube::api::{ListParams, Patch, PatchParams};
use serde_json::{Value, json};

use crate::DRIVERS;
use crate::objects::Kind;

/// Runs until aborted; errors of one pass are logged and the next pass retries.
pub async fn run(client: kube::Client) {
    loop {
        if let Err(error) = pass(&client).await {
            eprintln!("pv-controller pass failed: {error:#}");
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

async fn pass(client: &kube::Client) -> Result<()> {
    let classes = Kind::StorageClass
        .api(client, "")
        .list(&ListParams::default())
        .await?;
    // Class name → its provisioner, for the classes of Sepia's drivers.
    let ours: Vec<(String, &str)> = classes
        .items
        .iter()
        .filter_map(|c| {
            let provisioner = c.data["provisioner"].as_str()?;
            let driver = DRIVERS.into_iter().find(|d| *d == provisioner)?;
            Some((c.metadata.name.clone()?, driver))
        })
        .collect();
    let claims = Kind::Pvc
        .api(client, "")
        .list(&ListParams::default())
        .await?;
    let pvs = Kind::Pv
        .api(client, "")
        .list(&ListParams::default())
        .await?;
    let params = PatchParams::default();

    for claim in &claims.items {
        let class = claim.data["spec"]["storageClassName"]
            .as_str()
            .unwrap_or("");
        let annotated = claim
            .metadata
            .annotations
            .as_ref()
            .is_some_and(|a| a.contains_key("volume.kubernetes.io/storage-provisioner"));
        let driver = ours.iter().find(|(c, _)| c == class).map(|(_, d)| *d);
        if let Some(driver) = driver
            && !annotated
            && claim.data["spec"]["volumeName"].is_null()
        {
            let ns = claim.metadata.namespace.as_deref().unwrap_or_default();
            let name = claim.metadata.name.as_deref().unwrap_or_default();
            let patch = json!({"metadata": {"annotations": {
                "volume.kubernetes.io/storage-provisioner": driver,
                "volume.beta.kubernetes.io/storage-provisioner": driver
            }}});
            Kind::Pvc
                .api(client, ns)
                .patch(name, &params, &Patch::Merge(&patch))
                .await?;
        }
    }

    for pv in &pvs.items {
        let pv_name = pv.metadata.name.as_deref().unwrap_or_default();
        let claim_ref = &pv.data["spec"]["claimRef"];
        let phase = pv.data["status"]["phase"].as_str().unwrap_or("");
        let (Some(ns), Some(claim_name)) =
            (claim_ref["namespace"].as_str(), claim_ref["name"].as_str())
        else {
            continue;
        };
        let claim = claims.items.iter().find(|c| {
            c.metadata.namespace.as_deref() == Some(ns)
                && c.metadata.name.as_deref() == Some(claim_name)
                && (claim_ref["uid"].is_null()
                    || c.metadata.uid.as_deref() == claim_ref["uid"].as_str())
        });
        let pv_api = Kind::Pv.api(client, "");
        match claim {
            Some(claim) if phase != "Bound" && phase != "Released" => {
                bind(client, pv, claim).await?
            }
            None if phase == "Bound" || phase.is_empty() || phase == "Available" => {
                let patch = json!({"status": {"phase": "Released"}});
                pv_api
                    .patch_status(pv_name, &params, &Patch::Merge(&patch))
                    .await?;
            }
            _ => {}
        }
    }
    Ok(())
}

async fn bind(
    client: &kube::Client,
    pv: &kube::api::DynamicObject,
    claim: &kube::api::DynamicObject,
) -> Result<()> {
    let params = PatchParams::default();
    let pv_name = pv.metadata.name.clone().unwrap_or_default();
    let ns = claim.metadata.namespace.clone().unwrap_or_default();
    let name = claim.metadata.name.clone().unwrap_or_default();
    let pvcs = Kind::Pvc.api(client, &ns);
    let spec = json!({
        "metadata": {"annotations": {"pv.kubernetes.io/bind-completed": "yes", "pv.kubernetes.io/bound-by-controller": "yes"}},
        "spec": {"volumeName": pv_name}
    });
    pvcs.patch(&name, &params, &Patch::Merge(&spec)).await?;
    let capacity: Value = pv.data["spec"]["capacity"].clone();
    let status = json!({"status": {
        "phase": "Bound",
        "accessModes": pv.data["spec"]["accessModes"],
        "capacity": capacity
    }});
    pvcs.patch_status(&name, &params, &Patch::Merge(&status))
        .await?;
    let pv_status = json!({"status": {"phase": "Bound"}});
    Kind::Pv
        .api(client, "")
        .patch_status(&pv_name, &params, &Patch::Merge(&pv_status))
        .await?;
    Ok(())
}
