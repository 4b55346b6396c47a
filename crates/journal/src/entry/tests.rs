use uuid::Uuid;

use super::*;

const UUID: &str = "566a36f5-6e0f-11ed-b5c4-6efb82c232c4";
const OID: &str = "csi.volume.566a36f5-6e0f-11ed-b5c4-6efb82c232c4";

fn location() -> Location {
    Location {
        pool_id: 2,
        uuid: Uuid::parse_str(UUID).unwrap(),
    }
}

fn omap(pairs: &[(&str, &str)]) -> BTreeMap<String, Vec<u8>> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.as_bytes().to_vec()))
        .collect()
}

fn complete(kind: Kind, pairs: &[(&str, &str)]) -> Entry {
    match parse(kind, location(), OID, omap(pairs)).unwrap() {
        Parsed::Complete(entry) => *entry,
        other => panic!("{other:?}"),
    }
}

#[test]
fn reads_every_known_volume_key_and_keeps_the_rest() {
    let entry = complete(
        Kind::Volume,
        &[
            ("csi.volname", "pvc-1"),
            ("csi.imagename", "csi-vol-x"),
            ("csi.imageid", "10226b8b4567"),
            ("csi.volume.owner", "team-a"),
            ("csi.journalpool", "0000000000000003"),
            ("csi.volume.encryptKMS", "vault"),
            ("csi.volume.encryptionType", "block"),
            ("csi.groupid", "group-7"),
        ],
    );
    assert_eq!(entry.request_name, "pvc-1");
    assert_eq!(entry.image_name, "csi-vol-x");
    assert_eq!(entry.image_id.as_deref(), Some("10226b8b4567"));
    assert_eq!(entry.owner.as_deref(), Some("team-a"));
    assert_eq!(entry.journal_pool_id, Some(3));
    assert_eq!(
        entry.encryption,
        Some(Encryption {
            kms_id: "vault".into(),
            encryption_type: Some("block".into())
        })
    );
    assert_eq!(entry.extra, omap(&[("csi.groupid", "group-7")]));
}

#[test]
fn old_entries_without_image_name_get_the_default_prefix() {
    let entry = complete(Kind::Volume, &[("csi.volname", "pvc-1")]);
    assert_eq!(entry.image_name, format!("csi-vol-{UUID}"));
    let snap = complete(
        Kind::Snapshot,
        &[("csi.snapname", "snap-1"), ("csi.source", "csi-vol-y")],
    );
    assert_eq!(snap.image_name, format!("csi-snap-{UUID}"));
}

#[test]
fn empty_object_is_incomplete() {
    assert_eq!(
        parse(Kind::Volume, location(), OID, BTreeMap::new()).unwrap(),
        Parsed::Incomplete {
            defect: "no request name",
            request_name: None
        }
    );
}

#[test]
fn snapshot_without_source_is_incomplete() {
    assert_eq!(
        parse(
            Kind::Snapshot,
            location(),
            OID,
            omap(&[("csi.snapname", "snap-1"), ("csi.imagename", "csi-snap-x")])
        )
        .unwrap(),
        Parsed::Incomplete {
            defect: "no source",
            request_name: Some("snap-1".into())
        }
    );
}

#[test]
fn non_utf8_values_are_corrupt_not_stale() {
    let mut map = omap(&[("csi.volname", "pvc-1")]);
    map.insert("csi.imageid".into(), vec![0xff, 0xfe]);
    assert!(matches!(
        parse(Kind::Volume, location(), OID, map),
        Err(Error::Corrupt { key, .. }) if key == "csi.imageid"
    ));
}

#[test]
fn render_writes_exactly_ceph_csi_keys() {
    let request = Request::new("snap-1")
        .with_source("csi-vol-a")
        .with_owner("ns")
        .with_encryption(Encryption {
            kms_id: "vault".into(),
            encryption_type: None,
        });
    let mut rendered = render(Kind::Snapshot, &request, "csi-snap-b", Some(0x10));
    rendered.sort();
    assert_eq!(
        rendered,
        vec![
            ("csi.imagename", "csi-snap-b".to_owned()),
            ("csi.journalpool", "0000000000000010".to_owned()),
            ("csi.snapname", "snap-1".to_owned()),
            ("csi.source", "csi-vol-a".to_owned()),
            ("csi.volume.encryptKMS", "vault".to_owned()),
            ("csi.volume.owner", "ns".to_owned()),
        ]
    );
    let plain = render(Kind::Volume, &Request::new("pvc-1"), "csi-vol-b", None);
    assert_eq!(
        plain,
        vec![
            ("csi.volname", "pvc-1".to_owned()),
            ("csi.imagename", "csi-vol-b".to_owned())
        ]
    );
}

#[test]
fn rendered_attributes_parse_back_to_the_request() {
    let request = Request::new("snap-1")
        .with_source("csi-vol-a")
        .with_owner("ns");
    let rendered = render(Kind::Snapshot, &request, "csi-snap-b", None);
    let map = rendered
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone().into_bytes()))
        .collect();
    let Parsed::Complete(entry) = parse(Kind::Snapshot, location(), OID, map).unwrap() else {
        panic!("incomplete");
    };
    assert_eq!(entry.request_name, "snap-1");
    assert_eq!(entry.source.as_deref(), Some("csi-vol-a"));
    assert!(entry.extra.is_empty());
    check_compatible(&entry, &request).unwrap();
}

#[test]
fn a_different_source_is_a_name_conflict() {
    let entry = complete(
        Kind::Snapshot,
        &[("csi.snapname", "snap-1"), ("csi.source", "csi-vol-a")],
    );
    let err =
        check_compatible(&entry, &Request::new("snap-1").with_source("csi-vol-b")).unwrap_err();
    assert!(
        matches!(&err, Error::NameConflict { field: "source", stored, requested, .. }
            if stored == "csi-vol-a" && requested == "csi-vol-b"),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains("already exists with different parameters")
    );
}

#[test]
fn encryption_must_match_both_ways() {
    let plain = complete(Kind::Volume, &[("csi.volname", "pvc-1")]);
    let encrypted = Request::new("pvc-1").with_encryption(Encryption {
        kms_id: "vault".into(),
        encryption_type: Some("block".into()),
    });
    assert!(matches!(
        check_compatible(&plain, &encrypted),
        Err(Error::NameConflict {
            field: "encryption KMS",
            ..
        })
    ));
    let stored = complete(
        Kind::Volume,
        &[
            ("csi.volname", "pvc-1"),
            ("csi.volume.encryptKMS", "vault"),
            ("csi.volume.encryptionType", "file"),
        ],
    );
    assert!(matches!(
        check_compatible(&stored, &Request::new("pvc-1")),
        Err(Error::NameConflict {
            field: "encryption KMS",
            ..
        })
    ));
    assert!(matches!(
        check_compatible(&stored, &encrypted),
        Err(Error::NameConflict {
            field: "encryption type",
            ..
        })
    ));
}

#[test]
fn requests_are_validated_before_any_write() {
    let field = |request: Request, kind| match request.validate(kind) {
        Err(Error::InvalidArgument { field, .. }) => field,
        other => panic!("{other:?}"),
    };
    assert_eq!(field(Request::new(""), Kind::Volume), "request_name");
    assert_eq!(field(Request::new("s"), Kind::Snapshot), "source");
    assert_eq!(
        field(Request::new("v").with_source("x"), Kind::Volume),
        "source"
    );
    assert_eq!(
        field(Request::new("v").with_image_prefix("a/b"), Kind::Volume),
        "image_prefix"
    );
    assert_eq!(
        field(Request::new("v").with_owner(""), Kind::Volume),
        "owner"
    );
    assert_eq!(
        field(Request::new("v").with_image_pool(-1), Kind::Volume),
        "image_pool_id"
    );
}
