use proptest::prelude::*;

use super::*;

const EXAMPLE: &str = "0001-0009-rook-ceph-0000000000000002-197480ab-6e0f-11ed-b5c4-6efb82c232c4";
const FSID_EXAMPLE: &str = "0001-0024-015836b8-4c51-4825-94a6-776a67593b9a-0000000000000001-5e7a0462-6538-11ea-96df-d20f7c6000a1";

fn field_of(id: &str) -> &'static str {
    match CompositeId::decode(id) {
        Err(Error::InvalidId { field, .. }) => field,
        other => panic!("{id:?} decoded to {other:?}"),
    }
}

#[test]
fn decodes_the_documented_example() {
    let id = CompositeId::decode(EXAMPLE).unwrap();
    assert_eq!(id.cluster_id(), "rook-ceph");
    assert_eq!(id.location_id(), 2);
    assert_eq!(
        id.uuid().to_string(),
        "197480ab-6e0f-11ed-b5c4-6efb82c232c4"
    );
    assert_eq!(id.encode(), EXAMPLE);
}

#[test]
fn reads_a_cluster_id_full_of_dashes_by_its_length() {
    let id = CompositeId::decode(FSID_EXAMPLE).unwrap();
    assert_eq!(id.cluster_id(), "015836b8-4c51-4825-94a6-776a67593b9a");
    assert_eq!(id.location_id(), 1);
    assert_eq!(id.encode().len(), 100);
    assert_eq!(id.encode(), FSID_EXAMPLE);
}

#[test]
fn encodes_like_ceph_csi() {
    let uuid = Uuid::parse_str("b0285c97-a0ce-11eb-8c66-0242ac110002").unwrap();
    let id = CompositeId::new("rook-ceph", 0x2a, uuid).unwrap();
    assert_eq!(
        id.encode(),
        "0001-0009-rook-ceph-000000000000002a-b0285c97-a0ce-11eb-8c66-0242ac110002"
    );
}

#[test]
fn cluster_id_of_64_characters_fits_and_65_does_not() {
    let uuid = Uuid::new_v4();
    let longest = CompositeId::new("c".repeat(64), u64::MAX, uuid).unwrap();
    assert_eq!(longest.encode().len(), MAX_ID_LEN);
    assert_eq!(CompositeId::decode(&longest.encode()).unwrap(), longest);
    assert!(matches!(
        CompositeId::new("c".repeat(65), 1, uuid),
        Err(Error::InvalidId {
            field: "cluster_id",
            ..
        })
    ));
}

#[test]
fn rejects_each_malformed_field_by_name() {
    let cases = [
        ("", "id"),
        ("0001", "id"),
        (&*format!("{EXAMPLE}x"), "cluster_id_length"),
        (&*EXAMPLE.replacen("0001", "0002", 1), "version"),
        (&*EXAMPLE.replacen("0001", "000g", 1), "version"),
        (&*EXAMPLE.replacen("0001-", "0001+", 1), "version"),
        (&*EXAMPLE.replacen("0009", "000a", 1), "cluster_id_length"),
        (&*EXAMPLE.replacen("0009", "0008", 1), "cluster_id_length"),
        (&*EXAMPLE.replacen("0009", "000Z", 1), "cluster_id_length"),
        (
            &*EXAMPLE.replacen("0000000000000002", "000000000000000G", 1),
            "location_id",
        ),
        (
            &*EXAMPLE.replacen("0000000000000002", "00000000000000A2", 1),
            "location_id",
        ),
        (
            &*EXAMPLE.replacen("-0000000000000002", "x0000000000000002", 1),
            "cluster_id",
        ),
        (
            &*EXAMPLE.replacen("2-197480ab", "2_197480ab", 1),
            "location_id",
        ),
        (&*EXAMPLE.replacen("197480ab", "197480AB", 1), "uuid"),
        (&*EXAMPLE.replacen("-6e0f", "x6e0f", 1), "uuid"),
        (
            &*EXAMPLE.replacen("rook-ceph", "rook/ceph", 1),
            "cluster_id",
        ),
        (
            &*EXAMPLE.replacen("rook-ceph", "rook ceph", 1),
            "cluster_id",
        ),
        (&*EXAMPLE.replacen("rook-ceph", "rook-cep\u{e9}", 1), "id"),
        (
            "0001-0000--0000000000000002-197480ab-6e0f-11ed-b5c4-6efb82c232c4",
            "id",
        ),
    ];
    for (id, field) in cases {
        assert_eq!(field_of(id), field, "{id:?}");
    }
}

#[test]
fn rejects_ids_longer_than_the_csi_limit() {
    let id = format!(
        "0001-0041-{}-0000000000000002-197480ab-6e0f-11ed-b5c4-6efb82c232c4",
        "c".repeat(65)
    );
    assert_eq!(field_of(&id), "id");
}

#[test]
fn parse_uuid_accepts_only_the_canonical_form() {
    assert!(parse_uuid("197480ab-6e0f-11ed-b5c4-6efb82c232c4").is_ok());
    for bad in [
        "197480ab6e0f11edb5c46efb82c232c4",
        "{197480ab-6e0f-11ed-b5c4-6efb82c232c4}",
        "197480AB-6E0F-11ED-B5C4-6EFB82C232C4",
        "197480ab-6e0f-11ed-b5c4-6efb82c232c",
        "197480ab-6e0f-11ed-b5c4_6efb82c232c4",
    ] {
        assert!(parse_uuid(bad).is_err(), "{bad}");
    }
}

fn cluster_id() -> impl Strategy<Value = String> {
    // Visible ASCII without '/', including '-' so IDs cannot be split on dashes.
    proptest::string::string_regex("[!-.0-~]{1,64}").unwrap()
}

proptest! {
    #[test]
    fn decode_of_encode_is_identity(cluster in cluster_id(), location: u64, bytes: [u8; 16]) {
        let id = CompositeId::new(cluster, location, Uuid::from_bytes(bytes)).unwrap();
        let encoded = id.encode();
        prop_assert!(encoded.len() <= MAX_ID_LEN);
        prop_assert_eq!(CompositeId::decode(&encoded).unwrap(), id);
    }

    #[test]
    fn encode_of_decode_is_identity(cluster in cluster_id(), location: u64, bytes: [u8; 16]) {
        let text = CompositeId::new(cluster, location, Uuid::from_bytes(bytes)).unwrap().encode();
        prop_assert_eq!(CompositeId::decode(&text).unwrap().encode(), text);
    }

    #[test]
    fn decode_of_arbitrary_strings_never_panics(text in ".{0,200}") {
        if let Ok(id) = CompositeId::decode(&text) {
            prop_assert_eq!(id.encode(), text);
        }
    }

    #[test]
    fn decode_of_mutated_ids_never_panics(
        cluster in cluster_id(),
        location: u64,
        bytes: [u8; 16],
        at in 0usize..128,
        byte: u8,
    ) {
        let mut raw = CompositeId::new(cluster, location, Uuid::from_bytes(bytes)).unwrap().encode().into_bytes();
        let at = at % raw.len();
        raw[at] = byte;
        let text = String::from_utf8_lossy(&raw).into_owned();
        if let Ok(id) = CompositeId::decode(&text) {
            prop_assert_eq!(id.encode(), text);
        }
    }
}

#[test]
fn converts_to_and_from_a_journal_location() {
    let id = CompositeId::decode(EXAMPLE).unwrap();
    let location = id.location().unwrap();
    assert_eq!(location.pool_id, 2);
    assert_eq!(location.uuid, id.uuid());
    assert_eq!(
        CompositeId::for_location("rook-ceph", &location).unwrap(),
        id
    );

    let huge = CompositeId::new("c", u64::MAX, Uuid::nil()).unwrap();
    assert!(matches!(
        huge.location(),
        Err(Error::InvalidId {
            field: "location_id",
            ..
        })
    ));
    let negative = Location {
        pool_id: -1,
        uuid: Uuid::nil(),
    };
    assert!(CompositeId::for_location("c", &negative).is_err());
}
