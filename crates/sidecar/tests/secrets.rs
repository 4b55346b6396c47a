//! CSI secrets read through the API stand-in: what a CSI call would carry, and the errors that
//! name the Secret (and the field pointing at it) without ever showing a value.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;

use k8s_openapi::api::core::v1::SecretReference;
use kube_standin::{Gvr, StandIn};
use serde_json::{Value, json};
use sidecar::SidecarError;
use sidecar::secrets::{fetch, fetch_referenced};

const REFERENCED_BY: &str = "the PV's controllerPublishSecretRef";

/// Writes Secret `csi/name` with `data` (base64 values) and `stringData`, as a client would.
fn put_secret(standin: &StandIn, name: &str, data: Value, string_data: Value) {
    standin
        .put_object(
            &Gvr::new("", "v1", "secrets"),
            json!({"apiVersion": "v1", "kind": "Secret",
                "metadata": {"name": name, "namespace": "csi"},
                "data": data, "stringData": string_data}),
        )
        .unwrap();
}

fn reference(namespace: &str, name: &str) -> SecretReference {
    SecretReference {
        namespace: Some(namespace.to_owned()),
        name: Some(name.to_owned()),
    }
}

#[tokio::test]
async fn data_is_decoded_and_string_data_wins_over_data() {
    let standin = StandIn::start().await.unwrap();
    // base64 of "admin", "key" and "stale"
    put_secret(
        &standin,
        "ceph",
        json!({"userID": "YWRtaW4=", "userKey": "a2V5", "both": "c3RhbGU="}),
        json!({"both": "fresh"}),
    );
    let client = standin.client().unwrap();
    let secrets = fetch_referenced(&client, Some(&reference("csi", "ceph")), REFERENCED_BY)
        .await
        .unwrap();
    // What a log line would show of them: keys only.
    let shown = format!("{secrets:?} {secrets}");
    assert!(
        !shown.contains("admin") && !shown.contains("fresh"),
        "{shown}"
    );
    let secrets = secrets.into_csi();
    assert_eq!(
        secrets,
        HashMap::from([
            ("userID".to_owned(), "admin".to_owned()),
            ("userKey".to_owned(), "key".to_owned()),
            ("both".to_owned(), "fresh".to_owned()),
        ])
    );
    assert_eq!(
        fetch(&client, "csi", "ceph", REFERENCED_BY)
            .await
            .unwrap()
            .into_csi(),
        secrets
    );
}

#[tokio::test]
async fn no_reference_means_no_secrets_without_asking_the_api_server() {
    let standin = StandIn::start().await.unwrap();
    let client = standin.client().unwrap();
    let secrets = fetch_referenced(&client, None, REFERENCED_BY)
        .await
        .unwrap();
    assert!(secrets.is_empty());
    assert!(standin.requests().is_empty(), "{:?}", standin.requests());
}

#[tokio::test]
async fn a_missing_secret_names_the_secret_and_the_field_that_points_at_it() {
    let standin = StandIn::start().await.unwrap();
    let client = standin.client().unwrap();
    let error = fetch_referenced(&client, Some(&reference("csi", "gone")), REFERENCED_BY)
        .await
        .unwrap_err();
    assert!(
        matches!(&error, SidecarError::SecretMissing { namespace, name, .. }
            if namespace == "csi" && name == "gone"),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        "Secret csi/gone (the PV's controllerPublishSecretRef) does not exist"
    );
}

#[tokio::test]
async fn a_value_that_is_not_text_names_its_key_but_not_the_value() {
    let standin = StandIn::start().await.unwrap();
    // base64 of the byte 0xff, which is not UTF-8
    put_secret(&standin, "binary", json!({"userKey": "/w=="}), json!({}));
    let client = standin.client().unwrap();
    let error = fetch(&client, "csi", "binary", REFERENCED_BY)
        .await
        .unwrap_err();
    assert!(
        matches!(&error, SidecarError::SecretNotText { key, .. } if key == "userKey"),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        "Secret csi/binary: the value of key \"userKey\" is not UTF-8 text"
    );
}
