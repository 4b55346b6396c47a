//! Reading and stamping `metadata` on JSON objects.
//!
//! The store keeps objects as `serde_json::Value` so any kind (including CRDs it has never seen
//! typed) round-trips without losing fields; these helpers are the few typed views it needs.

use std::time::SystemTime;

use serde_json::{Map, Value};

/// `v` as a mutable JSON object, replacing a non-object (clients may send `"metadata": null`).
pub(crate) fn object_mut(v: &mut Value) -> &mut Map<String, Value> {
    if !v.is_object() {
        *v = Value::Object(Map::new());
    }
    match v {
        Value::Object(map) => map,
        _ => unreachable!("replaced by an object just above"),
    }
}

/// `metadata` as a mutable map, created if absent.
pub(crate) fn meta_mut(obj: &mut Value) -> &mut Map<String, Value> {
    object_mut(
        object_mut(obj)
            .entry("metadata")
            .or_insert_with(|| Value::Object(Map::new())),
    )
}

pub(crate) fn meta_str<'a>(obj: &'a Value, field: &str) -> Option<&'a str> {
    obj.get("metadata")?.get(field)?.as_str()
}

pub(crate) fn name(obj: &Value) -> &str {
    meta_str(obj, "name").unwrap_or("")
}

pub(crate) fn namespace(obj: &Value) -> &str {
    meta_str(obj, "namespace").unwrap_or("")
}

pub(crate) fn resource_version(obj: &Value) -> &str {
    meta_str(obj, "resourceVersion").unwrap_or("")
}

pub(crate) fn uid(obj: &Value) -> &str {
    meta_str(obj, "uid").unwrap_or("")
}

pub(crate) fn is_deleting(obj: &Value) -> bool {
    meta_str(obj, "deletionTimestamp").is_some()
}

pub(crate) fn finalizers(obj: &Value) -> Vec<String> {
    obj.get("metadata")
        .and_then(|m| m.get("finalizers"))
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(|f| f.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

pub(crate) fn set(obj: &mut Value, field: &str, value: Value) {
    meta_mut(obj).insert(field.to_owned(), value);
}

pub(crate) fn remove(obj: &mut Value, field: &str) {
    meta_mut(obj).remove(field);
}

/// Copy one metadata field from `from` onto `to` (or remove it if `from` lacks it): how
/// server-owned fields survive client writes.
pub(crate) fn carry(from: &Value, to: &mut Value, field: &str) {
    match from.get("metadata").and_then(|m| m.get(field)) {
        Some(v) => set(to, field, v.clone()),
        None => remove(to, field),
    }
}

/// RFC 3339 with second precision, the format of `metav1.Time`.
pub(crate) fn now_rfc3339() -> String {
    humantime::format_rfc3339_seconds(SystemTime::now()).to_string()
}

/// The suffix alphabet of the real server's `generateName` (no vowels, no confusable digits).
const NAME_SUFFIX_CHARS: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

/// `generateName` + 5 random characters, like the real server's name generator.
pub(crate) fn generate_name(prefix: &str) -> String {
    let random = uuid::Uuid::new_v4();
    let suffix: String = random
        .as_bytes()
        .iter()
        .take(5)
        .map(|b| NAME_SUFFIX_CHARS[usize::from(*b) % NAME_SUFFIX_CHARS.len()] as char)
        .collect();
    format!("{prefix}{suffix}")
}

/// RFC 1123 subdomain, the rule the real server applies to most object names.
pub(crate) fn name_problem(name: &str) -> Option<String> {
    let ok_chars = name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
    let ends_ok = |b: Option<u8>| b.is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    if name.len() > 253
        || !ok_chars
        || !ends_ok(name.bytes().next())
        || !ends_ok(name.bytes().last())
    {
        Some(format!(
            "metadata.name: Invalid value: \"{name}\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character"
        ))
    } else {
        None
    }
}

/// Label value lookup for selectors.
pub(crate) fn label<'a>(obj: &'a Value, key: &str) -> Option<&'a str> {
    obj.get("metadata")?.get("labels")?.get(key)?.as_str()
}

/// Value at a dotted path (`spec.nodeName`) as the string field selectors compare against;
/// absent fields read as `""` as in the real server's field sets.
pub(crate) fn field_string(obj: &Value, dotted: &str) -> String {
    let mut cur = obj;
    for part in dotted.split('.') {
        match cur.get(part) {
            Some(next) => cur = next,
            None => return String::new(),
        }
    }
    match cur {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}
