//! omap and whole-object operations against the real bed, each test in its own RADOS namespace.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use ceph::Error;

#[tokio::test]
async fn omap_round_trip_by_key_keeps_binary_values_and_omits_missing_keys() {
    common::in_namespace("omap-rt", false, |ns| async move {
        let io = &ns.io;
        let binary: Vec<u8> = (0..=255u8).collect();
        io.omap_set_creating(
            "csi.volumes.default",
            &[
                ("csi.volume.a", b"uuid-a"),
                ("csi.volume.bin", &binary),
                ("csi.volume.empty", b""),
            ],
        )
        .await
        .unwrap();

        let got = io
            .omap_get_by_keys(
                "csi.volumes.default",
                &[
                    "csi.volume.a",
                    "csi.volume.bin",
                    "csi.volume.empty",
                    "csi.volume.missing",
                ],
            )
            .await
            .unwrap();
        assert_eq!(got.len(), 3, "missing key must be absent: {:?}", got.keys());
        assert_eq!(got["csi.volume.a"], b"uuid-a");
        assert_eq!(got["csi.volume.bin"], binary);
        assert_eq!(got["csi.volume.empty"], b"");
        assert!(!got.contains_key("csi.volume.missing"));

        // Overwrite one, remove another (plus a key that never existed).
        io.omap_set("csi.volumes.default", &[("csi.volume.a", b"uuid-a2")])
            .await
            .unwrap();
        io.omap_remove_keys("csi.volumes.default", &["csi.volume.empty", "never-set"])
            .await
            .unwrap();
        let got = io
            .omap_get_by_keys("csi.volumes.default", &["csi.volume.a", "csi.volume.empty"])
            .await
            .unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got["csi.volume.a"], b"uuid-a2");
    })
    .await;
}

#[tokio::test]
async fn omap_on_a_missing_object_is_not_found() {
    common::in_namespace("omap-missing", false, |ns| async move {
        let io = &ns.io;
        let err = io
            .omap_get_by_keys("no-such-object", &["k"])
            .await
            .unwrap_err();
        assert!(err.is_not_found(), "{err:?}");
        assert!(err.to_string().contains("no-such-object"), "{err}");
        assert!(
            err.to_string().contains(&ns.name),
            "names the namespace: {err}"
        );

        let err = io
            .omap_list("no-such-object", "", "", 10)
            .await
            .unwrap_err();
        assert!(err.is_not_found(), "{err:?}");
        let err = io
            .omap_remove_keys("no-such-object", &["k"])
            .await
            .unwrap_err();
        assert!(err.is_not_found(), "{err:?}");
        // Neither a late set nor remove_keys may create it.
        let err = io
            .omap_set("no-such-object", &[("k", b"v")])
            .await
            .unwrap_err();
        assert!(err.is_not_found(), "{err:?}");
        assert!(!io.exists("no-such-object").await.unwrap());
        let err = io.read_full("no-such-object").await.unwrap_err();
        assert!(err.is_not_found(), "{err:?}");
        let err = io.remove("no-such-object").await.unwrap_err();
        assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
        let err = io.create_exclusive("").await.unwrap_err();
        assert!(
            matches!(err, Error::InvalidArgument { .. }),
            "empty name: {err:?}"
        );
    })
    .await;
}

#[tokio::test]
async fn omap_list_pages_by_prefix_and_start_after() {
    common::in_namespace("omap-list", false, |ns| async move {
        let io = &ns.io;
        let mut kvs: Vec<(String, Vec<u8>)> = (0..7)
            .map(|i| (format!("csi.volume.{i:02}"), format!("v{i}").into_bytes()))
            .collect();
        kvs.push(("other.key".into(), b"x".to_vec()));
        let refs: Vec<(&str, &[u8])> = kvs
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_slice()))
            .collect();
        io.omap_set_creating("dir", &refs).await.unwrap();

        let mut seen = Vec::new();
        let mut after = String::new();
        let mut pages = 0;
        loop {
            let (page, more) = io.omap_list("dir", &after, "csi.volume.", 3).await.unwrap();
            pages += 1;
            assert!(page.len() <= 3);
            if let Some((last, _)) = page.last() {
                after = last.clone();
            }
            seen.extend(page);
            if !more {
                break;
            }
            assert!(pages < 10, "paging does not end");
        }
        assert_eq!(pages, 3, "7 entries in pages of 3");
        let keys: Vec<&str> = seen.iter().map(|(k, _)| k.as_str()).collect();
        let expected: Vec<String> = (0..7).map(|i| format!("csi.volume.{i:02}")).collect();
        assert_eq!(keys, expected);
        assert_eq!(seen[4].1, b"v4");

        let (rest, more) = io
            .omap_list("dir", "csi.volume.04", "csi.volume.", 100)
            .await
            .unwrap();
        assert!(!more);
        assert_eq!(rest.len(), 2);
        assert_eq!(rest[0].0, "csi.volume.05");

        let (all, _) = io.omap_list("dir", "", "", 100).await.unwrap();
        assert_eq!(all.len(), 8, "empty prefix lists everything");
    })
    .await;
}

#[tokio::test]
async fn exclusive_create_conflicts_and_create_with_omap_is_atomic() {
    common::in_namespace("omap-excl", false, |ns| async move {
        let io = &ns.io;
        io.create_exclusive("lock").await.unwrap();
        assert!(io.exists("lock").await.unwrap());
        let err = io.create_exclusive("lock").await.unwrap_err();
        assert!(matches!(err, Error::AlreadyExists { .. }), "{err:?}");

        io.create_with_omap("rec", &[("owner", b"first")])
            .await
            .unwrap();
        let err = io
            .create_with_omap("rec", &[("owner", b"second"), ("extra", b"1")])
            .await
            .unwrap_err();
        assert!(err.is_already_exists(), "{err:?}");
        // The failed op changed nothing: neither key was written.
        let got = io
            .omap_get_by_keys("rec", &["owner", "extra"])
            .await
            .unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got["owner"], b"first");

        // create_with_omap on an existing *empty* object fails too.
        let err = io
            .create_with_omap("lock", &[("owner", b"x")])
            .await
            .unwrap_err();
        assert!(err.is_already_exists(), "{err:?}");
        assert!(
            io.omap_get_by_keys("lock", &["owner"])
                .await
                .unwrap()
                .is_empty()
        );

        io.remove("rec").await.unwrap();
        assert!(!io.exists("rec").await.unwrap());
        assert!(
            io.omap_get_by_keys("rec", &["owner"])
                .await
                .unwrap_err()
                .is_not_found()
        );
    })
    .await;
}

#[tokio::test]
async fn objects_write_read_and_list_within_the_namespace_only() {
    common::in_namespace("objects", false, |ns| async move {
        let io = &ns.io;
        let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        io.write_full("blob", &data).await.unwrap();
        assert_eq!(io.read_full("blob").await.unwrap(), data);
        io.write_full("blob", b"short").await.unwrap();
        assert_eq!(
            io.read_full("blob").await.unwrap(),
            b"short",
            "write_full replaces"
        );
        io.write_full("empty", b"").await.unwrap();
        assert_eq!(io.read_full("empty").await.unwrap(), b"");

        let mut objects = io.list_objects().await.unwrap();
        objects.sort();
        assert_eq!(objects, ["blob", "empty"]);

        // The same names in the default namespace are other objects.
        assert!(!ns.pool_io.exists("blob").await.unwrap());
        assert_eq!(io.pool_name(), common::bed().pool);
        assert_eq!(io.namespace(), ns.name);
        assert_eq!(
            io.pool_id(),
            ns.cluster.pool_id(&common::bed().pool).await.unwrap()
        );
    })
    .await;
}

#[tokio::test]
async fn pools_resolve_by_name_and_id() {
    let cluster = common::connect().await;
    let bed = common::bed();
    let id = cluster.pool_id(&bed.pool).await.unwrap();
    assert_eq!(cluster.pool_name(id).await.unwrap(), bed.pool);
    let by_id = cluster.ioctx_by_id(id, "x").await.unwrap();
    assert_eq!(by_id.pool_name(), bed.pool);
    assert_eq!(by_id.namespace(), "x");
    assert!(
        cluster
            .pool_id("no-such-pool")
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert!(cluster.pool_name(987_654).await.unwrap_err().is_not_found());
    assert!(
        cluster
            .ioctx("no-such-pool", "")
            .await
            .unwrap_err()
            .is_not_found()
    );
    let fsid = cluster.fsid().await.unwrap();
    assert_eq!(fsid.len(), 36, "uuid: {fsid}");
    let expected = bed.cli("ceph", &["fsid"]);
    assert_eq!(fsid, expected.trim());
}
