//! Locks across processes against the real bed. Two `Cluster` connections are two RADOS client
//! entities — what two controller processes are; the `rados` CLI plays a third process (one
//! that takes a lock and dies, or an operator breaking a lock).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use ceph::lock_scope::scoped;
use ceph::{Error, IoCtx, Lease, LockKind, LockSpec, Locker, WriteOp};

fn spec(oid: &str, kind: LockKind) -> LockSpec {
    LockSpec {
        oid: oid.to_owned(),
        name: "sepia.test".to_owned(),
        kind,
        description: "a test lock".to_owned(),
        must_exist: true,
        forget_on_release: false,
    }
}

/// A second process: its own connection (another client entity) and locker.
async fn other_process(ns: &common::Ns, duration: Duration) -> (IoCtx, Locker) {
    let cluster = common::connect().await;
    let io = cluster.ioctx(&common::bed().pool, &ns.name).await.unwrap();
    (io, Locker::new("other-process", duration))
}

fn rados(ns: &common::Ns, args: &[&str]) -> String {
    let bed = common::bed();
    let mut full = vec!["-p", bed.pool.as_str(), "-N", ns.name.as_str()];
    full.extend_from_slice(args);
    bed.cli("rados", &full)
}

fn assert_busy(result: ceph::Result<Lease>, context: &str) {
    match result {
        Err(Error::Busy { .. }) => {}
        other => panic!("{context}: expected Busy, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exclusive_and_shared_holders_exclude_each_other_across_connections() {
    common::in_namespace("lock-matrix", false, |ns| async move {
        ns.io.create_exclusive("obj").await.unwrap();
        let a = Locker::new("process-a", Duration::from_secs(30));
        let (b_io, b) = other_process(&ns, Duration::from_secs(30)).await;

        let exclusive = a
            .lock(&ns.io, spec("obj", LockKind::Exclusive))
            .await
            .unwrap();
        assert_busy(
            a.lock(&ns.io, spec("obj", LockKind::Shared)).await,
            "shared in the same process",
        );
        assert_busy(
            b.lock(&b_io, spec("obj", LockKind::Exclusive)).await,
            "exclusive from another process",
        );
        assert_busy(
            b.lock(&b_io, spec("obj", LockKind::Shared)).await,
            "shared from another process",
        );
        exclusive.release().await;

        let shared_a = a.lock(&ns.io, spec("obj", LockKind::Shared)).await.unwrap();
        let shared_b = b.lock(&b_io, spec("obj", LockKind::Shared)).await.unwrap();
        assert_ne!(shared_a.cookie(), shared_b.cookie());
        let mut holders = ns.io.lock_holders("obj", "sepia.test").await.unwrap();
        holders.sort_by(|x, y| x.cookie.cmp(&y.cookie));
        let cookies: Vec<&str> = holders.iter().map(|h| h.cookie.as_str()).collect();
        let mut expected = [shared_a.cookie(), shared_b.cookie()];
        expected.sort_unstable();
        assert_eq!(cookies, expected);
        assert_ne!(
            holders[0].client, holders[1].client,
            "two connections, two entities"
        );
        assert_busy(
            a.lock(&ns.io, spec("obj", LockKind::Exclusive)).await,
            "exclusive while shared",
        );
        assert_busy(
            b.lock(&b_io, spec("obj", LockKind::Exclusive)).await,
            "exclusive while shared, other process",
        );
        shared_a.release().await;
        assert_busy(
            a.lock(&ns.io, spec("obj", LockKind::Exclusive)).await,
            "exclusive while one shared holder remains",
        );
        shared_b.release().await;
        let last = b
            .lock(&b_io, spec("obj", LockKind::Exclusive))
            .await
            .unwrap();
        last.release().await;
    })
    .await;
}

#[tokio::test]
async fn a_lock_that_must_find_its_object_never_creates_it() {
    common::in_namespace("lock-exists", false, |ns| async move {
        let a = Locker::new("process-a", Duration::from_secs(30));
        let err = a
            .lock(&ns.io, spec("csi.volume.gone", LockKind::Exclusive))
            .await
            .unwrap_err();
        assert!(err.is_not_found(), "{err:?}");
        assert!(!ns.io.exists("csi.volume.gone").await.unwrap());

        // A lock allowed to create its object (a directory's first lock) does.
        let mut creating = spec("dir", LockKind::Exclusive);
        creating.must_exist = false;
        let lease = a.lock(&ns.io, creating).await.unwrap();
        assert!(ns.io.exists("dir").await.unwrap());
        lease.release().await;
    })
    .await;
}

#[tokio::test]
async fn an_ephemeral_lock_removes_its_object_at_release() {
    common::in_namespace("lock-ephemeral", false, |ns| async move {
        let a = Locker::new("process-a", Duration::from_secs(30));
        let mut ephemeral = spec("sepia.lock.volume.pvc-1", LockKind::ExclusiveEphemeral);
        ephemeral.must_exist = false;
        let lease = a.lock(&ns.io, ephemeral).await.unwrap();
        assert!(ns.io.exists("sepia.lock.volume.pvc-1").await.unwrap());
        lease.release().await;
        assert!(!ns.io.exists("sepia.lock.volume.pvc-1").await.unwrap());
    })
    .await;
}

#[tokio::test]
async fn a_forgotten_lock_leaves_no_record_on_its_object() {
    common::in_namespace("lock-forget", false, |ns| async move {
        ns.io.create_exclusive("dir").await.unwrap();
        let a = Locker::new("process-a", Duration::from_secs(30));
        let mut forgotten = spec("dir", LockKind::Exclusive);
        forgotten.name = "sepia.request.pvc-1".to_owned();
        forgotten.forget_on_release = true;
        let lease = a.lock(&ns.io, forgotten).await.unwrap();
        assert!(rados(&ns, &["listxattr", "dir"]).contains("lock.sepia.request.pvc-1"));
        lease.release().await;
        assert_eq!(rados(&ns, &["listxattr", "dir"]).trim(), "");

        // A kept record (entry locks) stays, empty, for the next holder.
        let lease = a.lock(&ns.io, spec("dir", LockKind::Shared)).await.unwrap();
        lease.release().await;
        assert!(rados(&ns, &["listxattr", "dir"]).contains("lock.sepia.test"));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lock_left_by_a_dead_holder_expires() {
    common::in_namespace("lock-expiry", false, |ns| async move {
        ns.io.create_exclusive("obj").await.unwrap();
        // The CLI takes the lock for 3 s and exits: a holder that died without unlocking.
        rados(
            &ns,
            &[
                "lock",
                "get",
                "obj",
                "sepia.test",
                "--lock-duration",
                "3",
                "--lock-cookie",
                "dead",
            ],
        );
        let a = Locker::new("process-a", Duration::from_secs(30));
        assert_busy(
            a.lock(&ns.io, spec("obj", LockKind::Exclusive)).await,
            "while the dead holder's lock lasts",
        );
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        let lease = loop {
            match a.lock(&ns.io, spec("obj", LockKind::Exclusive)).await {
                Ok(lease) => break lease,
                Err(e) if e.is_busy() => {
                    assert!(
                        tokio::time::Instant::now() < deadline,
                        "the dead holder's lock never expired"
                    );
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
                Err(e) => panic!("{e}"),
            }
        };
        lease.release().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renewals_keep_a_lock_past_its_duration() {
    common::in_namespace("lock-renew", false, |ns| async move {
        ns.io.create_exclusive("obj").await.unwrap();
        let a = Locker::new("process-a", Duration::from_secs(3));
        let (b_io, b) = other_process(&ns, Duration::from_secs(3)).await;
        let lease = a
            .lock(&ns.io, spec("obj", LockKind::Exclusive))
            .await
            .unwrap();
        // Three renewals at a third of the duration: the first lock would have expired.
        assert!(
            common::eventually(Duration::from_secs(30), || async { lease.renewals() >= 3 }).await,
            "no renewals"
        );
        assert_busy(
            b.lock(&b_io, spec("obj", LockKind::Exclusive)).await,
            "renewed past its first duration",
        );
        assert_eq!(lease.lost(), None);
        lease.release().await;
        b.lock(&b_io, spec("obj", LockKind::Exclusive))
            .await
            .unwrap()
            .release()
            .await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_lock_is_lost_its_scope_stopped_and_its_fenced_writes_refused() {
    common::in_namespace("lock-broken", false, |ns| async move {
        ns.io.create_exclusive("obj").await.unwrap();
        let a = Locker::new("process-a", Duration::from_secs(3));
        let io = ns.io.clone();
        let outcome = scoped(async move {
            let lease = a.lock(&io, spec("obj", LockKind::Exclusive)).await.unwrap();
            let fence = lease.fence();
            io.operate_fenced(
                "obj",
                &fence,
                WriteOp::new("w").omap_set(&[("before", b"1")]),
            )
            .await
            .unwrap();
            assert_eq!(io.break_lock_holders("obj", "sepia.test").await.unwrap(), 1);
            // The write asserts the lock in the same op: refused, nothing written.
            let err = io
                .operate_fenced(
                    "obj",
                    &fence,
                    WriteOp::new("w").omap_set(&[("after", b"1")]),
                )
                .await
                .unwrap_err();
            assert!(err.is_not_locked(), "{err:?}");
            // The next renewal finds the lock gone; the scope stops this work.
            std::future::pending::<()>().await;
        })
        .await;
        let lost = outcome.unwrap_err();
        assert_eq!(lost.object, "obj");
        assert_eq!(lost.lock, "sepia.test");
        let keys = ns
            .io
            .omap_get_by_keys("obj", &["before", "after"])
            .await
            .unwrap();
        assert_eq!(keys.keys().collect::<Vec<_>>(), ["before"]);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_in_a_scope_assert_its_locks_and_fail_once_released() {
    common::in_namespace("lock-scope", false, |ns| async move {
        ns.io.create_exclusive("obj").await.unwrap();
        ns.io.create_exclusive("other").await.unwrap();
        let a = Locker::new("process-a", Duration::from_secs(30));
        let io = ns.io.clone();
        scoped(async move {
            let lease = a.lock(&io, spec("obj", LockKind::Exclusive)).await.unwrap();
            let fence = lease.fence();
            io.omap_set("obj", &[("held", b"1")]).await.unwrap();
            assert_eq!(io.break_lock_holders("obj", "sepia.test").await.unwrap(), 1);
            // A plain write on the locked object carries the scope's fence by itself.
            let err = io.omap_set("obj", &[("broken", b"1")]).await.unwrap_err();
            assert!(err.is_not_locked(), "{err:?}");
            // Objects the scope holds no lock on are written as usual.
            io.omap_set("other", &[("k", b"1")]).await.unwrap();
            drop(lease);
            // Released: later writes are no longer fenced by it, but its fence still fails.
            io.omap_set("obj", &[("after", b"1")]).await.unwrap();
            let err = io
                .operate_fenced("obj", &fence, WriteOp::new("w").omap_set(&[("late", b"1")]))
                .await
                .unwrap_err();
            assert!(err.is_not_locked(), "{err:?}");
        })
        .await
        .unwrap();
        let keys = ns
            .io
            .omap_get_by_keys("obj", &["held", "broken", "after", "late"])
            .await
            .unwrap();
        assert_eq!(keys.keys().collect::<Vec<_>>(), ["after", "held"]);
    })
    .await;
}

#[tokio::test]
async fn a_fenced_write_fails_once_its_lock_is_released() {
    common::in_namespace("lock-fence-released", false, |ns| async move {
        ns.io.create_exclusive("obj").await.unwrap();
        let a = Locker::new("process-a", Duration::from_secs(30));
        let lease = a.lock(&ns.io, spec("obj", LockKind::Shared)).await.unwrap();
        let fence = lease.fence();
        let write = |key: &'static str| WriteOp::new("fenced").omap_set(&[(key, b"1")]);
        ns.io
            .operate_fenced("obj", &fence, write("held"))
            .await
            .unwrap();
        lease.release().await;
        let err = ns
            .io
            .operate_fenced("obj", &fence, write("released"))
            .await
            .unwrap_err();
        assert!(err.is_not_locked(), "{err:?}");
        let keys = ns
            .io
            .omap_get_by_keys("obj", &["held", "released"])
            .await
            .unwrap();
        assert_eq!(keys.keys().collect::<Vec<_>>(), ["held"]);
        // A fence guards only its own object.
        ns.io.create_exclusive("other").await.unwrap();
        let err = ns
            .io
            .operate_fenced("other", &fence, write("k"))
            .await
            .unwrap_err();
        assert!(matches!(err, Error::InvalidArgument { .. }), "{err:?}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lock_its_own_locker_is_releasing_is_taken_again_not_refused() {
    common::in_namespace("lock-own-release", false, |ns| async move {
        ns.io.create_exclusive("obj").await.unwrap();
        let a = Locker::new("process-a", Duration::from_secs(30));
        let (b_io, b) = other_process(&ns, Duration::from_secs(30)).await;
        for _ in 0..10 {
            // Dropped: the unlock is on its way when the same process asks again.
            drop(
                a.lock(&ns.io, spec("obj", LockKind::Exclusive))
                    .await
                    .unwrap(),
            );
        }
        let again = a
            .lock(&ns.io, spec("obj", LockKind::Exclusive))
            .await
            .unwrap();
        // To another process it is held all the same.
        assert_busy(
            b.lock(&b_io, spec("obj", LockKind::Exclusive)).await,
            "another process",
        );
        again.release().await;
    })
    .await;
}
