//! LIST: selectors, cluster-wide lists, paging.

use k8s_openapi::api::core::v1::ConfigMap;
use kube::ResourceExt;
use kube::api::{Api, ListParams, PostParams};

use crate::fixtures::{WithLabels, config_map, standin};

fn names(list: &kube::api::ObjectList<ConfigMap>) -> Vec<String> {
    list.items.iter().map(|o| o.name_any()).collect()
}

#[tokio::test]
async fn label_and_field_selectors_filter_lists() {
    let (_standin, client) = standin().await;
    let api: Api<ConfigMap> = Api::default_namespaced(client);
    for (name, tier) in [("a", Some("gold")), ("b", Some("silver")), ("c", None)] {
        let mut cm = config_map(name).with_label("app", "db");
        if let Some(tier) = tier {
            cm = cm.with_label("tier", tier);
        }
        api.create(&PostParams::default(), &cm).await.unwrap();
    }
    let list = |selector: &'static str| {
        let api = api.clone();
        async move {
            names(
                &api.list(&ListParams::default().labels(selector))
                    .await
                    .unwrap(),
            )
        }
    };
    assert_eq!(list("tier=gold").await, ["a"]);
    assert_eq!(list("tier!=gold").await, ["b", "c"]);
    assert_eq!(list("tier in (gold,silver)").await, ["a", "b"]);
    assert_eq!(list("tier").await, ["a", "b"]);
    assert_eq!(list("!tier").await, ["c"]);
    assert_eq!(list("app=db,tier notin (gold)").await, ["b", "c"]);

    let by_name = api
        .list(&ListParams::default().fields("metadata.name=b"))
        .await
        .unwrap();
    assert_eq!(names(&by_name), ["b"]);
    let bad = api
        .list(&ListParams::default().labels("tier in gold"))
        .await
        .unwrap_err();
    assert!(matches!(bad, kube::Error::Api(s) if s.code == 400));
}

#[tokio::test]
async fn cluster_wide_list_of_a_namespaced_kind_spans_namespaces() {
    let (_standin, client) = standin().await;
    for ns in ["one", "two"] {
        let api: Api<ConfigMap> = Api::namespaced(client.clone(), ns);
        api.create(&PostParams::default(), &config_map("cm"))
            .await
            .unwrap();
    }
    let all: Api<ConfigMap> = Api::all(client);
    let list = all.list(&ListParams::default()).await.unwrap();
    let found: Vec<(String, String)> = list
        .items
        .iter()
        .map(|o| (o.namespace().unwrap(), o.name_any()))
        .collect();
    assert_eq!(
        found,
        [("one".into(), "cm".into()), ("two".into(), "cm".into())]
    );
}

#[tokio::test]
async fn paging_returns_every_object_once_at_the_first_pages_resource_version() {
    let (_standin, client) = standin().await;
    let api: Api<ConfigMap> = Api::default_namespaced(client);
    for i in 0..5 {
        api.create(&PostParams::default(), &config_map(&format!("cm-{i}")))
            .await
            .unwrap();
    }
    let first = api.list(&ListParams::default().limit(2)).await.unwrap();
    let snapshot_rv = first.metadata.resource_version.clone();
    let mut seen = names(&first);
    let mut token = first.metadata.continue_.clone();
    // A write between pages must not move the list's resourceVersion.
    api.create(&PostParams::default(), &config_map("zz-late"))
        .await
        .unwrap();
    let mut pages = 1;
    while let Some(t) = token.filter(|t| !t.is_empty()) {
        let page = api
            .list(&ListParams::default().limit(2).continue_token(&t))
            .await
            .unwrap();
        assert_eq!(page.metadata.resource_version, snapshot_rv);
        seen.extend(names(&page));
        token = page.metadata.continue_.clone();
        pages += 1;
    }
    assert_eq!(seen, ["cm-0", "cm-1", "cm-2", "cm-3", "cm-4", "zz-late"]);
    assert_eq!(pages, 3);
}
