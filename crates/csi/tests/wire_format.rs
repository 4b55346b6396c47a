//! The generated types speak the official CSI v1.12 wire format.
//!
//! Two independent checks: (1) hand-encoded protobuf bytes — built from field numbers written
//! out here, not from prost — must equal what the generated types encode, and decode back;
//! (2) the compiled descriptor must match, field by field, a table transcribed from the
//! official spec's generated descriptor (every message, field number, type, label, enum value,
//! RPC, secret marker and alpha marker of `csi.v1`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet, HashMap};

use csi::v1;
use prost::Message;
use prost_reflect::{DescriptorPool, FieldDescriptor, Kind, Value};

// ---------------------------------------------------------------- hand encoding

fn varint(mut v: u64) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(byte);
            return out;
        }
        out.push(byte | 0x80);
    }
}

fn key(field: u64, wire_type: u64) -> Vec<u8> {
    varint((field << 3) | wire_type)
}

fn varint_field(field: u64, v: u64) -> Vec<u8> {
    [key(field, 0), varint(v)].concat()
}

fn len_field(field: u64, payload: &[u8]) -> Vec<u8> {
    [
        key(field, 2),
        varint(payload.len() as u64),
        payload.to_vec(),
    ]
    .concat()
}

fn str_field(field: u64, s: &str) -> Vec<u8> {
    len_field(field, s.as_bytes())
}

/// A one-entry `map<string, string>` field: a repeated entry message {key = 1, value = 2}.
fn map_field(field: u64, k: &str, v: &str) -> Vec<u8> {
    len_field(field, &[str_field(1, k), str_field(2, v)].concat())
}

fn map1(k: &str, v: &str) -> HashMap<String, String> {
    HashMap::from([(k.to_string(), v.to_string())])
}

fn mount_capability(
    fs_type: &str,
    mode: v1::volume_capability::access_mode::Mode,
) -> v1::VolumeCapability {
    v1::VolumeCapability {
        access_type: Some(v1::volume_capability::AccessType::Mount(
            v1::volume_capability::MountVolume {
                fs_type: fs_type.to_string(),
                ..Default::default()
            },
        )),
        access_mode: Some(v1::volume_capability::AccessMode { mode: mode as i32 }),
    }
}

/// VolumeCapability{mount = 2 {fs_type = 1}, access_mode = 3 {mode = 1}}.
fn mount_capability_bytes(fs_type: &str, mode: u64) -> Vec<u8> {
    [
        len_field(2, &str_field(1, fs_type)),
        len_field(3, &varint_field(1, mode)),
    ]
    .concat()
}

#[test]
fn create_volume_request_fields_land_on_spec_numbers() {
    use v1::volume_capability::access_mode::Mode;
    let req = v1::CreateVolumeRequest {
        name: "pvc-1".into(),
        capacity_range: Some(v1::CapacityRange {
            required_bytes: 1 << 30,
            limit_bytes: 0,
        }),
        volume_capabilities: vec![mount_capability("ext4", Mode::SingleNodeWriter)],
        parameters: map1("pool", "rbd"),
        secrets: map1("userKey", "AQD9"),
        volume_content_source: Some(v1::VolumeContentSource {
            r#type: Some(v1::volume_content_source::Type::Snapshot(
                v1::volume_content_source::SnapshotSource {
                    snapshot_id: "snap-1".into(),
                },
            )),
        }),
        accessibility_requirements: Some(v1::TopologyRequirement {
            requisite: vec![v1::Topology {
                segments: map1("zone", "z1"),
            }],
            preferred: vec![],
        }),
        mutable_parameters: map1("iops", "100"),
    };
    let expected = [
        str_field(1, "pvc-1"),
        len_field(2, &varint_field(1, 1 << 30)),
        len_field(3, &mount_capability_bytes("ext4", 1)),
        map_field(4, "pool", "rbd"),
        map_field(5, "userKey", "AQD9"),
        // VolumeContentSource.snapshot = 1 { snapshot_id = 1 }
        len_field(6, &len_field(1, &str_field(1, "snap-1"))),
        // TopologyRequirement.requisite = 1 { Topology.segments = 1 }
        len_field(7, &len_field(1, &map_field(1, "zone", "z1"))),
        map_field(8, "iops", "100"),
    ]
    .concat();
    assert_eq!(req.encode_to_vec(), expected);
    assert_eq!(
        v1::CreateVolumeRequest::decode(expected.as_slice()).unwrap(),
        req
    );
}

#[test]
fn create_volume_request_literal_bytes() {
    // Written out byte by byte: name (1, LEN) then secrets (5, LEN) with one entry.
    let req = v1::CreateVolumeRequest {
        name: "n".into(),
        secrets: map1("s", "t"),
        ..Default::default()
    };
    assert_eq!(
        req.encode_to_vec(),
        [
            0x0a, 0x01, b'n', 0x2a, 0x06, 0x0a, 0x01, b's', 0x12, 0x01, b't'
        ]
    );
}

#[test]
fn create_volume_response_decodes_from_spec_numbers() {
    let wire = len_field(
        1,
        &[
            varint_field(1, 5 << 30),
            str_field(2, "0001-0009-rook-ceph-0000000000000002-b0285c97"),
            map_field(3, "imageName", "csi-vol-b0285c97"),
            len_field(4, &len_field(2, &str_field(1, "src-vol"))),
            len_field(5, &map_field(1, "zone", "z1")),
        ]
        .concat(),
    );
    let volume = v1::CreateVolumeResponse::decode(wire.as_slice())
        .unwrap()
        .volume
        .unwrap();
    assert_eq!(volume.capacity_bytes, 5 << 30);
    assert_eq!(
        volume.volume_id,
        "0001-0009-rook-ceph-0000000000000002-b0285c97"
    );
    assert_eq!(volume.volume_context, map1("imageName", "csi-vol-b0285c97"));
    assert_eq!(
        volume.content_source.unwrap().r#type,
        Some(v1::volume_content_source::Type::Volume(
            v1::volume_content_source::VolumeSource {
                volume_id: "src-vol".into()
            }
        ))
    );
    assert_eq!(volume.accessible_topology[0].segments, map1("zone", "z1"));
}

#[test]
fn node_stage_and_publish_requests_land_on_spec_numbers() {
    use v1::volume_capability::access_mode::Mode;
    let stage = v1::NodeStageVolumeRequest {
        volume_id: "vol".into(),
        publish_context: map1("devicePath", "/dev/rbd0"),
        staging_target_path: "/staging".into(),
        volume_capability: Some(mount_capability("xfs", Mode::SingleNodeMultiWriter)),
        secrets: map1("userID", "admin"),
        volume_context: map1("clusterID", "c1"),
    };
    let expected = [
        str_field(1, "vol"),
        map_field(2, "devicePath", "/dev/rbd0"),
        str_field(3, "/staging"),
        len_field(4, &mount_capability_bytes("xfs", 7)),
        map_field(5, "userID", "admin"),
        map_field(6, "clusterID", "c1"),
    ]
    .concat();
    assert_eq!(stage.encode_to_vec(), expected);

    let publish = v1::NodePublishVolumeRequest {
        volume_id: "vol".into(),
        publish_context: map1("devicePath", "/dev/rbd0"),
        staging_target_path: "/staging".into(),
        target_path: "/pods/x/mount".into(),
        volume_capability: Some(mount_capability("xfs", Mode::SingleNodeWriter)),
        readonly: true,
        secrets: map1("userID", "admin"),
        volume_context: map1("clusterID", "c1"),
    };
    let expected = [
        str_field(1, "vol"),
        map_field(2, "devicePath", "/dev/rbd0"),
        str_field(3, "/staging"),
        str_field(4, "/pods/x/mount"),
        len_field(5, &mount_capability_bytes("xfs", 1)),
        varint_field(6, 1),
        map_field(7, "userID", "admin"),
        map_field(8, "clusterID", "c1"),
    ]
    .concat();
    assert_eq!(publish.encode_to_vec(), expected);
}

#[test]
fn controller_publish_and_expand_land_on_spec_numbers() {
    let publish = v1::ControllerPublishVolumeRequest {
        volume_id: "vol".into(),
        node_id: "node-a".into(),
        volume_capability: None,
        readonly: true,
        secrets: map1("k", "v"),
        volume_context: map1("c", "d"),
    };
    let expected = [
        str_field(1, "vol"),
        str_field(2, "node-a"),
        varint_field(4, 1),
        map_field(5, "k", "v"),
        map_field(6, "c", "d"),
    ]
    .concat();
    assert_eq!(publish.encode_to_vec(), expected);

    let response = v1::ControllerPublishVolumeResponse::decode(
        map_field(1, "devicePath", "/dev/x").as_slice(),
    )
    .unwrap();
    assert_eq!(response.publish_context, map1("devicePath", "/dev/x"));

    let expand = v1::ControllerExpandVolumeResponse::decode(
        [varint_field(1, 10 << 30), varint_field(2, 1)]
            .concat()
            .as_slice(),
    )
    .unwrap();
    assert_eq!(expand.capacity_bytes, 10 << 30);
    assert!(expand.node_expansion_required);
}

#[test]
fn snapshot_and_metadata_messages_land_on_spec_numbers() {
    let snapshot = v1::Snapshot::decode(
        [
            varint_field(1, 4096),
            str_field(2, "snap"),
            str_field(3, "vol"),
            len_field(
                4,
                &[varint_field(1, 1_700_000_000), varint_field(2, 5)].concat(),
            ),
            varint_field(5, 1),
            str_field(6, "group"),
        ]
        .concat()
        .as_slice(),
    )
    .unwrap();
    assert_eq!(snapshot.size_bytes, 4096);
    assert_eq!(snapshot.snapshot_id, "snap");
    assert_eq!(snapshot.source_volume_id, "vol");
    let created = snapshot.creation_time.unwrap();
    assert_eq!((created.seconds, created.nanos), (1_700_000_000, 5));
    assert!(snapshot.ready_to_use);
    assert_eq!(snapshot.group_snapshot_id, "group");

    let delta = v1::GetMetadataDeltaRequest {
        base_snapshot_id: "a".into(),
        target_snapshot_id: "b".into(),
        starting_offset: 300,
        max_results: 7,
        secrets: map1("k", "v"),
    };
    let expected = [
        str_field(1, "a"),
        str_field(2, "b"),
        varint_field(3, 300),
        varint_field(4, 7),
        map_field(5, "k", "v"),
    ]
    .concat();
    assert_eq!(delta.encode_to_vec(), expected);
}

#[test]
fn capability_enums_have_spec_values() {
    use v1::controller_service_capability::rpc::Type as C;
    use v1::node_service_capability::rpc::Type as N;
    use v1::plugin_capability::service::Type as P;
    use v1::volume_capability::access_mode::Mode as M;
    let controller = [
        (C::CreateDeleteVolume, 1),
        (C::PublishUnpublishVolume, 2),
        (C::ListVolumes, 3),
        (C::GetCapacity, 4),
        (C::CreateDeleteSnapshot, 5),
        (C::ListSnapshots, 6),
        (C::CloneVolume, 7),
        (C::PublishReadonly, 8),
        (C::ExpandVolume, 9),
        (C::ListVolumesPublishedNodes, 10),
        (C::VolumeCondition, 11),
        (C::GetVolume, 12),
        (C::SingleNodeMultiWriter, 13),
        (C::ModifyVolume, 14),
        (C::GetSnapshot, 15),
    ];
    for (cap, n) in controller {
        assert_eq!(cap as i32, n, "{cap:?}");
    }
    let node = [
        (N::StageUnstageVolume, 1),
        (N::GetVolumeStats, 2),
        (N::ExpandVolume, 3),
        (N::VolumeCondition, 4),
        (N::SingleNodeMultiWriter, 5),
        (N::VolumeMountGroup, 6),
    ];
    for (cap, n) in node {
        assert_eq!(cap as i32, n, "{cap:?}");
    }
    assert_eq!(P::ControllerService as i32, 1);
    assert_eq!(P::VolumeAccessibilityConstraints as i32, 2);
    assert_eq!(P::GroupControllerService as i32, 3);
    assert_eq!(P::SnapshotMetadataService as i32, 4);
    assert_eq!(M::MultiNodeMultiWriter as i32, 5);
    assert_eq!(M::SingleNodeSingleWriter as i32, 6);
    assert_eq!(M::SingleNodeMultiWriter as i32, 7);
    // The capability oneof: ControllerServiceCapability.rpc = 1 { RPC.type = 1 }.
    let cap = v1::ControllerServiceCapability {
        r#type: Some(v1::controller_service_capability::Type::Rpc(
            v1::controller_service_capability::Rpc {
                r#type: C::GetSnapshot as i32,
            },
        )),
    };
    assert_eq!(cap.encode_to_vec(), len_field(1, &varint_field(1, 15)));
}

#[test]
fn plugin_registration_lands_on_kubelet_numbers() {
    let info = csi::registration::PluginInfo {
        r#type: "CSIPlugin".into(),
        name: "rbd.csi.sepia.io".into(),
        endpoint: "/var/lib/kubelet/plugins/rbd.csi.sepia.io/csi.sock".into(),
        supported_versions: vec!["1.0.0".into()],
    };
    let expected = [
        str_field(1, "CSIPlugin"),
        str_field(2, "rbd.csi.sepia.io"),
        str_field(3, "/var/lib/kubelet/plugins/rbd.csi.sepia.io/csi.sock"),
        str_field(4, "1.0.0"),
    ]
    .concat();
    assert_eq!(info.encode_to_vec(), expected);
    let status = csi::registration::RegistrationStatus::decode(
        [varint_field(1, 0), str_field(2, "version mismatch")]
            .concat()
            .as_slice(),
    )
    .unwrap();
    assert!(!status.plugin_registered);
    assert_eq!(status.error, "version mismatch");
}

// ---------------------------------------------------------------- descriptor golden

/// (message, field, number, type) for every field of every `csi.v1` message in CSI v1.12.0.
/// Transcribed from the official spec's generated descriptor, not from our proto.
const FIELDS: &[(&str, &str, u32, &str)] = &[
    ("GetPluginInfoResponse", "name", 1, "string"),
    ("GetPluginInfoResponse", "vendor_version", 2, "string"),
    ("GetPluginInfoResponse", "manifest", 3, "map<string,string>"),
    (
        "GetPluginCapabilitiesResponse",
        "capabilities",
        1,
        "repeated .csi.v1.PluginCapability",
    ),
    (
        "PluginCapability",
        "service",
        1,
        ".csi.v1.PluginCapability.Service oneof type",
    ),
    (
        "PluginCapability",
        "volume_expansion",
        2,
        ".csi.v1.PluginCapability.VolumeExpansion oneof type",
    ),
    (
        "PluginCapability.Service",
        "type",
        1,
        "enum .csi.v1.PluginCapability.Service.Type",
    ),
    (
        "PluginCapability.VolumeExpansion",
        "type",
        1,
        "enum .csi.v1.PluginCapability.VolumeExpansion.Type",
    ),
    ("ProbeResponse", "ready", 1, ".google.protobuf.BoolValue"),
    ("CreateVolumeRequest", "name", 1, "string"),
    (
        "CreateVolumeRequest",
        "capacity_range",
        2,
        ".csi.v1.CapacityRange",
    ),
    (
        "CreateVolumeRequest",
        "volume_capabilities",
        3,
        "repeated .csi.v1.VolumeCapability",
    ),
    ("CreateVolumeRequest", "parameters", 4, "map<string,string>"),
    ("CreateVolumeRequest", "secrets", 5, "map<string,string>"),
    (
        "CreateVolumeRequest",
        "volume_content_source",
        6,
        ".csi.v1.VolumeContentSource",
    ),
    (
        "CreateVolumeRequest",
        "accessibility_requirements",
        7,
        ".csi.v1.TopologyRequirement",
    ),
    (
        "CreateVolumeRequest",
        "mutable_parameters",
        8,
        "map<string,string>",
    ),
    (
        "VolumeContentSource",
        "snapshot",
        1,
        ".csi.v1.VolumeContentSource.SnapshotSource oneof type",
    ),
    (
        "VolumeContentSource",
        "volume",
        2,
        ".csi.v1.VolumeContentSource.VolumeSource oneof type",
    ),
    (
        "VolumeContentSource.SnapshotSource",
        "snapshot_id",
        1,
        "string",
    ),
    ("VolumeContentSource.VolumeSource", "volume_id", 1, "string"),
    ("CreateVolumeResponse", "volume", 1, ".csi.v1.Volume"),
    (
        "VolumeCapability",
        "block",
        1,
        ".csi.v1.VolumeCapability.BlockVolume oneof access_type",
    ),
    (
        "VolumeCapability",
        "mount",
        2,
        ".csi.v1.VolumeCapability.MountVolume oneof access_type",
    ),
    (
        "VolumeCapability",
        "access_mode",
        3,
        ".csi.v1.VolumeCapability.AccessMode",
    ),
    ("VolumeCapability.MountVolume", "fs_type", 1, "string"),
    (
        "VolumeCapability.MountVolume",
        "mount_flags",
        2,
        "repeated string",
    ),
    (
        "VolumeCapability.MountVolume",
        "volume_mount_group",
        3,
        "string",
    ),
    (
        "VolumeCapability.AccessMode",
        "mode",
        1,
        "enum .csi.v1.VolumeCapability.AccessMode.Mode",
    ),
    ("CapacityRange", "required_bytes", 1, "int64"),
    ("CapacityRange", "limit_bytes", 2, "int64"),
    ("Volume", "capacity_bytes", 1, "int64"),
    ("Volume", "volume_id", 2, "string"),
    ("Volume", "volume_context", 3, "map<string,string>"),
    ("Volume", "content_source", 4, ".csi.v1.VolumeContentSource"),
    (
        "Volume",
        "accessible_topology",
        5,
        "repeated .csi.v1.Topology",
    ),
    (
        "TopologyRequirement",
        "requisite",
        1,
        "repeated .csi.v1.Topology",
    ),
    (
        "TopologyRequirement",
        "preferred",
        2,
        "repeated .csi.v1.Topology",
    ),
    ("Topology", "segments", 1, "map<string,string>"),
    ("DeleteVolumeRequest", "volume_id", 1, "string"),
    ("DeleteVolumeRequest", "secrets", 2, "map<string,string>"),
    ("ControllerPublishVolumeRequest", "volume_id", 1, "string"),
    ("ControllerPublishVolumeRequest", "node_id", 2, "string"),
    (
        "ControllerPublishVolumeRequest",
        "volume_capability",
        3,
        ".csi.v1.VolumeCapability",
    ),
    ("ControllerPublishVolumeRequest", "readonly", 4, "bool"),
    (
        "ControllerPublishVolumeRequest",
        "secrets",
        5,
        "map<string,string>",
    ),
    (
        "ControllerPublishVolumeRequest",
        "volume_context",
        6,
        "map<string,string>",
    ),
    (
        "ControllerPublishVolumeResponse",
        "publish_context",
        1,
        "map<string,string>",
    ),
    ("ControllerUnpublishVolumeRequest", "volume_id", 1, "string"),
    ("ControllerUnpublishVolumeRequest", "node_id", 2, "string"),
    (
        "ControllerUnpublishVolumeRequest",
        "secrets",
        3,
        "map<string,string>",
    ),
    (
        "ValidateVolumeCapabilitiesRequest",
        "volume_id",
        1,
        "string",
    ),
    (
        "ValidateVolumeCapabilitiesRequest",
        "volume_context",
        2,
        "map<string,string>",
    ),
    (
        "ValidateVolumeCapabilitiesRequest",
        "volume_capabilities",
        3,
        "repeated .csi.v1.VolumeCapability",
    ),
    (
        "ValidateVolumeCapabilitiesRequest",
        "parameters",
        4,
        "map<string,string>",
    ),
    (
        "ValidateVolumeCapabilitiesRequest",
        "secrets",
        5,
        "map<string,string>",
    ),
    (
        "ValidateVolumeCapabilitiesRequest",
        "mutable_parameters",
        6,
        "map<string,string>",
    ),
    (
        "ValidateVolumeCapabilitiesResponse",
        "confirmed",
        1,
        ".csi.v1.ValidateVolumeCapabilitiesResponse.Confirmed",
    ),
    ("ValidateVolumeCapabilitiesResponse", "message", 2, "string"),
    (
        "ValidateVolumeCapabilitiesResponse.Confirmed",
        "volume_context",
        1,
        "map<string,string>",
    ),
    (
        "ValidateVolumeCapabilitiesResponse.Confirmed",
        "volume_capabilities",
        2,
        "repeated .csi.v1.VolumeCapability",
    ),
    (
        "ValidateVolumeCapabilitiesResponse.Confirmed",
        "parameters",
        3,
        "map<string,string>",
    ),
    (
        "ValidateVolumeCapabilitiesResponse.Confirmed",
        "mutable_parameters",
        4,
        "map<string,string>",
    ),
    ("ListVolumesRequest", "max_entries", 1, "int32"),
    ("ListVolumesRequest", "starting_token", 2, "string"),
    (
        "ListVolumesResponse",
        "entries",
        1,
        "repeated .csi.v1.ListVolumesResponse.Entry",
    ),
    ("ListVolumesResponse", "next_token", 2, "string"),
    (
        "ListVolumesResponse.VolumeStatus",
        "published_node_ids",
        1,
        "repeated string",
    ),
    (
        "ListVolumesResponse.VolumeStatus",
        "volume_condition",
        2,
        ".csi.v1.VolumeCondition",
    ),
    ("ListVolumesResponse.Entry", "volume", 1, ".csi.v1.Volume"),
    (
        "ListVolumesResponse.Entry",
        "status",
        2,
        ".csi.v1.ListVolumesResponse.VolumeStatus",
    ),
    ("ControllerGetVolumeRequest", "volume_id", 1, "string"),
    ("ControllerGetVolumeResponse", "volume", 1, ".csi.v1.Volume"),
    (
        "ControllerGetVolumeResponse",
        "status",
        2,
        ".csi.v1.ControllerGetVolumeResponse.VolumeStatus",
    ),
    (
        "ControllerGetVolumeResponse.VolumeStatus",
        "published_node_ids",
        1,
        "repeated string",
    ),
    (
        "ControllerGetVolumeResponse.VolumeStatus",
        "volume_condition",
        2,
        ".csi.v1.VolumeCondition",
    ),
    ("ControllerModifyVolumeRequest", "volume_id", 1, "string"),
    (
        "ControllerModifyVolumeRequest",
        "secrets",
        2,
        "map<string,string>",
    ),
    (
        "ControllerModifyVolumeRequest",
        "mutable_parameters",
        3,
        "map<string,string>",
    ),
    (
        "GetCapacityRequest",
        "volume_capabilities",
        1,
        "repeated .csi.v1.VolumeCapability",
    ),
    ("GetCapacityRequest", "parameters", 2, "map<string,string>"),
    (
        "GetCapacityRequest",
        "accessible_topology",
        3,
        ".csi.v1.Topology",
    ),
    ("GetCapacityResponse", "available_capacity", 1, "int64"),
    (
        "GetCapacityResponse",
        "maximum_volume_size",
        2,
        ".google.protobuf.Int64Value",
    ),
    (
        "GetCapacityResponse",
        "minimum_volume_size",
        3,
        ".google.protobuf.Int64Value",
    ),
    (
        "ControllerGetCapabilitiesResponse",
        "capabilities",
        1,
        "repeated .csi.v1.ControllerServiceCapability",
    ),
    (
        "ControllerServiceCapability",
        "rpc",
        1,
        ".csi.v1.ControllerServiceCapability.RPC oneof type",
    ),
    (
        "ControllerServiceCapability.RPC",
        "type",
        1,
        "enum .csi.v1.ControllerServiceCapability.RPC.Type",
    ),
    ("CreateSnapshotRequest", "source_volume_id", 1, "string"),
    ("CreateSnapshotRequest", "name", 2, "string"),
    ("CreateSnapshotRequest", "secrets", 3, "map<string,string>"),
    (
        "CreateSnapshotRequest",
        "parameters",
        4,
        "map<string,string>",
    ),
    ("CreateSnapshotResponse", "snapshot", 1, ".csi.v1.Snapshot"),
    ("Snapshot", "size_bytes", 1, "int64"),
    ("Snapshot", "snapshot_id", 2, "string"),
    ("Snapshot", "source_volume_id", 3, "string"),
    ("Snapshot", "creation_time", 4, ".google.protobuf.Timestamp"),
    ("Snapshot", "ready_to_use", 5, "bool"),
    ("Snapshot", "group_snapshot_id", 6, "string"),
    ("DeleteSnapshotRequest", "snapshot_id", 1, "string"),
    ("DeleteSnapshotRequest", "secrets", 2, "map<string,string>"),
    ("ListSnapshotsRequest", "max_entries", 1, "int32"),
    ("ListSnapshotsRequest", "starting_token", 2, "string"),
    ("ListSnapshotsRequest", "source_volume_id", 3, "string"),
    ("ListSnapshotsRequest", "snapshot_id", 4, "string"),
    ("ListSnapshotsRequest", "secrets", 5, "map<string,string>"),
    (
        "ListSnapshotsResponse",
        "entries",
        1,
        "repeated .csi.v1.ListSnapshotsResponse.Entry",
    ),
    ("ListSnapshotsResponse", "next_token", 2, "string"),
    (
        "ListSnapshotsResponse.Entry",
        "snapshot",
        1,
        ".csi.v1.Snapshot",
    ),
    ("GetSnapshotRequest", "snapshot_id", 1, "string"),
    ("GetSnapshotRequest", "secrets", 2, "map<string,string>"),
    ("GetSnapshotResponse", "snapshot", 1, ".csi.v1.Snapshot"),
    ("ControllerExpandVolumeRequest", "volume_id", 1, "string"),
    (
        "ControllerExpandVolumeRequest",
        "capacity_range",
        2,
        ".csi.v1.CapacityRange",
    ),
    (
        "ControllerExpandVolumeRequest",
        "secrets",
        3,
        "map<string,string>",
    ),
    (
        "ControllerExpandVolumeRequest",
        "volume_capability",
        4,
        ".csi.v1.VolumeCapability",
    ),
    (
        "ControllerExpandVolumeResponse",
        "capacity_bytes",
        1,
        "int64",
    ),
    (
        "ControllerExpandVolumeResponse",
        "node_expansion_required",
        2,
        "bool",
    ),
    ("NodeStageVolumeRequest", "volume_id", 1, "string"),
    (
        "NodeStageVolumeRequest",
        "publish_context",
        2,
        "map<string,string>",
    ),
    ("NodeStageVolumeRequest", "staging_target_path", 3, "string"),
    (
        "NodeStageVolumeRequest",
        "volume_capability",
        4,
        ".csi.v1.VolumeCapability",
    ),
    ("NodeStageVolumeRequest", "secrets", 5, "map<string,string>"),
    (
        "NodeStageVolumeRequest",
        "volume_context",
        6,
        "map<string,string>",
    ),
    ("NodeUnstageVolumeRequest", "volume_id", 1, "string"),
    (
        "NodeUnstageVolumeRequest",
        "staging_target_path",
        2,
        "string",
    ),
    ("NodePublishVolumeRequest", "volume_id", 1, "string"),
    (
        "NodePublishVolumeRequest",
        "publish_context",
        2,
        "map<string,string>",
    ),
    (
        "NodePublishVolumeRequest",
        "staging_target_path",
        3,
        "string",
    ),
    ("NodePublishVolumeRequest", "target_path", 4, "string"),
    (
        "NodePublishVolumeRequest",
        "volume_capability",
        5,
        ".csi.v1.VolumeCapability",
    ),
    ("NodePublishVolumeRequest", "readonly", 6, "bool"),
    (
        "NodePublishVolumeRequest",
        "secrets",
        7,
        "map<string,string>",
    ),
    (
        "NodePublishVolumeRequest",
        "volume_context",
        8,
        "map<string,string>",
    ),
    ("NodeUnpublishVolumeRequest", "volume_id", 1, "string"),
    ("NodeUnpublishVolumeRequest", "target_path", 2, "string"),
    ("NodeGetVolumeStatsRequest", "volume_id", 1, "string"),
    ("NodeGetVolumeStatsRequest", "volume_path", 2, "string"),
    (
        "NodeGetVolumeStatsRequest",
        "staging_target_path",
        3,
        "string",
    ),
    (
        "NodeGetVolumeStatsResponse",
        "usage",
        1,
        "repeated .csi.v1.VolumeUsage",
    ),
    (
        "NodeGetVolumeStatsResponse",
        "volume_condition",
        2,
        ".csi.v1.VolumeCondition",
    ),
    ("VolumeUsage", "available", 1, "int64"),
    ("VolumeUsage", "total", 2, "int64"),
    ("VolumeUsage", "used", 3, "int64"),
    ("VolumeUsage", "unit", 4, "enum .csi.v1.VolumeUsage.Unit"),
    ("VolumeCondition", "abnormal", 1, "bool"),
    ("VolumeCondition", "message", 2, "string"),
    (
        "NodeGetCapabilitiesResponse",
        "capabilities",
        1,
        "repeated .csi.v1.NodeServiceCapability",
    ),
    (
        "NodeServiceCapability",
        "rpc",
        1,
        ".csi.v1.NodeServiceCapability.RPC oneof type",
    ),
    (
        "NodeServiceCapability.RPC",
        "type",
        1,
        "enum .csi.v1.NodeServiceCapability.RPC.Type",
    ),
    ("NodeGetInfoResponse", "node_id", 1, "string"),
    ("NodeGetInfoResponse", "max_volumes_per_node", 2, "int64"),
    (
        "NodeGetInfoResponse",
        "accessible_topology",
        3,
        ".csi.v1.Topology",
    ),
    ("NodeExpandVolumeRequest", "volume_id", 1, "string"),
    ("NodeExpandVolumeRequest", "volume_path", 2, "string"),
    (
        "NodeExpandVolumeRequest",
        "capacity_range",
        3,
        ".csi.v1.CapacityRange",
    ),
    (
        "NodeExpandVolumeRequest",
        "staging_target_path",
        4,
        "string",
    ),
    (
        "NodeExpandVolumeRequest",
        "volume_capability",
        5,
        ".csi.v1.VolumeCapability",
    ),
    (
        "NodeExpandVolumeRequest",
        "secrets",
        6,
        "map<string,string>",
    ),
    ("NodeExpandVolumeResponse", "capacity_bytes", 1, "int64"),
    (
        "GroupControllerGetCapabilitiesResponse",
        "capabilities",
        1,
        "repeated .csi.v1.GroupControllerServiceCapability",
    ),
    (
        "GroupControllerServiceCapability",
        "rpc",
        1,
        ".csi.v1.GroupControllerServiceCapability.RPC oneof type",
    ),
    (
        "GroupControllerServiceCapability.RPC",
        "type",
        1,
        "enum .csi.v1.GroupControllerServiceCapability.RPC.Type",
    ),
    ("CreateVolumeGroupSnapshotRequest", "name", 1, "string"),
    (
        "CreateVolumeGroupSnapshotRequest",
        "source_volume_ids",
        2,
        "repeated string",
    ),
    (
        "CreateVolumeGroupSnapshotRequest",
        "secrets",
        3,
        "map<string,string>",
    ),
    (
        "CreateVolumeGroupSnapshotRequest",
        "parameters",
        4,
        "map<string,string>",
    ),
    (
        "CreateVolumeGroupSnapshotResponse",
        "group_snapshot",
        1,
        ".csi.v1.VolumeGroupSnapshot",
    ),
    ("VolumeGroupSnapshot", "group_snapshot_id", 1, "string"),
    (
        "VolumeGroupSnapshot",
        "snapshots",
        2,
        "repeated .csi.v1.Snapshot",
    ),
    (
        "VolumeGroupSnapshot",
        "creation_time",
        3,
        ".google.protobuf.Timestamp",
    ),
    ("VolumeGroupSnapshot", "ready_to_use", 4, "bool"),
    (
        "DeleteVolumeGroupSnapshotRequest",
        "group_snapshot_id",
        1,
        "string",
    ),
    (
        "DeleteVolumeGroupSnapshotRequest",
        "snapshot_ids",
        2,
        "repeated string",
    ),
    (
        "DeleteVolumeGroupSnapshotRequest",
        "secrets",
        3,
        "map<string,string>",
    ),
    (
        "GetVolumeGroupSnapshotRequest",
        "group_snapshot_id",
        1,
        "string",
    ),
    (
        "GetVolumeGroupSnapshotRequest",
        "snapshot_ids",
        2,
        "repeated string",
    ),
    (
        "GetVolumeGroupSnapshotRequest",
        "secrets",
        3,
        "map<string,string>",
    ),
    (
        "GetVolumeGroupSnapshotResponse",
        "group_snapshot",
        1,
        ".csi.v1.VolumeGroupSnapshot",
    ),
    ("BlockMetadata", "byte_offset", 1, "int64"),
    ("BlockMetadata", "size_bytes", 2, "int64"),
    ("GetMetadataAllocatedRequest", "snapshot_id", 1, "string"),
    ("GetMetadataAllocatedRequest", "starting_offset", 2, "int64"),
    ("GetMetadataAllocatedRequest", "max_results", 3, "int32"),
    (
        "GetMetadataAllocatedRequest",
        "secrets",
        4,
        "map<string,string>",
    ),
    (
        "GetMetadataAllocatedResponse",
        "block_metadata_type",
        1,
        "enum .csi.v1.BlockMetadataType",
    ),
    (
        "GetMetadataAllocatedResponse",
        "volume_capacity_bytes",
        2,
        "int64",
    ),
    (
        "GetMetadataAllocatedResponse",
        "block_metadata",
        3,
        "repeated .csi.v1.BlockMetadata",
    ),
    ("GetMetadataDeltaRequest", "base_snapshot_id", 1, "string"),
    ("GetMetadataDeltaRequest", "target_snapshot_id", 2, "string"),
    ("GetMetadataDeltaRequest", "starting_offset", 3, "int64"),
    ("GetMetadataDeltaRequest", "max_results", 4, "int32"),
    (
        "GetMetadataDeltaRequest",
        "secrets",
        5,
        "map<string,string>",
    ),
    (
        "GetMetadataDeltaResponse",
        "block_metadata_type",
        1,
        "enum .csi.v1.BlockMetadataType",
    ),
    (
        "GetMetadataDeltaResponse",
        "volume_capacity_bytes",
        2,
        "int64",
    ),
    (
        "GetMetadataDeltaResponse",
        "block_metadata",
        3,
        "repeated .csi.v1.BlockMetadata",
    ),
];

/// Messages of CSI v1.12.0 that have no fields at all.
const EMPTY_MESSAGES: &[&str] = &[
    "GetPluginInfoRequest",
    "GetPluginCapabilitiesRequest",
    "ProbeRequest",
    "VolumeCapability.BlockVolume",
    "DeleteVolumeResponse",
    "ControllerUnpublishVolumeResponse",
    "ControllerModifyVolumeResponse",
    "ControllerGetCapabilitiesRequest",
    "DeleteSnapshotResponse",
    "NodeStageVolumeResponse",
    "NodeUnstageVolumeResponse",
    "NodePublishVolumeResponse",
    "NodeUnpublishVolumeResponse",
    "NodeGetCapabilitiesRequest",
    "NodeGetInfoRequest",
    "GroupControllerGetCapabilitiesRequest",
    "DeleteVolumeGroupSnapshotResponse",
];

/// Every enum of CSI v1.12.0 with its values.
const ENUMS: &[(&str, &[(&str, i32)])] = &[
    (
        "PluginCapability.Service.Type",
        &[
            ("UNKNOWN", 0),
            ("CONTROLLER_SERVICE", 1),
            ("VOLUME_ACCESSIBILITY_CONSTRAINTS", 2),
            ("GROUP_CONTROLLER_SERVICE", 3),
            ("SNAPSHOT_METADATA_SERVICE", 4),
        ],
    ),
    (
        "PluginCapability.VolumeExpansion.Type",
        &[("UNKNOWN", 0), ("ONLINE", 1), ("OFFLINE", 2)],
    ),
    (
        "VolumeCapability.AccessMode.Mode",
        &[
            ("UNKNOWN", 0),
            ("SINGLE_NODE_WRITER", 1),
            ("SINGLE_NODE_READER_ONLY", 2),
            ("MULTI_NODE_READER_ONLY", 3),
            ("MULTI_NODE_SINGLE_WRITER", 4),
            ("MULTI_NODE_MULTI_WRITER", 5),
            ("SINGLE_NODE_SINGLE_WRITER", 6),
            ("SINGLE_NODE_MULTI_WRITER", 7),
        ],
    ),
    (
        "ControllerServiceCapability.RPC.Type",
        &[
            ("UNKNOWN", 0),
            ("CREATE_DELETE_VOLUME", 1),
            ("PUBLISH_UNPUBLISH_VOLUME", 2),
            ("LIST_VOLUMES", 3),
            ("GET_CAPACITY", 4),
            ("CREATE_DELETE_SNAPSHOT", 5),
            ("LIST_SNAPSHOTS", 6),
            ("CLONE_VOLUME", 7),
            ("PUBLISH_READONLY", 8),
            ("EXPAND_VOLUME", 9),
            ("LIST_VOLUMES_PUBLISHED_NODES", 10),
            ("VOLUME_CONDITION", 11),
            ("GET_VOLUME", 12),
            ("SINGLE_NODE_MULTI_WRITER", 13),
            ("MODIFY_VOLUME", 14),
            ("GET_SNAPSHOT", 15),
        ],
    ),
    (
        "VolumeUsage.Unit",
        &[("UNKNOWN", 0), ("BYTES", 1), ("INODES", 2)],
    ),
    (
        "NodeServiceCapability.RPC.Type",
        &[
            ("UNKNOWN", 0),
            ("STAGE_UNSTAGE_VOLUME", 1),
            ("GET_VOLUME_STATS", 2),
            ("EXPAND_VOLUME", 3),
            ("VOLUME_CONDITION", 4),
            ("SINGLE_NODE_MULTI_WRITER", 5),
            ("VOLUME_MOUNT_GROUP", 6),
        ],
    ),
    (
        "GroupControllerServiceCapability.RPC.Type",
        &[
            ("UNKNOWN", 0),
            ("CREATE_DELETE_GET_VOLUME_GROUP_SNAPSHOT", 1),
        ],
    ),
    (
        "BlockMetadataType",
        &[("UNKNOWN", 0), ("FIXED_LENGTH", 1), ("VARIABLE_LENGTH", 2)],
    ),
];

/// (service, method, server-streaming). Every method takes `<Method>Request` and returns
/// `<Method>Response`.
const METHODS: &[(&str, &str, bool)] = &[
    ("Identity", "GetPluginInfo", false),
    ("Identity", "GetPluginCapabilities", false),
    ("Identity", "Probe", false),
    ("Controller", "CreateVolume", false),
    ("Controller", "DeleteVolume", false),
    ("Controller", "ControllerPublishVolume", false),
    ("Controller", "ControllerUnpublishVolume", false),
    ("Controller", "ValidateVolumeCapabilities", false),
    ("Controller", "ListVolumes", false),
    ("Controller", "GetCapacity", false),
    ("Controller", "ControllerGetCapabilities", false),
    ("Controller", "CreateSnapshot", false),
    ("Controller", "DeleteSnapshot", false),
    ("Controller", "ListSnapshots", false),
    ("Controller", "GetSnapshot", false),
    ("Controller", "ControllerExpandVolume", false),
    ("Controller", "ControllerGetVolume", false),
    ("Controller", "ControllerModifyVolume", false),
    ("GroupController", "GroupControllerGetCapabilities", false),
    ("GroupController", "CreateVolumeGroupSnapshot", false),
    ("GroupController", "DeleteVolumeGroupSnapshot", false),
    ("GroupController", "GetVolumeGroupSnapshot", false),
    ("SnapshotMetadata", "GetMetadataAllocated", true),
    ("SnapshotMetadata", "GetMetadataDelta", true),
    ("Node", "NodeStageVolume", false),
    ("Node", "NodeUnstageVolume", false),
    ("Node", "NodePublishVolume", false),
    ("Node", "NodeUnpublishVolume", false),
    ("Node", "NodeGetVolumeStats", false),
    ("Node", "NodeExpandVolume", false),
    ("Node", "NodeGetCapabilities", false),
    ("Node", "NodeGetInfo", false),
];

fn pool() -> DescriptorPool {
    DescriptorPool::decode(csi::descriptor::FILE_DESCRIPTOR_SET)
        .expect("embedded descriptor set decodes")
}

fn kind_name(kind: &Kind) -> String {
    match kind {
        Kind::String => "string".into(),
        Kind::Int64 => "int64".into(),
        Kind::Int32 => "int32".into(),
        Kind::Bool => "bool".into(),
        Kind::Message(m) => format!(".{}", m.full_name()),
        Kind::Enum(e) => format!("enum .{}", e.full_name()),
        other => format!("{other:?}"),
    }
}

fn describe(field: &FieldDescriptor) -> String {
    if field.is_map() {
        let Kind::Message(entry) = field.kind() else {
            unreachable!("map fields are messages")
        };
        return format!(
            "map<{},{}>",
            kind_name(&entry.map_entry_key_field().kind()),
            kind_name(&entry.map_entry_value_field().kind())
        );
    }
    let mut out = kind_name(&field.kind());
    if field.is_list() {
        out = format!("repeated {out}");
    }
    if let Some(oneof) = field.containing_oneof() {
        out = format!("{out} oneof {}", oneof.name());
    }
    out
}

#[test]
fn every_csi_field_matches_the_spec_table() {
    let pool = pool();
    let mut expected: BTreeMap<String, BTreeMap<String, (u32, String)>> = BTreeMap::new();
    for name in EMPTY_MESSAGES {
        expected.entry(format!("csi.v1.{name}")).or_default();
    }
    for (message, field, number, ty) in FIELDS {
        let previous = expected
            .entry(format!("csi.v1.{message}"))
            .or_default()
            .insert((*field).to_string(), (*number, (*ty).to_string()));
        assert!(previous.is_none(), "table lists {message}.{field} twice");
    }

    let mut actual: BTreeMap<String, BTreeMap<String, (u32, String)>> = BTreeMap::new();
    for message in pool
        .all_messages()
        .filter(|m| m.package_name() == "csi.v1" && !m.is_map_entry())
    {
        let fields = actual.entry(message.full_name().to_string()).or_default();
        for field in message.fields() {
            fields.insert(field.name().to_string(), (field.number(), describe(&field)));
        }
    }

    let missing: Vec<_> = expected
        .keys()
        .filter(|k| !actual.contains_key(*k))
        .collect();
    let extra: Vec<_> = actual
        .keys()
        .filter(|k| !expected.contains_key(*k))
        .collect();
    assert!(
        missing.is_empty(),
        "messages missing from csi.proto: {missing:?}"
    );
    assert!(extra.is_empty(), "messages not in CSI v1.12.0: {extra:?}");
    for (message, fields) in &expected {
        assert_eq!(&actual[message], fields, "fields of {message}");
    }
}

#[test]
fn every_csi_enum_matches_the_spec_table() {
    let pool = pool();
    let actual: BTreeMap<String, Vec<(String, i32)>> = pool
        .all_enums()
        .filter(|e| e.package_name() == "csi.v1")
        .map(|e| {
            let values = e
                .values()
                .map(|v| (v.name().to_string(), v.number()))
                .collect();
            (e.full_name().to_string(), values)
        })
        .collect();
    let expected: BTreeMap<String, Vec<(String, i32)>> = ENUMS
        .iter()
        .map(|(name, values)| {
            let values = values.iter().map(|(v, n)| ((*v).to_string(), *n)).collect();
            (format!("csi.v1.{name}"), values)
        })
        .collect();
    assert_eq!(actual, expected);
}

#[test]
fn every_csi_rpc_matches_the_spec_table() {
    let pool = pool();
    let mut actual = Vec::new();
    for service in pool.services().filter(|s| s.package_name() == "csi.v1") {
        for method in service.methods() {
            assert!(!method.is_client_streaming(), "{}", method.full_name());
            actual.push((
                service.name().to_string(),
                method.name().to_string(),
                method.input().full_name().to_string(),
                method.output().full_name().to_string(),
                method.is_server_streaming(),
            ));
        }
    }
    let expected: Vec<_> = METHODS
        .iter()
        .map(|(service, method, streaming)| {
            (
                (*service).to_string(),
                (*method).to_string(),
                format!("csi.v1.{method}Request"),
                format!("csi.v1.{method}Response"),
                *streaming,
            )
        })
        .collect();
    assert_eq!(actual, expected);
}

fn has_extension(
    options: &prost_reflect::DynamicMessage,
    ext: &prost_reflect::ExtensionDescriptor,
) -> bool {
    options.has_extension(ext) && *options.get_extension(ext) == Value::Bool(true)
}

#[test]
fn custom_options_match_the_spec() {
    let pool = pool();
    let ext = |name: &str| {
        pool.get_extension_by_name(&format!("csi.v1.{name}"))
            .unwrap()
    };
    let numbers: Vec<_> = [
        "csi_secret",
        "alpha_field",
        "alpha_message",
        "alpha_enum",
        "alpha_enum_value",
        "alpha_method",
        "alpha_service",
    ]
    .iter()
    .map(|n| {
        (
            *n,
            ext(n).number(),
            ext(n).containing_message().full_name().to_string(),
        )
    })
    .collect();
    assert_eq!(
        numbers,
        [
            (
                "csi_secret",
                1059,
                "google.protobuf.FieldOptions".to_string()
            ),
            (
                "alpha_field",
                1060,
                "google.protobuf.FieldOptions".to_string()
            ),
            (
                "alpha_message",
                1060,
                "google.protobuf.MessageOptions".to_string()
            ),
            (
                "alpha_enum",
                1060,
                "google.protobuf.EnumOptions".to_string()
            ),
            (
                "alpha_enum_value",
                1060,
                "google.protobuf.EnumValueOptions".to_string()
            ),
            (
                "alpha_method",
                1060,
                "google.protobuf.MethodOptions".to_string()
            ),
            (
                "alpha_service",
                1060,
                "google.protobuf.ServiceOptions".to_string()
            ),
        ]
    );

    let csi_messages = || pool.all_messages().filter(|m| m.package_name() == "csi.v1");
    let marked_fields = |ext_name: &str| -> BTreeSet<String> {
        let e = ext(ext_name);
        csi_messages()
            .flat_map(|m| m.fields().collect::<Vec<_>>())
            .filter(|f| has_extension(&f.options(), &e))
            .map(|f| f.full_name().trim_start_matches("csi.v1.").to_string())
            .collect()
    };
    let set = |names: &[&str]| {
        names
            .iter()
            .map(|s| (*s).to_string())
            .collect::<BTreeSet<_>>()
    };

    let secrets: Vec<String> = csi_messages()
        .filter(|m| m.fields().any(|f| f.name() == "secrets"))
        .map(|m| format!("{}.secrets", m.full_name().trim_start_matches("csi.v1.")))
        .collect();
    assert_eq!(secrets.len(), 19, "{secrets:?}");
    assert_eq!(marked_fields("csi_secret"), secrets.into_iter().collect());

    assert_eq!(
        marked_fields("alpha_field"),
        set(&[
            "ListVolumesResponse.VolumeStatus.volume_condition",
            "GetCapacityResponse.minimum_volume_size",
            "NodeGetVolumeStatsResponse.volume_condition",
            "NodeExpandVolumeRequest.secrets",
        ])
    );

    let alpha_message = ext("alpha_message");
    let alpha_messages: BTreeSet<String> = csi_messages()
        .filter(|m| has_extension(&m.options(), &alpha_message))
        .map(|m| m.name().to_string())
        .collect();
    assert_eq!(
        alpha_messages,
        set(&[
            "ControllerGetVolumeRequest",
            "ControllerGetVolumeResponse",
            "GetSnapshotRequest",
            "GetSnapshotResponse",
            "VolumeCondition",
        ])
    );

    let alpha_value = ext("alpha_enum_value");
    let alpha_enum = ext("alpha_enum");
    let mut alpha_values = BTreeSet::new();
    for e in pool.all_enums().filter(|e| e.package_name() == "csi.v1") {
        assert!(
            !has_extension(&e.options(), &alpha_enum),
            "{} is not alpha in v1.12",
            e.full_name()
        );
        for v in e.values() {
            if has_extension(&v.options(), &alpha_value) {
                alpha_values.insert(format!(
                    "{}.{}",
                    e.full_name().trim_start_matches("csi.v1."),
                    v.name()
                ));
            }
        }
    }
    assert_eq!(
        alpha_values,
        set(&[
            "PluginCapability.Service.Type.SNAPSHOT_METADATA_SERVICE",
            "VolumeCapability.AccessMode.Mode.SINGLE_NODE_SINGLE_WRITER",
            "VolumeCapability.AccessMode.Mode.SINGLE_NODE_MULTI_WRITER",
            "ControllerServiceCapability.RPC.Type.VOLUME_CONDITION",
            "ControllerServiceCapability.RPC.Type.GET_VOLUME",
            "ControllerServiceCapability.RPC.Type.SINGLE_NODE_MULTI_WRITER",
            "ControllerServiceCapability.RPC.Type.GET_SNAPSHOT",
            "NodeServiceCapability.RPC.Type.VOLUME_CONDITION",
            "NodeServiceCapability.RPC.Type.SINGLE_NODE_MULTI_WRITER",
        ])
    );

    let alpha_method = ext("alpha_method");
    let alpha_service = ext("alpha_service");
    let mut alpha_methods = BTreeSet::new();
    let mut alpha_services = BTreeSet::new();
    for s in pool.services().filter(|s| s.package_name() == "csi.v1") {
        if has_extension(&s.options(), &alpha_service) {
            alpha_services.insert(s.name().to_string());
        }
        for m in s.methods() {
            if has_extension(&m.options(), &alpha_method) {
                alpha_methods.insert(format!("{}.{}", s.name(), m.name()));
            }
        }
    }
    assert_eq!(
        alpha_methods,
        set(&["Controller.GetSnapshot", "Controller.ControllerGetVolume"])
    );
    assert_eq!(alpha_services, set(&["SnapshotMetadata"]));
}

#[test]
fn plugin_registration_descriptor_matches_kubelet() {
    let pool = pool();
    let fields: Vec<(String, u32, String)> = [
        "PluginInfo",
        "RegistrationStatus",
        "RegistrationStatusResponse",
        "InfoRequest",
    ]
    .iter()
    .flat_map(|m| {
        let message = pool
            .get_message_by_name(&format!("pluginregistration.{m}"))
            .unwrap();
        message
            .fields()
            .map(|f| (format!("{m}.{}", f.name()), f.number(), describe(&f)))
            .collect::<Vec<_>>()
    })
    .collect();
    let expected = [
        ("PluginInfo.type", 1, "string"),
        ("PluginInfo.name", 2, "string"),
        ("PluginInfo.endpoint", 3, "string"),
        ("PluginInfo.supported_versions", 4, "repeated string"),
        ("RegistrationStatus.plugin_registered", 1, "bool"),
        ("RegistrationStatus.error", 2, "string"),
    ]
    .map(|(n, num, ty)| (n.to_string(), num, ty.to_string()));
    assert_eq!(fields, expected);

    let service = pool
        .get_service_by_name("pluginregistration.Registration")
        .unwrap();
    let methods: Vec<_> = service
        .methods()
        .map(|m| {
            (
                m.name().to_string(),
                m.input().name().to_string(),
                m.output().name().to_string(),
            )
        })
        .collect();
    assert_eq!(
        methods,
        [
            ("GetInfo", "InfoRequest", "PluginInfo"),
            (
                "NotifyRegistrationStatus",
                "RegistrationStatus",
                "RegistrationStatusResponse"
            ),
        ]
        .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
    );
}
