//! The JetStream message id of an event. JetStream drops a message whose `Nats-Msg-Id` it has
//! already stored within the stream's duplicate window, so the id must be equal for two
//! publications of the same happening (the outbox's retry after a lost PubAck, or the CO
//! retrying the same CSI call) and different for distinct happenings.
//!
//! Scheme: SHA-256 over a version tag, component, object, verb, every CSI id, and the caller's
//! operation key, each length-prefixed so that no two field lists hash alike by shifting bytes
//! between neighbours; the first 128 bits in hex. Deterministic, fixed length, and free of the
//! raw (possibly long) CSI ids.

use sha2::{Digest, Sha256};

use crate::event::CsiIds;

/// Changes whenever the fields or their order change, so ids of different schemes never collide.
const ID_SCHEME: &str = "sepia-event-id-v1";

/// 32 lowercase hex digits identifying one happening.
pub fn message_id(
    component: &str,
    object: &str,
    verb: &str,
    csi: &CsiIds,
    operation_key: &str,
) -> String {
    let mut hasher = Sha256::new();
    let fields = [
        Some(ID_SCHEME),
        Some(component),
        Some(object),
        Some(verb),
        csi.volume_id.as_deref(),
        csi.snapshot_id.as_deref(),
        csi.request_name.as_deref(),
        csi.node_id.as_deref(),
        Some(operation_key),
    ];
    for field in fields {
        match field {
            // Absent and empty must differ: tag presence before the length.
            None => hasher.update([0u8]),
            Some(value) => {
                hasher.update([1u8]);
                hasher.update((value.len() as u64).to_be_bytes());
                hasher.update(value.as_bytes());
            }
        }
    }
    let digest = hasher.finalize();
    hex::encode(&digest[..16])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(volume: Option<&str>, request: Option<&str>) -> CsiIds {
        CsiIds {
            volume_id: volume.map(str::to_owned),
            request_name: request.map(str::to_owned),
            ..CsiIds::default()
        }
    }

    #[test]
    fn the_same_operation_gets_the_same_id() {
        let csi = ids(Some("0001-0009-rook-ceph-vol"), Some("pvc-1"));
        let first = message_id("controller", "volume", "created", &csi, "create");
        let retry = message_id("controller", "volume", "created", &csi.clone(), "create");
        assert_eq!(first, retry);
        assert_eq!(first.len(), 32);
        assert!(first.chars().all(|c| c.is_ascii_hexdigit()));
    }

    #[test]
    fn any_differing_field_gives_a_different_id() {
        let csi = ids(Some("vol-a"), Some("pvc-1"));
        let base = message_id("controller", "volume", "created", &csi, "k");
        let variants = [
            message_id("node", "volume", "created", &csi, "k"),
            message_id("controller", "snapshot", "created", &csi, "k"),
            message_id("controller", "volume", "deleted", &csi, "k"),
            message_id(
                "controller",
                "volume",
                "created",
                &ids(Some("vol-b"), Some("pvc-1")),
                "k",
            ),
            message_id(
                "controller",
                "volume",
                "created",
                &ids(Some("vol-a"), None),
                "k",
            ),
            message_id("controller", "volume", "created", &csi, "k2"),
        ];
        for variant in variants {
            assert_ne!(variant, base);
        }
    }

    #[test]
    fn shifting_bytes_between_fields_or_empty_versus_absent_does_not_collide() {
        let a = message_id(
            "controller",
            "volume",
            "created",
            &ids(Some("ab"), Some("c")),
            "k",
        );
        let b = message_id(
            "controller",
            "volume",
            "created",
            &ids(Some("a"), Some("bc")),
            "k",
        );
        assert_ne!(a, b);
        let empty = message_id("controller", "volume", "created", &ids(Some(""), None), "k");
        let absent = message_id("controller", "volume", "created", &ids(None, None), "k");
        assert_ne!(empty, absent);
    }
}
