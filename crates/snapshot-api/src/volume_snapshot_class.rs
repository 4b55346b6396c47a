//! `VolumeSnapshotClass` (cluster-scoped): driver, parameters and deletion policy for the
//! snapshots made through it. It has no `spec` — its fields sit at the top level, as for a
//! StorageClass — so it is a plain struct with a hand-written [`Resource`] impl instead of a
//! `CustomResource` derive (which would put them under `.spec` in Rust).

use std::borrow::Cow;
use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::TopologySelectorTerm;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Resource;
use kube::core::ClusterResourceScope;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize, Serializer};

use crate::common::DeletionPolicy;
use crate::keys;

/// How snapshots of one driver are made.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(
    rename = "VolumeSnapshotClass",
    description = "VolumeSnapshotClass specifies parameters that a underlying storage system uses when creating a volume snapshot. A specific VolumeSnapshotClass is used by specifying its name in a VolumeSnapshot object. VolumeSnapshotClasses are non-namespaced"
)]
pub struct VolumeSnapshotClass {
    /// Standard object metadata (validated by the API server itself).
    #[serde(default)]
    #[schemars(skip)]
    pub metadata: ObjectMeta,
    /// The CSI driver that handles this class.
    pub driver: String,
    /// Opaque to Kubernetes; `csi.storage.k8s.io/*` keys are for the sidecars.
    #[serde(default)]
    pub parameters: Option<BTreeMap<String, String>>,
    /// Copied into every dynamic content made through this class.
    pub deletion_policy: DeletionPolicy,
    // Kept although we do not act on it, so a class that sets it survives a read-modify-write.
    /// Topologies from which snapshots made through this class are usable (alpha, KEP-5943).
    #[serde(default)]
    #[schemars(extend("x-kubernetes-list-type" = "atomic"))]
    pub allowed_topologies: Option<Vec<TopologySelectorTerm>>,
}

impl VolumeSnapshotClass {
    /// A class named `name` for `driver`.
    pub fn new(name: &str, driver: &str, deletion_policy: DeletionPolicy) -> Self {
        Self {
            metadata: ObjectMeta {
                name: Some(name.to_owned()),
                ..ObjectMeta::default()
            },
            driver: driver.to_owned(),
            parameters: None,
            deletion_policy,
            allowed_topologies: None,
        }
    }

    /// Marked `snapshot.storage.kubernetes.io/is-default-class: "true"` (exactly that value,
    /// as upstream compares it).
    pub fn is_default(&self) -> bool {
        self.metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(keys::IS_DEFAULT_CLASS_ANNOTATION))
            .is_some_and(|v| v == "true")
    }

    /// The parameters, empty when absent.
    pub fn parameters(&self) -> &BTreeMap<String, String> {
        static EMPTY: BTreeMap<String, String> = BTreeMap::new();
        self.parameters.as_ref().unwrap_or(&EMPTY)
    }
}

/// Always writes `apiVersion` and `kind` (the API server needs them on create), as the
/// `CustomResource` derive does for the other two kinds.
impl Serialize for VolumeSnapshotClass {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Repr<'a> {
            api_version: &'static str,
            kind: &'static str,
            metadata: &'a ObjectMeta,
            driver: &'a str,
            #[serde(skip_serializing_if = "Option::is_none")]
            parameters: Option<&'a BTreeMap<String, String>>,
            deletion_policy: DeletionPolicy,
            #[serde(skip_serializing_if = "Option::is_none")]
            allowed_topologies: Option<&'a Vec<TopologySelectorTerm>>,
        }
        Repr {
            api_version: keys::API_VERSION,
            kind: "VolumeSnapshotClass",
            metadata: &self.metadata,
            driver: &self.driver,
            parameters: self.parameters.as_ref(),
            deletion_policy: self.deletion_policy,
            allowed_topologies: self.allowed_topologies.as_ref(),
        }
        .serialize(serializer)
    }
}

impl Resource for VolumeSnapshotClass {
    type DynamicType = ();
    type Scope = ClusterResourceScope;

    fn kind(_: &()) -> Cow<'_, str> {
        "VolumeSnapshotClass".into()
    }

    fn group(_: &()) -> Cow<'_, str> {
        keys::GROUP.into()
    }

    fn version(_: &()) -> Cow<'_, str> {
        keys::VERSION.into()
    }

    fn api_version(_: &()) -> Cow<'_, str> {
        keys::API_VERSION.into()
    }

    fn plural(_: &()) -> Cow<'_, str> {
        "volumesnapshotclasses".into()
    }

    fn meta(&self) -> &ObjectMeta {
        &self.metadata
    }

    fn meta_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}
