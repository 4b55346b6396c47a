//! A Velero-style backup and restore through the VolumeSnapshotClass the manifests ship for it,
//! `sepia-rbd-retain` (`deploy/kustomize/base/samples`), with every Sepia binary: the snapshot
//! is cut through the Retain class; the namespace's claim and VolumeSnapshot go (and the
//! released content, as Velero cleans up once it has recorded the handle); Ceph keeps the
//! snapshot; a pre-provisioned VolumeSnapshotContent naming that handle and a VolumeSnapshot
//! naming the content restore the data into a new claim, read back through the node plugin.

use std::path::PathBuf;

use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim};
use snapshot_api::{DeletionPolicy, VolumeSnapshot, VolumeSnapshotClass, VolumeSnapshotContent};

use crate::cluster::{binder, write_durably};
use crate::harness::*;
use crate::pre_provisioned::{imported_content, snapshot_of_content};

const NS: &str = "shop";
const RESTORED_NS: &str = "shop-restored";
const DATA: &[u8] = b"orders, before the namespace went";
const VELERO_LABEL: &str = "velero.io/csi-volumesnapshot-class";

/// A VolumeSnapshotClass as `deploy/kustomize/base/samples/<file>` ships it.
fn shipped_class(file: &str) -> VolumeSnapshotClass {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../deploy/kustomize/base/samples")
        .join(file);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn velero_label(class: &VolumeSnapshotClass) -> Option<String> {
    class.metadata.labels.as_ref()?.get(VELERO_LABEL).cloned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_backup_through_the_retain_class_outlives_its_namespace_and_restores_its_data() {
    // Velero takes the one class labelled for the driver: the Retain one, not the Delete one.
    let retain = shipped_class("volumesnapshotclass-retain.yaml");
    let delete = shipped_class("volumesnapshotclass.yaml");
    assert_eq!(retain.metadata.name.as_deref(), Some("sepia-rbd-retain"));
    assert_eq!(retain.driver, DRIVER);
    assert_eq!(retain.deletion_policy, DeletionPolicy::Retain);
    assert_eq!(velero_label(&retain).as_deref(), Some("true"));
    assert_eq!(delete.deletion_policy, DeletionPolicy::Delete);
    assert_eq!(
        velero_label(&delete),
        None,
        "only one class per driver is Velero's"
    );

    let mut env = Env::start("backup").await;
    env.start_snapshotter("snapshotter", &[]);
    env.start_provisioner();
    let mut kubelet = env.start_node().await;
    let binding = tokio::spawn(binder(env.client.clone()));
    env.put_storage_class();
    // Pointed at the test's cluster and Secret, as an overlay points it at its own.
    let mut class = retain;
    let parameters = class.parameters.get_or_insert_with(Default::default);
    parameters.insert("clusterID".to_owned(), CLUSTER_ID.to_owned());
    parameters.insert(
        snapshot_api::keys::SNAPSHOTTER_SECRET_NAME_KEY.to_owned(),
        SECRET_NAME.to_owned(),
    );
    parameters.insert(
        snapshot_api::keys::SNAPSHOTTER_SECRET_NAMESPACE_KEY.to_owned(),
        SECRET_NAMESPACE.to_owned(),
    );
    env.standin.put(&class).unwrap();

    env.put_provisioned_claim(NS, "db", "64Mi", None);
    let origin = env.wait_claim_bound(NS, "db").await;
    let mount = kubelet.mount(&origin).await;
    write_durably(&mount.join("data.txt"), DATA);
    kubelet.unmount(&origin).await;

    // The backup.
    env.put_snapshot(NS, "db-backup", "db", Some("sepia-rbd-retain"));
    let ready = env.wait_ready(NS, "db-backup").await;
    let content = env.content_of(&ready);
    assert_eq!(content.spec.deletion_policy, DeletionPolicy::Retain);
    let handle = content.status_snapshot_handle().unwrap().to_owned();
    let content_name = content.metadata.name.clone().unwrap();

    // The namespace goes: its VolumeSnapshot and its claim (whose volume goes with it).
    env.delete::<VolumeSnapshot>(NS, "db-backup");
    env.delete::<PersistentVolumeClaim>(NS, "db");
    env.wait_gone::<VolumeSnapshot>(NS, "db-backup", "VolumeSnapshot gone")
        .await;
    env.wait_gone::<PersistentVolumeClaim>(NS, "db", "claim gone")
        .await;
    let origin_pv = origin.metadata.name.clone().unwrap();
    env.wait_gone::<PersistentVolume>("", &origin_pv, "origin PV gone")
        .await;
    // Velero deletes the released content once it has the handle; Retain keeps the snapshot.
    env.wait::<VolumeSnapshotContent>("", &content_name, "content released", |c| {
        c.is_some_and(|c| {
            c.metadata
                .annotations
                .as_ref()
                .is_some_and(|a| a.contains_key(snapshot_api::keys::BEING_DELETED_ANNOTATION))
        })
    })
    .await;
    env.delete::<VolumeSnapshotContent>("", &content_name);
    env.wait_gone::<VolumeSnapshotContent>("", &content_name, "content gone")
        .await;
    assert!(
        env.images().iter().any(|i| i.starts_with("csi-snap-")),
        "Ceph keeps the snapshot: {:?}",
        env.images()
    );
    assert!(
        env.driver_snapshot(&handle)
            .await
            .is_some_and(|s| s.ready_to_use),
        "the driver still lists {handle}"
    );

    // The restore, as Velero does it: a content naming the handle, a VolumeSnapshot naming
    // the content, a claim from the VolumeSnapshot — in a namespace of its own.
    env.standin
        .put(&imported_content(
            "db-backup-restored",
            &handle,
            RESTORED_NS,
            "db-backup",
            DeletionPolicy::Retain,
        ))
        .unwrap();
    env.standin
        .put(&snapshot_of_content(
            RESTORED_NS,
            "db-backup",
            "db-backup-restored",
        ))
        .unwrap();
    env.wait_ready(RESTORED_NS, "db-backup").await;
    env.put_provisioned_claim(RESTORED_NS, "db", "64Mi", Some("db-backup"));
    let restored = env.wait_claim_bound(RESTORED_NS, "db").await;
    let mount = kubelet.mount(&restored).await;
    let data = std::fs::read(mount.join("data.txt")).unwrap();
    kubelet.unmount(&restored).await;
    assert_eq!(data, DATA, "the restored claim holds the backed-up data");

    // Clean-up, children first: the restored claim, the objects, then the snapshot itself
    // (Retain: only an admin deletes it).
    env.delete::<PersistentVolumeClaim>(RESTORED_NS, "db");
    let restored_pv = restored.metadata.name.clone().unwrap();
    env.wait_gone::<PersistentVolume>("", &restored_pv, "restored PV gone")
        .await;
    env.delete::<VolumeSnapshot>(RESTORED_NS, "db-backup");
    env.wait_gone::<VolumeSnapshot>(RESTORED_NS, "db-backup", "restore VolumeSnapshot gone")
        .await;
    env.delete::<VolumeSnapshotContent>("", "db-backup-restored");
    env.wait_gone::<VolumeSnapshotContent>("", "db-backup-restored", "restore content gone")
        .await;
    env.delete_csi_snapshot(&handle).await;
    env.wait_images(&[]).await;
    binding.abort();
}
