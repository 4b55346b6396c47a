//! Which node holds a volume: omap keys `sepia.publish.<node id>` → `{"readonly": bool,
//! "accessMode": "<CSI access mode name>"}` on `csi.volume.<uuid>`.
//!
//! The controller writes one per ControllerPublishVolume and removes it on unpublish, under the
//! `sepia.publish` lock on the same object, so a single-node volume is never recorded for two
//! nodes.

use std::collections::BTreeMap;

use ceph::IoCtx;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::{Error, Result};
use crate::journal::ceph_error;
use crate::kind::Kind;

/// Prefix of the record keys, completed by the node id.
pub const KEY_PREFIX: &str = "sepia.publish.";

/// Keys read per listing round trip.
const PAGE: u32 = 256;

/// One node's publication.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Publication {
    /// Published read-only.
    pub readonly: bool,
    /// The CSI access mode's name, e.g. `SINGLE_NODE_WRITER`.
    pub access_mode: String,
}

/// The record key of `node_id`.
pub fn key(node_id: &str) -> String {
    format!("{KEY_PREFIX}{node_id}")
}

/// Node ids in raw keys of an entry object (from a listing).
pub fn nodes_in(keys: &BTreeMap<String, Vec<u8>>) -> Vec<String> {
    keys.keys()
        .filter_map(|k| k.strip_prefix(KEY_PREFIX))
        .map(str::to_owned)
        .collect()
}

/// Every publication record of the volume `uuid` (entry object in `io`), by node id; none
/// when the object is gone.
pub async fn read_all(io: &IoCtx, uuid: &Uuid) -> Result<BTreeMap<String, Publication>> {
    let oid = Kind::Volume.entry_oid(uuid);
    let mut records = BTreeMap::new();
    let mut after = String::new();
    loop {
        let (page, more) = match io.omap_list(&oid, &after, KEY_PREFIX, PAGE).await {
            Ok(page) => page,
            Err(e) if e.is_not_found() => return Ok(records),
            Err(e) => return Err(ceph_error("read publications", &oid, e)),
        };
        if let Some((last, _)) = page.last() {
            after.clone_from(last);
        }
        let empty = page.is_empty();
        for (key, value) in page {
            let Some(node) = key.strip_prefix(KEY_PREFIX) else {
                continue;
            };
            let record = serde_json::from_slice(&value).map_err(|e| Error::BadRecord {
                what: "publication record",
                object: oid.clone(),
                key: key.clone(),
                why: e.to_string(),
            })?;
            records.insert(node.to_owned(), record);
        }
        if !more || empty {
            return Ok(records);
        }
    }
}

/// Records that `node_id` holds the volume `uuid`, on its existing entry object.
pub async fn write(io: &IoCtx, uuid: &Uuid, node_id: &str, record: &Publication) -> Result<()> {
    let oid = Kind::Volume.entry_oid(uuid);
    let key = key(node_id);
    let value = serde_json::to_vec(record).map_err(|e| Error::BadRecord {
        what: "publication record",
        object: oid.clone(),
        key: key.clone(),
        why: e.to_string(),
    })?;
    io.omap_set(&oid, &[(key.as_str(), value.as_slice())])
        .await
        .map_err(|e| ceph_error("record publication", &oid, e))
}

/// Removes the records of `node_ids` from the volume `uuid`; a missing object has none.
pub async fn remove(io: &IoCtx, uuid: &Uuid, node_ids: &[String]) -> Result<()> {
    if node_ids.is_empty() {
        return Ok(());
    }
    let oid = Kind::Volume.entry_oid(uuid);
    let keys: Vec<String> = node_ids.iter().map(|n| key(n)).collect();
    let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
    match io.omap_remove_keys(&oid, &keys).await {
        Ok(()) => Ok(()),
        Err(e) if e.is_not_found() => Ok(()),
        Err(e) => Err(ceph_error("remove publication", &oid, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_camel_case_json() {
        let record = Publication {
            readonly: true,
            access_mode: "SINGLE_NODE_WRITER".to_owned(),
        };
        let json = serde_json::to_string(&record).unwrap();
        assert_eq!(
            json,
            r#"{"readonly":true,"accessMode":"SINGLE_NODE_WRITER"}"#
        );
        assert_eq!(serde_json::from_str::<Publication>(&json).unwrap(), record);
    }

    #[test]
    fn node_ids_come_from_publication_keys_only() {
        let keys: BTreeMap<String, Vec<u8>> = [
            (key("node-a"), Vec::new()),
            ("csi.volname".to_owned(), Vec::new()),
            ("sepia.volume.source".to_owned(), Vec::new()),
        ]
        .into_iter()
        .collect();
        assert_eq!(key("node-a"), "sepia.publish.node-a");
        assert_eq!(nodes_in(&keys), ["node-a"]);
    }
}
