//! CreateVolume from a volume (ceph-csi's `-temp` sequence) and the clone-depth limits.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::{Fixture, GIB, code, uuid_of};
use tonic::Code;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clone_goes_through_a_temp_image_and_leaves_the_source_clean() {
    Fixture::run(|fx| async move {
        let source = fx.create_volume("pvc-parent", GIB).await;
        let src_image = format!("csi-vol-{}", uuid_of(&source.volume_id));
        let clone = fx
            .client()
            .create_volume(fx.clone_request("pvc-child", 2 * GIB, &source.volume_id))
            .await
            .unwrap()
            .into_inner()
            .volume
            .unwrap();
        assert_eq!(clone.capacity_bytes, 2 * GIB);
        let image = format!("csi-vol-{}", uuid_of(&clone.volume_id));
        let temp = format!("{image}-temp");
        assert_eq!(fx.images().await, {
            let mut v = vec![src_image.clone(), image.clone(), temp.clone()];
            v.sort();
            v
        });
        // source@<new>-temp and <new>-temp@<new> wait in the trash namespace: the source has
        // no user snapshot left, the clone depends only on the temp image.
        assert_eq!(
            fx.snapshots_of(&src_image).await,
            vec![("trash".to_owned(), temp.clone())]
        );
        assert_eq!(
            fx.snapshots_of(&temp).await,
            vec![("trash".to_owned(), image.clone())]
        );
        assert!(
            fx.parent_of(&image)
                .await
                .unwrap()
                .starts_with(&format!("{temp}@"))
        );
        assert!(
            fx.parent_of(&temp)
                .await
                .unwrap()
                .starts_with(&format!("{src_image}@"))
        );
        assert_eq!(fx.image_size(&image).await, 2 * GIB as u64);

        // Idempotent; the same name as an empty volume or from another source is refused.
        let again = fx
            .client()
            .create_volume(fx.clone_request("pvc-child", 2 * GIB, &source.volume_id))
            .await
            .unwrap()
            .into_inner()
            .volume
            .unwrap();
        assert_eq!(again.volume_id, clone.volume_id);
        let other = fx.create_volume("pvc-other", GIB).await;
        let status = code(
            fx.client()
                .create_volume(fx.clone_request("pvc-child", GIB, &other.volume_id))
                .await,
        );
        assert_eq!(status.code(), Code::AlreadyExists, "{status:?}");

        // Deleting the clone takes its temp image along; then the source goes too.
        fx.delete_volume(&clone.volume_id).await;
        fx.delete_volume(&source.volume_id).await;
        fx.delete_volume(&other.volume_id).await;
        assert!(fx.images().await.is_empty(), "{:?}", fx.images().await);
        assert!(fx.trash().await.is_empty(), "{:?}", fx.trash().await);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clone_of_a_missing_or_smaller_source_is_refused() {
    Fixture::run(|fx| async move {
        let missing = "0001-0003-bed-0000000000000001-6e0a4ba4-7f2d-11ee-a6e5-52540039b1a6";
        let status = code(
            fx.client()
                .create_volume(fx.clone_request("pvc-orphan", GIB, missing))
                .await,
        );
        assert_eq!(status.code(), Code::NotFound, "{status:?}");
        let status = code(
            fx.client()
                .create_volume(fx.clone_request("pvc-orphan", GIB, "garbage"))
                .await,
        );
        assert_eq!(status.code(), Code::NotFound, "{status:?}");
        let source = fx.create_volume("pvc-big", 2 * GIB).await;
        let status = code(
            fx.client()
                .create_volume(fx.clone_request("pvc-small", GIB, &source.volume_id))
                .await,
        );
        assert_eq!(status.code(), Code::OutOfRange, "{status:?}");
        assert_eq!(fx.images().await.len(), 1);
        assert_eq!(fx.omap("csi.volumes.default").await.len(), 1);
    })
    .await;
}

/// librbd cannot clone an image without `layering` (ENOSYS, "errno 38"): refused as
/// FAILED_PRECONDITION saying why, before anything is reserved or made.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clone_of_a_volume_without_layering_says_why() {
    Fixture::run(|fx| async move {
        let source = fx
            .create_volume_with_features("pvc-flat", GIB, "deep-flatten")
            .await;
        let status = code(
            fx.client()
                .create_volume(fx.clone_request("pvc-flat-clone", GIB, &source.volume_id))
                .await,
        );
        assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
        for part in [source.volume_id.as_str(), "no layering feature", "a clone"] {
            assert!(status.message().contains(part), "{}", status.message());
        }
        let image = common::volume_image(&source.volume_id);
        assert_eq!(fx.images().await, vec![image.clone()]);
        assert!(fx.snapshots_of(&image).await.is_empty());
        assert_eq!(fx.omap("csi.volumes.default").await.len(), 1);
        fx.delete_volume(&source.volume_id).await;
        assert_eq!(fx.leftovers().await, Vec::<String>::new());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_the_hard_depth_limit_a_clone_waits_for_the_temp_image_to_be_flattened() {
    // Hard limit 2: the clone would be 2 deep (clone → temp → source), so the request is
    // refused until the mgr has flattened the temp image; the retry then finishes the clone.
    Fixture::builder()
        .clone_depth(1, 2)
        .mgr_purge()
        .run(|fx| async move {
            let source = fx.create_volume("pvc-base", GIB).await;
            let req = fx.clone_request("pvc-deep", GIB, &source.volume_id);
            let status = code(fx.client().create_volume(req.clone()).await);
            assert_eq!(status.code(), Code::Aborted, "{status:?}");
            assert!(status.message().contains("flatten"), "{}", status.message());

            let temps: Vec<String> = fx
                .images()
                .await
                .into_iter()
                .filter(|n| n.ends_with("-temp"))
                .collect();
            assert_eq!(temps.len(), 1, "{:?}", fx.images().await);
            let temp = temps[0].clone();
            // The mgr flattens it (its queue is shared with the whole cluster: be patient).
            let flattened = common::eventually(Duration::from_secs(600), || async {
                fx.parent_of(&temp).await.is_none()
            })
            .await;
            assert!(flattened, "the temp image was never flattened");
            let clone = fx
                .client()
                .create_volume(req)
                .await
                .unwrap()
                .into_inner()
                .volume
                .unwrap();
            let image = format!("csi-vol-{}", uuid_of(&clone.volume_id));
            assert_eq!(format!("{image}-temp"), temp);
            assert!(
                fx.parent_of(&image)
                    .await
                    .unwrap()
                    .starts_with(&format!("{temp}@"))
            );
        })
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_the_soft_depth_limit_the_temp_image_is_flattened_in_the_background() {
    Fixture::builder()
        .clone_depth(1, 8)
        .mgr_purge()
        .run(|fx| async move {
            let source = fx.create_volume("pvc-base", GIB).await;
            let clone = fx
                .client()
                .create_volume(fx.clone_request("pvc-soft", GIB, &source.volume_id))
                .await
                .unwrap()
                .into_inner()
                .volume
                .unwrap();
            let temp = format!("csi-vol-{}-temp", uuid_of(&clone.volume_id));
            let flattened = common::eventually(Duration::from_secs(600), || async {
                fx.parent_of(&temp).await.is_none()
            })
            .await;
            assert!(flattened, "the temp image was never flattened");
            // Flattened, the source no longer holds the temp image's snapshot.
            let src_image = format!("csi-vol-{}", uuid_of(&source.volume_id));
            assert!(fx.snapshots_of(&src_image).await.is_empty());
        })
        .await;
}
