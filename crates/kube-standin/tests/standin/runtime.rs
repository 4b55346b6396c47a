//! kube-runtime's building blocks against the stand-in: the finalizer helper, a Controller,
//! metadata-only APIs.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{ConfigMap, PersistentVolumeClaim};
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::core::PartialObjectMeta;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::finalizer::{Event as FinalizerEvent, finalizer};
use kube::runtime::watcher;
use kube_standin::Gvr;
use parking_lot::Mutex;
use serde_json::json;

use crate::fixtures::{config_map, pvc, standin};

const FINALIZER: &str = "rbd.csi.sepia.io/provisioner";

#[derive(Debug, thiserror::Error)]
#[error("reconcile failed")]
struct ReconcileError;

async fn run_finalizer(api: &Api<PersistentVolumeClaim>, seen: &Arc<Mutex<Vec<String>>>) -> Action {
    let obj = Arc::new(api.get("claim").await.unwrap());
    let seen = seen.clone();
    finalizer(api, FINALIZER, obj, |event| async move {
        let what = match event {
            FinalizerEvent::Apply(o) => format!("apply {}", o.name_any()),
            FinalizerEvent::Cleanup(o) => format!("cleanup {}", o.name_any()),
        };
        seen.lock().push(what);
        Ok::<_, ReconcileError>(Action::await_change())
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn finalizer_helper_adds_applies_cleans_up_and_releases_a_pvc() {
    let (standin, client) = standin().await;
    let api: Api<PersistentVolumeClaim> = Api::default_namespaced(client);
    api.create(&PostParams::default(), &pvc("claim"))
        .await
        .unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));

    // First pass adds the finalizer (JSON patch with `test` on a missing list), second applies.
    run_finalizer(&api, &seen).await;
    assert_eq!(api.get("claim").await.unwrap().finalizers(), [FINALIZER]);
    run_finalizer(&api, &seen).await;

    // Deletion is held by the finalizer until cleanup removes it.
    assert!(
        api.delete("claim", &DeleteParams::default())
            .await
            .unwrap()
            .is_left()
    );
    run_finalizer(&api, &seen).await;
    assert!(api.get_opt("claim").await.unwrap().is_none());
    assert_eq!(*seen.lock(), ["apply claim", "cleanup claim"]);
    assert!(
        standin
            .get_json(&Gvr::of::<PersistentVolumeClaim>(), "default", "claim")
            .is_none()
    );
}

#[tokio::test]
async fn finalizer_removal_with_a_stale_index_is_refused() {
    let (_standin, client) = standin().await;
    let api: Api<ConfigMap> = Api::default_namespaced(client);
    let mut cm = config_map("x");
    cm.metadata.finalizers = Some(vec!["a".into(), "b".into()]);
    api.create(&PostParams::default(), &cm).await.unwrap();
    // Someone else removed "a"; index 1 no longer holds "b" — the helper's `test` op guards this.
    api.patch(
        "x",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"finalizers": ["b"]}})),
    )
    .await
    .unwrap();
    let patch: json_patch::Patch = serde_json::from_value(json!([
        {"op": "test", "path": "/metadata/finalizers/1", "value": "b"},
        {"op": "remove", "path": "/metadata/finalizers/1"}
    ]))
    .unwrap();
    let err = api
        .patch("x", &PatchParams::default(), &Patch::Json::<()>(patch))
        .await
        .unwrap_err();
    assert!(matches!(err, kube::Error::Api(s) if s.code == 422));
    assert_eq!(api.get("x").await.unwrap().finalizers(), ["b"]);
}

#[tokio::test]
async fn controller_reconciles_config_maps_to_completion() {
    let (standin, client) = standin().await;
    let api: Api<ConfigMap> = Api::default_namespaced(client);
    for name in ["a", "b", "c"] {
        api.create(&PostParams::default(), &config_map(name))
            .await
            .unwrap();
    }

    async fn reconcile(
        cm: Arc<ConfigMap>,
        api: Arc<Api<ConfigMap>>,
    ) -> Result<Action, kube::Error> {
        let done = cm
            .data
            .as_ref()
            .is_some_and(|d| d.contains_key("reconciled"));
        if !done {
            let patch = json!({"data": {"reconciled": "true"}});
            api.patch(
                &cm.name_any(),
                &PatchParams::default(),
                &Patch::Merge(patch),
            )
            .await?;
        }
        Ok(Action::await_change())
    }
    fn error_policy(_: Arc<ConfigMap>, _: &kube::Error, _: Arc<Api<ConfigMap>>) -> Action {
        Action::requeue(Duration::from_millis(100))
    }

    let controller = tokio::spawn(
        Controller::new(api.clone(), watcher::Config::default())
            .run(reconcile, error_policy, Arc::new(api.clone()))
            .for_each(|_| async {}),
    );
    let gvr = Gvr::of::<ConfigMap>();
    // One created after the controller started must be picked up from the watch.
    api.create(&PostParams::default(), &config_map("d"))
        .await
        .unwrap();
    for name in ["a", "b", "c", "d"] {
        standin
            .wait_for(
                &gvr,
                "default",
                name,
                |o| o.is_some_and(|o| o["data"]["reconciled"] == "true"),
                Duration::from_secs(30),
            )
            .await
            .unwrap();
    }
    controller.abort();
    // Each object was patched exactly once: await_change plus no-op skipping means no loop.
    let patches = standin
        .events()
        .iter()
        .filter(|w| {
            w.verb == kube_standin::Verb::Patch && w.effect == kube_standin::WriteEffect::Updated
        })
        .count();
    assert_eq!(patches, 4);
}

#[tokio::test]
async fn metadata_only_get_and_list() {
    let (_standin, client) = standin().await;
    let api: Api<ConfigMap> = Api::default_namespaced(client);
    let mut cm = config_map("x");
    cm.data = Some([("secret-ish".to_string(), "payload".to_string())].into());
    api.create(&PostParams::default(), &cm).await.unwrap();
    let meta: PartialObjectMeta<ConfigMap> = api.get_metadata("x").await.unwrap();
    assert_eq!(meta.name_any(), "x");
    let list = api.list_metadata(&ListParams::default()).await.unwrap();
    assert_eq!(list.items.len(), 1);
    assert!(list.metadata.resource_version.is_some());
}
