//! The resource table: which REST collections exist, their kind, scope and status handling.
//!
//! The real server answers 404 for a group/version/plural it does not serve and treats
//! namespaced and cluster-scoped kinds differently, so the stand-in needs the same table.
//! Adding a resource is one line in [`BUILTIN`]; a CustomResourceDefinition created through the
//! API registers its served versions too (as the real server starts serving them).

use serde_json::Value;

/// Group, version and plural: the coordinates of a REST collection.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Gvr {
    /// API group, `""` for the core group.
    pub group: String,
    /// API version (`v1`).
    pub version: String,
    /// Lower-case plural used in URLs (`persistentvolumeclaims`).
    pub plural: String,
}

impl Gvr {
    /// Coordinates from their parts.
    pub fn new(group: &str, version: &str, plural: &str) -> Self {
        Self {
            group: group.to_owned(),
            version: version.to_owned(),
            plural: plural.to_owned(),
        }
    }

    /// Coordinates of a typed kube resource (`Gvr::of::<PersistentVolumeClaim>()`).
    pub fn of<K: kube::Resource<DynamicType = ()>>() -> Self {
        Self::new(&K::group(&()), &K::version(&()), &K::plural(&()))
    }

    /// `apiVersion` as written in objects: `v1` or `group/version`.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }
}

/// How a kind treats its `status` stanza.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusPolicy {
    /// No status subresource: `status` (if any) is ordinary data.
    Plain,
    /// `/status` subresource: main-resource writes keep the old status, create drops it.
    Subresource,
    /// Like `Subresource`, but create keeps the given status (Node's strategy allows it).
    SubresourceSetOnCreate,
}

/// Everything the stand-in knows about one resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceInfo {
    /// Where it is served.
    pub gvr: Gvr,
    /// Its `kind`.
    pub kind: String,
    /// Namespaced (true) or cluster-scoped.
    pub namespaced: bool,
    /// Status subresource behaviour.
    pub status: StatusPolicy,
}

impl ResourceInfo {
    /// A resource description (used for CRDs not in the built-in table).
    pub fn new(gvr: Gvr, kind: &str, namespaced: bool, status: StatusPolicy) -> Self {
        Self {
            gvr,
            kind: kind.to_owned(),
            namespaced,
            status,
        }
    }

    pub(crate) fn has_status_subresource(&self) -> bool {
        self.status != StatusPolicy::Plain
    }

    /// Served from a CustomResourceDefinition rather than compiled into the real server (any
    /// group outside Kubernetes' own). Custom resources reject strategic merge patches.
    pub(crate) fn is_custom(&self) -> bool {
        !BUILTIN_GROUPS.contains(&self.gvr.group.as_str())
    }

    /// `plural` or `plural.group`, the form the real server uses in messages.
    pub(crate) fn qualified_plural(&self) -> String {
        if self.gvr.group.is_empty() {
            self.gvr.plural.clone()
        } else {
            format!("{}.{}", self.gvr.plural, self.gvr.group)
        }
    }
}

/// Groups whose kinds are built into the real API server (the rest come from CRDs).
const BUILTIN_GROUPS: &[&str] = &[
    "",
    "apps",
    "batch",
    "storage.k8s.io",
    "coordination.k8s.io",
    "events.k8s.io",
    "apiextensions.k8s.io",
    "rbac.authorization.k8s.io",
    "policy",
    "networking.k8s.io",
    "discovery.k8s.io",
    "admissionregistration.k8s.io",
];

const NS: bool = true;
const CLUSTER: bool = false;
use StatusPolicy::{Plain, Subresource, SubresourceSetOnCreate};

/// group, version, plural, kind, namespaced, status — one line per resource our components touch.
#[rustfmt::skip]
const BUILTIN: &[(&str, &str, &str, &str, bool, StatusPolicy)] = &[
    ("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim", NS, Subresource),
    ("", "v1", "persistentvolumes", "PersistentVolume", CLUSTER, Subresource),
    ("", "v1", "secrets", "Secret", NS, Plain),
    ("", "v1", "events", "Event", NS, Plain),
    ("", "v1", "nodes", "Node", CLUSTER, SubresourceSetOnCreate),
    ("", "v1", "pods", "Pod", NS, Subresource),
    ("", "v1", "namespaces", "Namespace", CLUSTER, Subresource),
    ("", "v1", "configmaps", "ConfigMap", NS, Plain),
    ("", "v1", "serviceaccounts", "ServiceAccount", NS, Plain),
    ("rbac.authorization.k8s.io", "v1", "roles", "Role", NS, Plain),
    ("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", NS, Plain),
    ("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", CLUSTER, Plain),
    ("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", CLUSTER, Plain),
    ("storage.k8s.io", "v1", "storageclasses", "StorageClass", CLUSTER, Plain),
    ("storage.k8s.io", "v1", "volumeattachments", "VolumeAttachment", CLUSTER, Subresource),
    ("storage.k8s.io", "v1", "csinodes", "CSINode", CLUSTER, Plain),
    ("storage.k8s.io", "v1", "csidrivers", "CSIDriver", CLUSTER, Plain),
    ("coordination.k8s.io", "v1", "leases", "Lease", NS, Plain),
    ("events.k8s.io", "v1", "events", "Event", NS, Plain),
    ("snapshot.storage.k8s.io", "v1", "volumesnapshots", "VolumeSnapshot", NS, Subresource),
    ("snapshot.storage.k8s.io", "v1", "volumesnapshotcontents", "VolumeSnapshotContent", CLUSTER, Subresource),
    ("snapshot.storage.k8s.io", "v1", "volumesnapshotclasses", "VolumeSnapshotClass", CLUSTER, Plain),
    ("apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition", CLUSTER, Subresource),
];

/// The resources being served.
#[derive(Debug, Clone)]
pub struct ResourceTable {
    resources: Vec<ResourceInfo>,
}

impl Default for ResourceTable {
    fn default() -> Self {
        let resources = BUILTIN
            .iter()
            .map(|&(group, version, plural, kind, namespaced, status)| {
                ResourceInfo::new(Gvr::new(group, version, plural), kind, namespaced, status)
            })
            .collect();
        Self { resources }
    }
}

impl ResourceTable {
    /// Serve one more resource (replacing one at the same coordinates).
    pub fn register(&mut self, info: ResourceInfo) {
        self.resources.retain(|r| r.gvr != info.gvr);
        self.resources.push(info);
    }

    /// The resource at these coordinates, if served.
    pub fn find(&self, gvr: &Gvr) -> Option<&ResourceInfo> {
        self.resources.iter().find(|r| &r.gvr == gvr)
    }

    pub(crate) fn find_parts(
        &self,
        group: &str,
        version: &str,
        plural: &str,
    ) -> Option<&ResourceInfo> {
        self.resources
            .iter()
            .find(|r| r.gvr.group == group && r.gvr.version == version && r.gvr.plural == plural)
    }

    /// The resource serving objects of `apiVersion` + `kind`.
    pub fn find_kind(&self, api_version: &str, kind: &str) -> Option<&ResourceInfo> {
        self.resources
            .iter()
            .find(|r| r.kind == kind && r.gvr.api_version() == api_version)
    }

    pub(crate) fn all(&self) -> &[ResourceInfo] {
        &self.resources
    }

    /// Serve the versions a CustomResourceDefinition declares, as the real server does once the
    /// CRD is established. Malformed CRDs are simply not served (the real server would reject
    /// them at validation, which the stand-in does not model).
    pub(crate) fn register_crd(&mut self, crd: &Value) {
        let spec = &crd["spec"];
        let (Some(group), Some(plural), Some(kind)) = (
            spec["group"].as_str(),
            spec["names"]["plural"].as_str(),
            spec["names"]["kind"].as_str(),
        ) else {
            return;
        };
        let namespaced = spec["scope"].as_str() != Some("Cluster");
        for version in spec["versions"].as_array().into_iter().flatten() {
            let Some(name) = version["name"].as_str() else {
                continue;
            };
            if version["served"].as_bool() == Some(false) {
                continue;
            }
            let status = if version["subresources"]["status"].is_object() {
                Subresource
            } else {
                Plain
            };
            self.register(ResourceInfo::new(
                Gvr::new(group, name, plural),
                kind,
                namespaced,
                status,
            ));
        }
    }
}
