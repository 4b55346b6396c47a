//! The rules the real server applies to every object it stores, as pure functions.
//!
//! Create and update both end here: server-owned metadata is stamped or carried over,
//! `status` is isolated for kinds with a status subresource, `generation` follows spec changes,
//! and finalizers cannot be added to an object that is being deleted.

use serde_json::{Map, Value};

use crate::mutations::defaults;
use crate::object_meta::{
    self, carry, finalizers, generate_name, is_deleting, meta_mut, name_problem, now_rfc3339,
};
use crate::resources::{ResourceInfo, StatusPolicy};
use crate::status::ApiError;

/// Which parts of a candidate object a write may change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WriteScope {
    /// The main resource: for kinds with a status subresource, `status` changes are ignored
    /// (the real server copies the old status over), and create drops `status`.
    Main,
    /// The `/status` subresource: only `status` changes; spec and metadata are kept.
    Status,
    /// Test set-up ("a kubelet or a user acting"): spec and status both taken as given.
    Everything,
}

/// Metadata only the server sets; client values are replaced by the stored ones.
const SERVER_OWNED_ON_UPDATE: &[&str] = &[
    "uid",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "generation",
    "selfLink",
    "managedFields",
];

/// Go's `omitempty` drops empty lists and maps from metadata, so a client removing the last
/// finalizer sees the field disappear rather than `[]`; the stand-in matches that so JSON-patch
/// `test` operations see the same document the real server would.
fn normalize_meta(obj: &mut Value) {
    let meta = meta_mut(obj);
    meta.retain(|_, v| match v {
        Value::Null => false,
        Value::Array(a) => !a.is_empty(),
        Value::Object(m) => !m.is_empty(),
        _ => true,
    });
}

fn set_type_meta(info: &ResourceInfo, obj: &mut Value) {
    let map = object_meta::object_mut(obj);
    map.insert("apiVersion".into(), Value::String(info.gvr.api_version()));
    map.insert("kind".into(), Value::String(info.kind.clone()));
}

fn check_kind(info: &ResourceInfo, body: &Value) -> Result<(), ApiError> {
    match body.get("kind").and_then(Value::as_str) {
        Some(kind) if !kind.is_empty() && kind != info.kind => Err(ApiError::bad_request(format!(
            "the kind in the data ({kind}) does not match the expected kind ({})",
            info.kind
        ))),
        _ => Ok(()),
    }
}

/// The namespace an object lives in, from the URL (`url_ns`) and its body.
fn resolve_namespace(info: &ResourceInfo, url_ns: &str, body: &Value) -> Result<String, ApiError> {
    if !info.namespaced {
        return Ok(String::new());
    }
    let body_ns = object_meta::namespace(body);
    match (url_ns, body_ns) {
        ("", "") => Err(ApiError::bad_request(
            "the server could not find the requested resource: a namespace is required for a namespaced resource",
        )),
        (url, body) if !url.is_empty() && !body.is_empty() && url != body => {
            Err(ApiError::bad_request(
                "the namespace of the provided object does not match the namespace sent on the request",
            ))
        }
        (url, _) if !url.is_empty() => Ok(url.to_owned()),
        (_, body) => Ok(body.to_owned()),
    }
}

/// Validate and stamp a new object: namespace, name (or generateName), uid, timestamps,
/// generation 1. `resourceVersion` is assigned by the store at commit.
pub(crate) fn prepare_create(
    info: &ResourceInfo,
    url_ns: &str,
    mut body: Value,
    scope: WriteScope,
) -> Result<Value, ApiError> {
    if !body.is_object() {
        return Err(ApiError::bad_request(
            "the request body must be a JSON object",
        ));
    }
    check_kind(info, &body)?;
    let namespace = resolve_namespace(info, url_ns, &body)?;
    if !object_meta::resource_version(&body).is_empty() {
        // The real storage layer's error, surfaced as an internal error.
        return Err(ApiError::internal(
            "resourceVersion should not be set on objects to be created",
        ));
    }
    let mut name = object_meta::name(&body).to_owned();
    if name.is_empty() {
        match object_meta::meta_str(&body, "generateName") {
            Some(prefix) if !prefix.is_empty() => name = generate_name(prefix),
            _ => {
                return Err(ApiError::invalid(
                    info,
                    "",
                    "metadata.name: Required value: name or generateName is required",
                ));
            }
        }
    }
    if let Some(problem) = name_problem(&name) {
        return Err(ApiError::invalid(info, &name, problem));
    }
    set_type_meta(info, &mut body);
    let meta = meta_mut(&mut body);
    meta.insert("name".into(), Value::String(name));
    if namespace.is_empty() {
        meta.remove("namespace");
    } else {
        meta.insert("namespace".into(), Value::String(namespace));
    }
    meta.insert(
        "uid".into(),
        Value::String(uuid::Uuid::new_v4().to_string()),
    );
    meta.insert("creationTimestamp".into(), Value::String(now_rfc3339()));
    meta.insert("generation".into(), Value::from(1));
    for field in [
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "selfLink",
        "managedFields",
    ] {
        meta.remove(field);
    }
    if info.status == StatusPolicy::Subresource
        && scope != WriteScope::Everything
        && let Some(map) = body.as_object_mut()
    {
        map.remove("status");
    }
    defaults::apply(info, &mut body);
    normalize_meta(&mut body);
    Ok(body)
}

/// `resourceVersion` in the candidate must match the stored one (absent = unconditional):
/// the optimistic concurrency every controller's read-modify-write relies on.
pub(crate) fn check_resource_version(
    info: &ResourceInfo,
    current: &Value,
    candidate: &Value,
) -> Result<(), ApiError> {
    let wanted = object_meta::resource_version(candidate);
    if wanted.is_empty() || wanted == object_meta::resource_version(current) {
        Ok(())
    } else {
        Err(ApiError::stale_resource_version(
            info,
            object_meta::name(current),
        ))
    }
}

fn check_identity(info: &ResourceInfo, current: &Value, candidate: &Value) -> Result<(), ApiError> {
    let name = object_meta::name(current);
    let body_name = object_meta::name(candidate);
    if !body_name.is_empty() && body_name != name {
        return Err(ApiError::bad_request(format!(
            "the name of the object ({body_name}) does not match the name on the URL ({name})"
        )));
    }
    let ns = object_meta::namespace(current);
    let body_ns = object_meta::namespace(candidate);
    if info.namespaced && !body_ns.is_empty() && body_ns != ns {
        return Err(ApiError::bad_request(
            "the namespace of the provided object does not match the namespace sent on the request",
        ));
    }
    Ok(())
}

fn replace_status(target: &mut Value, from: &Value) {
    let map = object_meta::object_mut(target);
    match from.get("status") {
        Some(status) => {
            map.insert("status".into(), status.clone());
        }
        None => {
            map.remove("status");
        }
    }
}

/// Everything except metadata (and status, where status is a subresource): what `generation`
/// tracks, as the real server bumps it for spec changes only.
fn spec_part(info: &ResourceInfo, obj: &Value) -> Map<String, Value> {
    let mut map = obj.as_object().cloned().unwrap_or_default();
    map.remove("metadata");
    if info.has_status_subresource() {
        map.remove("status");
    }
    map
}

/// The object an update stores, from the stored `current` and the client's `candidate`.
pub(crate) fn compose_update(
    info: &ResourceInfo,
    current: &Value,
    candidate: Value,
    scope: WriteScope,
) -> Result<Value, ApiError> {
    if !candidate.is_object() {
        return Err(ApiError::bad_request(
            "the request body must be a JSON object",
        ));
    }
    check_kind(info, &candidate)?;
    check_identity(info, current, &candidate)?;
    let mut new = match scope {
        WriteScope::Status => {
            let mut new = current.clone();
            replace_status(&mut new, &candidate);
            new
        }
        WriteScope::Main => {
            let mut new = candidate;
            if info.has_status_subresource() {
                replace_status(&mut new, current);
            }
            new
        }
        WriteScope::Everything => candidate,
    };
    set_type_meta(info, &mut new);
    defaults::apply(info, &mut new);
    for field in SERVER_OWNED_ON_UPDATE
        .iter()
        .chain(&["name", "namespace", "resourceVersion"])
    {
        carry(current, &mut new, field);
    }
    normalize_meta(&mut new);

    if is_deleting(current) {
        let old = finalizers(current);
        let added: Vec<String> = finalizers(&new)
            .into_iter()
            .filter(|f| !old.contains(f))
            .collect();
        if !added.is_empty() {
            return Err(ApiError::invalid(
                info,
                object_meta::name(current),
                format!(
                    "metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers {added:?}"
                ),
            ));
        }
    }

    if spec_part(info, current) != spec_part(info, &new) {
        let generation = current
            .get("metadata")
            .and_then(|m| m.get("generation"))
            .and_then(Value::as_i64)
            .unwrap_or(0);
        meta_mut(&mut new).insert("generation".into(), Value::from(generation + 1));
    }
    Ok(new)
}

/// Mark an object as being deleted, the way a DELETE on an object with finalizers does.
pub(crate) fn mark_deleting(obj: &mut Value) {
    let meta = meta_mut(obj);
    meta.insert("deletionTimestamp".into(), Value::String(now_rfc3339()));
    meta.insert("deletionGracePeriodSeconds".into(), Value::from(0));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::{Gvr, ResourceTable};
    use serde_json::json;

    fn pvc_info() -> ResourceInfo {
        ResourceTable::default()
            .find(&Gvr::new("", "v1", "persistentvolumeclaims"))
            .cloned()
            .unwrap()
    }

    fn stored() -> Value {
        prepare_create(
            &pvc_info(),
            "ns",
            json!({"metadata": {"name": "a"}, "spec": {"x": 1}, "status": {"phase": "Bound"}}),
            WriteScope::Main,
        )
        .unwrap()
    }

    #[test]
    fn create_stamps_metadata_and_drops_status_of_subresource_kinds() {
        let obj = stored();
        assert_eq!(obj["metadata"]["namespace"], "ns");
        assert_eq!(obj["metadata"]["generation"], 1);
        assert_eq!(obj["kind"], "PersistentVolumeClaim");
        assert!(obj["metadata"]["uid"].as_str().unwrap().len() > 10);
        assert_eq!(
            obj["status"],
            json!({"phase": "Pending"}),
            "given status dropped, then defaulted"
        );
    }

    #[test]
    fn status_scope_keeps_spec_and_main_scope_keeps_status() {
        let info = pvc_info();
        let mut current = stored();
        current["status"] = json!({"phase": "Pending"});
        let via_status = compose_update(
            &info,
            &current,
            json!({"spec": {"x": 2}, "status": {"phase": "Bound"}}),
            WriteScope::Status,
        )
        .unwrap();
        assert_eq!(via_status["spec"]["x"], 1);
        assert_eq!(via_status["status"]["phase"], "Bound");
        assert_eq!(via_status["metadata"]["generation"], 1);

        let via_main = compose_update(
            &info,
            &current,
            json!({"spec": {"x": 2}, "status": {"phase": "Lost"}}),
            WriteScope::Main,
        )
        .unwrap();
        assert_eq!(via_main["spec"]["x"], 2);
        assert_eq!(via_main["status"]["phase"], "Pending");
        assert_eq!(via_main["metadata"]["generation"], 2);
    }

    #[test]
    fn no_new_finalizers_on_an_object_being_deleted() {
        let info = pvc_info();
        let mut current = stored();
        current["metadata"]["finalizers"] = json!(["a"]);
        mark_deleting(&mut current);
        let mut candidate = current.clone();
        candidate["metadata"]["finalizers"] = json!(["a", "b"]);
        let err = compose_update(&info, &current, candidate, WriteScope::Main).unwrap_err();
        assert_eq!((err.code, err.reason.as_str()), (422, "Invalid"));
    }
}
