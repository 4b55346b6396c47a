use super::*;

const UUID: &str = "566a36f5-6e0f-11ed-b5c4-6efb82c232c4";

fn uuid() -> Uuid {
    Uuid::parse_str(UUID).unwrap()
}

#[test]
fn volume_names_are_ceph_csi_names() {
    let layout = Layout::new(Kind::Volume, DEFAULT_INSTANCE).unwrap();
    assert_eq!(layout.directory_oid(), "csi.volumes.default");
    assert_eq!(
        layout.directory_key("pvc-3603c558-1c1b-4e4e-9d4c-1f4b5a0b7f8e"),
        "csi.volume.pvc-3603c558-1c1b-4e4e-9d4c-1f4b5a0b7f8e"
    );
    assert_eq!(layout.entry_oid(&uuid()), format!("csi.volume.{UUID}"));
}

#[test]
fn snapshot_names_are_ceph_csi_names() {
    let layout = Layout::new(Kind::Snapshot, "other").unwrap();
    assert_eq!(layout.directory_oid(), "csi.snaps.other");
    assert_eq!(layout.directory_key("snapshot-1"), "csi.snap.snapshot-1");
    assert_eq!(layout.entry_oid(&uuid()), format!("csi.snap.{UUID}"));
}

#[test]
fn request_name_inverts_directory_key() {
    let layout = Layout::new(Kind::Volume, DEFAULT_INSTANCE).unwrap();
    assert_eq!(layout.request_name("csi.volume.pvc-1"), Some("pvc-1"));
    assert_eq!(layout.request_name("csi.snap.pvc-1"), None);
}

#[test]
fn entry_uuid_recognises_only_attribute_objects() {
    let layout = Layout::new(Kind::Volume, DEFAULT_INSTANCE).unwrap();
    assert_eq!(
        layout.entry_uuid(&format!("csi.volume.{UUID}")),
        Some(uuid())
    );
    assert_eq!(layout.entry_uuid("csi.volumes.default"), None);
    assert_eq!(layout.entry_uuid(&format!("csi.volume.group.{UUID}")), None);
    assert_eq!(layout.entry_uuid(&format!("csi.snap.{UUID}")), None);
    assert_eq!(layout.entry_uuid("rbd_header.1234"), None);
}

#[test]
fn empty_instance_is_refused() {
    assert!(matches!(
        Layout::new(Kind::Volume, ""),
        Err(Error::InvalidArgument {
            field: "instance",
            ..
        })
    ));
}

#[test]
fn directory_value_is_a_bare_uuid_in_the_same_pool() {
    assert_eq!(encode_directory_value(&uuid(), None), UUID);
    assert_eq!(
        decode_directory_value(UUID.as_bytes()),
        Some(DirectoryTarget {
            pool_id: None,
            uuid: uuid()
        })
    );
}

#[test]
fn directory_value_carries_a_big_endian_pool_id_across_pools() {
    let value = encode_directory_value(&uuid(), Some(0x1234));
    assert_eq!(value, format!("0000000000001234/{UUID}"));
    let target = decode_directory_value(value.as_bytes()).unwrap();
    assert_eq!(target.pool_id, Some(0x1234));
    assert_eq!(
        target.location(7),
        Location {
            pool_id: 0x1234,
            uuid: uuid()
        }
    );
    assert_eq!(
        decode_directory_value(UUID.as_bytes())
            .unwrap()
            .location(7)
            .pool_id,
        7
    );
}

#[test]
fn malformed_directory_values_are_recognised() {
    for bad in [
        &b""[..],
        b"not-a-uuid",
        b"\xff\xfe",
        b"12/566a36f5-6e0f-11ed-b5c4-6efb82c232c4",
        b"000000000000000g/566a36f5-6e0f-11ed-b5c4-6efb82c232c4",
        b"8000000000000000/566a36f5-6e0f-11ed-b5c4-6efb82c232c4",
        b"566a36f5-6e0f-11ed-b5c4-6efb82c232c4\0",
        b"0000000000000001/566a36f5-6e0f-11ed-b5c4-6efb82c232c4/x",
    ] {
        assert_eq!(decode_directory_value(bad), None, "{bad:?}");
    }
}

#[test]
fn pool_ids_accept_either_hex_case() {
    assert_eq!(decode_pool_id("00000000000000AB"), Some(0xab));
    assert_eq!(decode_pool_id("00000000000000ab"), Some(0xab));
    assert_eq!(encode_pool_id(0xab), "00000000000000ab");
}
