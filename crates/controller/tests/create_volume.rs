//! CreateVolume of empty volumes: the image, its journal entry and tags, the reply, idempotency,
//! and every refusal with its code and a message naming what is wrong.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{CLUSTER_ID, Fixture, GIB, MIB, block_cap, code, mount_cap, uuid_of};
use csi::v1::CapacityRange;
use csi::v1::volume_capability::access_mode::Mode;
use tonic::Code;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn creates_an_image_with_its_journal_entry_and_context() {
    Fixture::run(|fx| async move {
        let mut req = fx.create_request("pvc-plain", 3 * GIB / 2);
        req.parameters
            .insert("imageFeatures".into(), "layering,exclusive-lock".into());
        req.parameters.insert("mounter".into(), "rbd-nbd".into());
        req.parameters
            .insert("csi.storage.k8s.io/pvc/name".into(), "data".into());
        req.parameters
            .insert("csi.storage.k8s.io/pvc/namespace".into(), "team-a".into());
        req.parameters
            .insert("csi.storage.k8s.io/pv/name".into(), "pvc-1234".into());
        req.parameters
            .insert("csi.storage.k8s.io/fstype".into(), "xfs".into());
        let volume = fx
            .client()
            .create_volume(req)
            .await
            .unwrap()
            .into_inner()
            .volume
            .unwrap();

        // ceph-csi rounds 1.5 GiB up to 2 GiB.
        assert_eq!(volume.capacity_bytes, 2 * GIB);
        let uuid = uuid_of(&volume.volume_id);
        let image = format!("csi-vol-{uuid}");
        assert!(
            volume.volume_id.starts_with("0001-0003-bed-"),
            "{}",
            volume.volume_id
        );
        let context = &volume.volume_context;
        assert_eq!(context["clusterID"], CLUSTER_ID);
        assert_eq!(context["pool"], common::bed().pool);
        assert_eq!(context["journalPool"], common::bed().pool);
        assert_eq!(context["imageName"], image);
        assert_eq!(context["radosNamespace"], fx.namespace);
        assert_eq!(context["mounter"], "rbd-nbd");
        assert!(!context.contains_key("csi.storage.k8s.io/fstype"));

        assert_eq!(fx.images().await, vec![image.clone()]);
        assert_eq!(fx.image_size(&image).await, 2 * GIB as u64);
        let img = ceph::rbd::open(&fx.io, &image).await.unwrap();
        let features = img.features().await.unwrap();
        assert_eq!(features.to_string(), "layering,exclusive-lock");
        assert_eq!(
            img.metadata_get("csi.storage.k8s.io/pvc/name")
                .await
                .unwrap()
                .as_deref(),
            Some("data")
        );
        assert_eq!(
            img.metadata_get("csi.storage.k8s.io/pvc/namespace")
                .await
                .unwrap()
                .as_deref(),
            Some("team-a")
        );
        assert_eq!(
            img.metadata_get("csi.storage.k8s.io/pv/name")
                .await
                .unwrap()
                .as_deref(),
            Some("pvc-1234")
        );
        let image_id = img.id().await.unwrap();
        img.close().await.unwrap();

        // ceph-csi's journal, byte for byte.
        let directory = fx.omap("csi.volumes.default").await;
        assert_eq!(directory.get("csi.volume.pvc-plain"), Some(&uuid));
        let entry = fx.omap(&format!("csi.volume.{uuid}")).await;
        assert_eq!(
            entry.get("csi.volname").map(String::as_str),
            Some("pvc-plain")
        );
        assert_eq!(entry.get("csi.imagename"), Some(&image));
        assert_eq!(entry.get("csi.imageid"), Some(&image_id));
        assert_eq!(
            entry.get("csi.volume.owner").map(String::as_str),
            Some("team-a")
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sizes_round_like_ceph_csi_and_default_to_one_gib() {
    Fixture::run(|fx| async move {
        let small = fx.create_volume("pvc-small", 10 * MIB + 1).await;
        assert_eq!(small.capacity_bytes, 11 * MIB);
        let mut req = fx.create_request("pvc-default", 0);
        req.capacity_range = None;
        let default = fx
            .client()
            .create_volume(req)
            .await
            .unwrap()
            .into_inner()
            .volume
            .unwrap();
        assert_eq!(default.capacity_bytes, GIB);
        assert_eq!(
            fx.image_size(&format!("csi-vol-{}", uuid_of(&default.volume_id)))
                .await,
            GIB as u64
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_requests_return_the_same_volume_and_make_one_image() {
    Fixture::run(|fx| async move {
        let first = fx.create_volume("pvc-again", GIB).await;
        for _ in 0..10 {
            let again = fx.create_volume("pvc-again", GIB).await;
            assert_eq!(again, first);
        }
        assert_eq!(fx.images().await.len(), 1);
        assert_eq!(fx.omap("csi.volumes.default").await.len(), 1);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_name_with_a_larger_size_already_exists() {
    Fixture::run(|fx| async move {
        fx.create_volume("pvc-size", GIB).await;
        let status = code(
            fx.client()
                .create_volume(fx.create_request("pvc-size", 2 * GIB))
                .await,
        );
        assert_eq!(status.code(), Code::AlreadyExists, "{status:?}");
        assert!(
            status.message().contains("pvc-size"),
            "{}",
            status.message()
        );
        // A smaller request is satisfied by the existing volume.
        let smaller = fx.create_volume("pvc-size", GIB / 2).await;
        assert_eq!(smaller.capacity_bytes, GIB);
        // A limit below the existing size is not.
        let mut limited = fx.create_request("pvc-size", 100 * MIB);
        limited.capacity_range = Some(CapacityRange {
            required_bytes: 100 * MIB,
            limit_bytes: 200 * MIB,
        });
        assert_eq!(
            code(fx.client().create_volume(limited).await).code(),
            Code::AlreadyExists
        );
        // Other features under the same name are another volume.
        let mut featured = fx.create_request("pvc-size", GIB);
        featured
            .parameters
            .insert("imageFeatures".into(), "layering,exclusive-lock".into());
        assert_eq!(
            code(fx.client().create_volume(featured).await).code(),
            Code::AlreadyExists
        );
        assert_eq!(fx.images().await.len(), 1);
    })
    .await;
}

/// What is wrong, how to break a good request that way, the expected code, a word the message
/// must contain.
type Case = (
    &'static str,
    Box<dyn Fn(&mut csi::v1::CreateVolumeRequest)>,
    Code,
    &'static str,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_requests_name_the_field_and_leave_nothing() {
    Fixture::run(|fx| async move {
        let cases: Vec<Case> = vec![
            (
                "no name",
                Box::new(|r| r.name.clear()),
                Code::InvalidArgument,
                "name",
            ),
            (
                "no capabilities",
                Box::new(|r| r.volume_capabilities.clear()),
                Code::InvalidArgument,
                "volume_capabilities",
            ),
            (
                "unknown parameter",
                Box::new(|r| {
                    r.parameters
                        .insert("imagefeatures".into(), "layering".into());
                }),
                Code::InvalidArgument,
                "imagefeatures",
            ),
            (
                "feature without its dependency",
                Box::new(|r| {
                    r.parameters
                        .insert("imageFeatures".into(), "layering,object-map".into());
                }),
                Code::InvalidArgument,
                "object-map needs exclusive-lock",
            ),
            (
                "empty features",
                Box::new(|r| {
                    r.parameters.insert("imageFeatures".into(), String::new());
                }),
                Code::InvalidArgument,
                "imageFeatures",
            ),
            (
                "no pool",
                Box::new(|r| {
                    r.parameters.remove("pool");
                }),
                Code::InvalidArgument,
                "pool",
            ),
            (
                "unknown pool",
                Box::new(|r| {
                    r.parameters.insert("pool".into(), "no-such-pool".into());
                }),
                Code::InvalidArgument,
                "no-such-pool",
            ),
            (
                "unknown cluster",
                Box::new(|r| {
                    r.parameters.insert("clusterID".into(), "elsewhere".into());
                }),
                Code::InvalidArgument,
                "elsewhere",
            ),
            (
                "missing userKey",
                Box::new(|r| {
                    r.secrets.remove("userKey");
                }),
                Code::InvalidArgument,
                "userKey",
            ),
            (
                "missing userID",
                Box::new(|r| {
                    r.secrets.remove("userID");
                }),
                Code::InvalidArgument,
                "userID",
            ),
            (
                "garbage userKey",
                Box::new(|r| {
                    r.secrets.insert("userKey".into(), "not-a-key".into());
                }),
                Code::InvalidArgument,
                "userKey",
            ),
            (
                "multi-node writer on a filesystem",
                Box::new(|r| r.volume_capabilities = vec![mount_cap(Mode::MultiNodeMultiWriter)]),
                Code::InvalidArgument,
                "block",
            ),
            (
                "reader-only without content",
                Box::new(|r| r.volume_capabilities = vec![block_cap(Mode::MultiNodeReaderOnly)]),
                Code::InvalidArgument,
                "snapshot or volume",
            ),
            (
                "limit below requirement",
                Box::new(|r| {
                    r.capacity_range = Some(CapacityRange {
                        required_bytes: 2 * GIB,
                        limit_bytes: GIB,
                    })
                }),
                Code::OutOfRange,
                "limit_bytes",
            ),
            (
                "unknown data pool",
                Box::new(|r| {
                    r.parameters
                        .insert("dataPool".into(), "no-such-data-pool".into());
                }),
                Code::InvalidArgument,
                "parameter \"dataPool\": pool \"no-such-data-pool\" does not exist",
            ),
            (
                // With an object map, so that even without the check librbd refuses the size.
                "size past int64",
                Box::new(|r| {
                    r.parameters.insert(
                        "imageFeatures".into(),
                        "layering,exclusive-lock,object-map".into(),
                    );
                    r.capacity_range = Some(CapacityRange {
                        required_bytes: i64::MAX,
                        limit_bytes: 0,
                    })
                }),
                Code::OutOfRange,
                "past the largest size RBD and CSI can express",
            ),
        ];
        for (what, change, expected, named) in cases {
            let mut req = fx.create_request("pvc-invalid", GIB);
            change(&mut req);
            let status = code(fx.client().create_volume(req).await);
            assert_eq!(status.code(), expected, "{what}: {status:?}");
            assert!(
                status.message().contains(named),
                "{what}: {}",
                status.message()
            );
            assert!(
                !status.message().contains(&common::bed().key),
                "{what}: the key leaked"
            );
        }
        assert!(fx.images().await.is_empty());
        assert!(fx.omap("csi.volumes.default").await.is_empty());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_key_is_refused_promptly_naming_the_secret() {
    Fixture::run(|fx| async move {
        let mut req = fx.create_request("pvc-wrong-key", GIB);
        // A well-formed cephx key that is not the user's.
        req.secrets.insert(
            "userKey".into(),
            "AQBQm1xmAAAAABAAVbKvOpJ0+Vn3rc9tHdqZgA==".into(),
        );
        let status = code(fx.client().create_volume(req).await);
        // Promptly: PERMISSION_DENIED comes from cephx's refusal (or the connect deadline of
        // the probe that tells it from a dead cluster), never from the RPC running out of time
        // (that answer is DEADLINE_EXCEEDED).
        assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
        assert!(status.message().contains("userKey"), "{}", status.message());
        assert!(
            !status.message().contains("AQBQm1xm"),
            "the key leaked: {}",
            status.message()
        );
        assert!(fx.images().await.is_empty());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn striping_object_size_and_data_pool_reach_the_image() {
    Fixture::run(|fx| async move {
        let mut req = fx.create_request("pvc-striped", GIB);
        req.parameters.insert("objectSize".into(), "8388608".into());
        req.parameters.insert("stripeUnit".into(), "4194304".into());
        req.parameters.insert("stripeCount".into(), "2".into());
        let volume = fx
            .client()
            .create_volume(req)
            .await
            .unwrap()
            .into_inner()
            .volume
            .unwrap();
        let image = format!("csi-vol-{}", uuid_of(&volume.volume_id));
        let info = common::bed().cli(
            "rbd",
            &[
                "info",
                "--format",
                "json",
                &format!("{}/{}/{image}", common::bed().pool, fx.namespace),
            ],
        );
        let info: serde_json::Value = serde_json::from_str(&info).unwrap();
        assert_eq!(info["order"], 23, "{info}");
        assert_eq!(info["stripe_unit"], 4_194_304, "{info}");
        assert_eq!(info["stripe_count"], 2, "{info}");

        let mut bad = fx.create_request("pvc-bad-data-pool", GIB);
        bad.parameters
            .insert("dataPool".into(), "no-such-data-pool".into());
        let status = code(fx.client().create_volume(bad).await);
        assert_ne!(status.code(), Code::Ok);
        assert!(
            status.message().contains("pvc-bad-data-pool"),
            "{}",
            status.message()
        );
        // Nothing half-made: the reservation of the failed name is undone.
        assert!(
            !fx.omap("csi.volumes.default")
                .await
                .contains_key("csi.volume.pvc-bad-data-pool")
        );
        assert_eq!(fx.images().await, vec![image]);
    })
    .await;
}
