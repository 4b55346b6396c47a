//! Compound writes against the real bed: existence and compare steps make a write conditional
//! on what its writer read, all or nothing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use ceph::WriteOp;

#[tokio::test]
async fn a_write_that_asserts_existence_never_creates_its_object() {
    common::in_namespace("wop-exists", false, |ns| async move {
        let io = &ns.io;
        let op = WriteOp::new("late write")
            .assert_exists()
            .omap_set(&[("k", b"v")]);
        let err = io.operate("gone", op).await.unwrap_err();
        assert!(err.is_not_found(), "{err:?}");
        assert!(!io.exists("gone").await.unwrap());

        // Without the assertion the same write creates it: what only a directory may do.
        io.operate("dir", WriteOp::new("first write").omap_set(&[("k", b"v")]))
            .await
            .unwrap();
        assert!(io.exists("dir").await.unwrap());
    })
    .await;
}

#[tokio::test]
async fn compare_steps_apply_the_write_only_when_the_value_is_unchanged() {
    common::in_namespace("wop-cmp", false, |ns| async move {
        let io = &ns.io;
        io.omap_set_creating("dir", &[("csi.volume.a", b"uuid-1")])
            .await
            .unwrap();

        // Another writer changed the key since it was read: the removal does not happen.
        let stale = WriteOp::new("remove key")
            .omap_cmp_eq("csi.volume.a", b"uuid-0")
            .omap_remove_keys(&["csi.volume.a"]);
        let err = io.operate("dir", stale).await.unwrap_err();
        assert!(err.is_compare_failed(), "{err:?}");
        let kept = io.omap_get_by_keys("dir", &["csi.volume.a"]).await.unwrap();
        assert_eq!(kept["csi.volume.a"], b"uuid-1");

        // A missing key compares as the empty value: comparing with "" asserts that a key
        // whose values are never empty (a directory's uuids) is still absent.
        let absent = WriteOp::new("set if absent")
            .omap_cmp_eq("csi.volume.b", b"")
            .omap_set(&[("csi.volume.b", b"uuid-2")]);
        io.operate("dir", absent.clone()).await.unwrap();
        let err = io.operate("dir", absent).await.unwrap_err();
        assert!(err.is_compare_failed(), "present now: {err:?}");
        let missing = WriteOp::new("compare a missing key")
            .omap_cmp_eq("csi.volume.x", b"uuid-9")
            .omap_set(&[("csi.volume.x", b"uuid-9")]);
        let err = io.operate("dir", missing).await.unwrap_err();
        assert!(err.is_compare_failed(), "{err:?}");
        // On a missing object the compare answers NotFound and creates nothing.
        let err = io
            .operate(
                "no-dir",
                WriteOp::new("set if absent")
                    .omap_cmp_eq("k", b"")
                    .omap_set(&[("k", b"v")]),
            )
            .await
            .unwrap_err();
        assert!(err.is_not_found(), "{err:?}");
        assert!(!io.exists("no-dir").await.unwrap());
        io.omap_remove_keys("dir", &["csi.volume.b"]).await.unwrap();

        // Unchanged: compare, set and remove land together.
        let fresh = WriteOp::new("swap")
            .omap_cmp_eq("csi.volume.a", b"uuid-1")
            .omap_set(&[("csi.volume.c", b"uuid-3")])
            .omap_remove_keys(&["csi.volume.a"]);
        io.operate("dir", fresh).await.unwrap();
        let (all, _) = io.omap_list("dir", "", "", 10).await.unwrap();
        assert_eq!(all, [("csi.volume.c".to_owned(), b"uuid-3".to_vec())]);
    })
    .await;
}
