//! PATCH bodies: JSON merge patch, JSON patch, strategic merge patch and server-side apply.
//!
//! Each turns the current object into a candidate; the store then applies the same rules as
//! for a PUT (resourceVersion precondition, status isolation, finalizer rules), exactly as the
//! real server runs a patch through its update path.

use serde_json::Value;

use crate::object_meta::object_mut;
use crate::status::ApiError;

/// The patch flavours the real server accepts, by `Content-Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PatchKind {
    /// `application/merge-patch+json` (RFC 7386).
    Merge,
    /// `application/json-patch+json` (RFC 6902).
    Json,
    /// `application/strategic-merge-patch+json`: applied with merge-patch semantics (lists are
    /// replaced, not merged by patch-merge-key; `$patch` directives are not interpreted).
    Strategic,
    /// `application/apply-patch+yaml` (server-side apply); JSON bodies only.
    Apply,
}

impl PatchKind {
    pub(crate) fn from_content_type(content_type: &str) -> Result<Self, ApiError> {
        let mime = content_type.split(';').next().unwrap_or("").trim();
        match mime {
            "application/merge-patch+json" => Ok(Self::Merge),
            "application/json-patch+json" => Ok(Self::Json),
            "application/strategic-merge-patch+json" => Ok(Self::Strategic),
            "application/apply-patch+yaml" | "application/apply-patch+json" => Ok(Self::Apply),
            other => Err(ApiError::unsupported_media_type(other)),
        }
    }
}

/// RFC 7386: objects merge recursively, `null` deletes, everything else replaces.
pub(crate) fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(patch_map) = patch else {
        *target = patch.clone();
        return;
    };
    let target_map = object_mut(target);
    for (key, value) in patch_map {
        if value.is_null() {
            target_map.remove(key);
        } else {
            merge_patch(target_map.entry(key.clone()).or_insert(Value::Null), value);
        }
    }
}

/// RFC 6902, atomically (all operations or none), with one deliberate deviation copied from the
/// real server's evanphx/json-patch: a `test` for `null` at a missing path passes. kube-runtime's
/// finalizer helper relies on it (`test /metadata/finalizers == null` on an object without
/// finalizers), so a strict RFC implementation would break it where the real server does not.
pub(crate) fn json_patch(target: &Value, patch: &Value) -> Result<Value, ApiError> {
    let ops: Vec<json_patch::PatchOperation> = serde_json::from_value(patch.clone())
        .map_err(|e| ApiError::bad_request(format!("invalid JSON patch: {e}")))?;
    let mut doc = target.clone();
    for op in &ops {
        if let json_patch::PatchOperation::Test(test) = op
            && test.value.is_null()
            && doc.pointer(test.path.as_str()).is_none()
        {
            continue;
        }
        json_patch::patch(&mut doc, std::slice::from_ref(op)).map_err(|e| {
            ApiError::unprocessable(format!(
                "the server rejected our request due to an error in our request: {e}"
            ))
        })?;
    }
    Ok(doc)
}

/// Server-side apply's merge of an applied configuration into the live object: maps merge
/// recursively, lists and scalars are replaced (every list is treated as atomic — the real
/// server merges `listType=map`/`set` lists item by item), `null` removes.
pub(crate) fn apply_merge(target: &mut Value, applied: &Value) {
    merge_patch(target, applied);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn merge_patch_follows_rfc_7386() {
        let mut doc = json!({"a": {"b": 1, "c": 2}, "list": [1, 2], "gone": true});
        merge_patch(
            &mut doc,
            &json!({"a": {"b": 9, "d": {"e": 1}}, "list": [3], "gone": null}),
        );
        assert_eq!(
            doc,
            json!({"a": {"b": 9, "c": 2, "d": {"e": 1}}, "list": [3]})
        );
    }

    #[test]
    fn json_patch_is_atomic_and_test_null_passes_on_missing_path() {
        let doc = json!({"metadata": {"name": "x"}});
        let patched = json_patch(
            &doc,
            &json!([
                {"op": "test", "path": "/metadata/finalizers", "value": null},
                {"op": "add", "path": "/metadata/finalizers", "value": ["f"]}
            ]),
        )
        .unwrap();
        assert_eq!(patched["metadata"]["finalizers"], json!(["f"]));

        let err = json_patch(
            &patched,
            &json!([
                {"op": "remove", "path": "/metadata/name"},
                {"op": "test", "path": "/metadata/finalizers/0", "value": "other"}
            ]),
        )
        .unwrap_err();
        assert_eq!(err.code, 422);
    }
}
