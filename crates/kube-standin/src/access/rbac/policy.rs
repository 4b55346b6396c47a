//! The RBAC objects an authorization decision reads: Roles and ClusterRoles (their rules) and
//! RoleBindings and ClusterRoleBindings (who gets which role where), parsed from the stored
//! JSON, plus the bootstrap roles every real cluster has for discovery.

use std::collections::HashMap;

use serde::Deserialize;
use serde_json::Value;

use crate::resources::Gvr;
use crate::store::Store;

pub(crate) const GROUP: &str = "rbac.authorization.k8s.io";

/// One `rules[]` entry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct PolicyRule {
    pub(crate) verbs: Vec<String>,
    pub(crate) api_groups: Vec<String>,
    pub(crate) resources: Vec<String>,
    pub(crate) resource_names: Vec<String>,
    #[serde(rename = "nonResourceURLs")]
    pub(crate) non_resource_urls: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct RoleRef {
    pub(crate) kind: String,
    pub(crate) name: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct Subject {
    pub(crate) kind: String,
    pub(crate) name: String,
    pub(crate) namespace: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
struct Meta {
    name: String,
    namespace: String,
}

/// The fields of any of the four kinds (each uses its own subset).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct RbacObject {
    metadata: Meta,
    rules: Vec<PolicyRule>,
    role_ref: RoleRef,
    subjects: Vec<Subject>,
}

/// A RoleBinding (namespace set) or ClusterRoleBinding (namespace `""`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Binding {
    pub(crate) namespace: String,
    pub(crate) role_ref: RoleRef,
    pub(crate) subjects: Vec<Subject>,
}

/// Every role and binding that can bear on one request.
#[derive(Debug, Clone, Default)]
pub(crate) struct Policy {
    /// Roles by (namespace, name).
    pub(crate) roles: HashMap<(String, String), Vec<PolicyRule>>,
    pub(crate) cluster_roles: HashMap<String, Vec<PolicyRule>>,
    pub(crate) role_bindings: Vec<Binding>,
    pub(crate) cluster_role_bindings: Vec<Binding>,
}

fn parse(value: &Value) -> RbacObject {
    // The real server validates RBAC objects on write; the stand-in does not, so an object of
    // the wrong shape simply grants nothing.
    serde_json::from_value(value.clone()).unwrap_or_default()
}

impl Policy {
    /// The bootstrap policy alone (discovery for everyone authenticated, `/version` and the
    /// health endpoints for everyone), as `system:discovery` and `system:public-info-viewer`.
    pub(crate) fn bootstrap() -> Self {
        let get = |urls: &[&str]| PolicyRule {
            verbs: vec!["get".into()],
            non_resource_urls: urls.iter().map(|u| (*u).to_owned()).collect(),
            ..PolicyRule::default()
        };
        let public = ["/healthz", "/livez", "/readyz", "/version", "/version/"];
        let mut discovery = vec![
            "/api",
            "/api/*",
            "/apis",
            "/apis/*",
            "/openapi",
            "/openapi/*",
        ];
        discovery.extend(public);
        let group = |name: &str| Subject {
            kind: "Group".into(),
            name: name.into(),
            namespace: String::new(),
        };
        let binding = |role: &str, subjects: Vec<Subject>| Binding {
            namespace: String::new(),
            role_ref: RoleRef {
                kind: "ClusterRole".into(),
                name: role.into(),
            },
            subjects,
        };
        Self {
            cluster_roles: HashMap::from([
                ("system:discovery".to_owned(), vec![get(&discovery)]),
                ("system:public-info-viewer".to_owned(), vec![get(&public)]),
            ]),
            cluster_role_bindings: vec![
                binding("system:discovery", vec![group("system:authenticated")]),
                binding(
                    "system:public-info-viewer",
                    vec![
                        group("system:authenticated"),
                        group("system:unauthenticated"),
                    ],
                ),
            ],
            ..Self::default()
        }
    }

    /// Add one stored object of the given kind (`Role`, `ClusterRole`, `RoleBinding`,
    /// `ClusterRoleBinding`); a stored ClusterRole replaces a bootstrap one of the same name.
    pub(crate) fn add(&mut self, kind: &str, value: &Value) {
        let object = parse(value);
        let binding = |namespace: String| Binding {
            namespace,
            role_ref: object.role_ref.clone(),
            subjects: object.subjects.clone(),
        };
        match kind {
            "Role" => {
                let key = (
                    object.metadata.namespace.clone(),
                    object.metadata.name.clone(),
                );
                self.roles.insert(key, object.rules);
            }
            "ClusterRole" => {
                self.cluster_roles
                    .insert(object.metadata.name.clone(), object.rules);
            }
            "RoleBinding" => self
                .role_bindings
                .push(binding(object.metadata.namespace.clone())),
            "ClusterRoleBinding" => self.cluster_role_bindings.push(binding(String::new())),
            _ => {}
        }
    }

    /// What bears on a request in `namespace` (`""`: cluster scope): every ClusterRole and
    /// ClusterRoleBinding, and the Roles and RoleBindings of that namespace.
    pub(crate) fn from_store(store: &Store, namespace: &str) -> Self {
        let mut policy = Self::bootstrap();
        let kinds = [
            ("clusterroles", "ClusterRole", None),
            ("clusterrolebindings", "ClusterRoleBinding", None),
            ("roles", "Role", Some(namespace)),
            ("rolebindings", "RoleBinding", Some(namespace)),
        ];
        for (plural, kind, scope) in kinds {
            if scope == Some("") {
                continue;
            }
            let gvr = Gvr::new(GROUP, "v1", plural);
            for (_, value) in store.iter_resource(&gvr, scope) {
                policy.add(kind, value);
            }
        }
        policy
    }

    /// The rules a binding grants, or why it grants nothing (its role is missing), worded as
    /// the real authorizer words it in a denial's reason.
    pub(crate) fn rules_of(&self, binding: &Binding) -> Result<&[PolicyRule], String> {
        let name = &binding.role_ref.name;
        let found = match binding.role_ref.kind.as_str() {
            "Role" => self
                .roles
                .get(&(binding.namespace.clone(), name.clone()))
                .ok_or_else(|| format!("role.{GROUP} \"{name}\" not found")),
            "ClusterRole" => self
                .cluster_roles
                .get(name)
                .ok_or_else(|| format!("clusterrole.{GROUP} \"{name}\" not found")),
            other => Err(format!("unsupported role reference kind: \"{other}\"")),
        };
        found.map(Vec::as_slice)
    }
}
