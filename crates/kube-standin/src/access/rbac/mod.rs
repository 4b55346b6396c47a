//! RBAC authorization, as the real server's RBAC authorizer decides: a request is allowed when
//! a rule of a role bound to its user allows it, and denied otherwise (RBAC has no deny rules).
//!
//! ClusterRoleBindings grant their ClusterRole everywhere, cluster-scoped and all-namespaces
//! requests included; RoleBindings grant their Role or ClusterRole only inside their own
//! namespace, so listing or watching a namespaced kind across all namespaces needs a
//! ClusterRoleBinding. Members of `system:masters` are let through before RBAC, as the real
//! server's privileged-groups authorizer does. A denial whose bindings point at missing roles
//! carries the real `RBAC: … not found` reason.
//!
//! Not modelled: aggregated ClusterRoles (`aggregationRule` is not expanded: such a role grants
//! only the rules stored in it), privilege-escalation checks on writing roles and bindings
//! (`escalate`/`bind`), impersonation, the Node authorizer and webhooks, and every bootstrap
//! role other than discovery and `/version` (`system:basic-user`, `cluster-admin`, …).

mod policy;
mod rules;
#[cfg(test)]
mod tests;

pub(crate) use policy::Policy;

use crate::access::identity::UserInfo;
use crate::access::request_info::Attributes;

/// The outcome for one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Decision {
    Allow,
    /// `reason` is `""`, or `RBAC: …` naming the roles that bindings of this user miss.
    Deny {
        reason: String,
    },
}

/// Decide `attributes` for `user` under `policy`.
pub(crate) fn authorize(user: &UserInfo, attributes: &Attributes, policy: &Policy) -> Decision {
    if user.is_master() {
        return Decision::Allow;
    }
    let namespace = match attributes {
        Attributes::Resource(r) => r.namespace.as_str(),
        Attributes::NonResource { .. } => "",
    };
    let namespaced = policy
        .role_bindings
        .iter()
        .filter(|b| !namespace.is_empty() && b.namespace == namespace);
    let mut errors: Vec<String> = Vec::new();
    for binding in policy.cluster_role_bindings.iter().chain(namespaced) {
        if !binding
            .subjects
            .iter()
            .any(|s| rules::names_user(s, user, &binding.namespace))
        {
            continue;
        }
        match policy.rules_of(binding) {
            Ok(found) => {
                if found.iter().any(|rule| rules::allows(rule, attributes)) {
                    return Decision::Allow;
                }
            }
            Err(error) => {
                if !errors.contains(&error) {
                    errors.push(error);
                }
            }
        }
    }
    let reason = match errors.as_slice() {
        [] => String::new(),
        [one] => format!("RBAC: {one}"),
        many => format!("RBAC: [{}]", many.join(", ")),
    };
    Decision::Deny { reason }
}
