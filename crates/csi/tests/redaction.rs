//! `{:?}` of any CSI message carrying secrets never shows a secret value, while every other
//! field still prints.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeSet, HashMap};

use csi::redact::{SECRET_BEARING_MESSAGES, debug_encoded};
use csi::v1;
use prost::Message;
use prost_reflect::{DescriptorPool, DynamicMessage, Kind, MapKey, MessageDescriptor, Value};

const SECRET_VALUE: &str = "AQD9o0FdxSECRETxSECRETxSECRETxDuT3NWEqylNpmg==";

/// The CSI v1.12.0 requests with a `secrets` field, listed by hand from the spec so that a
/// generator bug (a message silently left with derived Debug) cannot pass unnoticed.
const EXPECTED: &[&str] = &[
    "csi.v1.ControllerExpandVolumeRequest",
    "csi.v1.ControllerModifyVolumeRequest",
    "csi.v1.ControllerPublishVolumeRequest",
    "csi.v1.ControllerUnpublishVolumeRequest",
    "csi.v1.CreateSnapshotRequest",
    "csi.v1.CreateVolumeGroupSnapshotRequest",
    "csi.v1.CreateVolumeRequest",
    "csi.v1.DeleteSnapshotRequest",
    "csi.v1.DeleteVolumeGroupSnapshotRequest",
    "csi.v1.DeleteVolumeRequest",
    "csi.v1.GetMetadataAllocatedRequest",
    "csi.v1.GetMetadataDeltaRequest",
    "csi.v1.GetSnapshotRequest",
    "csi.v1.GetVolumeGroupSnapshotRequest",
    "csi.v1.ListSnapshotsRequest",
    "csi.v1.NodeExpandVolumeRequest",
    "csi.v1.NodePublishVolumeRequest",
    "csi.v1.NodeStageVolumeRequest",
    "csi.v1.ValidateVolumeCapabilitiesRequest",
];

fn pool() -> DescriptorPool {
    DescriptorPool::decode(csi::descriptor::FILE_DESCRIPTOR_SET).unwrap()
}

fn secret_marked(message: &MessageDescriptor, pool: &DescriptorPool) -> bool {
    let secret = pool.get_extension_by_name("csi.v1.csi_secret").unwrap();
    message.fields().any(|f| {
        let options = f.options();
        options.has_extension(&secret) && *options.get_extension(&secret) == Value::Bool(true)
    })
}

#[test]
fn redacted_set_is_exactly_the_messages_with_csi_secret_fields() {
    let pool = pool();
    let marked: BTreeSet<String> = pool
        .all_messages()
        .filter(|m| secret_marked(m, &pool))
        .map(|m| m.full_name().to_string())
        .collect();
    let generated: BTreeSet<String> = SECRET_BEARING_MESSAGES
        .iter()
        .map(|s| s.to_string())
        .collect();
    let expected: BTreeSet<String> = EXPECTED.iter().map(|s| s.to_string()).collect();
    assert_eq!(generated, expected);
    assert_eq!(marked, expected);
}

/// Fills every string-ish field with a visible marker naming it and every secret map with
/// {"userKey": SECRET_VALUE}; returns the encoding and the markers that must show up.
fn populated(message: &MessageDescriptor, pool: &DescriptorPool) -> (Vec<u8>, Vec<String>) {
    let secret = pool.get_extension_by_name("csi.v1.csi_secret").unwrap();
    let mut dynamic = DynamicMessage::new(message.clone());
    let mut visible = Vec::new();
    for field in message.fields() {
        let is_secret = *field.options().get_extension(&secret) == Value::Bool(true);
        let marker = format!("visible-{}", field.name());
        let value = if is_secret {
            assert!(
                field.is_map(),
                "{}: secrets are maps in CSI",
                field.full_name()
            );
            Value::Map(HashMap::from([(
                MapKey::String("userKey".into()),
                Value::String(SECRET_VALUE.into()),
            )]))
        } else if field.is_map() {
            visible.push(marker.clone());
            Value::Map(HashMap::from([(
                MapKey::String("plain".into()),
                Value::String(marker),
            )]))
        } else if field.is_list() && field.kind() == Kind::String {
            visible.push(marker.clone());
            Value::List(vec![Value::String(marker)])
        } else if field.kind() == Kind::String {
            visible.push(marker.clone());
            Value::String(marker)
        } else {
            continue;
        };
        dynamic.set_field(&field, value);
    }
    (dynamic.encode_to_vec(), visible)
}

#[test]
fn no_secret_bearing_message_prints_a_secret_value() {
    let pool = pool();
    for name in SECRET_BEARING_MESSAGES {
        let message = pool.get_message_by_name(name).unwrap();
        let (bytes, visible) = populated(&message, &pool);
        let out = debug_encoded(name, &bytes)
            .expect("listed message decodes")
            .unwrap();
        assert!(
            !out.contains(SECRET_VALUE),
            "{name} leaked its secret: {out}"
        );
        assert!(
            !out.contains("SECRET"),
            "{name} leaked part of its secret: {out}"
        );
        assert!(
            out.contains(r#""userKey": <redacted>"#),
            "{name} should show the key: {out}"
        );
        assert!(!visible.is_empty(), "{name} has fields besides secrets");
        for marker in &visible {
            assert!(
                out.contains(marker.as_str()),
                "{name} lost non-secret field {marker}: {out}"
            );
        }
    }
    assert!(debug_encoded("csi.v1.CreateVolumeResponse", &[]).is_none());
}

#[test]
fn typed_create_volume_request_redacts_in_every_debug_form() {
    let req = v1::CreateVolumeRequest {
        name: "pvc-0a1b".into(),
        parameters: HashMap::from([("pool".into(), "rbd".into())]),
        secrets: HashMap::from([
            ("userID".into(), "admin".into()),
            ("userKey".into(), SECRET_VALUE.into()),
        ]),
        ..Default::default()
    };
    for out in [
        format!("{req:?}"),
        format!("{req:#?}"),
        format!("{:?}", Some(&req)),
    ] {
        assert!(!out.contains(SECRET_VALUE), "{out}");
        assert!(
            !out.contains("admin"),
            "userID's value is a secret too: {out}"
        );
        assert!(out.contains("pvc-0a1b") && out.contains("rbd"), "{out}");
        assert!(out.contains("userID") && out.contains("userKey"), "{out}");
    }
    // The compact form matches derive(Debug) apart from the secret values.
    assert!(
        format!("{req:?}")
            .starts_with(r#"CreateVolumeRequest { name: "pvc-0a1b", capacity_range: None, "#),
        "{req:?}"
    );
    assert!(
        format!("{req:?}").contains(r#"secrets: {"userID": <redacted>, "userKey": <redacted>}"#)
    );
}

#[test]
fn node_requests_redact_and_responses_keep_derived_debug() {
    let stage = v1::NodeStageVolumeRequest {
        volume_id: "vol-1".into(),
        staging_target_path: "/var/lib/kubelet/plugins/x/globalmount".into(),
        secrets: HashMap::from([("userKey".into(), SECRET_VALUE.into())]),
        ..Default::default()
    };
    let out = format!("{stage:?}");
    assert!(
        !out.contains(SECRET_VALUE) && out.contains("globalmount"),
        "{out}"
    );

    // Responses carry no secrets and keep prost's derived Debug.
    let response = v1::CreateVolumeResponse {
        volume: Some(v1::Volume {
            volume_id: "vol-1".into(),
            ..Default::default()
        }),
    };
    assert!(format!("{response:?}").contains(r#"volume_id: "vol-1""#));
}
