//! The Secret a class names for a CSI call: a `…-secret-name` / `…-secret-namespace` parameter
//! pair whose values may hold `${…}` tokens, resolved per object. One expander for every
//! sidecar, so the rules of who may steer a Secret reference live in one place.
//!
//! Which tokens a template may use depends on whose Secret it is ([`Scope`]):
//! - the provisioner's own Secret (CreateVolume and DeleteVolume), name and namespace:
//!   `${pv.name}`, `${pvc.namespace}` — nothing a claim's author chooses, so no claim can point
//!   the provisioner at another tenant's credentials. (Upstream external-provisioner v5+ also
//!   expands `${pvc.name}` and `${pvc.annotations['KEY']}` here; Sepia refuses them.)
//! - a per-volume operation's Secret (controller-publish, node-stage, node-publish,
//!   controller-expand, node-expand, controller-modify): namespace as above; the name also
//!   `${pvc.name}` and `${pvc.annotations['KEY']}` (upstream's rules).
//! - a VolumeSnapshotClass's Secret (upstream's `GetSecretReference`): namespace
//!   `${volumesnapshotcontent.name}`, `${volumesnapshot.namespace}`; the name also
//!   `${volumesnapshot.name}`. Without a VolumeSnapshot (ListSnapshots, pre-provisioned
//!   contents) the snapshot tokens have no value.
//!
//! Any other `$` use, a token without a value, or a result that is not a DNS-1123 label
//! (namespace) / subdomain (name) is an error naming the parameter and the rule: a Secret
//! reference never silently points somewhere unintended.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A resolved Secret reference (its name, never its contents: safe to log and to record).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct SecretRef {
    pub name: String,
    pub namespace: String,
}

/// One parameter pair as the class has it, before resolution; the keys are kept for errors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretTemplate {
    pub name_key: String,
    pub name: String,
    pub namespace_key: String,
    pub namespace: String,
}

/// Whose Secret a template names, with the values its tokens may take.
#[derive(Debug, Clone, Copy)]
pub enum Scope<'a> {
    /// The provisioner's own Secret, for CreateVolume and DeleteVolume.
    Provisioner {
        pv_name: &'a str,
        claim_namespace: &'a str,
    },
    /// The Secret of an operation on one claim's volume (publish, stage, expand, modify).
    VolumeOperation {
        pv_name: &'a str,
        claim_name: &'a str,
        claim_namespace: &'a str,
        claim_annotations: &'a BTreeMap<String, String>,
    },
    /// A VolumeSnapshotClass's Secret; `snapshot` is the VolumeSnapshot's (namespace, name)
    /// where one is known.
    Snapshot {
        content_name: &'a str,
        snapshot: Option<(&'a str, &'a str)>,
    },
}

const PV_NAME: &str = "pv.name";
const PVC_NAMESPACE: &str = "pvc.namespace";
const PVC_NAME: &str = "pvc.name";
const PVC_ANNOTATION_OPEN: &str = "pvc.annotations['";
const PVC_ANNOTATION_CLOSE: &str = "']";
const CONTENT_NAME: &str = "volumesnapshotcontent.name";
const SNAPSHOT_NAMESPACE: &str = "volumesnapshot.namespace";
const SNAPSHOT_NAME: &str = "volumesnapshot.name";

/// Which field of the pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Name,
    Namespace,
}

impl Scope<'_> {
    /// For errors: whose Secret, which field.
    fn place(&self, field: Field) -> &'static str {
        match (self, field) {
            (Scope::Provisioner { .. }, Field::Name) => "the provisioner's Secret name",
            (Scope::Provisioner { .. }, Field::Namespace) => "the provisioner's Secret namespace",
            (Scope::VolumeOperation { .. }, Field::Name) => "a volume operation's Secret name",
            (Scope::VolumeOperation { .. }, Field::Namespace) => {
                "a volume operation's Secret namespace"
            }
            (Scope::Snapshot { .. }, Field::Name) => "the snapshotter's Secret name",
            (Scope::Snapshot { .. }, Field::Namespace) => "the snapshotter's Secret namespace",
        }
    }

    /// The plain tokens `field` may use.
    fn tokens(&self, field: Field) -> &'static [&'static str] {
        match (self, field) {
            (Scope::Provisioner { .. }, _) | (Scope::VolumeOperation { .. }, Field::Namespace) => {
                &[PV_NAME, PVC_NAMESPACE]
            }
            (Scope::VolumeOperation { .. }, Field::Name) => &[PV_NAME, PVC_NAMESPACE, PVC_NAME],
            (Scope::Snapshot { .. }, Field::Namespace) => &[CONTENT_NAME, SNAPSHOT_NAMESPACE],
            (Scope::Snapshot { .. }, Field::Name) => {
                &[CONTENT_NAME, SNAPSHOT_NAMESPACE, SNAPSHOT_NAME]
            }
        }
    }

    /// The claim annotations `field` may read through `${pvc.annotations['KEY']}`, if any.
    fn annotations(&self, field: Field) -> Option<&BTreeMap<String, String>> {
        match (self, field) {
            (
                Scope::VolumeOperation {
                    claim_annotations, ..
                },
                Field::Name,
            ) => Some(claim_annotations),
            _ => None,
        }
    }

    /// The value of an allowed plain token; `None` when this object has none.
    fn value(&self, token: &str) -> Option<&str> {
        match (self, token) {
            (Scope::Provisioner { pv_name, .. }, PV_NAME)
            | (Scope::VolumeOperation { pv_name, .. }, PV_NAME) => Some(pv_name),
            (
                Scope::Provisioner {
                    claim_namespace, ..
                },
                PVC_NAMESPACE,
            )
            | (
                Scope::VolumeOperation {
                    claim_namespace, ..
                },
                PVC_NAMESPACE,
            ) => Some(claim_namespace),
            (Scope::VolumeOperation { claim_name, .. }, PVC_NAME) => Some(claim_name),
            (Scope::Snapshot { content_name, .. }, CONTENT_NAME) => Some(content_name),
            (Scope::Snapshot { snapshot, .. }, SNAPSHOT_NAMESPACE) => snapshot.map(|(ns, _)| ns),
            (Scope::Snapshot { snapshot, .. }, SNAPSHOT_NAME) => snapshot.map(|(_, name)| name),
            _ => None,
        }
    }

    /// `${a}, ${b}, …` — what `field` accepts, for the error.
    fn allowed(&self, field: Field) -> String {
        let mut allowed: Vec<String> = self
            .tokens(field)
            .iter()
            .map(|t| format!("${{{t}}}"))
            .collect();
        if self.annotations(field).is_some() {
            allowed.push(format!(
                "${{{PVC_ANNOTATION_OPEN}KEY{PVC_ANNOTATION_CLOSE}}}"
            ));
        }
        allowed.join(", ")
    }
}

/// A class parameter pair that cannot name a Secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("class parameter {key} = {template:?}: {problem}")]
pub struct TemplateError {
    pub key: String,
    pub template: String,
    pub problem: Problem,
}

/// The rule a template broke.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    #[error("{missing} is not set: a Secret needs both its name and its namespace")]
    Unpaired { missing: String },
    #[error("must not be empty")]
    Empty,
    #[error("a ${{ has no closing }}")]
    Unterminated,
    #[error("${{{token}}} is not allowed in {place} (allowed: {allowed})")]
    NotAllowed {
        token: String,
        place: &'static str,
        allowed: String,
    },
    #[error("${{{token}}} has no value here: {why}")]
    NoValue { token: String, why: String },
    #[error("resolves to {resolved:?}, which is not a valid {what}")]
    Invalid {
        resolved: String,
        what: &'static str,
    },
}

/// The pair `name_key` / `namespace_key` of `params`; `None` when neither is set.
///
/// # Errors
/// Only one of the two is set, or one is empty.
pub fn read_pair(
    params: &BTreeMap<String, String>,
    name_key: &str,
    namespace_key: &str,
) -> Result<Option<SecretTemplate>, TemplateError> {
    let (name, namespace) = match (params.get(name_key), params.get(namespace_key)) {
        (None, None) => return Ok(None),
        (Some(present), None) | (None, Some(present)) => {
            let (key, missing) = if params.contains_key(name_key) {
                (name_key, namespace_key)
            } else {
                (namespace_key, name_key)
            };
            return Err(TemplateError {
                key: key.to_owned(),
                template: present.clone(),
                problem: Problem::Unpaired {
                    missing: missing.to_owned(),
                },
            });
        }
        (Some(name), Some(namespace)) => (name, namespace),
    };
    for (key, value) in [(name_key, name), (namespace_key, namespace)] {
        if value.is_empty() {
            return Err(TemplateError {
                key: key.to_owned(),
                template: String::new(),
                problem: Problem::Empty,
            });
        }
    }
    Ok(Some(SecretTemplate {
        name_key: name_key.to_owned(),
        name: name.clone(),
        namespace_key: namespace_key.to_owned(),
        namespace: namespace.clone(),
    }))
}

/// Resolves both templates of `template` for one object under `scope`'s rules.
///
/// # Errors
/// A token `scope` does not allow in that field, a token without a value, an unterminated
/// `${`, or a result that is not a valid namespace / Secret name.
pub fn resolve(template: &SecretTemplate, scope: &Scope<'_>) -> Result<SecretRef, TemplateError> {
    let namespace = expand(
        &template.namespace_key,
        &template.namespace,
        scope,
        Field::Namespace,
    )?;
    if !is_dns1123_label(&namespace) {
        return Err(TemplateError {
            key: template.namespace_key.clone(),
            template: template.namespace.clone(),
            problem: Problem::Invalid {
                resolved: namespace,
                what: "namespace name (DNS-1123 label)",
            },
        });
    }
    let name = expand(&template.name_key, &template.name, scope, Field::Name)?;
    if !is_dns1123_subdomain(&name) {
        return Err(TemplateError {
            key: template.name_key.clone(),
            template: template.name.clone(),
            problem: Problem::Invalid {
                resolved: name,
                what: "Secret name (DNS-1123 subdomain)",
            },
        });
    }
    Ok(SecretRef { name, namespace })
}

/// Replaces every `${token}`. A `$` not followed by `{…}` is a token too (Go's `os.Expand`,
/// which upstream uses, reads `$HOME` as one), and never allowed.
fn expand(
    key: &str,
    template: &str,
    scope: &Scope<'_>,
    field: Field,
) -> Result<String, TemplateError> {
    let fail = |problem: Problem| TemplateError {
        key: key.to_owned(),
        template: template.to_owned(),
        problem,
    };
    let not_allowed = |token: &str| {
        fail(Problem::NotAllowed {
            token: token.to_owned(),
            place: scope.place(field),
            allowed: scope.allowed(field),
        })
    };
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let Some(braced) = after.strip_prefix('{') else {
            let bare: String = after
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            return Err(not_allowed(&bare));
        };
        let (token, tail) = braced
            .split_once('}')
            .ok_or_else(|| fail(Problem::Unterminated))?;
        let value = if let Some(key) = token
            .strip_prefix(PVC_ANNOTATION_OPEN)
            .and_then(|t| t.strip_suffix(PVC_ANNOTATION_CLOSE))
        {
            let annotations = scope.annotations(field).ok_or_else(|| not_allowed(token))?;
            annotations.get(key).ok_or_else(|| {
                fail(Problem::NoValue {
                    token: token.to_owned(),
                    why: format!("the claim has no annotation {key:?}"),
                })
            })?
        } else {
            if !scope.tokens(field).contains(&token) {
                return Err(not_allowed(token));
            }
            scope.value(token).ok_or_else(|| {
                fail(Problem::NoValue {
                    token: token.to_owned(),
                    why: "no VolumeSnapshot is known for this call".to_owned(),
                })
            })?
        };
        out.push_str(value);
        rest = tail;
    }
    out.push_str(rest);
    Ok(out)
}

/// RFC 1123 label: what a namespace name must be.
fn is_dns1123_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// RFC 1123 subdomain: what a Secret name must be.
fn is_dns1123_subdomain(s: &str) -> bool {
    !s.is_empty() && s.len() <= 253 && s.split('.').all(is_dns1123_label)
}

#[cfg(test)]
mod tests;
