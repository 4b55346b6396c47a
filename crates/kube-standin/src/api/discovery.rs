//! `/version` and legacy discovery (`/api`, `/apis`, `/api/v1`, `/apis/{group}/{version}`),
//! generated from the resource table.
//!
//! Binaries call `apiserver_version()` at start-up and kube's `Discovery::run` to find out
//! whether optional APIs (the snapshot CRDs) are served. Aggregated discovery (the
//! `apidiscovery.k8s.io/v2` Accept type used by `Discovery::run_aggregated`) is not served.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::resources::ResourceTable;

const VERBS: &[&str] = &[
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];

pub(crate) fn version() -> Value {
    json!({
        "major": "1",
        "minor": "33",
        "gitVersion": "v1.33.0-sepia-kube-standin",
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2025-01-01T00:00:00Z",
        "goVersion": "n/a",
        "compiler": "rustc",
        "platform": "linux/amd64",
    })
}

pub(crate) fn core_versions(server_address: &str) -> Value {
    json!({
        "kind": "APIVersions",
        "apiVersion": "v1",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{ "clientCIDR": "0.0.0.0/0", "serverAddress": server_address }],
    })
}

pub(crate) fn groups(table: &ResourceTable) -> Value {
    let mut versions: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for info in table.all().iter().filter(|i| !i.gvr.group.is_empty()) {
        let entry = versions.entry(info.gvr.group.as_str()).or_default();
        if !entry.contains(&info.gvr.version.as_str()) {
            entry.push(info.gvr.version.as_str());
        }
    }
    let groups: Vec<Value> = versions
        .into_iter()
        .map(|(group, versions)| {
            let list: Vec<Value> = versions
                .iter()
                .map(|v| json!({ "groupVersion": format!("{group}/{v}"), "version": v }))
                .collect();
            let preferred = list.first().cloned().unwrap_or(Value::Null);
            json!({ "name": group, "versions": list, "preferredVersion": preferred })
        })
        .collect();
    json!({ "kind": "APIGroupList", "apiVersion": "v1", "groups": groups })
}

/// `None` when nothing is served at that group/version (the caller answers 404).
pub(crate) fn group_resources(table: &ResourceTable, group: &str, version: &str) -> Option<Value> {
    let mut resources = Vec::new();
    for info in table
        .all()
        .iter()
        .filter(|i| i.gvr.group == group && i.gvr.version == version)
    {
        resources.push(json!({
            "name": info.gvr.plural,
            "singularName": info.kind.to_lowercase(),
            "namespaced": info.namespaced,
            "kind": info.kind,
            "verbs": VERBS,
        }));
        if info.has_status_subresource() {
            resources.push(json!({
                "name": format!("{}/status", info.gvr.plural),
                "singularName": "",
                "namespaced": info.namespaced,
                "kind": info.kind,
                "verbs": ["get", "patch", "update"],
            }));
        }
    }
    if resources.is_empty() {
        return None;
    }
    let group_version = if group.is_empty() {
        version.to_owned()
    } else {
        format!("{group}/{version}")
    };
    Some(json!({
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": group_version,
        "resources": resources,
    }))
}
