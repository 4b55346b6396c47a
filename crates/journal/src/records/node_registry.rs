//! Which node plugins are alive: the omap object `sepia.nodes.<instance id>` in each cluster's
//! registry pool and RADOS namespace, key = node id, value = `{"nodeId", "driver",
//! "updatedAt"}` (`updatedAt` RFC 3339, UTC).
//!
//! The node plugin writes its key at start-up and every interval; the controller reads it for
//! ControllerPublishVolume, to answer NOT_FOUND for a node without a plugin. The object is
//! made by its first write (a registry, not a per-entry object).

use ceph::IoCtx;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::journal::ceph_error;

/// Prefix of the registry object, completed by the instance id.
pub const OBJECT_PREFIX: &str = "sepia.nodes.";

/// The registry object of one instance (driver deployment).
pub fn object_name(instance_id: &str) -> String {
    format!("{OBJECT_PREFIX}{instance_id}")
}

/// One node's registration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeRecord {
    /// The CSI node id.
    pub node_id: String,
    /// The CSI driver name the plugin serves.
    pub driver: String,
    /// When the plugin last wrote its key.
    pub updated_at: String,
}

/// Whether `node_id` has a key in the registry of `instance_id` (in `io`); a missing object
/// means nobody registered.
pub async fn is_registered(io: &IoCtx, instance_id: &str, node_id: &str) -> Result<bool> {
    let object = object_name(instance_id);
    match io.omap_get_by_keys(&object, &[node_id]).await {
        Ok(found) => Ok(found.contains_key(node_id)),
        Err(e) if e.is_not_found() => Ok(false),
        Err(e) => Err(ceph_error("read node registry", &object, e)),
    }
}

/// Writes `record` under its node id, creating the registry object when missing.
pub async fn register(io: &IoCtx, instance_id: &str, record: &NodeRecord) -> Result<()> {
    let object = object_name(instance_id);
    let value = serde_json::to_vec(record).map_err(|e| Error::BadRecord {
        what: "node registration",
        object: object.clone(),
        key: record.node_id.clone(),
        why: e.to_string(),
    })?;
    io.omap_set_creating(&object, &[(record.node_id.as_str(), value.as_slice())])
        .await
        .map_err(|e| ceph_error("write registration", &object, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registrations_are_camel_case_json_under_the_instance_object() {
        assert_eq!(object_name("default"), "sepia.nodes.default");
        let record = NodeRecord {
            node_id: "node-a".to_owned(),
            driver: "rbd.csi.sepia.io".to_owned(),
            updated_at: "2030-01-01T00:00:00Z".to_owned(),
        };
        let json = serde_json::to_string(&record).unwrap();
        assert_eq!(
            json,
            r#"{"nodeId":"node-a","driver":"rbd.csi.sepia.io","updatedAt":"2030-01-01T00:00:00Z"}"#
        );
        assert_eq!(serde_json::from_str::<NodeRecord>(&json).unwrap(), record);
    }
}
