use std::time::{Duration, UNIX_EPOCH};

use serde_json::json;

use super::*;
use crate::vocabulary::{component, object, verb};

/// A CreateVolume that succeeded for a PVC, the most common event.
fn volume_created() -> crate::EventBuilder {
    Event::builder(component::CONTROLLER, object::VOLUME, verb::CREATED)
        .operation_key("create")
        .request_name("pvc-7d1c")
        .volume_id("0001-0009-rook-ceph-0000000000000002-4f1e")
        .kubernetes(KubernetesRef {
            kind: "PersistentVolumeClaim".to_owned(),
            namespace: Some("apps".to_owned()),
            name: "data".to_owned(),
            uid: Some("7d1c".to_owned()),
        })
        .size_bytes(10 << 30)
        .duration(Duration::from_millis(1234))
        .time(UNIX_EPOCH + Duration::from_millis(1_767_225_600_123))
}

#[test]
fn the_payload_is_versioned_camel_case_json() {
    let event = volume_created().build().expect("valid event");
    let value = serde_json::to_value(&event).expect("encode");
    assert_eq!(
        value,
        json!({
            "schemaVersion": 1,
            "id": event.id,
            "component": "controller",
            "object": "volume",
            "verb": "created",
            "time": "2026-01-01T00:00:00.123Z",
            "csi": {
                "volumeId": "0001-0009-rook-ceph-0000000000000002-4f1e",
                "requestName": "pvc-7d1c"
            },
            "kubernetes": {
                "kind": "PersistentVolumeClaim",
                "namespace": "apps",
                "name": "data",
                "uid": "7d1c"
            },
            "sizeBytes": 10737418240u64,
            "durationMs": 1234,
            "outcome": {"status": "ok", "code": "OK"}
        })
    );
    let back: Event = serde_json::from_value(value).expect("decode");
    assert_eq!(back, event);
    assert_eq!(
        event.subject().expect("subject").as_str(),
        "sepia.controller.volume.created"
    );
}

#[test]
fn a_retried_operation_builds_the_same_id_and_a_new_one_a_different_id() {
    let first = volume_created().build().expect("valid");
    let retry = volume_created()
        .time(UNIX_EPOCH)
        .duration(Duration::from_secs(9))
        .build()
        .expect("valid");
    assert_eq!(
        first.id, retry.id,
        "time and duration do not identify the operation"
    );
    let other = volume_created()
        .operation_key("create-again")
        .build()
        .expect("valid");
    assert_ne!(first.id, other.id);
}

#[test]
fn building_without_an_operation_key_names_the_field() {
    let result = Event::builder("controller", "volume", "created")
        .volume_id("v")
        .build();
    assert!(matches!(
        result,
        Err(EventsError::MissingField {
            field: "operation_key",
            ..
        })
    ));
}

#[test]
fn building_with_a_bad_token_names_the_token() {
    let result = Event::builder("controller", "volume.snapshot", "created")
        .operation_key("k")
        .build();
    assert!(matches!(
        result,
        Err(EventsError::InvalidSubjectToken {
            field: "object",
            ..
        })
    ));
}

#[test]
fn an_error_outcome_carries_code_and_a_capped_message() {
    let event = Event::builder("controller", "volume", "failed")
        .operation_key("pvc-uid/1")
        .outcome(Outcome::error("ResourceExhausted", "é".repeat(2000)))
        .build()
        .expect("valid");
    assert!(!event.outcome.is_ok());
    let value = serde_json::to_value(&event.outcome).expect("encode");
    assert_eq!(value["status"], "error");
    assert_eq!(value["code"], "ResourceExhausted");
    let message = event.outcome.message.as_deref().expect("message");
    assert!(message.len() <= 1024 + '…'.len_utf8(), "{}", message.len());
    assert!(message.ends_with('…'));
}

#[test]
fn without_tracing_export_there_is_no_trace_id() {
    let event = volume_created().build().expect("valid");
    assert_eq!(event.trace_id, None);
    let explicit = volume_created()
        .trace_id("4bf92f3577b34da6a3ce929d0e0e4736")
        .build()
        .expect("valid");
    assert_eq!(
        explicit.trace_id.as_deref(),
        Some("4bf92f3577b34da6a3ce929d0e0e4736")
    );
}

#[test]
fn a_built_event_equals_its_decoded_json() {
    let event = volume_created()
        .time(UNIX_EPOCH + Duration::new(1_767_225_600, 123_456_789))
        .build()
        .expect("valid");
    let decoded: Event =
        serde_json::from_slice(&serde_json::to_vec(&event).expect("encode")).expect("decode");
    assert_eq!(decoded, event);
    assert_eq!(
        event.time,
        UNIX_EPOCH + Duration::from_millis(1_767_225_600_123)
    );
}
