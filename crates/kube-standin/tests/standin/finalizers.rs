//! Finalizers, deletionTimestamp, and ownerReference garbage collection.

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams, Preconditions};
use kube::{Resource, ResourceExt};
use kube_standin::{Gvr, Verb, WriteEffect};
use serde_json::json;

use crate::fixtures::{api_code, config_map, standin, with_finalizer};

#[tokio::test]
async fn delete_with_finalizers_marks_then_last_finalizer_removal_deletes() {
    let (standin, client) = standin().await;
    let api: Api<ConfigMap> = Api::default_namespaced(client);
    api.create(
        &PostParams::default(),
        &with_finalizer(with_finalizer(config_map("x"), "a/one"), "b/two"),
    )
    .await
    .unwrap();

    let pending = api.delete("x", &DeleteParams::default()).await.unwrap();
    let marked = pending.left().expect("finalizers keep the object");
    assert!(marked.metadata.deletion_timestamp.is_some());
    assert_eq!(marked.metadata.deletion_grace_period_seconds, Some(0));

    // A second DELETE changes nothing.
    let again = api.delete("x", &DeleteParams::default()).await.unwrap();
    assert_eq!(
        again.left().unwrap().metadata.resource_version,
        marked.metadata.resource_version
    );

    // No new finalizers on an object being deleted.
    let err = api
        .patch(
            "x",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"finalizers": ["a/one", "b/two", "c/three"]}})),
        )
        .await
        .unwrap_err();
    assert_eq!(api_code(&err), Some((422, "Invalid".into())));

    let one_left = api
        .patch(
            "x",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"finalizers": ["b/two"]}})),
        )
        .await
        .unwrap();
    assert_eq!(one_left.finalizers(), ["b/two"]);
    assert!(api.get_opt("x").await.unwrap().is_some());

    api.patch(
        "x",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"finalizers": null}})),
    )
    .await
    .unwrap();
    assert!(api.get_opt("x").await.unwrap().is_none());

    let effects: Vec<WriteEffect> = standin.events().iter().map(|w| w.effect).collect();
    assert_eq!(
        effects,
        [
            WriteEffect::Created,
            WriteEffect::DeletionStarted,
            WriteEffect::Unchanged,
            WriteEffect::Updated,
            WriteEffect::Deleted
        ]
    );
}

#[tokio::test]
async fn delete_without_finalizers_removes_at_once_and_answers_with_a_status() {
    let (_standin, client) = standin().await;
    let api: Api<ConfigMap> = Api::default_namespaced(client);
    let created = api
        .create(&PostParams::default(), &config_map("x"))
        .await
        .unwrap();
    let gone = api.delete("x", &DeleteParams::default()).await.unwrap();
    let status = gone.right().expect("deleted at once");
    assert_eq!(status.details.unwrap().uid, created.uid().unwrap());
    assert!(api.get_opt("x").await.unwrap().is_none());
}

#[tokio::test]
async fn delete_preconditions_are_enforced() {
    let (_standin, client) = standin().await;
    let api: Api<ConfigMap> = Api::default_namespaced(client);
    let created = api
        .create(&PostParams::default(), &config_map("x"))
        .await
        .unwrap();
    let wrong = DeleteParams {
        preconditions: Some(Preconditions {
            uid: Some("00000000-0000-0000-0000-000000000000".into()),
            resource_version: None,
        }),
        ..Default::default()
    };
    let err = api.delete("x", &wrong).await.unwrap_err();
    assert_eq!(api_code(&err), Some((409, "Conflict".into())));
    let right = DeleteParams {
        preconditions: Some(Preconditions {
            uid: created.uid(),
            resource_version: created.resource_version(),
        }),
        ..Default::default()
    };
    assert!(api.delete("x", &right).await.unwrap().is_right());
}

#[tokio::test]
async fn dependents_are_garbage_collected_with_their_owner_unless_orphaned() {
    let (standin, client) = standin().await;
    let api: Api<ConfigMap> = Api::default_namespaced(client);
    let owner = api
        .create(&PostParams::default(), &config_map("owner"))
        .await
        .unwrap();
    let owner_ref = owner.controller_owner_ref(&()).unwrap();
    for name in ["dep-1", "dep-2"] {
        let mut dep = config_map(name);
        dep.metadata.owner_references = Some(vec![owner_ref.clone()]);
        api.create(&PostParams::default(), &dep).await.unwrap();
    }
    api.delete("owner", &DeleteParams::default()).await.unwrap();
    assert!(api.get_opt("dep-1").await.unwrap().is_none());
    assert!(api.get_opt("dep-2").await.unwrap().is_none());
    assert!(
        standin
            .events()
            .iter()
            .any(|w| w.verb == Verb::GarbageCollect && w.name == "dep-1")
    );

    let owner = api
        .create(&PostParams::default(), &config_map("owner"))
        .await
        .unwrap();
    let mut dep = config_map("kept");
    dep.metadata.owner_references = Some(vec![owner.controller_owner_ref(&()).unwrap()]);
    api.create(&PostParams::default(), &dep).await.unwrap();
    api.delete("owner", &DeleteParams::orphan()).await.unwrap();
    let kept = standin
        .get_json(&Gvr::of::<ConfigMap>(), "default", "kept")
        .unwrap();
    assert!(kept["metadata"].get("ownerReferences").is_none());
}
