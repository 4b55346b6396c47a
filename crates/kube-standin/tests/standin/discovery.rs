//! Discovery, `/version`, and CRDs registered through the API.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{
    Api, ApiResource, DynamicObject, GroupVersionKind, Patch, PatchParams, PostParams,
};
use kube::discovery::Discovery;
use serde_json::json;

use crate::fixtures::{api_code, standin};

#[tokio::test]
async fn version_and_discovery_describe_the_served_resources() {
    let (_standin, client) = standin().await;
    let version = client.apiserver_version().await.unwrap();
    assert_eq!(
        (version.major.as_str(), version.minor.as_str()),
        ("1", "33")
    );

    let discovery = Discovery::new(client).run().await.unwrap();
    let gvk = GroupVersionKind::gvk("snapshot.storage.k8s.io", "v1", "VolumeSnapshot");
    let (resource, caps) = discovery
        .resolve_gvk(&gvk)
        .expect("snapshot CRDs are served");
    assert_eq!(resource.plural, "volumesnapshots");
    assert_eq!(caps.scope, kube::discovery::Scope::Namespaced);
    let pvc = GroupVersionKind::gvk("", "v1", "PersistentVolumeClaim");
    assert!(discovery.resolve_gvk(&pvc).is_some());
}

#[tokio::test]
async fn a_crd_created_through_the_api_is_served() {
    let (_standin, client) = standin().await;
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let crd: CustomResourceDefinition = serde_json::from_value(json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com",
            "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
            "versions": [{
                "name": "v1", "served": true, "storage": true,
                "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}},
                "subresources": {"status": {}}
            }]
        }
    }))
    .unwrap();
    crds.create(&PostParams::default(), &crd).await.unwrap();

    let ar = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("example.com", "v1", "Widget"),
        "widgets",
    );
    let widgets: Api<DynamicObject> = Api::namespaced_with(client, "default", &ar);
    let mut widget = DynamicObject::new("w", &ar);
    widget.data = json!({"spec": {"size": 1}, "status": {"ready": true}});
    let created = widgets
        .create(&PostParams::default(), &widget)
        .await
        .unwrap();
    assert_eq!(created.data["spec"]["size"], 1);
    assert!(
        created.data.get("status").is_none(),
        "status subresource: dropped on create"
    );

    // Custom resources do not accept strategic merge patches (415), like the real server.
    let err = widgets
        .patch(
            "w",
            &PatchParams::default(),
            &Patch::Strategic(json!({"spec": {"size": 2}})),
        )
        .await
        .unwrap_err();
    assert_eq!(api_code(&err).map(|c| c.0), Some(415));
}
