//! Sepia's own `sepia.*` records on the real bed: written through `journal::records`, read back
//! byte for byte with the `rados` CLI and plain omap reads; never re-creating a deleted entry;
//! refused once the writer's lock on the entry is gone.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::{Duration, SystemTime};

use ceph::lock_scope::scoped;
use ceph::{LockKind, Locker};
use common::Ns;
use journal::records::node_registry::{self, NodeRecord};
use journal::records::publication::{self, Publication};
use journal::records::snapshot::{self, Record};
use journal::records::source::{self, ContentSource};
use journal::{Config, Error, Kind, Location, Request};

fn writer(mode: &str) -> Publication {
    Publication {
        readonly: false,
        access_mode: mode.to_owned(),
    }
}

#[tokio::test]
async fn volume_records_are_stored_as_documented_next_to_ceph_csi_keys() {
    let ns = Ns::new("journal-records-vol").await;
    let volumes = ns.journal(Kind::Volume, &Config::default());
    let entry = volumes.reserve(&Request::new("pvc-1")).await.unwrap().entry;
    let uuid = entry.location.uuid;
    let oid = Kind::Volume.entry_oid(&uuid);

    let from = ContentSource::Snapshot("0001-0004-bed1-0000000000000001-x".to_owned());
    assert_eq!(source::read(&ns.io, &uuid).await.unwrap(), None);
    source::write(&ns.io, &uuid, &from).await.unwrap();
    publication::write(&ns.io, &uuid, "node-a", &writer("SINGLE_NODE_WRITER"))
        .await
        .unwrap();
    publication::write(&ns.io, &uuid, "node-b", &writer("MULTI_NODE_MULTI_WRITER"))
        .await
        .unwrap();

    assert_eq!(
        ns.rados(&["getomapval", &oid, source::KEY, "-"]).trim_end(),
        "snapshot:0001-0004-bed1-0000000000000001-x"
    );
    let raw = &ns.state().await[&oid];
    assert_eq!(
        raw["sepia.publish.node-a"],
        br#"{"readonly":false,"accessMode":"SINGLE_NODE_WRITER"}"#
    );
    // ceph-csi's keys are untouched: the journal still reads the same entry.
    assert_eq!(raw["csi.volname"], b"pvc-1");
    assert_eq!(
        volumes.lookup(&Request::new("pvc-1")).await.unwrap(),
        Some(entry.clone())
    );

    assert_eq!(source::read(&ns.io, &uuid).await.unwrap(), Some(from));
    let all = publication::read_all(&ns.io, &uuid).await.unwrap();
    assert_eq!(all.keys().collect::<Vec<_>>(), ["node-a", "node-b"]);
    assert_eq!(all["node-a"], writer("SINGLE_NODE_WRITER"));
    assert_eq!(publication::nodes_in(raw), ["node-a", "node-b"]);

    publication::remove(&ns.io, &uuid, &["node-a".to_owned()])
        .await
        .unwrap();
    let all = publication::read_all(&ns.io, &uuid).await.unwrap();
    assert_eq!(all.keys().collect::<Vec<_>>(), ["node-b"]);
}

#[tokio::test]
async fn snapshot_records_round_trip_through_rados() {
    let ns = Ns::new("journal-records-snap").await;
    let snaps = ns.journal(Kind::Snapshot, &Config::default());
    let request = Request::new("snapshot-1").with_source("csi-vol-1".to_owned());
    let uuid = snaps.reserve(&request).await.unwrap().entry.location.uuid;
    let record = Record {
        created: SystemTime::UNIX_EPOCH + Duration::new(1_700_000_000, 5),
        size: 1 << 30,
    };
    assert_eq!(snapshot::read(&ns.io, &uuid).await.unwrap(), None);
    snapshot::write(&ns.io, &uuid, &record).await.unwrap();
    let oid = Kind::Snapshot.entry_oid(&uuid);
    let raw = &ns.state().await[&oid];
    assert_eq!(raw[snapshot::CREATED], b"1700000000.000000005");
    assert_eq!(raw[snapshot::SIZE], b"1073741824");
    assert_eq!(snapshot::read(&ns.io, &uuid).await.unwrap(), Some(record));
    assert_eq!(snapshot::decode_map(raw), Some(record));
}

#[tokio::test]
async fn records_of_a_deleted_entry_are_not_written_and_read_as_none() {
    let ns = Ns::new("journal-records-gone").await;
    let uuid = uuid::Uuid::new_v4();
    let source = ContentSource::Volume("v".to_owned());
    let err = source::write(&ns.io, &uuid, &source).await.unwrap_err();
    assert!(
        matches!(&err, Error::Ceph { source, .. } if source.is_not_found()),
        "{err:?}"
    );
    let err = publication::write(&ns.io, &uuid, "node-a", &writer("SINGLE_NODE_WRITER"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Ceph { source, .. } if source.is_not_found()),
        "{err:?}"
    );
    let record = Record {
        created: SystemTime::UNIX_EPOCH,
        size: 1,
    };
    assert!(snapshot::write(&ns.io, &uuid, &record).await.is_err());
    assert!(ns.state().await.is_empty(), "a record re-created an entry");
    assert_eq!(source::read(&ns.io, &uuid).await.unwrap(), None);
    assert_eq!(snapshot::read(&ns.io, &uuid).await.unwrap(), None);
    assert!(
        publication::read_all(&ns.io, &uuid)
            .await
            .unwrap()
            .is_empty()
    );
    publication::remove(&ns.io, &uuid, &["node-a".to_owned()])
        .await
        .unwrap();
}

#[tokio::test]
async fn a_publication_whose_lock_is_gone_is_refused() {
    let ns = Ns::new("journal-records-fenced").await;
    let volumes = ns.journal(Kind::Volume, &Config::default());
    let entry = volumes.reserve(&Request::new("pvc-1")).await.unwrap().entry;
    let location: Location = entry.location;
    let oid = Kind::Volume.entry_oid(&location.uuid);
    let locker = Locker::new("a", Duration::from_secs(30));
    let outcome = scoped(async {
        let _lease = volumes
            .lock_entry(
                &locker,
                &location,
                "sepia.publish",
                LockKind::Exclusive,
                "publications".to_owned(),
            )
            .await
            .unwrap();
        let broken = ns.io.break_lock_holders(&oid, "sepia.publish").await;
        assert_eq!(broken.unwrap(), 1);
        publication::write(
            &ns.io,
            &location.uuid,
            "node-a",
            &writer("SINGLE_NODE_WRITER"),
        )
        .await
    })
    .await;
    let refused = outcome.unwrap().unwrap_err();
    match &refused {
        Error::Ceph { source, .. } => assert!(source.is_not_locked(), "{refused:?}"),
        other => panic!("expected a refused write, got {other:?}"),
    }
    assert!(
        publication::read_all(&ns.io, &location.uuid)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn node_registrations_create_the_registry_and_are_found_by_node() {
    let ns = Ns::new("journal-records-nodes").await;
    assert!(
        !node_registry::is_registered(&ns.io, "default", "node-a")
            .await
            .unwrap()
    );
    let record = NodeRecord {
        node_id: "node-a".to_owned(),
        driver: "rbd.csi.sepia.io".to_owned(),
        updated_at: "2030-01-01T00:00:00Z".to_owned(),
    };
    node_registry::register(&ns.io, "default", &record)
        .await
        .unwrap();
    assert!(
        node_registry::is_registered(&ns.io, "default", "node-a")
            .await
            .unwrap()
    );
    assert!(
        !node_registry::is_registered(&ns.io, "default", "node-b")
            .await
            .unwrap()
    );
    assert!(
        !node_registry::is_registered(&ns.io, "other", "node-a")
            .await
            .unwrap()
    );
    let stored = ns.rados(&["getomapval", "sepia.nodes.default", "node-a", "-"]);
    let stored: NodeRecord = serde_json::from_str(stored.trim_end()).unwrap();
    assert_eq!(stored, record);
}
