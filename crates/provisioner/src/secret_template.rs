//! `${...}` templates in StorageClass secret references, resolved per claim as upstream does:
//! the namespace may use `${pv.name}` and `${pvc.namespace}`; the name also `${pvc.name}` and
//! `${pvc.annotations['KEY']}`. Anything else, or a result that is not a valid name, is an
//! error — a secret reference must never silently point somewhere unintended.

use std::collections::BTreeMap;

use crate::class_params::SecretTemplate;

/// What templates may refer to.
#[derive(Debug, Clone, Copy)]
pub struct TemplateInput<'a> {
    pub pv_name: &'a str,
    pub pvc_name: &'a str,
    pub pvc_namespace: &'a str,
    pub pvc_annotations: &'a BTreeMap<String, String>,
}

/// A resolved secret reference.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct SecretRef {
    pub name: String,
    pub namespace: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("secret {field} template {template:?}: {rule}")]
pub struct TemplateError {
    /// `name` or `namespace`.
    pub field: &'static str,
    pub template: String,
    pub rule: String,
}

/// Resolves both templates of `template` for one claim.
///
/// # Errors
/// A token not allowed in that field, an unterminated token, an annotation the claim lacks,
/// or a result that is not a DNS-1123 label (namespace) / subdomain (name).
pub fn resolve(
    template: &SecretTemplate,
    input: &TemplateInput<'_>,
) -> Result<SecretRef, TemplateError> {
    let namespace = expand("namespace", &template.namespace, input, false)?;
    if !is_dns_label(&namespace) {
        return Err(TemplateError {
            field: "namespace",
            template: template.namespace.clone(),
            rule: format!(
                "resolves to {namespace:?}, which is not a valid namespace (DNS-1123 label)"
            ),
        });
    }
    let name = expand("name", &template.name, input, true)?;
    if !is_dns_subdomain(&name) {
        return Err(TemplateError {
            field: "name",
            template: template.name.clone(),
            rule: format!(
                "resolves to {name:?}, which is not a valid Secret name (DNS-1123 subdomain)"
            ),
        });
    }
    Ok(SecretRef { name, namespace })
}

fn expand(
    field: &'static str,
    template: &str,
    input: &TemplateInput<'_>,
    name_tokens: bool,
) -> Result<String, TemplateError> {
    let fail = |rule: String| TemplateError {
        field,
        template: template.to_owned(),
        rule,
    };
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find('}')
            .ok_or_else(|| fail("a ${ has no closing }".to_owned()))?;
        let token = &after[..end];
        let value = match token {
            "pv.name" => input.pv_name.to_owned(),
            "pvc.namespace" => input.pvc_namespace.to_owned(),
            "pvc.name" if name_tokens => input.pvc_name.to_owned(),
            t if name_tokens && t.starts_with("pvc.annotations['") && t.ends_with("']") => {
                let key = &t["pvc.annotations['".len()..t.len() - 2];
                input
                    .pvc_annotations
                    .get(key)
                    .cloned()
                    .ok_or_else(|| fail(format!("the claim has no annotation {key:?}")))?
            }
            other => {
                let allowed = if name_tokens {
                    "${pv.name}, ${pvc.name}, ${pvc.namespace}, ${pvc.annotations['KEY']}"
                } else {
                    "${pv.name}, ${pvc.namespace}"
                };
                return Err(fail(format!(
                    "${{{other}}} is not allowed here (allowed: {allowed})"
                )));
            }
        };
        out.push_str(&value);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && s.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
        && s.bytes().last().is_some_and(|b| b.is_ascii_alphanumeric())
}

fn is_dns_subdomain(s: &str) -> bool {
    s.len() <= 253
        && !s.is_empty()
        && s.split('.').all(|part| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && part
                    .bytes()
                    .next()
                    .is_some_and(|b| b.is_ascii_alphanumeric())
                && part
                    .bytes()
                    .last()
                    .is_some_and(|b| b.is_ascii_alphanumeric())
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(annotations: &BTreeMap<String, String>) -> TemplateInput<'_> {
        TemplateInput {
            pv_name: "pvc-1234",
            pvc_name: "data",
            pvc_namespace: "team-a",
            pvc_annotations: annotations,
        }
    }

    fn template(name: &str, namespace: &str) -> SecretTemplate {
        SecretTemplate {
            name: name.to_owned(),
            namespace: namespace.to_owned(),
        }
    }

    #[test]
    fn tokens_resolve_from_the_claim() {
        let annotations = BTreeMap::from([("team.io/secret".to_owned(), "gold".to_owned())]);
        let cases = [
            (("plain", "ceph"), ("plain", "ceph")),
            (
                ("${pvc.name}-key", "${pvc.namespace}"),
                ("data-key", "team-a"),
            ),
            (("${pv.name}", "${pv.name}"), ("pvc-1234", "pvc-1234")),
            (
                (
                    "${pvc.annotations['team.io/secret']}.${pvc.namespace}",
                    "ceph",
                ),
                ("gold.team-a", "ceph"),
            ),
        ];
        for ((name, ns), (want_name, want_ns)) in cases {
            let got = resolve(&template(name, ns), &input(&annotations)).unwrap();
            assert_eq!(
                (got.name.as_str(), got.namespace.as_str()),
                (want_name, want_ns)
            );
        }
    }

    #[test]
    fn forbidden_tokens_missing_annotations_and_bad_names_are_refused() {
        let none = BTreeMap::new();
        let cases = [
            (("s", "${pvc.name}"), "namespace", "not allowed"),
            (("s", "${pvc.annotations['a']}"), "namespace", "not allowed"),
            (("${pvc.uid}", "ns"), "name", "not allowed"),
            (
                ("${pvc.annotations['missing']}", "ns"),
                "name",
                "no annotation",
            ),
            (("${pvc.name", "ns"), "name", "closing"),
            (("Upper", "ns"), "name", "DNS-1123"),
            (("s", "bad.ns"), "namespace", "DNS-1123"),
            (("s", ""), "namespace", "DNS-1123"),
            (("-s", "ns"), "name", "DNS-1123"),
        ];
        for ((name, ns), field, rule_word) in cases {
            let err = resolve(&template(name, ns), &input(&none)).unwrap_err();
            assert_eq!(err.field, field, "{name} / {ns}");
            assert!(err.rule.contains(rule_word), "{err}");
        }
    }
}
