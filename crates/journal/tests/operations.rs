//! The journal's operations against the real bed: idempotency, conflicts, stale leftovers,
//! removal, listing, the orphan scan, concurrency and split pools.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeSet;

use common::{Ns, expect, show};
use journal::{Config, Error, Kind, Location, Request};
use uuid::Uuid;

fn volumes(ns: &Ns) -> journal::Journal {
    ns.journal(Kind::Volume, &Config::default())
}

fn location(ns: &Ns, uuid: Uuid) -> Location {
    Location {
        pool_id: ns.io.pool_id(),
        uuid,
    }
}

#[tokio::test]
async fn lookup_of_an_unknown_name_finds_nothing_and_writes_nothing() {
    let ns = Ns::new("journal-ops-unknown").await;
    assert_eq!(
        volumes(&ns)
            .lookup(&Request::new("pvc-none"))
            .await
            .unwrap(),
        None
    );
    assert!(ns.state().await.is_empty());
}

#[tokio::test]
async fn reserve_twice_returns_the_same_entry() {
    let ns = Ns::new("journal-ops-idem").await;
    let journal = volumes(&ns);
    let first = journal.reserve(&Request::new("pvc-1")).await.unwrap();
    let second = journal.reserve(&Request::new("pvc-1")).await.unwrap();
    assert!(first.fresh && !second.fresh);
    assert_eq!(first.entry, second.entry);
    let other = journal.reserve(&Request::new("pvc-2")).await.unwrap();
    assert_ne!(other.entry.location, first.entry.location);
    assert_eq!(ns.state().await.len(), 3);
}

#[tokio::test]
async fn snapshot_of_another_source_under_the_same_name_conflicts() {
    let ns = Ns::new("journal-ops-conflict").await;
    let snaps = ns.journal(Kind::Snapshot, &Config::default());
    snaps
        .reserve(&Request::new("snap-1").with_source("csi-vol-a"))
        .await
        .unwrap();
    let before = ns.state().await;
    for result in [
        snaps
            .reserve(&Request::new("snap-1").with_source("csi-vol-b"))
            .await
            .map(|r| r.entry),
        snaps
            .lookup(&Request::new("snap-1").with_source("csi-vol-b"))
            .await
            .map(|e| e.unwrap()),
    ] {
        match result {
            Err(Error::NameConflict {
                field: "source",
                stored,
                requested,
                ..
            }) => assert_eq!(
                (stored.as_str(), requested.as_str()),
                ("csi-vol-a", "csi-vol-b")
            ),
            other => panic!("expected a name conflict, got {other:?}"),
        }
    }
    assert_eq!(ns.state().await, before, "a conflict must write nothing");
}

#[tokio::test]
async fn image_id_is_stored_and_read_back_by_uuid() {
    let ns = Ns::new("journal-ops-imageid").await;
    let journal = volumes(&ns);
    let entry = journal.reserve(&Request::new("pvc-1")).await.unwrap().entry;
    journal
        .store_image_id(&entry.location, "1234abcd")
        .await
        .unwrap();
    let read = journal.entry(&entry.location).await.unwrap();
    assert_eq!(read.image_id.as_deref(), Some("1234abcd"));
    assert_eq!(read.image_name, entry.image_name);

    journal.delete(&entry.location).await.unwrap();
    assert!(matches!(
        journal.store_image_id(&entry.location, "1234abcd").await,
        Err(Error::NotFound { .. })
    ));
    assert!(
        !ns.io
            .exists(&journal.layout().entry_oid(&entry.location.uuid))
            .await
            .unwrap(),
        "storing an image id must not resurrect a deleted entry"
    );
    assert!(matches!(
        journal.entry(&entry.location).await,
        Err(Error::NotFound { .. })
    ));
}

#[tokio::test]
async fn stale_directory_keys_are_removed_by_lookup() {
    let ns = Ns::new("journal-ops-stale").await;
    let journal = volumes(&ns);
    let owner = journal
        .reserve(&Request::new("pvc-owner"))
        .await
        .unwrap()
        .entry;
    let nowhere = Uuid::new_v4().to_string();
    let theirs = owner.location.uuid.to_string();
    ns.put(
        "csi.volumes.default",
        &[
            ("csi.volume.pvc-dangling", &nowhere),
            ("csi.volume.pvc-borrowed", &theirs),
            ("csi.volume.pvc-garbage", "not a uuid"),
        ],
    )
    .await;
    for name in ["pvc-dangling", "pvc-borrowed", "pvc-garbage"] {
        assert_eq!(
            journal.lookup(&Request::new(name)).await.unwrap(),
            None,
            "{name}"
        );
    }
    // Only the legitimate entry is left, untouched.
    let want = expect(&[
        ("csi.volumes.default", &[("csi.volume.pvc-owner", &*theirs)]),
        (
            &format!("csi.volume.{theirs}"),
            &[
                ("csi.imagename", &*owner.image_name),
                ("csi.volname", "pvc-owner"),
            ],
        ),
    ]);
    let got = ns.state().await;
    assert_eq!(got, want, "{}", show(&got));
}

#[tokio::test]
async fn incomplete_entries_are_reported_by_uuid_and_deletable() {
    let ns = Ns::new("journal-ops-incomplete").await;
    let journal = volumes(&ns);
    let uuid = Uuid::new_v4();
    ns.io
        .create_exclusive(&journal.layout().entry_oid(&uuid))
        .await
        .unwrap();
    assert!(matches!(
        journal.entry(&location(&ns, uuid)).await,
        Err(Error::Incomplete {
            defect: "no request name",
            ..
        })
    ));
    journal.delete(&location(&ns, uuid)).await.unwrap();
    assert!(ns.state().await.is_empty());
}

#[tokio::test]
async fn undo_and_delete_accept_missing_pieces() {
    let ns = Ns::new("journal-ops-undo").await;
    let journal = volumes(&ns);
    let entry = journal.reserve(&Request::new("pvc-1")).await.unwrap().entry;
    journal.undo("pvc-1", &entry.location).await.unwrap();
    journal.undo("pvc-1", &entry.location).await.unwrap();
    journal.delete(&entry.location).await.unwrap();
    journal
        .undo("pvc-never", &location(&ns, Uuid::new_v4()))
        .await
        .unwrap();
    journal
        .delete(&location(&ns, Uuid::new_v4()))
        .await
        .unwrap();
    let got = ns.state().await;
    assert_eq!(
        got,
        expect(&[("csi.volumes.default", &[])]),
        "{}",
        show(&got)
    );
}

#[tokio::test]
async fn listing_pages_through_every_request_name() {
    let ns = Ns::new("journal-ops-list").await;
    let journal = volumes(&ns);
    assert!(journal.list("", 10).await.unwrap().entries.is_empty());
    let mut reserved = Vec::new();
    for name in ["pvc-a", "pvc-b", "pvc-c", "pvc-d", "pvc-e"] {
        let entry = journal.reserve(&Request::new(name)).await.unwrap().entry;
        reserved.push((name.to_owned(), Some(entry.location)));
    }
    let mut listed = Vec::new();
    let mut start_after = String::new();
    let mut pages = 0;
    loop {
        let page = journal.list(&start_after, 2).await.unwrap();
        pages += 1;
        assert!(page.entries.len() <= 2);
        listed.extend(
            page.entries
                .into_iter()
                .map(|l| (l.request_name, l.location)),
        );
        match page.next {
            Some(next) => start_after = next,
            None => break,
        }
    }
    assert_eq!(listed, reserved);
    assert_eq!(pages, 3);
    assert!(matches!(
        journal.list("", 0).await,
        Err(Error::InvalidArgument { field: "max", .. })
    ));
}

#[tokio::test]
async fn scan_reports_orphans_dangling_keys_and_garbage() {
    let ns = Ns::new("journal-ops-scan").await;
    let journal = volumes(&ns);
    let kept = journal
        .reserve(&Request::new("pvc-kept"))
        .await
        .unwrap()
        .entry;
    let orphan = Uuid::new_v4();
    ns.put(
        &journal.layout().entry_oid(&orphan),
        &[("csi.volname", "pvc-gone"), ("csi.imagename", "csi-vol-x")],
    )
    .await;
    let dangling = Uuid::new_v4();
    ns.put(
        "csi.volumes.default",
        &[
            ("csi.volume.pvc-dangling", &dangling.to_string()),
            ("csi.volume.pvc-garbage", "garbage"),
        ],
    )
    .await;
    // Objects that are not attribute objects are none of the scan's business.
    ns.put("csi.volume.group.x", &[("k", "v")]).await;

    let scan = journal.scan().await.unwrap();
    assert_eq!(scan.orphans, vec![location(&ns, orphan)]);
    assert_eq!(scan.dangling.len(), 1);
    assert_eq!(scan.dangling[0].request_name, "pvc-dangling");
    assert_eq!(scan.dangling[0].location, Some(location(&ns, dangling)));
    assert_eq!(scan.malformed, vec!["pvc-garbage".to_owned()]);
    assert!(!scan.orphans.contains(&kept.location));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thirty_two_concurrent_reservations_of_one_name_share_one_uuid() {
    let ns = Ns::new("journal-ops-race").await;
    let journal = volumes(&ns);
    let tasks: Vec<_> = (0..32)
        .map(|_| {
            let journal = journal.clone();
            tokio::spawn(async move { journal.reserve(&Request::new("pvc-race")).await })
        })
        .collect();
    let mut uuids = BTreeSet::new();
    let mut fresh = 0;
    for task in tasks {
        let reservation = task.await.unwrap().unwrap();
        uuids.insert(reservation.entry.location.uuid);
        fresh += usize::from(reservation.fresh);
    }
    assert_eq!(uuids.len(), 1, "{uuids:?}");
    assert_eq!(fresh, 1);
    let state = ns.state().await;
    assert_eq!(state.len(), 2, "{}", show(&state));
    assert_eq!(state["csi.volumes.default"].len(), 1);
}

#[tokio::test]
async fn a_taken_fixed_uuid_is_refused_without_leftovers() {
    let ns = Ns::new("journal-ops-fixed").await;
    let journal = volumes(&ns);
    let taken = journal.reserve(&Request::new("pvc-1")).await.unwrap().entry;
    let before = ns.state().await;
    match journal
        .reserve(&Request::new("pvc-2").with_uuid(taken.location.uuid))
        .await
    {
        Err(Error::UuidTaken { uuid, .. }) => assert_eq!(uuid, taken.location.uuid),
        other => panic!("expected UuidTaken, got {other:?}"),
    }
    assert_eq!(ns.state().await, before);
    let fixed = Uuid::new_v4();
    let entry = journal
        .reserve(&Request::new("pvc-3").with_uuid(fixed))
        .await
        .unwrap()
        .entry;
    assert_eq!(entry.location.uuid, fixed);
}

/// The CephFS data pool of the bed, used as a second pool for split journal/image layouts.
async fn other_pool(ns: &Ns) -> String {
    let out = ns
        .cluster
        .mon_command(serde_json::json!({"prefix": "fs ls", "format": "json"}))
        .await
        .unwrap();
    let filesystems: serde_json::Value = serde_json::from_slice(&out.data).unwrap();
    filesystems[0]["data_pools"][0].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn entries_of_images_in_another_pool_point_across_pools() {
    let ns = Ns::new("journal-ops-split").await;
    let images = ns.sibling(&other_pool(&ns).await).await;
    let journal = volumes(&ns);
    let request = Request::new("pvc-split").with_image_pool(images.io.pool_id());
    let entry = journal.reserve(&request).await.unwrap().entry;
    assert_eq!(entry.location.pool_id, images.io.pool_id());
    assert_eq!(entry.journal_pool_id, Some(ns.io.pool_id()));

    let uuid = entry.location.uuid.to_string();
    let directory_value = format!("{:016x}/{uuid}", images.io.pool_id());
    let journal_pool = format!("{:016x}", ns.io.pool_id());
    assert_eq!(
        ns.state().await,
        expect(&[(
            "csi.volumes.default",
            &[("csi.volume.pvc-split", &*directory_value)]
        )])
    );
    assert_eq!(
        images.state().await,
        expect(&[(
            &format!("csi.volume.{uuid}"),
            &[
                ("csi.imagename", &*format!("csi-vol-{uuid}")),
                ("csi.journalpool", &*journal_pool),
                ("csi.volname", "pvc-split"),
            ],
        )])
    );
    let found = journal.lookup(&request).await.unwrap().unwrap();
    assert_eq!(found, entry);
    assert_eq!(journal.entry(&entry.location).await.unwrap(), entry);
    // The image pool's own journal does not count the entry as an orphan.
    assert!(volumes(&images).scan().await.unwrap().orphans.is_empty());

    journal.delete(&entry.location).await.unwrap();
    assert!(images.state().await.is_empty());
    assert_eq!(ns.state().await, expect(&[("csi.volumes.default", &[])]));
}
