//! `labelSelector` and `fieldSelector` query parameters.
//!
//! Controllers narrow their watches with these (the attacher watches VolumeAttachments of its
//! driver, the kubelet-side code pods by `spec.nodeName`), and a stand-in that ignored them would
//! hand controllers objects the real server never would.

use serde_json::Value;

use crate::object_meta::{field_string, label};
use crate::status::ApiError;

#[derive(Debug, Clone, PartialEq, Eq)]
enum LabelRequirement {
    Exists(String),
    NotExists(String),
    Equals(String, String),
    NotEquals(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
}

impl LabelRequirement {
    fn matches(&self, obj: &Value) -> bool {
        match self {
            Self::Exists(k) => label(obj, k).is_some(),
            Self::NotExists(k) => label(obj, k).is_none(),
            Self::Equals(k, v) => label(obj, k) == Some(v.as_str()),
            // As in the real server, `!=` also matches objects without the label.
            Self::NotEquals(k, v) => label(obj, k) != Some(v.as_str()),
            Self::In(k, vs) => label(obj, k).is_some_and(|l| vs.iter().any(|v| v == l)),
            Self::NotIn(k, vs) => !label(obj, k).is_some_and(|l| vs.iter().any(|v| v == l)),
        }
    }
}

/// A parsed label selector: all requirements must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct LabelSelector(Vec<LabelRequirement>);

/// Split on commas that are not inside `(...)`.
fn split_top_level(s: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut depth = 0usize;
    let mut start = 0;
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                parts.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&s[start..]);
    parts
        .into_iter()
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect()
}

fn parse_set(rest: &str, whole: &str) -> Result<Vec<String>, ApiError> {
    let inner = rest
        .trim()
        .strip_prefix('(')
        .and_then(|r| r.strip_suffix(')'))
        .ok_or_else(|| {
            ApiError::bad_request(format!(
                "unable to parse requirement: found '{whole}', expected: '(' ... ')'"
            ))
        })?;
    Ok(inner
        .split(',')
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
        .collect())
}

impl LabelSelector {
    pub(crate) fn parse(s: &str) -> Result<Self, ApiError> {
        let mut reqs = Vec::new();
        for part in split_top_level(s) {
            let req = if let Some((k, v)) = part.split_once("!=") {
                LabelRequirement::NotEquals(k.trim().into(), v.trim().into())
            } else if let Some((k, v)) = part.split_once("==") {
                LabelRequirement::Equals(k.trim().into(), v.trim().into())
            } else if let Some((k, v)) = part.split_once('=') {
                LabelRequirement::Equals(k.trim().into(), v.trim().into())
            } else if let Some((k, rest)) = part.split_once(" notin ") {
                LabelRequirement::NotIn(k.trim().into(), parse_set(rest, part)?)
            } else if let Some((k, rest)) = part.split_once(" in ") {
                LabelRequirement::In(k.trim().into(), parse_set(rest, part)?)
            } else if let Some(k) = part.strip_prefix('!') {
                LabelRequirement::NotExists(k.trim().into())
            } else if part.contains(['(', ')', '<', '>', ' ']) {
                return Err(ApiError::bad_request(format!(
                    "unable to parse requirement: {part:?} (the stand-in supports =, ==, !=, in, notin, exists and !exists)"
                )));
            } else {
                LabelRequirement::Exists(part.into())
            };
            reqs.push(req);
        }
        Ok(Self(reqs))
    }

    pub(crate) fn matches(&self, obj: &Value) -> bool {
        self.0.iter().all(|r| r.matches(obj))
    }
}

/// A parsed field selector: `path=value`, `path==value`, `path!=value`, comma-separated.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct FieldSelector(Vec<(String, bool, String)>);

impl FieldSelector {
    pub(crate) fn parse(s: &str) -> Result<Self, ApiError> {
        let mut reqs = Vec::new();
        for part in split_top_level(s) {
            let (path, equal, value) = if let Some((k, v)) = part.split_once("!=") {
                (k, false, v)
            } else if let Some((k, v)) = part.split_once("==") {
                (k, true, v)
            } else if let Some((k, v)) = part.split_once('=') {
                (k, true, v)
            } else {
                return Err(ApiError::bad_request(format!(
                    "invalid selector: '{s}'; can't understand '{part}'"
                )));
            };
            reqs.push((path.trim().to_owned(), equal, value.trim().to_owned()));
        }
        Ok(Self(reqs))
    }

    pub(crate) fn matches(&self, obj: &Value) -> bool {
        self.0
            .iter()
            .all(|(path, equal, value)| (field_string(obj, path) == *value) == *equal)
    }

    /// The value an equality term pins `path` to (the authorizer reads `metadata.name` from it).
    pub(crate) fn exact(&self, path: &str) -> Option<String> {
        self.0
            .iter()
            .find(|(p, equal, _)| p == path && *equal)
            .map(|(_, _, value)| value.clone())
    }
}

/// Both selectors of one request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Selectors {
    pub(crate) labels: LabelSelector,
    pub(crate) fields: FieldSelector,
}

impl Selectors {
    pub(crate) fn matches(&self, obj: &Value) -> bool {
        self.labels.matches(obj) && self.fields.matches(obj)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pvc(labels: Value) -> Value {
        json!({"metadata": {"name": "a", "namespace": "ns", "labels": labels}, "spec": {"nodeName": "n1"}})
    }

    #[test]
    fn label_selector_operators_follow_the_real_semantics() {
        let obj = pvc(json!({"app": "db", "tier": "gold"}));
        let m = |s: &str| LabelSelector::parse(s).unwrap().matches(&obj);
        assert!(m("app=db"));
        assert!(m("app==db,tier"));
        assert!(!m("app=web"));
        assert!(m("app!=web"));
        assert!(m("missing!=x"), "!= matches objects without the label");
        assert!(m("app in (web, db)"));
        assert!(!m("app notin (web,db)"));
        assert!(m("!missing"));
        assert!(!m("!app"));
        assert!(m(""));
    }

    #[test]
    fn malformed_label_selector_is_a_bad_request() {
        let err = LabelSelector::parse("app in db").unwrap_err();
        assert_eq!(err.code, 400);
    }

    #[test]
    fn field_selector_reads_dotted_paths() {
        let obj = pvc(json!({}));
        let m = |s: &str| FieldSelector::parse(s).unwrap().matches(&obj);
        assert!(m("metadata.name=a,metadata.namespace=ns"));
        assert!(m("spec.nodeName=n1"));
        assert!(!m("spec.nodeName!=n1"));
        assert!(m("spec.missing="));
        assert_eq!(FieldSelector::parse("nonsense").unwrap_err().code, 400);
    }
}
