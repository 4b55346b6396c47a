//! Builders for the objects the scenarios use.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    ConfigMap, PersistentVolumeClaim, PersistentVolumeClaimSpec, TypedLocalObjectReference,
    VolumeResourceRequirements,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use kube::api::ObjectMeta;
use kube_standin::StandIn;

pub async fn standin() -> (StandIn, kube::Client) {
    let standin = StandIn::start().await.unwrap();
    let client = standin.client().unwrap();
    (standin, client)
}

pub fn config_map(name: &str) -> ConfigMap {
    ConfigMap {
        metadata: ObjectMeta {
            name: Some(name.into()),
            ..Default::default()
        },
        ..Default::default()
    }
}

pub trait WithLabels: Sized {
    fn labels_mut(&mut self) -> &mut BTreeMap<String, String>;
    fn with_label(mut self, key: &str, value: &str) -> Self {
        self.labels_mut().insert(key.into(), value.into());
        self
    }
}

impl WithLabels for ConfigMap {
    fn labels_mut(&mut self) -> &mut BTreeMap<String, String> {
        self.metadata.labels.get_or_insert_with(BTreeMap::new)
    }
}

pub fn with_finalizer(mut cm: ConfigMap, finalizer: &str) -> ConfigMap {
    cm.metadata
        .finalizers
        .get_or_insert_with(Vec::new)
        .push(finalizer.into());
    cm
}

/// A PVC using many optional fields, so a round trip that drops any of them shows.
pub fn pvc(name: &str) -> PersistentVolumeClaim {
    PersistentVolumeClaim {
        metadata: ObjectMeta {
            name: Some(name.into()),
            labels: Some(BTreeMap::from([("app".into(), "db".into())])),
            annotations: Some(BTreeMap::from([(
                "volume.kubernetes.io/storage-provisioner".into(),
                "rbd.csi.sepia.io".into(),
            )])),
            ..Default::default()
        },
        spec: Some(PersistentVolumeClaimSpec {
            access_modes: Some(vec!["ReadWriteOnce".into()]),
            storage_class_name: Some("sepia-rbd".into()),
            volume_mode: Some("Block".into()),
            resources: Some(VolumeResourceRequirements {
                requests: Some(BTreeMap::from([("storage".into(), Quantity("1Gi".into()))])),
                ..Default::default()
            }),
            data_source: Some(TypedLocalObjectReference {
                api_group: Some("snapshot.storage.k8s.io".into()),
                kind: "VolumeSnapshot".into(),
                name: "snap-1".into(),
            }),
            ..Default::default()
        }),
        status: None,
    }
}

pub fn api_code(err: &kube::Error) -> Option<(u16, String)> {
    match err {
        kube::Error::Api(status) => Some((status.code, status.reason.clone())),
        _ => None,
    }
}
