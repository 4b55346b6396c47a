//! URL paths, parsed the way the real server's REST mapper reads them.
//!
//! `/api/v1/...` is the core group, `/apis/{group}/{version}/...` every other group; a
//! collection may be cluster-wide (`/api/v1/persistentvolumeclaims`, also for namespaced kinds,
//! which is how an all-namespaces watcher lists) or in a namespace
//! (`/api/v1/namespaces/{ns}/persistentvolumeclaims`).

use crate::resources::{ResourceInfo, ResourceTable};
use crate::status::ApiError;

/// What a request addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Route {
    /// `/version`
    Version,
    /// `/api`
    CoreVersions,
    /// `/apis`
    Groups,
    /// `/api/v1` or `/apis/{group}/{version}`
    GroupResources { group: String, version: String },
    /// A collection: `namespace` is `None` for cluster-scoped kinds and cluster-wide requests.
    Collection {
        info: ResourceInfo,
        namespace: Option<String>,
    },
    /// One object, or its status subresource.
    Object {
        info: ResourceInfo,
        namespace: String,
        name: String,
        status: bool,
    },
}

/// Map a path to a route with the resources currently served.
pub(crate) fn route(table: &ResourceTable, path: &str) -> Result<Route, ApiError> {
    let segs: Vec<&str> = path
        .trim_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    let not_found = || ApiError::path_not_found(path);
    let (group, version, rest) = match segs.as_slice() {
        ["version"] => return Ok(Route::Version),
        ["api"] => return Ok(Route::CoreVersions),
        ["apis"] => return Ok(Route::Groups),
        ["api", version, rest @ ..] => ("", *version, rest),
        ["apis", group, version, rest @ ..] => (*group, *version, rest),
        _ => return Err(not_found()),
    };
    let find = |plural: &str| table.find_parts(group, version, plural).cloned();
    let object = |info: ResourceInfo, namespace: &str, name: &str, sub: Option<&str>| {
        let status = match sub {
            None => false,
            Some("status") if info.has_status_subresource() => true,
            Some(_) => return Err(not_found()),
        };
        Ok(Route::Object {
            info,
            namespace: namespace.to_owned(),
            name: name.to_owned(),
            status,
        })
    };
    match rest {
        [] => Ok(Route::GroupResources {
            group: group.to_owned(),
            version: version.to_owned(),
        }),
        ["namespaces", ns, plural, tail @ ..] if find(plural).is_some_and(|i| i.namespaced) => {
            let info = find(plural).ok_or_else(not_found)?;
            match tail {
                [] => Ok(Route::Collection {
                    info,
                    namespace: Some((*ns).to_owned()),
                }),
                [name] => object(info, ns, name, None),
                [name, sub] => object(info, ns, name, Some(sub)),
                _ => Err(not_found()),
            }
        }
        [plural, tail @ ..] => {
            let info = find(plural).ok_or_else(not_found)?;
            match tail {
                [] => Ok(Route::Collection {
                    info,
                    namespace: None,
                }),
                [name] if !info.namespaced => object(info, "", name, None),
                [name, sub] if !info.namespaced => object(info, "", name, Some(sub)),
                _ => Err(not_found()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(path: &str) -> Result<Route, ApiError> {
        route(&ResourceTable::default(), path)
    }

    #[test]
    fn namespaced_and_cluster_wide_paths_resolve() {
        match r("/api/v1/namespaces/ns/persistentvolumeclaims/a/status").unwrap() {
            Route::Object {
                info,
                namespace,
                name,
                status,
            } => {
                assert_eq!(
                    (
                        info.kind.as_str(),
                        namespace.as_str(),
                        name.as_str(),
                        status
                    ),
                    ("PersistentVolumeClaim", "ns", "a", true)
                );
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            r("/api/v1/persistentvolumeclaims").unwrap(),
            Route::Collection {
                namespace: None,
                ..
            }
        ));
        assert!(matches!(
            r("/apis/storage.k8s.io/v1/volumeattachments/va").unwrap(),
            Route::Object { status: false, .. }
        ));
        assert!(matches!(
            r("/api/v1/namespaces/kube-system").unwrap(),
            Route::Object { .. }
        ));
        assert!(matches!(
            r("/api/v1/namespaces/kube-system/status").unwrap(),
            Route::Object { status: true, .. }
        ));
    }

    #[test]
    fn unknown_paths_and_subresources_are_not_found() {
        assert_eq!(r("/apis/example.com/v1/widgets").unwrap_err().code, 404);
        assert_eq!(
            r("/api/v1/namespaces/ns/configmaps/a/status")
                .unwrap_err()
                .code,
            404
        );
        assert_eq!(r("/api/v1/persistentvolumeclaims/a").unwrap_err().code, 404);
    }
}
