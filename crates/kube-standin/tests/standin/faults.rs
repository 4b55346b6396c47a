//! Fault injection and pausing, as seen by a kube client.

use std::time::Duration;

use http::Method;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube_standin::Fault;
use serde_json::json;

use crate::fixtures::{api_code, config_map, standin};

#[tokio::test]
async fn an_injected_failure_hits_the_next_matching_requests_only() {
    let (standin, client) = standin().await;
    let api: Api<ConfigMap> = Api::default_namespaced(client);
    api.create(&PostParams::default(), &config_map("x"))
        .await
        .unwrap();
    standin.inject_fault(
        Fault::on_path("/configmaps/x")
            .method(Method::PATCH)
            .times(2)
            .fail_with(500),
    );

    let patch = Patch::Merge(json!({"data": {"k": "v"}}));
    for _ in 0..2 {
        let err = api
            .patch("x", &PatchParams::default(), &patch)
            .await
            .unwrap_err();
        assert_eq!(api_code(&err).map(|c| c.0), Some(500));
    }
    assert!(api.get("x").await.is_ok(), "GETs are not matched");
    api.patch("x", &PatchParams::default(), &patch)
        .await
        .unwrap();

    let patch_statuses: Vec<u16> = standin
        .requests()
        .iter()
        .filter(|r| r.method == "PATCH")
        .map(|r| r.status)
        .collect();
    assert_eq!(patch_statuses, [500, 500, 200]);
}

#[tokio::test]
async fn injected_conflicts_carry_the_conflict_reason() {
    let (standin, client) = standin().await;
    let api: Api<ConfigMap> = Api::default_namespaced(client);
    standin.inject_fault(
        Fault::on_path("/configmaps")
            .method(Method::POST)
            .fail_with(409),
    );
    let err = api
        .create(&PostParams::default(), &config_map("x"))
        .await
        .unwrap_err();
    assert_eq!(api_code(&err), Some((409, "Conflict".into())));
    api.create(&PostParams::default(), &config_map("x"))
        .await
        .unwrap();
}

#[tokio::test]
async fn delayed_and_disconnected_requests() {
    let (standin, client) = standin().await;
    let api: Api<ConfigMap> = Api::default_namespaced(client);
    standin.inject_fault(Fault::on_path("/configmaps").disconnect());
    let err = api
        .create(&PostParams::default(), &config_map("x"))
        .await
        .unwrap_err();
    assert!(
        api_code(&err).is_none(),
        "a dropped connection is not an API status: {err}"
    );
    assert!(
        api.get_opt("x").await.unwrap().is_none(),
        "the dropped request was not served"
    );

    standin.inject_fault(Fault::on_path("/configmaps").delay(Duration::from_millis(50)));
    api.create(&PostParams::default(), &config_map("x"))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_paused_api_is_unreachable_until_resumed() {
    let (standin, client) = standin().await;
    let api: Api<ConfigMap> = Api::default_namespaced(client);
    api.create(&PostParams::default(), &config_map("x"))
        .await
        .unwrap();
    standin.pause();
    let err = api.get("x").await.unwrap_err();
    assert!(
        api_code(&err).is_none(),
        "no API answer while paused: {err}"
    );
    standin.resume();
    assert!(api.get("x").await.is_ok());
}
