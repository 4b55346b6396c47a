//! Server-side apply: create-or-merge, field-manager conflicts, force.

use k8s_openapi::api::coordination::v1::Lease;
use kube::api::{Api, Patch, PatchParams};
use serde_json::json;

use crate::fixtures::{api_code, standin};

fn holder(identity: &str) -> serde_json::Value {
    json!({
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "spec": {"holderIdentity": identity, "leaseDurationSeconds": 15}
    })
}

#[tokio::test]
async fn apply_creates_then_conflicts_with_another_managers_field_unless_forced() {
    let (_standin, client) = standin().await;
    let api: Api<Lease> = Api::default_namespaced(client);
    let created = api
        .patch(
            "l",
            &PatchParams::apply("manager-a"),
            &Patch::Apply(holder("a")),
        )
        .await
        .unwrap();
    assert_eq!(created.spec.unwrap().holder_identity.as_deref(), Some("a"));

    let err = api
        .patch(
            "l",
            &PatchParams::apply("manager-b"),
            &Patch::Apply(holder("b")),
        )
        .await
        .unwrap_err();
    assert_eq!(api_code(&err), Some((409, "Conflict".into())));
    assert!(err.to_string().contains(".spec.holderIdentity"), "{err}");

    // The same value is shared ownership, not a conflict.
    api.patch(
        "l",
        &PatchParams::apply("manager-b"),
        &Patch::Apply(holder("a")),
    )
    .await
    .unwrap();

    let forced = api
        .patch(
            "l",
            &PatchParams::apply("manager-b").force(),
            &Patch::Apply(holder("b")),
        )
        .await
        .unwrap();
    assert_eq!(forced.spec.unwrap().holder_identity.as_deref(), Some("b"));
}

#[tokio::test]
async fn an_update_by_another_manager_takes_ownership_without_conflict() {
    let (_standin, client) = standin().await;
    let api: Api<Lease> = Api::default_namespaced(client);
    api.patch(
        "l",
        &PatchParams::apply("manager-a"),
        &Patch::Apply(holder("a")),
    )
    .await
    .unwrap();
    let cleared = json!({"spec": {"holderIdentity": null}});
    api.patch(
        "l",
        &PatchParams {
            field_manager: Some("manager-b".into()),
            ..Default::default()
        },
        &Patch::Merge(cleared),
    )
    .await
    .unwrap();
    let taken = api
        .patch(
            "l",
            &PatchParams::apply("manager-c"),
            &Patch::Apply(holder("c")),
        )
        .await
        .unwrap();
    assert_eq!(taken.spec.unwrap().holder_identity.as_deref(), Some("c"));
}

#[tokio::test]
async fn apply_without_a_field_manager_is_rejected() {
    let (_standin, client) = standin().await;
    let api: Api<Lease> = Api::default_namespaced(client);
    let err = api
        .patch("l", &PatchParams::default(), &Patch::Apply(holder("a")))
        .await
        .unwrap_err();
    assert_eq!(api_code(&err).map(|c| c.0), Some(422));
}
