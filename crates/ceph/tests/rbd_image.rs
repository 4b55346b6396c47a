//! Properties of one RBD image against the real bed: watchers, metadata, resize, features,
//! id/timestamps, and the errors CSI idempotency depends on.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, SystemTime};

use ceph::Error;
use ceph::rbd::{self, CreateOptions, Features};

const MIB: u64 = 1 << 20;

#[tokio::test]
async fn watchers_follow_open_handles() {
    common::in_namespace("rbd-watch", true, |ns| async move {
        let io = &ns.io;
        rbd::create(io, "img", 4 * MIB, &CreateOptions::default())
            .await
            .unwrap();
        let a = rbd::open(io, "img").await.unwrap();
        let own = a.watchers().await.unwrap();
        assert_eq!(own.len(), 1, "{own:?}");
        assert!(!own[0].addr.is_empty());

        let b = rbd::open(io, "img").await.unwrap();
        let both = b.watchers().await.unwrap();
        assert_eq!(both.len(), 2, "{both:?}");
        assert_ne!(both[0].cookie, both[1].cookie);

        // An image that is open elsewhere cannot be removed.
        let err = rbd::remove(io, "img").await.unwrap_err();
        assert!(matches!(err, Error::Busy { .. }), "{err:?}");

        a.close().await.unwrap();
        let left = b.watchers().await.unwrap();
        assert_eq!(left.len(), 1, "closing a handle drops its watch: {left:?}");
        b.close().await.unwrap();
        rbd::remove(io, "img").await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn metadata_round_trip() {
    common::in_namespace("rbd-meta", true, |ns| async move {
        let io = &ns.io;
        rbd::create(io, "img", 4 * MIB, &CreateOptions::default())
            .await
            .unwrap();
        let img = rbd::open(io, "img").await.unwrap();
        assert_eq!(
            img.metadata_get("csi.storage.k8s.io/pvc/name")
                .await
                .unwrap(),
            None
        );
        img.metadata_set("csi.storage.k8s.io/pvc/name", "data-0")
            .await
            .unwrap();
        let long = "x".repeat(5000);
        img.metadata_set("long", &long).await.unwrap();
        assert_eq!(
            img.metadata_get("csi.storage.k8s.io/pvc/name")
                .await
                .unwrap()
                .as_deref(),
            Some("data-0")
        );
        assert_eq!(
            img.metadata_get("long").await.unwrap(),
            Some(long),
            "values beyond the first buffer"
        );
        let cli = common::bed().cli(
            "rbd",
            &[
                "image-meta",
                "get",
                "--pool",
                io.pool_name(),
                "--namespace",
                &ns.name,
                "img",
                "csi.storage.k8s.io/pvc/name",
            ],
        );
        assert_eq!(cli.trim(), "data-0");

        img.metadata_remove("csi.storage.k8s.io/pvc/name")
            .await
            .unwrap();
        assert_eq!(
            img.metadata_get("csi.storage.k8s.io/pvc/name")
                .await
                .unwrap(),
            None
        );
        img.metadata_remove("csi.storage.k8s.io/pvc/name")
            .await
            .unwrap();
    })
    .await;
}

#[tokio::test]
async fn create_with_options_then_resize_grows() {
    common::in_namespace("rbd-props", true, |ns| async move {
        let io = &ns.io;
        let features =
            Features::parse("layering,exclusive-lock,object-map,fast-diff,deep-flatten").unwrap();
        let opts = CreateOptions {
            features: Some(features),
            order: Some(23),
            stripe_unit: Some(1 << 22),
            stripe_count: Some(2),
            ..Default::default()
        };
        let before = SystemTime::now() - Duration::from_secs(5);
        rbd::create(io, "img", 8 * MIB, &opts).await.unwrap();
        let img = rbd::open(io, "img").await.unwrap();

        let got = img.features().await.unwrap();
        // Non-default striping adds STRIPINGV2 by itself.
        assert_eq!(got & !Features::STRIPINGV2, features, "{got}");
        assert!(got.contains(Features::STRIPINGV2), "{got}");
        assert_eq!(
            got.to_string().parse::<Features>().unwrap(),
            got,
            "names round-trip"
        );
        let info = common::bed().cli(
            "rbd",
            &[
                "info",
                "--pool",
                io.pool_name(),
                "--namespace",
                &ns.name,
                "img",
                "--format",
                "json",
            ],
        );
        let info: serde_json::Value = serde_json::from_str(&info).unwrap();
        assert_eq!(info["order"], 23);
        assert_eq!(info["stripe_count"], 2);
        let cli_features: Vec<String> = serde_json::from_value(info["features"].clone()).unwrap();
        assert_eq!(
            cli_features.join(","),
            got.to_string(),
            "same names as the rbd CLI"
        );

        assert_eq!(img.size().await.unwrap(), 8 * MIB);
        img.resize(32 * MIB).await.unwrap();
        assert_eq!(img.size().await.unwrap(), 32 * MIB);
        let err = img.resize(16 * MIB).await.unwrap_err();
        assert!(
            matches!(err, Error::InvalidArgument { .. }),
            "shrinking is refused: {err:?}"
        );
        assert_eq!(img.size().await.unwrap(), 32 * MIB);

        let created = img.create_timestamp().await.unwrap();
        assert!(created >= before && created <= SystemTime::now() + Duration::from_secs(5));

        let id = img.id().await.unwrap();
        assert!(!id.is_empty());
        let listed = rbd::list(io).await.unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(
            (listed[0].id.as_str(), listed[0].name.as_str()),
            (id.as_str(), "img")
        );
        assert_eq!(img.name(), "img");
    })
    .await;
}

#[tokio::test]
async fn errors_name_the_image_and_are_matchable() {
    common::in_namespace("rbd-errs", true, |ns| async move {
        let io = &ns.io;
        let err = rbd::open(io, "ghost").await.unwrap_err();
        assert!(err.is_not_found(), "{err:?}");
        let text = err.to_string();
        assert!(text.contains("ghost") && text.contains(&ns.name), "{text}");

        rbd::create(io, "img", 4 * MIB, &CreateOptions::default())
            .await
            .unwrap();
        let img = rbd::open(io, "img").await.unwrap();
        img.snap_create("s").await.unwrap();
        img.close().await.unwrap();
        let err = rbd::remove(io, "img").await.unwrap_err();
        assert!(
            matches!(err, Error::NotEmpty { .. }),
            "an image with snapshots: {err:?}"
        );

        let bad = CreateOptions {
            features: Some(Features::OBJECT_MAP),
            ..Default::default()
        };
        let err = rbd::create(io, "bad", 4 * MIB, &bad).await.unwrap_err();
        assert!(
            matches!(err, Error::InvalidArgument { .. }),
            "object-map needs exclusive-lock: {err:?}"
        );
        assert!(
            rbd::create(io, "nul\0name", MIB, &CreateOptions::default())
                .await
                .is_err()
        );
    })
    .await;
}
