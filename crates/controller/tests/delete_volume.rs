//! DeleteVolume: images trashed and purged, journal gone, absent volumes succeed, and a volume
//! someone else has open is refused and left intact.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Fixture, GIB, code, uuid_of};
use csi::v1::DeleteVolumeRequest;
use tonic::Code;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deletes_the_image_and_the_journal_entry() {
    Fixture::run(|fx| async move {
        let volume = fx.create_volume("pvc-gone", GIB).await;
        let uuid = uuid_of(&volume.volume_id);
        fx.delete_volume(&volume.volume_id).await;
        assert!(fx.images().await.is_empty());
        assert!(fx.trash().await.is_empty(), "trash: {:?}", fx.trash().await);
        assert!(fx.omap("csi.volumes.default").await.is_empty());
        assert!(fx.omap(&format!("csi.volume.{uuid}")).await.is_empty());
        assert!(!fx.io.exists(&format!("csi.volume.{uuid}")).await.unwrap());
        // Twice is fine too.
        fx.delete_volume(&volume.volume_id).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn by_default_the_mgr_purges_the_trashed_image() {
    Fixture::builder()
        .mgr_purge()
        .run(|fx| async move {
            let volume = fx.create_volume("pvc-mgr", GIB).await;
            let image = format!("csi-vol-{}", uuid_of(&volume.volume_id));
            let img = ceph::rbd::open(&fx.io, &image).await.unwrap();
            let image_id = img.id().await.unwrap();
            img.close().await.unwrap();
            fx.delete_volume(&volume.volume_id).await;
            assert!(fx.images().await.is_empty());
            assert!(fx.omap("csi.volumes.default").await.is_empty());
            // Either the mgr already purged it, or its task is queued.
            let out = fx
                .rados
                .mgr_command(serde_json::json!({"prefix": "rbd task list", "format": "json"}))
                .await
                .unwrap();
            let tasks: Vec<serde_json::Value> = out.json().unwrap();
            let queued = tasks.iter().any(|t| {
                t["refs"]["action"] == "trash remove"
                    && t["refs"]["image_id"].as_str() == Some(image_id.as_str())
            });
            let trash = fx.trash().await;
            assert!(
                trash.is_empty() || queued,
                "trashed {trash:?} without a purge task: {tasks:?}"
            );
        })
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_purge_schedule_deletes_queue_no_task_and_the_mgr_empties_the_trash() {
    Fixture::builder()
        .scheduled_purge()
        .run(|fx| async move {
            let level_spec = format!("{}/{}/", fx.io.pool_name(), fx.namespace);
            let mut ids = Vec::new();
            for i in 0..3 {
                let volume = fx.create_volume(&format!("pvc-sched-{i}"), GIB).await;
                let image = format!("csi-vol-{}", uuid_of(&volume.volume_id));
                let img = ceph::rbd::open(&fx.io, &image).await.unwrap();
                ids.push(img.id().await.unwrap());
                img.close().await.unwrap();
                fx.delete_volume(&volume.volume_id).await;
            }
            assert!(fx.images().await.is_empty());
            assert!(fx.omap("csi.volumes.default").await.is_empty());

            let tasks: Vec<serde_json::Value> = fx
                .rados
                .mgr_command(serde_json::json!({"prefix": "rbd task list", "format": "json"}))
                .await
                .unwrap()
                .json()
                .unwrap();
            let ours: Vec<_> = tasks
                .iter()
                .filter(|t| {
                    ids.iter()
                        .any(|id| t["refs"]["image_id"].as_str() == Some(id))
                })
                .collect();
            assert!(ours.is_empty(), "purge tasks queued: {ours:?}");
            let schedules = fx
                .rados
                .mgr_command(serde_json::json!({
                    "prefix": "rbd trash purge schedule list",
                    "level_spec": level_spec,
                    "format": "json",
                }))
                .await
                .unwrap();
            let listed = String::from_utf8_lossy(&schedules.data).into_owned();
            assert!(
                listed.contains("1m"),
                "no 1m schedule on {level_spec}: {listed}"
            );

            // The mgr runs the schedule at the next minute boundary.
            let purged = common::eventually(std::time::Duration::from_secs(150), || async {
                fx.trash().await.is_empty()
            })
            .await;
            assert!(
                purged,
                "trash not purged by the schedule: {:?}",
                fx.trash().await
            );
            fx.rados
                .mgr_command(serde_json::json!({
                    "prefix": "rbd trash purge schedule remove",
                    "level_spec": level_spec,
                }))
                .await
                .unwrap();
        })
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prompt_delete_after_create_sees_no_watchers() {
    Fixture::run(|fx| async move {
        for i in 0..8 {
            let volume = fx.create_volume(&format!("pvc-prompt-{i}"), GIB).await;
            fx.delete_volume(&volume.volume_id).await;
        }
        assert!(fx.images().await.is_empty());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn absent_and_malformed_volumes_are_already_deleted() {
    Fixture::run(|fx| async move {
        let mut client = fx.client();
        for id in [
            "reallyfakevolumeid",
            // Well-formed, but no such entry.
            "0001-0003-bed-0000000000000001-6e0a4ba4-7f2d-11ee-a6e5-52540039b1a6",
        ] {
            client
                .delete_volume(DeleteVolumeRequest {
                    volume_id: id.to_owned(),
                    secrets: fx.secrets(),
                })
                .await
                .unwrap_or_else(|s| panic!("{id}: {s:?}"));
        }
        let status = code(
            client
                .delete_volume(DeleteVolumeRequest {
                    volume_id: String::new(),
                    secrets: fx.secrets(),
                })
                .await,
        );
        assert_eq!(status.code(), Code::InvalidArgument);
        assert!(
            status.message().contains("volume_id"),
            "{}",
            status.message()
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_volume_with_watchers_is_refused_and_left_intact() {
    Fixture::run(|fx| async move {
        let volume = fx.create_volume("pvc-busy", GIB).await;
        let image = format!("csi-vol-{}", uuid_of(&volume.volume_id));
        // Another client holds the image open, as a node that mapped it would.
        let held = fx.hold_open(&image).await;

        let status = code(
            fx.client()
                .delete_volume(DeleteVolumeRequest {
                    volume_id: volume.volume_id.clone(),
                    secrets: fx.secrets(),
                })
                .await,
        );
        assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
        assert!(
            status.message().contains(&volume.volume_id),
            "{}",
            status.message()
        );
        assert!(
            status.message().contains("1 watcher"),
            "{}",
            status.message()
        );
        assert_eq!(fx.images().await, vec![image.clone()]);
        assert!(fx.trash().await.is_empty());
        assert!(
            fx.omap("csi.volumes.default")
                .await
                .contains_key("csi.volume.pvc-busy")
        );

        held.close().await;
        fx.delete_volume(&volume.volume_id).await;
        assert!(fx.images().await.is_empty());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_deletes_in_parallel_all_succeed() {
    Fixture::run(|fx| async move {
        let mut ids = Vec::new();
        for i in 0..16 {
            ids.push(
                fx.create_volume(&format!("pvc-many-{i}"), GIB)
                    .await
                    .volume_id,
            );
        }
        let deletes = ids.iter().map(|id| {
            let mut client = fx.client();
            let req = DeleteVolumeRequest {
                volume_id: id.clone(),
                secrets: fx.secrets(),
            };
            async move { client.delete_volume(req).await }
        });
        for outcome in futures::future::join_all(deletes).await {
            outcome.unwrap();
        }
        assert!(fx.images().await.is_empty());
        assert!(fx.trash().await.is_empty());
    })
    .await;
}
