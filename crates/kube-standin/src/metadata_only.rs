//! Metadata-only responses (`Accept: application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1`).
//!
//! kube's `Api<PartialObjectMeta<K>>` and metadata watchers ask for these; the real server
//! answers with `PartialObjectMetadata` objects and a `PartialObjectMetadataList`. Gets and
//! lists (in `api`) and watch events (in `watch`) are reduced alike, so this sits below both.

use serde_json::{Value, json};

/// Whether the request negotiated metadata-only objects.
pub(crate) fn wanted(accept: &str) -> bool {
    accept.contains("as=PartialObjectMetadata")
}

/// One object reduced to its metadata.
pub(crate) fn to_partial(obj: &Value) -> Value {
    json!({
        "apiVersion": "meta.k8s.io/v1",
        "kind": "PartialObjectMetadata",
        "metadata": obj.get("metadata").cloned().unwrap_or_else(|| json!({})),
    })
}

/// A list response reduced to metadata.
pub(crate) fn to_partial_list(list: &Value) -> Value {
    let items: Vec<Value> = list
        .get("items")
        .and_then(Value::as_array)
        .map(|items| items.iter().map(to_partial).collect())
        .unwrap_or_default();
    json!({
        "apiVersion": "meta.k8s.io/v1",
        "kind": "PartialObjectMetadataList",
        "metadata": list.get("metadata").cloned().unwrap_or_else(|| json!({})),
        "items": items,
    })
}
