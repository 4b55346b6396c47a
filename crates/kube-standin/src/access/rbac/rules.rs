//! Whether one rule allows one request, and whether one binding names one user: the real
//! authorizer's matching, clause by clause (`k8s.io/kubernetes/pkg/apis/rbac/v1/evaluation_helpers.go`).

use crate::access::identity::{UserInfo, service_account_user};
use crate::access::rbac::policy::{PolicyRule, Subject};
use crate::access::request_info::Attributes;

const ALL: &str = "*";

fn has_or_all(list: &[String], wanted: &str) -> bool {
    list.iter().any(|item| item == ALL || item == wanted)
}

/// `resources` holds `*`, the exact `resource` or `resource/subresource`, or `*/subresource`.
/// There is no `resource/*`: a subresource is granted by name or by `*/sub` only.
fn resource_matches(rule: &PolicyRule, resource: &str, subresource: &str) -> bool {
    let combined = if subresource.is_empty() {
        resource.to_owned()
    } else {
        format!("{resource}/{subresource}")
    };
    rule.resources.iter().any(|r| {
        r == ALL
            || *r == combined
            || (!subresource.is_empty() && r.strip_prefix("*/") == Some(subresource))
    })
}

/// An empty `resourceNames` allows every name; otherwise the request must carry one of them,
/// so `create`, and `list`/`watch` without a pinned name, never match.
fn name_matches(rule: &PolicyRule, name: &str) -> bool {
    rule.resource_names.is_empty() || rule.resource_names.iter().any(|n| n == name)
}

/// `*`, the exact path, or a prefix ending in `*`.
fn url_matches(rule: &PolicyRule, path: &str) -> bool {
    rule.non_resource_urls.iter().any(|url| {
        url == ALL
            || url == path
            || url
                .strip_suffix('*')
                .is_some_and(|prefix| path.starts_with(prefix))
    })
}

pub(crate) fn allows(rule: &PolicyRule, attributes: &Attributes) -> bool {
    match attributes {
        Attributes::Resource(r) => {
            has_or_all(&rule.verbs, &r.verb)
                && has_or_all(&rule.api_groups, &r.group)
                && resource_matches(rule, &r.resource, &r.subresource)
                && name_matches(rule, &r.name)
        }
        Attributes::NonResource { verb, path } => {
            has_or_all(&rule.verbs, verb) && url_matches(rule, path)
        }
    }
}

/// Whether `subject` names `user`. A ServiceAccount subject without a namespace means the
/// binding's own (`binding_namespace`, `""` for a ClusterRoleBinding, where it matches no one).
pub(crate) fn names_user(subject: &Subject, user: &UserInfo, binding_namespace: &str) -> bool {
    match subject.kind.as_str() {
        "User" => subject.name == user.name,
        "Group" => user.groups.contains(&subject.name),
        "ServiceAccount" => {
            let namespace = if subject.namespace.is_empty() {
                binding_namespace
            } else {
                &subject.namespace
            };
            !namespace.is_empty() && user.name == service_account_user(namespace, &subject.name)
        }
        _ => false,
    }
}
