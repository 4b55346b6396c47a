//! Every failpoint: crash there, then run the interrupted operation's retry, and check that
//! the namespace holds exactly one complete entry (or nothing) and no other object or key.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Ns, State, show};
use failpoint::{Action, Failpoints, Injected};
use journal::failpoints::{ALL, Step};
use journal::{Config, Entry, Error, Journal, Kind, Location, Request};

fn request(kind: Kind) -> Request {
    match kind {
        Kind::Volume => Request::new("pvc-crash").with_owner("team-a"),
        Kind::Snapshot => Request::new("snapshot-crash").with_source("csi-vol-parent"),
    }
}

/// The exact state of one complete entry for `request` and nothing else.
fn one_complete_entry(journal: &Journal, entry: &Entry) -> State {
    let layout = journal.layout();
    let uuid = entry.location.uuid.to_string();
    let mut attributes = vec![
        (journal.kind().name_key(), entry.request_name.clone()),
        (
            "csi.imagename",
            format!("{}{uuid}", journal.kind().default_image_prefix()),
        ),
    ];
    match journal.kind() {
        Kind::Volume => attributes.push(("csi.volume.owner", "team-a".into())),
        Kind::Snapshot => attributes.push(("csi.source", "csi-vol-parent".into())),
    }
    let mut state = State::new();
    state.insert(
        layout.directory_oid().to_owned(),
        [(layout.directory_key(&entry.request_name), uuid.into_bytes())].into(),
    );
    state.insert(
        layout.entry_oid(&entry.location.uuid),
        attributes
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.into_bytes()))
            .collect(),
    );
    state
}

/// An empty directory object: all that remains once every entry is gone.
fn nothing(journal: &Journal) -> State {
    [(
        journal.layout().directory_oid().to_owned(),
        Default::default(),
    )]
    .into()
}

fn assert_crashed<T: std::fmt::Debug>(result: Result<T, Error>, name: &'static str) {
    match result {
        Err(Error::Injected(Injected { name: fired })) => assert_eq!(fired, name),
        other => panic!("expected a crash at {name}, got {other:?}"),
    }
}

async fn assert_state(ns: &Ns, want: &State, context: &str) {
    let got = ns.state().await;
    assert_eq!(
        &got,
        want,
        "{context}: got\n{}want\n{}",
        show(&got),
        show(want)
    );
}

/// Writes what ceph-csi leaves when it crashes between its directory write and its attribute
/// write: a directory key pointing at an empty object.
async fn half_written_ceph_csi_entry(ns: &Ns, journal: &Journal, name: &str) -> Location {
    let location = Location {
        pool_id: ns.io.pool_id(),
        uuid: uuid::Uuid::new_v4(),
    };
    let layout = journal.layout();
    ns.io
        .create_exclusive(&layout.entry_oid(&location.uuid))
        .await
        .unwrap();
    ns.put(
        layout.directory_oid(),
        &[(&layout.directory_key(name), &location.uuid.to_string())],
    )
    .await;
    location
}

async fn crash_and_retry(kind: Kind, step: Step) {
    let name = step.name(kind);
    let ns = Ns::new("journal-crash").await;
    let failpoints = Failpoints::new();
    let config = Config {
        failpoints: failpoints.clone(),
        ..Config::default()
    };
    let journal = ns.journal(kind, &config);
    let request = request(kind);
    let context = name;

    match step {
        Step::ReserveAfterDirectoryKey | Step::ReserveAfterEntryObject => {
            failpoints.set(name, Action::FailTimes(1));
            assert_crashed(journal.reserve(&request).await, name);
            let retry = journal.reserve(&request).await.unwrap();
            // A crash before the entry object exists means a fresh reservation on retry; a crash
            // after it means the retry finds the complete entry.
            assert_eq!(
                retry.fresh,
                step == Step::ReserveAfterDirectoryKey,
                "{context}"
            );
            assert_state(&ns, &one_complete_entry(&journal, &retry.entry), context).await;
        }
        Step::RepairAfterEntryObjectRemoved => {
            let stale = half_written_ceph_csi_entry(&ns, &journal, &request.request_name).await;
            failpoints.set(name, Action::FailTimes(1));
            assert_crashed(journal.reserve(&request).await, name);
            let retry = journal.reserve(&request).await.unwrap();
            assert!(retry.fresh, "{context}");
            assert_ne!(retry.entry.location, stale);
            assert_state(&ns, &one_complete_entry(&journal, &retry.entry), context).await;
        }
        Step::UndoAfterEntryObjectRemoved => {
            let first = journal.reserve(&request).await.unwrap().entry;
            failpoints.set(name, Action::FailTimes(1));
            assert_crashed(
                journal.undo(&request.request_name, &first.location).await,
                name,
            );
            // The create that was being rolled back is retried under the same name.
            let retry = journal.reserve(&request).await.unwrap();
            assert!(retry.fresh, "{context}");
            assert_ne!(retry.entry.location, first.location);
            assert_state(&ns, &one_complete_entry(&journal, &retry.entry), context).await;
            // A late retry of the old undo must not touch the new reservation.
            journal
                .undo(&request.request_name, &first.location)
                .await
                .unwrap();
            assert_state(&ns, &one_complete_entry(&journal, &retry.entry), context).await;
        }
        Step::DeleteAfterDirectoryKeyRemoved => {
            let first = journal.reserve(&request).await.unwrap().entry;
            failpoints.set(name, Action::FailTimes(1));
            assert_crashed(journal.delete(&first.location).await, name);
            // What is left is an object nobody points at; the orphan scan reports it.
            let scan = journal.scan().await.unwrap();
            assert_eq!(scan.orphans, vec![first.location], "{context}");
            assert!(scan.dangling.is_empty() && scan.malformed.is_empty());
            // DeleteVolume's retry (by ID) finishes the job.
            journal.delete(&first.location).await.unwrap();
            assert_state(&ns, &nothing(&journal), context).await;
            // And the name can be reserved again.
            let again = journal.reserve(&request).await.unwrap();
            assert!(again.fresh);
            assert_state(&ns, &one_complete_entry(&journal, &again.entry), context).await;
        }
    }
    assert!(failpoints.hits(name) >= 1, "{name} was never reached");
}

#[tokio::test]
async fn every_failpoint_is_repaired_by_the_retry() {
    let mut covered = Vec::new();
    for kind in [Kind::Volume, Kind::Snapshot] {
        for step in Step::ALL {
            crash_and_retry(kind, step).await;
            covered.push(step.name(kind));
        }
    }
    covered.sort_unstable();
    let mut all = ALL.to_vec();
    all.sort_unstable();
    assert_eq!(covered, all, "every declared failpoint must be exercised");
}

#[tokio::test]
async fn a_reservation_cancelled_between_its_writes_is_repaired_by_the_retry() {
    // A pause makes the reservation stop between its two writes while another handle (a new
    // controller after a crash, with its own locks) looks the name up.
    let ns = Ns::new("journal-crash-pause").await;
    let failpoints = Failpoints::new();
    let name = Step::ReserveAfterDirectoryKey.name(Kind::Volume);
    failpoints.set(name, Action::Pause);
    let slow = ns.journal(
        Kind::Volume,
        &Config {
            failpoints: failpoints.clone(),
            ..Config::default()
        },
    );
    let request = request(Kind::Volume);
    let stuck = tokio::spawn({
        let request = request.clone();
        async move { slow.reserve(&request).await }
    });
    tokio::time::timeout(
        std::time::Duration::from_secs(30),
        failpoints.wait_for_hits(name, 1),
    )
    .await
    .unwrap();
    // The stuck request is cancelled, as a gRPC deadline would.
    stuck.abort();
    assert!(stuck.await.unwrap_err().is_cancelled());
    let fresh = ns.journal(Kind::Volume, &Config::default());
    let retry = fresh.reserve(&request).await.unwrap();
    assert!(retry.fresh);
    assert_state(&ns, &one_complete_entry(&fresh, &retry.entry), "cancelled").await;
}
