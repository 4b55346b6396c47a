//! A kubeconfig file is how real sidecar binaries find the stand-in.

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};

use crate::fixtures::{config_map, standin};

#[tokio::test]
async fn kube_accepts_an_http_kubeconfig_pointing_at_the_standin() {
    let (standin, _) = standin().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kubeconfig");
    standin.write_kubeconfig(&path).unwrap();

    let kubeconfig = Kubeconfig::read_from(&path).unwrap();
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .unwrap();
    assert_eq!(
        config.cluster_url.to_string(),
        format!("{}/", standin.url())
    );
    assert_eq!(config.default_namespace, "default");
    let client = kube::Client::try_from(config).unwrap();

    let api: Api<ConfigMap> = Api::default_namespaced(client);
    api.create(&PostParams::default(), &config_map("via-kubeconfig"))
        .await
        .unwrap();
    let stored = standin.get_json(
        &kube_standin::Gvr::of::<ConfigMap>(),
        "default",
        "via-kubeconfig",
    );
    assert!(stored.is_some());
    assert!(standin.requests().iter().any(|r| r.method == "POST"
        && r.path == "/api/v1/namespaces/default/configmaps"
        && r.status == 201));
}

#[tokio::test]
async fn a_kubeconfig_for_a_service_account_acts_as_it() {
    let (standin, _) = standin().await;
    standin
        .apply_yaml(
            "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: sa, namespace: default}\n",
        )
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kubeconfig");
    standin
        .write_kubeconfig_for(&path, &standin.service_account_token("default", "sa"))
        .unwrap();
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600
    );

    let kubeconfig = Kubeconfig::read_from(&path).unwrap();
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .unwrap();
    let api: Api<ConfigMap> = Api::default_namespaced(kube::Client::try_from(config).unwrap());
    let err = api
        .create(&PostParams::default(), &config_map("x"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, kube::Error::Api(s) if s.code == 403 && s.message.contains("User \"system:serviceaccount:default:sa\" cannot create")),
        "{err:?}"
    );
}
