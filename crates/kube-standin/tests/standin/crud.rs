//! Create / get / replace / patch and the errors the real server gives for them.

use k8s_openapi::api::core::v1::{ConfigMap, PersistentVolumeClaim};
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube_standin::{Gvr, Verb, WriteEffect};
use serde_json::json;

use crate::fixtures::{api_code, config_map, pvc, standin};

#[tokio::test]
async fn typed_pvc_round_trips_without_losing_fields() {
    let (standin, client) = standin().await;
    let api: Api<PersistentVolumeClaim> = Api::namespaced(client, "apps");
    let sent = pvc("data");
    let created = api.create(&PostParams::default(), &sent).await.unwrap();
    let fetched = api.get("data").await.unwrap();

    assert_eq!(fetched.spec, sent.spec);
    assert_eq!(fetched.metadata.labels, sent.metadata.labels);
    assert_eq!(fetched.metadata.annotations, sent.metadata.annotations);
    assert_eq!(fetched.metadata.namespace.as_deref(), Some("apps"));
    assert_eq!(fetched.metadata.generation, Some(1));
    assert!(
        fetched
            .metadata
            .uid
            .as_deref()
            .is_some_and(|u| u.len() == 36)
    );
    assert!(fetched.metadata.creation_timestamp.is_some());
    assert_eq!(
        fetched.metadata.resource_version,
        created.metadata.resource_version
    );
    // The stored JSON is what the typed client sent, plus server metadata only.
    let stored = standin
        .get_json(&Gvr::of::<PersistentVolumeClaim>(), "apps", "data")
        .unwrap();
    assert_eq!(stored["spec"]["dataSource"]["kind"], "VolumeSnapshot");
    assert_eq!(stored["apiVersion"], "v1");

    // Defaults the real server fills in on decode.
    let mut filesystem = pvc("fs");
    filesystem.spec.as_mut().unwrap().volume_mode = None;
    let created = api
        .create(&PostParams::default(), &filesystem)
        .await
        .unwrap();
    assert_eq!(
        created.spec.unwrap().volume_mode.as_deref(),
        Some("Filesystem")
    );
}

#[tokio::test]
async fn resource_versions_come_from_one_increasing_counter() {
    let (_standin, client) = standin().await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let pvcs: Api<PersistentVolumeClaim> = Api::namespaced(client, "default");
    let a = cms
        .create(&PostParams::default(), &config_map("a"))
        .await
        .unwrap();
    let b = pvcs
        .create(&PostParams::default(), &pvc("b"))
        .await
        .unwrap();
    let c = cms
        .create(&PostParams::default(), &config_map("c"))
        .await
        .unwrap();
    let rv =
        |m: &kube::api::ObjectMeta| m.resource_version.as_ref().unwrap().parse::<u64>().unwrap();
    assert!(rv(&a.metadata) < rv(&b.metadata));
    assert!(rv(&b.metadata) < rv(&c.metadata));
}

#[tokio::test]
async fn creating_an_existing_object_is_409_already_exists() {
    let (_standin, client) = standin().await;
    let api: Api<ConfigMap> = Api::default_namespaced(client);
    api.create(&PostParams::default(), &config_map("x"))
        .await
        .unwrap();
    let err = api
        .create(&PostParams::default(), &config_map("x"))
        .await
        .unwrap_err();
    assert_eq!(api_code(&err), Some((409, "AlreadyExists".into())));
}

#[tokio::test]
async fn generate_name_is_honoured_and_bad_names_are_invalid() {
    let (_standin, client) = standin().await;
    let api: Api<ConfigMap> = Api::default_namespaced(client);
    let mut cm = config_map("");
    cm.metadata.name = None;
    cm.metadata.generate_name = Some("snap-".into());
    let created = api.create(&PostParams::default(), &cm).await.unwrap();
    let name = created.metadata.name.unwrap();
    assert!(name.starts_with("snap-") && name.len() == 10, "{name}");

    let err = api
        .create(&PostParams::default(), &config_map("Not_Valid"))
        .await
        .unwrap_err();
    assert_eq!(api_code(&err), Some((422, "Invalid".into())));
    let mut nameless = config_map("");
    nameless.metadata.name = None;
    let err = api
        .create(&PostParams::default(), &nameless)
        .await
        .unwrap_err();
    assert_eq!(api_code(&err), Some((422, "Invalid".into())));
}

#[tokio::test]
async fn missing_objects_are_404_not_found_in_their_namespace_only() {
    let (_standin, client) = standin().await;
    let here: Api<ConfigMap> = Api::namespaced(client.clone(), "here");
    let there: Api<ConfigMap> = Api::namespaced(client, "there");
    here.create(&PostParams::default(), &config_map("x"))
        .await
        .unwrap();
    let err = there.get("x").await.unwrap_err();
    assert_eq!(api_code(&err), Some((404, "NotFound".into())));
    let err = there.delete("x", &Default::default()).await.unwrap_err();
    assert_eq!(api_code(&err), Some((404, "NotFound".into())));
    assert!(here.get_opt("x").await.unwrap().is_some());
}

#[tokio::test]
async fn replace_with_a_stale_resource_version_is_409_conflict() {
    let (_standin, client) = standin().await;
    let api: Api<ConfigMap> = Api::default_namespaced(client);
    let created = api
        .create(&PostParams::default(), &config_map("x"))
        .await
        .unwrap();

    let mut first = created.clone();
    first.data = Some([("k".to_string(), "1".to_string())].into());
    let replaced = api
        .replace("x", &PostParams::default(), &first)
        .await
        .unwrap();
    assert_ne!(
        replaced.metadata.resource_version,
        created.metadata.resource_version
    );

    let mut stale = created.clone();
    stale.data = Some([("k".to_string(), "2".to_string())].into());
    let err = api
        .replace("x", &PostParams::default(), &stale)
        .await
        .unwrap_err();
    assert_eq!(api_code(&err), Some((409, "Conflict".into())));
    assert_eq!(api.get("x").await.unwrap().data.unwrap()["k"], "1");

    // Without a resourceVersion, PUT is unconditional.
    stale.metadata.resource_version = None;
    let forced = api
        .replace("x", &PostParams::default(), &stale)
        .await
        .unwrap();
    assert_eq!(forced.data.unwrap()["k"], "2");
}

#[tokio::test]
async fn a_name_mismatch_between_url_and_body_is_a_bad_request() {
    let (_standin, client) = standin().await;
    let api: Api<ConfigMap> = Api::default_namespaced(client);
    api.create(&PostParams::default(), &config_map("x"))
        .await
        .unwrap();
    let err = api
        .replace("x", &PostParams::default(), &config_map("y"))
        .await
        .unwrap_err();
    assert_eq!(api_code(&err), Some((400, "BadRequest".into())));
}

#[tokio::test]
async fn merge_patch_merges_and_enforces_a_resource_version_it_carries() {
    let (_standin, client) = standin().await;
    let api: Api<ConfigMap> = Api::default_namespaced(client);
    let created = api
        .create(&PostParams::default(), &{
            let mut cm = config_map("x");
            cm.data = Some(
                [
                    ("a".to_string(), "1".to_string()),
                    ("b".to_string(), "2".to_string()),
                ]
                .into(),
            );
            cm
        })
        .await
        .unwrap();
    let patched = api
        .patch(
            "x",
            &PatchParams::default(),
            &Patch::Merge(json!({"data": {"a": null, "c": "3"}})),
        )
        .await
        .unwrap();
    let data = patched.data.unwrap();
    assert_eq!(data.keys().collect::<Vec<_>>(), ["b", "c"]);

    let stale = json!({"metadata": {"resourceVersion": created.metadata.resource_version}, "data": {"d": "4"}});
    let err = api
        .patch("x", &PatchParams::default(), &Patch::Merge(stale))
        .await
        .unwrap_err();
    assert_eq!(api_code(&err), Some((409, "Conflict".into())));
}

#[tokio::test]
async fn json_patch_applies_atomically_and_a_failed_test_is_422() {
    let (_standin, client) = standin().await;
    let api: Api<ConfigMap> = Api::default_namespaced(client);
    api.create(&PostParams::default(), &config_map("x"))
        .await
        .unwrap();
    let patch: json_patch::Patch = serde_json::from_value(json!([
        {"op": "add", "path": "/data", "value": {"k": "v"}},
        {"op": "test", "path": "/data/k", "value": "v"}
    ]))
    .unwrap();
    let patched = api
        .patch("x", &PatchParams::default(), &Patch::Json::<()>(patch))
        .await
        .unwrap();
    assert_eq!(patched.data.unwrap()["k"], "v");

    let failing: json_patch::Patch = serde_json::from_value(json!([
        {"op": "replace", "path": "/data/k", "value": "changed"},
        {"op": "test", "path": "/data/k", "value": "something-else"}
    ]))
    .unwrap();
    let err = api
        .patch("x", &PatchParams::default(), &Patch::Json::<()>(failing))
        .await
        .unwrap_err();
    assert_eq!(api_code(&err), Some((422, "Invalid".into())));
    assert_eq!(
        api.get("x").await.unwrap().data.unwrap()["k"],
        "v",
        "nothing applied"
    );
}

#[tokio::test]
async fn a_no_op_update_changes_nothing_and_emits_no_new_resource_version() {
    let (standin, client) = standin().await;
    let api: Api<ConfigMap> = Api::default_namespaced(client);
    let created = api
        .create(&PostParams::default(), &config_map("x"))
        .await
        .unwrap();
    let same = api
        .patch(
            "x",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": null}})),
        )
        .await
        .unwrap();
    assert_eq!(
        same.metadata.resource_version,
        created.metadata.resource_version
    );
    let effects: Vec<(Verb, WriteEffect)> = standin
        .events()
        .iter()
        .map(|w| (w.verb, w.effect))
        .collect();
    assert_eq!(
        effects,
        [
            (Verb::Create, WriteEffect::Created),
            (Verb::Patch, WriteEffect::Unchanged)
        ]
    );
}

#[tokio::test]
async fn generation_follows_spec_changes_only() {
    let (_standin, client) = standin().await;
    let api: Api<PersistentVolumeClaim> = Api::default_namespaced(client);
    api.create(&PostParams::default(), &pvc("x")).await.unwrap();
    let relabelled = api
        .patch(
            "x",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"new": "label"}}})),
        )
        .await
        .unwrap();
    assert_eq!(relabelled.metadata.generation, Some(1));
    let resized = api
        .patch(
            "x",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"resources": {"requests": {"storage": "2Gi"}}}})),
        )
        .await
        .unwrap();
    assert_eq!(resized.metadata.generation, Some(2));
}

#[tokio::test]
async fn dry_run_create_answers_without_storing() {
    let (standin, client) = standin().await;
    let api: Api<ConfigMap> = Api::default_namespaced(client);
    let pp = PostParams {
        dry_run: true,
        ..Default::default()
    };
    let answered = api.create(&pp, &config_map("x")).await.unwrap();
    assert_eq!(answered.metadata.name.as_deref(), Some("x"));
    assert!(api.get_opt("x").await.unwrap().is_none());
    assert!(standin.events().is_empty());
}

#[tokio::test]
async fn typed_test_helpers_act_outside_the_api_rules_for_status_and_resource_version() {
    let (standin, client) = standin().await;
    let api: Api<PersistentVolumeClaim> = Api::default_namespaced(client);
    api.create(&PostParams::default(), &pvc("x")).await.unwrap();

    // A "kubelet" sets status directly, without knowing the resourceVersion.
    let mut claim: PersistentVolumeClaim = standin.get("default", "x").unwrap().unwrap();
    claim.metadata.resource_version = Some("1".into());
    claim.status = Some(k8s_openapi::api::core::v1::PersistentVolumeClaimStatus {
        phase: Some("Bound".into()),
        ..Default::default()
    });
    let stored = standin.put(&claim).unwrap();
    assert_eq!(
        stored.status.as_ref().unwrap().phase.as_deref(),
        Some("Bound")
    );
    assert_eq!(
        api.get("x").await.unwrap().status.unwrap().phase.as_deref(),
        Some("Bound")
    );
    let last = standin.events().pop().unwrap();
    assert_eq!(
        (last.verb, last.effect),
        (Verb::Direct, WriteEffect::Updated)
    );
}
