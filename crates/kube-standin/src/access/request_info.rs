//! What a request asks to do, in the authorizer's terms: verb, API group, resource,
//! subresource, namespace and name for `/api` and `/apis` paths; verb and path for the rest.
//!
//! Parsed from the URL alone, as the real server's `RequestInfoFactory` does before it knows
//! whether the resource exists, so a forbidden request is answered 403 even for a resource
//! that is not served. Its rules, kept here: GET on a collection is `list` (or `watch` with
//! `watch=true`), and a list or watch whose field selector pins `metadata.name` carries that
//! name (so a `resourceNames` rule can allow watching one object); DELETE on a collection is
//! `deletecollection`; POST is `create` and has no name; a path under
//! `/namespaces/{ns}` is in namespace `ns`, and so is the Namespace object `ns` itself.

use http::Method;

use crate::http_io::Query;
use crate::selectors::FieldSelector;

/// A request on a resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ResourceAttributes {
    pub(crate) verb: String,
    pub(crate) group: String,
    pub(crate) version: String,
    pub(crate) resource: String,
    /// `""` when none (`status`, …).
    pub(crate) subresource: String,
    /// `""` for cluster-scoped and all-namespaces requests.
    pub(crate) namespace: String,
    /// `""` for `create`, `list`, `watch`, `deletecollection` without a name.
    pub(crate) name: String,
}

/// What the authorizer decides on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Attributes {
    Resource(ResourceAttributes),
    /// Discovery, `/version`, `/healthz`, …: verb from the method, and the path.
    NonResource {
        verb: String,
        path: String,
    },
}

/// Namespace subresources, which keep a Namespace path's shape (`/namespaces/{ns}/status`).
const NAMESPACE_SUBRESOURCES: &[&str] = &["status", "finalize"];

pub(crate) fn attributes(method: &Method, path: &str, query: &Query) -> Attributes {
    let verb = match *method {
        Method::POST => "create",
        Method::GET | Method::HEAD => "get",
        Method::PUT => "update",
        Method::PATCH => "patch",
        Method::DELETE => "delete",
        _ => "",
    };
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    let non_resource = || Attributes::NonResource {
        verb: verb.to_owned(),
        path: path.to_owned(),
    };
    let (group, version, rest) = match parts.as_slice() {
        ["api", version, rest @ ..] if !rest.is_empty() => ("", *version, rest),
        ["apis", group, version, rest @ ..] if !rest.is_empty() => (*group, *version, rest),
        _ => return non_resource(),
    };
    let mut namespace = "";
    let mut parts = rest;
    if let ["namespaces", ns, tail @ ..] = rest {
        namespace = ns;
        if !tail.is_empty() && !NAMESPACE_SUBRESOURCES.contains(&tail[0]) {
            parts = tail;
        }
    }
    let resource = parts.first().copied().unwrap_or("");
    let mut name = parts.get(1).copied().unwrap_or("").to_owned();
    let subresource = parts.get(2).copied().unwrap_or("");
    let mut verb = verb.to_owned();
    if name.is_empty() && verb == "get" {
        verb = if query.flag("watch") { "watch" } else { "list" }.to_owned();
        let selector = FieldSelector::parse(query.get("fieldSelector").unwrap_or(""));
        if let Some(pinned) = selector.ok().and_then(|s| s.exact("metadata.name")) {
            name = pinned;
        }
    }
    if name.is_empty() && verb == "delete" {
        verb = "deletecollection".to_owned();
    }
    Attributes::Resource(ResourceAttributes {
        verb,
        group: group.to_owned(),
        version: version.to_owned(),
        resource: resource.to_owned(),
        subresource: subresource.to_owned(),
        namespace: namespace.to_owned(),
        name,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resource(method: Method, path_and_query: &str) -> ResourceAttributes {
        let (path, query) = path_and_query
            .split_once('?')
            .unwrap_or((path_and_query, ""));
        match attributes(&method, path, &Query::parse(Some(query))) {
            Attributes::Resource(r) => r,
            other => panic!("{other:?}"),
        }
    }

    /// (method, path, verb, group, resource, subresource, namespace, name)
    #[test]
    fn paths_and_methods_map_to_the_real_servers_attributes() {
        let cases = [
            (
                Method::GET,
                "/api/v1/namespaces/ns/persistentvolumeclaims/a",
                "get",
                "",
                "persistentvolumeclaims",
                "",
                "ns",
                "a",
            ),
            (
                Method::GET,
                "/api/v1/namespaces/ns/persistentvolumeclaims",
                "list",
                "",
                "persistentvolumeclaims",
                "",
                "ns",
                "",
            ),
            (
                Method::GET,
                "/api/v1/persistentvolumeclaims?watch=true",
                "watch",
                "",
                "persistentvolumeclaims",
                "",
                "",
                "",
            ),
            (
                Method::GET,
                "/apis/coordination.k8s.io/v1/namespaces/ns/leases?watch=1&fieldSelector=metadata.name%3Dx",
                "watch",
                "coordination.k8s.io",
                "leases",
                "",
                "ns",
                "x",
            ),
            (
                Method::POST,
                "/api/v1/persistentvolumes",
                "create",
                "",
                "persistentvolumes",
                "",
                "",
                "",
            ),
            (
                Method::PUT,
                "/apis/storage.k8s.io/v1/volumeattachments/va/status",
                "update",
                "storage.k8s.io",
                "volumeattachments",
                "status",
                "",
                "va",
            ),
            (
                Method::PATCH,
                "/api/v1/namespaces/ns/persistentvolumeclaims/a/status",
                "patch",
                "",
                "persistentvolumeclaims",
                "status",
                "ns",
                "a",
            ),
            (
                Method::DELETE,
                "/api/v1/namespaces/ns/secrets",
                "deletecollection",
                "",
                "secrets",
                "",
                "ns",
                "",
            ),
            (
                Method::DELETE,
                "/api/v1/namespaces/ns/secrets/s",
                "delete",
                "",
                "secrets",
                "",
                "ns",
                "s",
            ),
            (
                Method::GET,
                "/api/v1/namespaces/kube-system",
                "get",
                "",
                "namespaces",
                "",
                "kube-system",
                "kube-system",
            ),
            (
                Method::PUT,
                "/api/v1/namespaces/gone/finalize",
                "update",
                "",
                "namespaces",
                "finalize",
                "gone",
                "gone",
            ),
            (
                Method::GET,
                "/api/v1/namespaces",
                "list",
                "",
                "namespaces",
                "",
                "",
                "",
            ),
        ];
        for (method, path, verb, group, res, sub, ns, name) in cases {
            let got = resource(method.clone(), path);
            assert_eq!(
                (
                    got.verb.as_str(),
                    got.group.as_str(),
                    got.resource.as_str(),
                    got.subresource.as_str(),
                    got.namespace.as_str(),
                    got.name.as_str()
                ),
                (verb, group, res, sub, ns, name),
                "{method} {path}"
            );
        }
    }

    #[test]
    fn discovery_and_version_are_non_resource_requests() {
        for path in [
            "/version",
            "/api",
            "/api/v1",
            "/apis",
            "/apis/storage.k8s.io",
            "/apis/storage.k8s.io/v1",
            "/healthz",
        ] {
            assert_eq!(
                attributes(&Method::GET, path, &Query::default()),
                Attributes::NonResource {
                    verb: "get".into(),
                    path: path.into()
                },
                "{path}"
            );
        }
    }
}
