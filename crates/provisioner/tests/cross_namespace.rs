//! A restore from a VolumeSnapshot in another namespace (`dataSourceRef.namespace`), with the
//! `CrossNamespaceVolumeDataSource` gate on: the provisioner's source resolution against the
//! API stand-in reads the ReferenceGrants of the source's namespace, as upstream does. (No
//! CSI call is involved; the end-to-end restore with the binary is in `data_sources.rs`.)
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use csi::v1::volume_content_source::Type;
use k8s_openapi::api::core::v1::PersistentVolumeClaim;
use kube_standin::{Gvr, ResourceInfo, StandIn, StatusPolicy};
use provisioner::error::ProvisionerError;
use provisioner::source::data_source::SourceRules;
use provisioner::source::sources::{SourceObject, resolve};
use serde_json::json;

const DRIVER: &str = "rbd.csi.sepia.io";
const MI128: u64 = 128 << 20;

fn grants() -> Gvr {
    Gvr::new("gateway.networking.k8s.io", "v1beta1", "referencegrants")
}

/// A ready snapshot `vault/snap` of our driver, and claim `apps/new` restoring from it.
fn world(standin: &StandIn) -> PersistentVolumeClaim {
    let snapshots = Gvr::new("snapshot.storage.k8s.io", "v1", "volumesnapshots");
    let contents = Gvr::new("snapshot.storage.k8s.io", "v1", "volumesnapshotcontents");
    let vs = standin
        .put_object(
            &snapshots,
            json!({"apiVersion": "snapshot.storage.k8s.io/v1", "kind": "VolumeSnapshot",
                "metadata": {"name": "snap", "namespace": "vault"},
                "spec": {"source": {"persistentVolumeClaimName": "db"}},
                "status": {"boundVolumeSnapshotContentName": "snap-content", "readyToUse": true,
                    "restoreSize": "128Mi"}}),
        )
        .unwrap();
    standin
        .put_object(
            &contents,
            json!({"apiVersion": "snapshot.storage.k8s.io/v1", "kind": "VolumeSnapshotContent",
                "metadata": {"name": "snap-content"},
                "spec": {"driver": DRIVER, "deletionPolicy": "Delete",
                    "source": {"volumeHandle": "vol-1"}, "sourceVolumeMode": "Filesystem",
                    "volumeSnapshotRef": {"name": "snap", "namespace": "vault",
                        "uid": vs["metadata"]["uid"]}},
                "status": {"snapshotHandle": "snap-id-1", "readyToUse": true,
                    "restoreSize": MI128}}),
        )
        .unwrap();
    let claim = standin
        .put_object(
            &Gvr::of::<PersistentVolumeClaim>(),
            json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                "metadata": {"name": "new", "namespace": "apps"},
                "spec": {"accessModes": ["ReadWriteOnce"],
                    "resources": {"requests": {"storage": "128Mi"}},
                    "dataSourceRef": {"apiGroup": "snapshot.storage.k8s.io",
                        "kind": "VolumeSnapshot", "name": "snap", "namespace": "vault"}}}),
        )
        .unwrap();
    serde_json::from_value(claim).unwrap()
}

fn gate_on() -> SourceRules {
    SourceRules {
        cross_namespace: true,
        ..SourceRules::default()
    }
}

fn refusal(
    result: Result<Option<provisioner::source::sources::ResolvedSource>, ProvisionerError>,
) -> String {
    match result {
        Err(ProvisionerError::Source(error)) => error.to_string(),
        other => panic!("want a refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn a_snapshot_in_another_namespace_is_read_only_with_a_reference_grant() {
    let standin = StandIn::start().await.unwrap();
    let client = standin.client().unwrap();
    let claim = world(&standin);

    // Gateway API not installed: no grant can exist.
    let error = refusal(resolve(&client, &claim, DRIVER, MI128, gate_on()).await);
    assert!(
        error.contains("no ReferenceGrant in namespace vault"),
        "{error}"
    );
    // Gate off: refused whatever grants say.
    let error = refusal(resolve(&client, &claim, DRIVER, MI128, SourceRules::default()).await);
    assert!(error.contains("CrossNamespaceVolumeDataSource"), "{error}");

    standin.register_resource(ResourceInfo::new(
        grants(),
        "ReferenceGrant",
        true,
        StatusPolicy::Plain,
    ));
    // A grant for claims of another namespace does not count.
    standin
        .put_object(
            &grants(),
            json!({"apiVersion": "gateway.networking.k8s.io/v1beta1", "kind": "ReferenceGrant",
                "metadata": {"name": "for-dev", "namespace": "vault"},
                "spec": {"from": [{"group": "", "kind": "PersistentVolumeClaim", "namespace": "dev"}],
                    "to": [{"group": "snapshot.storage.k8s.io", "kind": "VolumeSnapshot"}]}}),
        )
        .unwrap();
    let error = refusal(resolve(&client, &claim, DRIVER, MI128, gate_on()).await);
    assert!(error.contains("no ReferenceGrant"), "{error}");

    standin
        .put_object(
            &grants(),
            json!({"apiVersion": "gateway.networking.k8s.io/v1beta1", "kind": "ReferenceGrant",
                "metadata": {"name": "for-apps", "namespace": "vault"},
                "spec": {"from": [{"group": "", "kind": "PersistentVolumeClaim", "namespace": "apps"}],
                    "to": [{"group": "snapshot.storage.k8s.io", "kind": "VolumeSnapshot", "name": "snap"}]}}),
        )
        .unwrap();
    let resolved = resolve(&client, &claim, DRIVER, MI128, gate_on())
        .await
        .unwrap()
        .expect("a source");
    match resolved.content.r#type {
        Some(Type::Snapshot(s)) => assert_eq!(s.snapshot_id, "snap-id-1"),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        resolved.object,
        SourceObject::Snapshot {
            namespace: "vault".into(),
            name: "snap".into()
        },
        "the protection finalizer goes on the source in its own namespace"
    );
}
