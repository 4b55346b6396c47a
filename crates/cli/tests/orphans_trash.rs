//! `sepia orphans` and the trash: driver images left there past their deferment end with no
//! journal entry are listed and `--delete` removes exactly those; one still deferred is not
//! listed; a deleted source the trash keeps for its snapshot's clone is listed as such and never
//! removed. Without `--pool` the scan covers every RBD pool holding the cluster's namespace;
//! without `--cluster-id`, every cluster of config.json.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::findings::findings;
use common::{Fixture, bed, uuid_of};

/// The fields the findings are compared by.
const FIELDS: &[&str] = &["what", "uuid", "removable"];

fn finding(what: &str, uuid: &str, removable: bool) -> Vec<String> {
    common::findings::finding(&[what, uuid, &removable.to_string()])
}

/// Deletes volume `request_name`'s journal (entry object and directory key) behind the
/// controller's back and moves its image to the trash for `delay`: a delete whose purge was lost.
async fn trash_behind_its_back(fx: &Fixture, request_name: &str, volume_id: &str, delay: u64) {
    let io = &fx.ns.io;
    let uuid = uuid_of(volume_id);
    ceph::rbd::trash_move_deferred(io, &format!("csi-vol-{uuid}"), Duration::from_secs(delay))
        .await
        .unwrap();
    io.remove(&format!("csi.volume.{uuid}")).await.unwrap();
    io.omap_remove_keys(
        "csi.volumes.default",
        &[&format!("csi.volume.{request_name}")],
    )
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orphans_lists_trash_past_its_time_and_sources_kept_by_clones_and_deletes_only_the_first() {
    Fixture::run(|fx| async move {
        let pool = bed().pool.clone();
        let healthy = fx.create_volume("pvc-healthy").await;

        // Trashed without deferment, its purge lost: past its time at once.
        let expired = fx.create_volume("pvc-expired").await;
        trash_behind_its_back(&fx, "pvc-expired", &expired.volume_id, 0).await;
        // Deferred for a second: listed once that second is over.
        let short = fx.create_volume("pvc-short").await;
        trash_behind_its_back(&fx, "pvc-short", &short.volume_id, 1).await;
        // Deferred for an hour: not listed.
        let deferred = fx.create_volume("pvc-deferred").await;
        trash_behind_its_back(&fx, "pvc-deferred", &deferred.volume_id, 3600).await;
        // A volume with a snapshot, deleted through the controller: the trash keeps its image
        // for the snapshot's clone.
        let source = fx.create_volume("pvc-source").await;
        let snapshot = fx
            .create_snapshot("snap-of-source", &source.volume_id)
            .await;
        fx.ns
            .wait_image_id(&snapshot.snapshot_id, Duration::from_secs(60))
            .await;
        let mut client = fx.controller.clone();
        client
            .delete_volume(fx.ns.delete_volume_request(&source.volume_id))
            .await
            .unwrap();

        let expected = BTreeSet::from([
            finding("trash-expired", &uuid_of(&expired.volume_id), true),
            finding("trash-expired", &uuid_of(&short.volume_id), true),
            finding("kept-by-clones", &uuid_of(&source.volume_id), false),
        ]);
        let scan = ["orphans", "--trash-grace", "0s"];
        // The one-second deferment ends on its own: poll until it has.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        let (listed, last) = loop {
            let last = fx.sepia_json(&scan).await;
            if findings(&last, FIELDS) == expected {
                break (true, last);
            }
            if tokio::time::Instant::now() > deadline {
                break (false, last);
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        assert!(listed, "{last:#}");
        // Without --pool: every RBD pool holding the namespace, here the bed's one.
        let label = format!("{pool}/{}", fx.ns.namespace);
        assert_eq!(last["pools"], serde_json::json!([label]), "{last:#}");
        for f in last["findings"].as_array().unwrap() {
            assert!(f["age_seconds"].is_u64(), "{f:#}");
            assert!(
                f["object"].as_str().unwrap().contains("(trash id "),
                "{f:#}"
            );
        }
        let kept = last["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["what"] == "kept-by-clones")
            .unwrap();
        let snapshot_image = format!("csi-snap-{}", uuid_of(&snapshot.snapshot_id));
        assert!(
            kept["why"].as_str().unwrap().contains(&snapshot_image),
            "names the clone that keeps it: {kept:#}"
        );
        // The default grace covers a purge in flight: nothing is listed yet.
        let fresh = fx.sepia_json(&["orphans", "--pool", &pool]).await;
        assert_eq!(
            findings(&fresh, FIELDS),
            BTreeSet::<Vec<String>>::new(),
            "{fresh:#}"
        );

        let deleted = fx
            .sepia_json(&["orphans", "--trash-grace", "0s", "--delete", "--yes"])
            .await;
        let removed: Vec<&str> = deleted["removed"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r.as_str().unwrap())
            .collect();
        assert_eq!(removed.len(), 2, "{deleted:#}");
        assert!(
            removed.iter().all(|r| r.ends_with(": removed")),
            "{deleted:#}"
        );

        let trash: BTreeSet<String> = fx.ns.trash().await.into_iter().collect();
        let want: BTreeSet<String> = [&deferred.volume_id, &source.volume_id]
            .iter()
            .map(|id| format!("csi-vol-{}", uuid_of(id)))
            .collect();
        assert_eq!(trash, want, "exactly the expired entries went");
        let images: BTreeSet<String> = fx.ns.images().await.into_iter().collect();
        assert!(images.contains(&format!("csi-vol-{}", uuid_of(&healthy.volume_id))));
        assert!(images.contains(&snapshot_image));
        let after = fx.sepia_json(&scan).await;
        assert_eq!(
            findings(&after, FIELDS),
            BTreeSet::from([finding(
                "kept-by-clones",
                &uuid_of(&source.volume_id),
                false
            )]),
            "{after:#}"
        );
    })
    .await;
}

/// `sepia orphans` without `--cluster-id` over a config.json of two clusterIDs on the same Ceph
/// (each its own RBD namespace, as multi-tenant setups have): both are scanned, each finding
/// names its cluster, and `--delete` removes in each.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orphans_scans_every_cluster_of_the_config_without_cluster_id() {
    Fixture::run(|fx| async move {
        let other = format!("{}-b", fx.ns.namespace);
        ceph::rbd::namespace_create(&fx.ns.pool_io, &other)
            .await
            .unwrap();
        let other_io = fx.ns.rados.ioctx(&bed().pool, &other).await.unwrap();
        let (a, b) = (uuid::Uuid::new_v4(), uuid::Uuid::new_v4());
        let options = ceph::rbd::CreateOptions::default();
        ceph::rbd::create(&fx.ns.io, &format!("csi-vol-{a}"), 1 << 20, &options)
            .await
            .unwrap();
        ceph::rbd::create(&other_io, &format!("csi-vol-{b}"), 1 << 20, &options)
            .await
            .unwrap();
        let config = fx.dir().join("two-clusters.json");
        let monitors: Vec<&str> = bed().monitors.split(',').collect();
        let body = serde_json::json!([
            {"clusterID": "bed", "monitors": monitors, "rbd": {"radosNamespace": fx.ns.namespace}},
            {"clusterID": "bed-b", "monitors": monitors, "rbd": {"radosNamespace": other}},
        ]);
        std::fs::write(&config, body.to_string()).unwrap();
        let run = |extra: &'static [&'static str]| {
            let config = config.clone();
            let fx = &fx;
            async move {
                let mut args = vec!["orphans", "-o", "json"];
                args.extend(extra);
                let out = fx.sepia_with(&args, &config, &fx.creds_dir).await;
                assert!(
                    out.status.success(),
                    "{}",
                    String::from_utf8_lossy(&out.stderr)
                );
                serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
            }
        };
        let fields = &["cluster_id", "what", "uuid"];
        let report = run(&[]).await;
        assert_eq!(
            report["clusters"],
            serde_json::json!(["bed", "bed-b"]),
            "{report:#}"
        );
        assert_eq!(
            findings(&report, fields),
            BTreeSet::from([
                common::findings::finding(&["bed", "image-without-entry", &a.to_string()]),
                common::findings::finding(&["bed-b", "image-without-entry", &b.to_string()]),
            ]),
            "{report:#}"
        );
        let deleted = run(&["--delete", "--yes"]).await;
        assert_eq!(
            deleted["removed"].as_array().unwrap().len(),
            2,
            "{deleted:#}"
        );
        assert!(fx.ns.images().await.is_empty());
        assert!(ceph::rbd::list(&other_io).await.unwrap().is_empty());
        ceph::rbd::namespace_remove(&fx.ns.pool_io, &other)
            .await
            .unwrap();
    })
    .await;
}
