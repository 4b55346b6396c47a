//! The journal with several processes on one pool, against the real bed: its locks exclude
//! another connection (another RADOS client entity, i.e. another process), and its writes are
//! fenced — a late or concurrent writer fails instead of re-creating or overwriting.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use ceph::lock_scope::scoped;
use ceph::{Cluster, Credentials, LockKind, Locker, Timeouts};
use common::Ns;
use journal::{Config, Error, Journal, Kind, Location, REQUEST_LOCK_PREFIX, Request};
use sepia_testbed::Bed;
use uuid::Uuid;

fn locker(owner: &str) -> Locker {
    Locker::new(owner, Duration::from_secs(30))
}

/// The namespace's volume journal as another process sees it: its own connection.
async fn other_process(ns: &Ns) -> Journal {
    let bed = Bed::get();
    let creds = Credentials::new(&bed.monitors, &bed.user, &bed.key);
    let cluster = Cluster::connect(&creds, &Timeouts::default())
        .await
        .unwrap();
    let io = cluster.ioctx(&ns.pool, &ns.name).await.unwrap();
    Journal::volumes(cluster, io, &Config::default()).unwrap()
}

#[tokio::test]
async fn a_request_name_lock_excludes_another_process_and_leaves_no_record() {
    let ns = Ns::new("journal-name-lock").await;
    let ours = ns.journal(Kind::Volume, &Config::default());
    let theirs = other_process(&ns).await;
    let lease = ours
        .lock_request_name(&locker("a"), "pvc-1", "CreateVolume pvc-1".into())
        .await
        .unwrap();
    let busy = theirs
        .lock_request_name(&locker("b"), "pvc-1", "CreateVolume pvc-1".into())
        .await
        .unwrap_err();
    assert!(matches!(busy, Error::InProgress { .. }), "{busy:?}");
    // Other names are independent.
    theirs
        .lock_request_name(&locker("b"), "pvc-2", "CreateVolume pvc-2".into())
        .await
        .unwrap()
        .release()
        .await;
    let xattrs = ns.rados(&["listxattr", "csi.volumes.default"]);
    assert!(
        xattrs.contains(&format!("lock.{REQUEST_LOCK_PREFIX}pvc-1")),
        "{xattrs}"
    );
    lease.release().await;
    assert_eq!(ns.rados(&["listxattr", "csi.volumes.default"]).trim(), "");
    theirs
        .lock_request_name(&locker("b"), "pvc-1", "CreateVolume pvc-1".into())
        .await
        .unwrap()
        .release()
        .await;
}

#[tokio::test]
async fn a_reservation_that_lost_its_name_lock_writes_nothing() {
    let ns = Ns::new("journal-lost-name").await;
    let journal = ns.journal(Kind::Volume, &Config::default());
    let a = locker("a");
    let outcome = scoped(async {
        let _lease = journal
            .lock_request_name(&a, "pvc-1", "CreateVolume pvc-1".into())
            .await
            .unwrap();
        let lock = format!("{REQUEST_LOCK_PREFIX}pvc-1");
        let broken = ns.io.break_lock_holders("csi.volumes.default", &lock).await;
        assert_eq!(broken.unwrap(), 1);
        journal.reserve(&Request::new("pvc-1")).await
    })
    .await
    .unwrap();
    let err = outcome.unwrap_err();
    match &err {
        Error::Ceph { source, .. } => assert!(source.is_not_locked(), "{err:?}"),
        other => panic!("expected a refused write, got {other:?}"),
    }
    let state = ns.state().await;
    assert_eq!(state.len(), 1, "{}", common::show(&state));
    assert!(
        state["csi.volumes.default"].is_empty(),
        "{}",
        common::show(&state)
    );
}

/// Two processes reserving one name at once, each under its name lock (as the controller
/// does): one entry, one directory key, one uuid for every reservation that went through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reservations_of_one_name_in_two_processes_make_one_entry() {
    let ns = Ns::new("journal-two-crowds").await;
    let ours = ns.journal(Kind::Volume, &Config::default());
    let theirs = other_process(&ns).await;
    let (a, b) = (locker("a"), locker("b"));
    let attempts = (0..32).map(|i| {
        let (journal, locker) = if i % 2 == 0 {
            (&ours, &a)
        } else {
            (&theirs, &b)
        };
        scoped(async move {
            let _lease = journal
                .lock_request_name(locker, "pvc-1", "CreateVolume pvc-1".into())
                .await?;
            journal.reserve(&Request::new("pvc-1")).await
        })
    });
    let mut uuids = std::collections::BTreeSet::new();
    for outcome in futures::future::join_all(attempts).await {
        match outcome.unwrap() {
            Ok(reservation) => {
                uuids.insert(reservation.entry.location.uuid);
            }
            Err(Error::InProgress { .. }) => {}
            Err(other) => panic!("{other:?}"),
        }
    }
    assert_eq!(uuids.len(), 1, "{uuids:?}");
    let state = ns.state().await;
    assert_eq!(state.len(), 2, "{}", common::show(&state));
    assert_eq!(state["csi.volumes.default"].len(), 1);
    assert_eq!(ns.rados(&["listxattr", "csi.volumes.default"]).trim(), "");
}

#[tokio::test]
async fn a_late_image_id_does_not_recreate_a_deleted_entry() {
    let ns = Ns::new("journal-late-id").await;
    let journal = ns.journal(Kind::Volume, &Config::default());
    let entry = journal.reserve(&Request::new("pvc-1")).await.unwrap().entry;
    // Another process deletes the volume while this one still works on it.
    other_process(&ns)
        .await
        .delete(&entry.location)
        .await
        .unwrap();
    let err = journal
        .record_image_id(&entry, "1234abcd")
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
    let state = ns.state().await;
    assert!(
        !state.contains_key(&journal.layout().entry_oid(&entry.location.uuid)),
        "{}",
        common::show(&state)
    );
}

#[tokio::test]
async fn a_late_undo_leaves_a_newer_reservation_alone() {
    let ns = Ns::new("journal-late-undo").await;
    let journal = ns.journal(Kind::Volume, &Config::default());
    let old = journal.reserve(&Request::new("pvc-1")).await.unwrap().entry;
    journal.undo("pvc-1", &old.location).await.unwrap();
    let newer = journal.reserve(&Request::new("pvc-1")).await.unwrap().entry;
    let before = ns.state().await;
    // The first attempt's rollback runs again, late: it must not touch the newer reservation.
    journal.undo("pvc-1", &old.location).await.unwrap();
    assert_eq!(ns.state().await, before);
    // Nor may an undo under another name remove this name's entry object.
    journal.undo("pvc-2", &newer.location).await.unwrap();
    assert_eq!(ns.state().await, before);
    assert_eq!(
        journal.lookup(&Request::new("pvc-1")).await.unwrap(),
        Some(newer)
    );
}

async fn lock(
    journal: &Journal,
    locker: &Locker,
    location: &Location,
    name: &str,
    kind: LockKind,
) -> Result<ceph::Lease, Error> {
    let description = format!("{name} {kind:?}");
    journal
        .lock_entry(locker, location, name, kind, description)
        .await
}

#[tokio::test]
async fn entry_locks_exclude_across_processes_and_never_create_entries() {
    let ns = Ns::new("journal-entry-lock").await;
    let ours = ns.journal(Kind::Volume, &Config::default());
    let theirs = other_process(&ns).await;
    let missing = Location {
        pool_id: ns.io.pool_id(),
        uuid: Uuid::new_v4(),
    };
    let (a, b) = (locker("a"), locker("b"));
    let err = lock(&ours, &a, &missing, "sepia.id", LockKind::Shared)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
    assert!(
        ns.state().await.is_empty(),
        "a lock created an entry object"
    );

    let entry = ours.reserve(&Request::new("pvc-1")).await.unwrap().entry;
    let at = &entry.location;
    let shared = lock(&ours, &a, at, "sepia.id", LockKind::Shared).await;
    let also_shared = lock(&theirs, &b, at, "sepia.id", LockKind::Shared).await;
    let err = lock(&theirs, &b, at, "sepia.id", LockKind::Exclusive)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InProgress { .. }), "{err:?}");
    // Another lock name on the same entry is independent.
    let other_name = lock(&theirs, &b, at, "sepia.prepare", LockKind::Exclusive).await;
    other_name.unwrap().release().await;
    shared.unwrap().release().await;
    also_shared.unwrap().release().await;
    let exclusive = lock(&theirs, &b, at, "sepia.id", LockKind::Exclusive).await;
    exclusive.unwrap().release().await;
}
