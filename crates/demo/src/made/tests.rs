use journal::Location;
use journal::{CompositeId, Entry, Kind};
use uuid::Uuid;

use super::*;
use crate::in_ceph::images::ImageRow;
use crate::in_ceph::journal_view::JournalView;

const GIB: u64 = 1 << 30;
const POOL: i64 = 2;

/// A consistent world: PVC data (expanded to 2 GiB), its snapshot, a restore from the snapshot.
struct Fixture {
    made: Vec<Made>,
    images: Vec<ImageRow>,
    journal: JournalView,
}

fn uuid(n: u8) -> Uuid {
    Uuid::from_bytes([n; 16])
}

fn id(n: u8) -> String {
    CompositeId::new("demo", POOL as u64, uuid(n))
        .unwrap()
        .encode()
}

fn entry(kind: Kind, n: u8, request: &str, image: &str, source: Option<&str>) -> Entry {
    Entry {
        kind,
        location: Location {
            pool_id: POOL,
            uuid: uuid(n),
        },
        request_name: request.into(),
        image_name: image.into(),
        image_id: Some(format!("id{n}")),
        source: source.map(Into::into),
        owner: None,
        journal_pool_id: None,
        encryption: None,
        extra: Default::default(),
    }
}

fn image(n: u8, name: &str, size: u64, parent: Option<&str>, pvc: Option<&str>) -> ImageRow {
    ImageRow {
        name: name.into(),
        id: format!("id{n}"),
        size,
        parent_image: parent.map(Into::into),
        parent_snapshot: parent.map(Into::into),
        snapshots: Vec::new(),
        pvc_name: pvc.map(Into::into),
    }
}

impl Fixture {
    fn consistent() -> Fixture {
        let made = vec![
            Made {
                label: "PVC demo/data".into(),
                kind: Kind::Volume,
                request_name: "pvc-1".into(),
                id: id(1),
                size: 2 * GIB,
                from: None,
                pvc_name: Some("data".into()),
            },
            Made {
                label: "VolumeSnapshot demo/data-snap".into(),
                kind: Kind::Snapshot,
                request_name: "snapshot-2".into(),
                id: id(2),
                size: GIB,
                from: Some(id(1)),
                pvc_name: None,
            },
            Made {
                label: "PVC demo/data-restored".into(),
                kind: Kind::Volume,
                request_name: "pvc-3".into(),
                id: id(3),
                size: GIB,
                from: Some(id(2)),
                pvc_name: Some("data-restored".into()),
            },
        ];
        let images = vec![
            image(1, "csi-vol-1", 2 * GIB, None, Some("data")),
            image(2, "csi-snap-2", GIB, Some("csi-vol-1"), None),
            image(
                3,
                "csi-vol-3",
                GIB,
                Some("csi-snap-2"),
                Some("data-restored"),
            ),
        ];
        let journal = JournalView {
            entries: vec![
                entry(Kind::Volume, 1, "pvc-1", "csi-vol-1", None),
                entry(Kind::Volume, 3, "pvc-3", "csi-vol-3", None),
                entry(
                    Kind::Snapshot,
                    2,
                    "snapshot-2",
                    "csi-snap-2",
                    Some("csi-vol-1"),
                ),
            ],
            directory_keys: (2, 1),
            ..Default::default()
        };
        Fixture {
            made,
            images,
            journal,
        }
    }

    fn problems(&self) -> Vec<String> {
        check(&self.made, &self.images, &self.journal, "demo", POOL)
    }
}

#[test]
fn a_consistent_world_has_no_problems() {
    assert_eq!(Fixture::consistent().problems(), Vec::<String>::new());
}

#[test]
fn a_missing_image_and_a_wrong_size_are_named() {
    let mut f = Fixture::consistent();
    f.images.retain(|i| i.name != "csi-vol-3");
    f.images[0].size = GIB;
    let problems = f.problems();
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(problems[0].contains("PVC demo/data: image csi-vol-1 has 1073741824 bytes"));
    assert!(problems[1].contains("PVC demo/data-restored: image csi-vol-3 does not exist"));
}

#[test]
fn a_restore_must_be_parented_on_the_snapshot_image() {
    let mut f = Fixture::consistent();
    f.images[2].parent_image = Some("csi-vol-1".into());
    let problems = f.problems();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].contains("restored image's parent"),
        "{problems:?}"
    );
}

#[test]
fn ids_of_another_cluster_stray_keys_and_a_wrong_source_are_named() {
    let mut f = Fixture::consistent();
    f.made[0].id = CompositeId::new("other", POOL as u64, uuid(1))
        .unwrap()
        .encode();
    f.journal.directory_keys = (3, 1);
    f.journal.entries[2].source = Some("csi-vol-9".into());
    let problems = f.problems().join("\n");
    assert!(
        problems.contains("ID names cluster \"other\""),
        "{problems}"
    );
    assert!(
        problems.contains("hold 3 volume and 1 snapshot keys"),
        "{problems}"
    );
    assert!(
        problems.contains("csi.source is Some(\"csi-vol-9\")"),
        "{problems}"
    );
}

#[test]
fn a_missing_journal_entry_and_an_undecodable_id_are_named() {
    let mut f = Fixture::consistent();
    f.journal.entries.retain(|e| e.kind != Kind::Snapshot);
    f.made[2].id = "not-an-id".into();
    let problems = f.problems().join("\n");
    assert!(
        problems.contains("VolumeSnapshot demo/data-snap: no journal entry csi.snap."),
        "{problems}"
    );
    assert!(
        problems.contains("PVC demo/data-restored: ID \"not-an-id\" does not decode"),
        "{problems}"
    );
}
