//! WATCH through the real kube-runtime watcher and raw `Api::watch`.

use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams};
use kube::runtime::watcher::{self, Event};
use kube_standin::{Gvr, StandIn};
use serde_json::json;

use crate::fixtures::{WithLabels, config_map, standin};

/// A watcher event reduced to what the tests compare.
fn describe(event: &Event<ConfigMap>) -> String {
    match event {
        Event::Init => "Init".into(),
        Event::InitApply(o) => format!("InitApply {}", o.name_any()),
        Event::InitDone => "InitDone".into(),
        Event::Apply(o) => format!(
            "Apply {} {:?}",
            o.name_any(),
            o.data.as_ref().and_then(|d| d.get("k"))
        ),
        Event::Delete(o) => format!("Delete {}", o.name_any()),
    }
}

async fn next(
    stream: &mut (impl futures::Stream<Item = Result<Event<ConfigMap>, watcher::Error>> + Unpin),
) -> String {
    let event = tokio::time::timeout(Duration::from_secs(20), stream.try_next())
        .await
        .expect("watch event within 20s")
        .unwrap()
        .unwrap();
    describe(&event)
}

#[tokio::test]
async fn watcher_lists_then_streams_changes_in_order() {
    let (_standin, client) = standin().await;
    let api: Api<ConfigMap> = Api::default_namespaced(client);
    for name in ["a", "b"] {
        api.create(&PostParams::default(), &config_map(name))
            .await
            .unwrap();
    }
    let mut stream = watcher::watcher(api.clone(), watcher::Config::default()).boxed();
    assert_eq!(next(&mut stream).await, "Init");
    assert_eq!(next(&mut stream).await, "InitApply a");
    assert_eq!(next(&mut stream).await, "InitApply b");
    assert_eq!(next(&mut stream).await, "InitDone");

    api.create(&PostParams::default(), &config_map("c"))
        .await
        .unwrap();
    api.patch(
        "a",
        &PatchParams::default(),
        &Patch::Merge(json!({"data": {"k": "1"}})),
    )
    .await
    .unwrap();
    api.delete("b", &DeleteParams::default()).await.unwrap();
    assert_eq!(next(&mut stream).await, "Apply c None");
    assert_eq!(next(&mut stream).await, "Apply a Some(\"1\")");
    assert_eq!(next(&mut stream).await, "Delete b");
}

#[tokio::test]
async fn streaming_list_watcher_gets_initial_events_and_the_end_bookmark() {
    let (_standin, client) = standin().await;
    let api: Api<ConfigMap> = Api::default_namespaced(client);
    api.create(&PostParams::default(), &config_map("a"))
        .await
        .unwrap();
    let mut stream =
        watcher::watcher(api.clone(), watcher::Config::default().streaming_lists()).boxed();
    assert_eq!(next(&mut stream).await, "Init");
    assert_eq!(next(&mut stream).await, "InitApply a");
    assert_eq!(next(&mut stream).await, "InitDone");
    api.create(&PostParams::default(), &config_map("b"))
        .await
        .unwrap();
    assert_eq!(next(&mut stream).await, "Apply b None");
}

#[tokio::test]
async fn watch_from_a_compacted_resource_version_gets_410_gone() {
    let standin = StandIn::builder().history_limit(3).start().await.unwrap();
    let api: Api<ConfigMap> = Api::default_namespaced(standin.client().unwrap());
    for i in 0..10 {
        api.create(&PostParams::default(), &config_map(&format!("cm-{i}")))
            .await
            .unwrap();
    }
    let mut events = api
        .watch(&WatchParams::default(), "1")
        .await
        .unwrap()
        .boxed();
    match events.try_next().await.unwrap() {
        Some(WatchEvent::Error(status)) => {
            assert_eq!((status.code, status.reason.as_str()), (410, "Expired"));
        }
        other => panic!("expected a 410 ERROR event, got {other:?}"),
    }
    assert!(
        events.try_next().await.unwrap().is_none(),
        "the stream ends after the error"
    );

    // A recent revision still streams.
    let recent = standin.resource_version().to_string();
    let mut live = api
        .watch(&WatchParams::default(), &recent)
        .await
        .unwrap()
        .boxed();
    api.create(&PostParams::default(), &config_map("late"))
        .await
        .unwrap();
    match live.try_next().await.unwrap() {
        Some(WatchEvent::Added(cm)) => assert_eq!(cm.name_any(), "late"),
        other => panic!("expected ADDED, got {other:?}"),
    }
}

#[tokio::test]
async fn watcher_relists_after_410_when_it_reconnects_too_late() {
    let standin = StandIn::builder().history_limit(4).start().await.unwrap();
    let api: Api<ConfigMap> = Api::default_namespaced(standin.client().unwrap());
    api.create(&PostParams::default(), &config_map("before"))
        .await
        .unwrap();
    let mut stream = watcher::watcher(api.clone(), watcher::Config::default()).boxed();
    for expected in ["Init", "InitApply before", "InitDone"] {
        assert_eq!(next(&mut stream).await, expected);
    }

    // The API goes away; meanwhile more changes happen than the history keeps.
    standin.pause();
    let gvr = Gvr::of::<ConfigMap>();
    standin.delete_object(&gvr, "default", "before").unwrap();
    for i in 0..6 {
        standin
            .put_object(
                &gvr,
                json!({"metadata": {"name": format!("during-{i}"), "namespace": "default"}}),
            )
            .unwrap();
    }
    standin.resume();

    // The watcher surfaces the 410 (and connection errors while paused), then relists.
    let mut saw_gone = false;
    let mut relisted = Vec::new();
    loop {
        let item = tokio::time::timeout(Duration::from_secs(30), stream.next())
            .await
            .expect("watcher progresses within 30s")
            .unwrap();
        match item {
            Err(watcher::Error::WatchError(status)) if status.code == 410 => saw_gone = true,
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
            Ok(Event::Init) => relisted.clear(),
            Ok(Event::InitApply(o)) => relisted.push(o.name_any()),
            Ok(Event::InitDone) => break,
            Ok(other) => panic!("unexpected {}", describe(&other)),
        }
    }
    assert!(saw_gone, "the resumed watch must be refused with 410");
    assert_eq!(
        relisted,
        (0..6).map(|i| format!("during-{i}")).collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn selector_watch_sees_objects_leave_and_enter_the_selection() {
    let (_standin, client) = standin().await;
    let api: Api<ConfigMap> = Api::default_namespaced(client);
    api.create(
        &PostParams::default(),
        &config_map("x").with_label("tier", "gold"),
    )
    .await
    .unwrap();
    let rv = api.get("x").await.unwrap().resource_version().unwrap();
    let mut events = api
        .watch(&WatchParams::default().labels("tier=gold"), &rv)
        .await
        .unwrap()
        .boxed();
    api.patch(
        "x",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"labels": {"tier": "silver"}}})),
    )
    .await
    .unwrap();
    api.patch(
        "x",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"labels": {"tier": "gold"}}})),
    )
    .await
    .unwrap();
    let kinds: Vec<&str> = [
        events.try_next().await.unwrap(),
        events.try_next().await.unwrap(),
    ]
    .iter()
    .map(|e| match e {
        Some(WatchEvent::Deleted(_)) => "DELETED",
        Some(WatchEvent::Added(_)) => "ADDED",
        _ => "other",
    })
    .collect();
    assert_eq!(kinds, ["DELETED", "ADDED"]);
}

#[tokio::test]
async fn a_watch_ends_at_its_timeout_with_a_bookmark() {
    let (_standin, client) = standin().await;
    let api: Api<ConfigMap> = Api::default_namespaced(client);
    api.create(&PostParams::default(), &config_map("x"))
        .await
        .unwrap();
    let rv = api.get("x").await.unwrap().resource_version().unwrap();
    let events: Vec<WatchEvent<ConfigMap>> = api
        .watch(&WatchParams::default().timeout(1), &rv)
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    match events.as_slice() {
        [WatchEvent::Bookmark(b)] => assert_eq!(b.metadata.resource_version, rv),
        other => panic!("expected one closing bookmark, got {other:?}"),
    }
}
