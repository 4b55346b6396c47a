//! The status subresource isolates status from spec, both ways.

use k8s_openapi::api::core::v1::{PersistentVolumeClaim, PersistentVolumeClaimStatus};
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::json;

use crate::fixtures::{api_code, pvc, standin};

#[tokio::test]
async fn status_written_with_the_object_on_create_is_replaced_by_the_default() {
    let (_standin, client) = standin().await;
    let api: Api<PersistentVolumeClaim> = Api::default_namespaced(client);
    let mut claim = pvc("x");
    claim.status = Some(PersistentVolumeClaimStatus {
        phase: Some("Bound".into()),
        ..Default::default()
    });
    let created = api.create(&PostParams::default(), &claim).await.unwrap();
    // The given status is dropped; the real server's defaulting then makes it Pending.
    assert_eq!(created.status.unwrap().phase.as_deref(), Some("Pending"));
}

#[tokio::test]
async fn status_subresource_changes_status_only() {
    let (_standin, client) = standin().await;
    let api: Api<PersistentVolumeClaim> = Api::default_namespaced(client);
    api.create(&PostParams::default(), &pvc("x")).await.unwrap();

    let patched = api
        .patch_status(
            "x",
            &PatchParams::default(),
            &Patch::Merge(json!({
                "spec": {"storageClassName": "other"},
                "metadata": {"labels": {"sneaky": "yes"}},
                "status": {"phase": "Bound"}
            })),
        )
        .await
        .unwrap();
    assert_eq!(patched.status.unwrap().phase.as_deref(), Some("Bound"));
    let spec = patched.spec.unwrap();
    assert_eq!(spec.storage_class_name.as_deref(), Some("sepia-rbd"));
    assert!(!patched.metadata.labels.unwrap().contains_key("sneaky"));
    assert_eq!(patched.metadata.generation, Some(1));

    let fetched = api.get_status("x").await.unwrap();
    assert_eq!(fetched.status.unwrap().phase.as_deref(), Some("Bound"));
}

#[tokio::test]
async fn main_resource_writes_ignore_status() {
    let (_standin, client) = standin().await;
    let api: Api<PersistentVolumeClaim> = Api::default_namespaced(client);
    api.create(&PostParams::default(), &pvc("x")).await.unwrap();
    api.patch_status(
        "x",
        &PatchParams::default(),
        &Patch::Merge(json!({"status": {"phase": "Bound"}})),
    )
    .await
    .unwrap();

    let mut current = api.get("x").await.unwrap();
    current.status.as_mut().unwrap().phase = Some("Lost".into());
    current.spec.as_mut().unwrap().storage_class_name = Some("changed".into());
    let replaced = api
        .replace("x", &PostParams::default(), &current)
        .await
        .unwrap();
    assert_eq!(replaced.status.unwrap().phase.as_deref(), Some("Bound"));
    assert_eq!(
        replaced.spec.unwrap().storage_class_name.as_deref(),
        Some("changed")
    );

    let patched = api
        .patch(
            "x",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"phase": "Lost"}})),
        )
        .await
        .unwrap();
    assert_eq!(patched.status.unwrap().phase.as_deref(), Some("Bound"));
}

#[tokio::test]
async fn status_put_with_a_stale_resource_version_is_409() {
    let (_standin, client) = standin().await;
    let api: Api<PersistentVolumeClaim> = Api::default_namespaced(client);
    let created = api.create(&PostParams::default(), &pvc("x")).await.unwrap();
    api.patch(
        "x",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"labels": {"a": "b"}}})),
    )
    .await
    .unwrap();
    let mut stale = created;
    stale.status = Some(PersistentVolumeClaimStatus {
        phase: Some("Bound".into()),
        ..Default::default()
    });
    let err = api
        .replace_status("x", &PostParams::default(), &stale)
        .await
        .unwrap_err();
    assert_eq!(api_code(&err), Some((409, "Conflict".into())));
}

#[tokio::test]
async fn kinds_without_a_status_subresource_have_no_status_path() {
    let (_standin, client) = standin().await;
    let api: kube::Api<k8s_openapi::api::core::v1::ConfigMap> = Api::default_namespaced(client);
    api.create(&PostParams::default(), &crate::fixtures::config_map("x"))
        .await
        .unwrap();
    let err = api.get_status("x").await.unwrap_err();
    assert_eq!(api_code(&err).map(|c| c.0), Some(404));
}
