//! Table tests of the RBAC decision: one policy shaped like a CSI sidecar's manifests plus the
//! corner cases, and for each request whether it is allowed.

use super::*;
use crate::access::request_info::ResourceAttributes;
use crate::yaml::parse_yaml;

const POLICY: &str = r#"
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: attacher}
rules:
- apiGroups: [storage.k8s.io]
  resources: [volumeattachments]
  verbs: [get, list, watch, patch]
- apiGroups: [storage.k8s.io]
  resources: [volumeattachments/status]
  verbs: [patch]
- apiGroups: ["", events.k8s.io]
  resources: [events]
  verbs: [create, patch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: attacher}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: attacher}
subjects: [{kind: ServiceAccount, name: attacher, namespace: csi}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: leases, namespace: csi}
rules:
- apiGroups: [coordination.k8s.io]
  resources: [leases]
  verbs: [get, watch, create, update]
- apiGroups: [""]
  resources: [secrets]
  resourceNames: [ceph-user]
  verbs: [get, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: leases, namespace: csi}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: leases}
subjects: [{kind: ServiceAccount, name: attacher}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: pvc-reader}
rules:
- apiGroups: [""]
  resources: [persistentvolumeclaims, namespaces]
  verbs: [get, list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: pvc-reader, namespace: apps}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: pvc-reader}
subjects: [{kind: User, name: jane}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: wildcards}
rules:
- apiGroups: ["*"]
  resources: ["*/status"]
  verbs: [update]
- apiGroups: [snapshot.storage.k8s.io]
  resources: ["*"]
  verbs: ["*"]
- nonResourceURLs: [/metrics, /logs/*]
  verbs: [get]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: wildcards}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: wildcards}
subjects:
- {kind: Group, name: operators}
- {kind: ServiceAccount, name: no-namespace}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: dangling, namespace: csi}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: missing}
subjects: [{kind: Group, name: operators}]
"#;

fn policy() -> Policy {
    let mut policy = Policy::bootstrap();
    for object in parse_yaml(POLICY).unwrap() {
        policy.add(object["kind"].as_str().unwrap(), &object);
    }
    policy
}

fn res(verb: &str, group: &str, resource: &str, ns: &str, name: &str) -> Attributes {
    let (resource, subresource) = resource.split_once('/').unwrap_or((resource, ""));
    Attributes::Resource(ResourceAttributes {
        verb: verb.into(),
        group: group.into(),
        version: "v1".into(),
        resource: resource.into(),
        subresource: subresource.into(),
        namespace: ns.into(),
        name: name.into(),
    })
}

fn path(verb: &str, path: &str) -> Attributes {
    Attributes::NonResource {
        verb: verb.into(),
        path: path.into(),
    }
}

fn attacher() -> UserInfo {
    UserInfo::service_account("csi", "attacher")
}

#[test]
fn requests_are_allowed_exactly_where_a_bound_rule_says() {
    let policy = policy();
    let jane = UserInfo::user("jane", &[]);
    let operator = UserInfo::user("olga", &["operators"]);
    let other_sa = UserInfo::service_account("other", "attacher");
    #[rustfmt::skip]
    let cases: Vec<(&str, UserInfo, Attributes, bool)> = vec![
        // verbs per resource, cluster-scoped via ClusterRoleBinding
        ("listed verb", attacher(), res("patch", "storage.k8s.io", "volumeattachments", "", "va"), true),
        ("unlisted verb", attacher(), res("update", "storage.k8s.io", "volumeattachments", "", "va"), false),
        ("watch across the cluster", attacher(), res("watch", "storage.k8s.io", "volumeattachments", "", ""), true),
        // subresources: granted only by their own rule
        ("status patch by resource/subresource rule", attacher(), res("patch", "storage.k8s.io", "volumeattachments/status", "", "va"), true),
        ("status update not granted", attacher(), res("update", "storage.k8s.io", "volumeattachments/status", "", "va"), false),
        ("main-resource rule does not cover a subresource", attacher(), res("get", "storage.k8s.io", "volumeattachments/status", "", "va"), false),
        // API groups
        ("same resource, other group listed", attacher(), res("create", "events.k8s.io", "events", "ns", ""), true),
        ("core events", attacher(), res("create", "", "events", "ns", ""), true),
        ("group not listed", attacher(), res("create", "example.com", "events", "ns", ""), false),
        // namespaced Role via RoleBinding (subject namespace defaults to the binding's)
        ("role in its namespace", attacher(), res("update", "coordination.k8s.io", "leases", "csi", "l"), true),
        ("role outside its namespace", attacher(), res("update", "coordination.k8s.io", "leases", "default", "l"), false),
        ("role does not grant all-namespaces", attacher(), res("watch", "coordination.k8s.io", "leases", "", ""), false),
        ("same SA name in another namespace", other_sa.clone(), res("update", "coordination.k8s.io", "leases", "csi", "l"), false),
        ("other SA, cluster binding", other_sa, res("get", "storage.k8s.io", "volumeattachments", "", "va"), false),
        // resourceNames
        ("named object", attacher(), res("get", "", "secrets", "csi", "ceph-user"), true),
        ("other name", attacher(), res("get", "", "secrets", "csi", "admin"), false),
        ("list has no name", attacher(), res("list", "", "secrets", "csi", ""), false),
        ("watch pinned by field selector", attacher(), res("watch", "", "secrets", "csi", "ceph-user"), true),
        ("create has no name", attacher(), res("create", "coordination.k8s.io", "leases", "csi", ""), true),
        // ClusterRole through a RoleBinding: only in that namespace
        ("clusterrole via rolebinding, in ns", jane.clone(), res("list", "", "persistentvolumeclaims", "apps", ""), true),
        ("clusterrole via rolebinding, other ns", jane.clone(), res("list", "", "persistentvolumeclaims", "db", ""), false),
        ("clusterrole via rolebinding, all namespaces", jane.clone(), res("list", "", "persistentvolumeclaims", "", ""), false),
        ("the namespace object itself is in its namespace", jane.clone(), res("get", "", "namespaces", "apps", "apps"), true),
        ("another namespace object", jane.clone(), res("get", "", "namespaces", "db", "db"), false),
        // wildcards, groups
        ("*/status in any group", operator.clone(), res("update", "storage.k8s.io", "volumeattachments/status", "", "va"), true),
        ("*/status is not the main resource", operator.clone(), res("update", "storage.k8s.io", "volumeattachments", "", "va"), false),
        ("* resources and verbs", operator.clone(), res("deletecollection", "snapshot.storage.k8s.io", "volumesnapshots", "", ""), true),
        ("* resources cover subresources", operator.clone(), res("patch", "snapshot.storage.k8s.io", "volumesnapshots/status", "ns", "s"), true),
        ("* resources only in the listed group", operator.clone(), res("get", "", "pods", "ns", "p"), false),
        // non-resource URLs
        ("exact url", operator.clone(), path("get", "/metrics"), true),
        ("url prefix", operator.clone(), path("get", "/logs/kube.log"), true),
        ("url not listed", operator.clone(), path("get", "/debug/pprof"), false),
        ("discovery for the authenticated", attacher(), path("get", "/apis/storage.k8s.io/v1"), true),
        ("version for the anonymous", UserInfo::anonymous(), path("get", "/version"), true),
        ("no discovery for the anonymous", UserInfo::anonymous(), path("get", "/api/v1"), false),
        ("nothing else for the anonymous", UserInfo::anonymous(), res("get", "", "secrets", "csi", "ceph-user"), false),
        // a ServiceAccount subject without namespace in a ClusterRoleBinding names no one
        ("SA subject without namespace", UserInfo::service_account("", "no-namespace"), path("get", "/metrics"), false),
        // system:masters passes without any binding
        ("masters", UserInfo::admin(), res("delete", "", "nodes", "", "n"), true),
    ];
    for (what, user, attributes, allowed) in cases {
        let decision = authorize(&user, &attributes, &policy);
        assert_eq!(decision == Decision::Allow, allowed, "{what}: {decision:?}");
    }
}

#[test]
fn a_binding_to_a_missing_role_is_named_in_the_denial() {
    let decision = authorize(
        &UserInfo::user("olga", &["operators"]),
        &res("get", "", "secrets", "csi", "s"),
        &policy(),
    );
    assert_eq!(
        decision,
        Decision::Deny {
            reason: "RBAC: role.rbac.authorization.k8s.io \"missing\" not found".into()
        }
    );
    // Outside that namespace the dangling RoleBinding does not apply: no reason.
    let decision = authorize(
        &UserInfo::user("olga", &["operators"]),
        &res("get", "", "secrets", "apps", "s"),
        &policy(),
    );
    assert_eq!(
        decision,
        Decision::Deny {
            reason: String::new()
        }
    );
}
