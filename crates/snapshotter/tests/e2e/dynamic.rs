//! A VolumeSnapshot of a bound PVC: default class, content, CreateSnapshot, readiness as the
//! driver reports it, mirrored status, and deletion down to Ceph. (How fast readiness shows is
//! measured by the snapshotter's benchmark, not asserted here.)

use k8s_openapi::api::core::v1::PersistentVolumeClaim;
use snapshot_api::{DeletionPolicy, VolumeSnapshot, VolumeSnapshotContent, keys};

use crate::harness::*;

const MIB: i64 = 1 << 20;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_snapshot_of_a_bound_pvc_becomes_ready_and_its_delete_empties_ceph() {
    let mut env = Env::start("dyn").await;
    env.start_snapshotter("snapshotter", &[]);
    let volume_id = env.create_volume("pvc-dyn-source", 64 * MIB).await;
    env.put_bound_claim("apps", "data", &volume_id, "64Mi");
    env.put_class("rbd-default", DeletionPolicy::Delete, true);
    let volume_image = env.images();
    assert_eq!(volume_image.len(), 1, "{volume_image:?}");

    let snapshot = env.put_snapshot("apps", "snap-1", "data", None);
    let uid = snapshot.metadata.uid.clone().unwrap();
    let content_name = format!("snapcontent-{uid}");

    // Ready as the VolumeSnapshot shows it, and as the driver (asked independently) says.
    let ready = env.wait_ready("apps", "snap-1").await;
    let content = env.content_of(&ready);
    assert_eq!(
        content.metadata.name.as_deref(),
        Some(content_name.as_str())
    );
    let handle = content.status_snapshot_handle().unwrap().to_owned();
    assert!(
        env.driver_snapshot(&handle)
            .await
            .is_some_and(|s| s.ready_to_use),
        "readyToUse shown before the driver said so"
    );

    // The VolumeSnapshot, as a user reads it.
    assert_eq!(
        ready.spec.volume_snapshot_class_name.as_deref(),
        Some("rbd-default"),
        "default class"
    );
    let status = ready.status.clone().unwrap();
    assert_eq!(
        status.bound_volume_snapshot_content_name.as_deref(),
        Some(content_name.as_str())
    );
    assert_eq!(
        status.restore_size.as_ref().map(|q| q.0.as_str()),
        Some("64Mi")
    );
    assert!(status.creation_time.is_some());
    assert!(status.error.is_none());
    let finalizers = ready.metadata.finalizers.clone().unwrap_or_default();
    assert!(
        finalizers
            .iter()
            .any(|f| f == keys::SNAPSHOT_AS_SOURCE_FINALIZER),
        "{finalizers:?}"
    );
    assert!(
        finalizers
            .iter()
            .any(|f| f == keys::SNAPSHOT_BOUND_FINALIZER),
        "{finalizers:?}"
    );

    // The content, as upstream tools read it.
    let content = env.content_of(&ready);
    assert_eq!(content.spec.driver, DRIVER);
    assert_eq!(content.spec.deletion_policy, DeletionPolicy::Delete);
    assert_eq!(
        content.spec.source.volume_handle.as_deref(),
        Some(volume_id.as_str())
    );
    assert_eq!(
        content.spec.volume_snapshot_ref.uid.as_deref(),
        Some(uid.as_str())
    );
    let content_status = content.status.clone().unwrap();
    assert_eq!(
        content_status.snapshot_handle.as_deref(),
        Some(handle.as_str())
    );
    assert_eq!(content_status.restore_size, Some(64 * MIB));
    assert!(
        content_status
            .creation_time
            .is_some_and(|ns| ns > 1_600_000_000_000_000_000)
    );
    let annotations = content.metadata.annotations.clone().unwrap_or_default();
    assert!(
        !annotations.contains_key(keys::BEING_CREATED_ANNOTATION),
        "{annotations:?}"
    );
    assert_eq!(
        annotations
            .get(keys::DELETION_SECRET_NAME_ANNOTATION)
            .map(String::as_str),
        Some(SECRET_NAME)
    );
    assert!(
        content
            .metadata
            .finalizers
            .unwrap_or_default()
            .iter()
            .any(|f| f == keys::CONTENT_BOUND_FINALIZER)
    );

    // The source PVC was protected while the cut was pending, and is released now.
    env.wait::<PersistentVolumeClaim>("apps", "data", "PVC released", |c| {
        c.is_some_and(|c| {
            !c.metadata
                .finalizers
                .clone()
                .unwrap_or_default()
                .iter()
                .any(|f| f == keys::PVC_AS_SOURCE_FINALIZER)
        })
    })
    .await;
    env.wait_events(
        "apps",
        "snap-1",
        &["CreatingSnapshot", "SnapshotCreated", "SnapshotReady"],
    )
    .await;

    // Ceph holds the snapshot image.
    let images = env.wait_image_count(2).await;
    assert!(
        images.iter().any(|i| i.starts_with("csi-snap-")),
        "{images:?}"
    );

    // Deleting the VolumeSnapshot deletes the content and the Ceph snapshot.
    assert!(
        !env.delete::<VolumeSnapshot>("apps", "snap-1"),
        "finalizers hold it"
    );
    env.wait_gone::<VolumeSnapshot>("apps", "snap-1", "VolumeSnapshot gone")
        .await;
    env.wait_gone::<VolumeSnapshotContent>("", &content_name, "content gone")
        .await;
    env.wait_images(&volume_image).await;
    assert!(
        env.driver_snapshot(&handle).await.is_none(),
        "the driver still lists {handle}"
    );

    // Every change to an existing object was a PATCH: the VolumeSnapshot and its status,
    // the content and its status, the source PVC's finalizer.
    for plural in [
        "volumesnapshots",
        "volumesnapshotcontents",
        "persistentvolumeclaims",
    ] {
        let writes = env.writes(plural);
        assert!(
            writes
                .iter()
                .any(|(verb, _)| *verb == kube_standin::Verb::Patch),
            "{plural}: {writes:?}"
        );
        assert!(
            writes.iter().all(|(verb, _)| matches!(
                verb,
                kube_standin::Verb::Patch | kube_standin::Verb::Create | kube_standin::Verb::Delete
            )),
            "{plural}: {writes:?}"
        );
    }
    for plural in ["volumesnapshots", "volumesnapshotcontents"] {
        assert!(
            env.writes(plural)
                .contains(&(kube_standin::Verb::Patch, Some("status".to_owned()))),
            "{plural} status"
        );
    }

    env.delete_volume(&volume_id).await;
    env.wait_images(&[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_snapshot_waiting_for_its_class_proceeds_as_soon_as_the_class_exists() {
    let mut env = Env::start("lateclass").await;
    env.start_snapshotter("snapshotter", &[]);
    let volume_id = env.create_volume("pvc-lateclass-source", 16 * MIB).await;
    env.put_bound_claim("apps", "data", &volume_id, "16Mi");
    env.put_snapshot("apps", "early", "data", Some("gold"));
    let waiting = env
        .wait::<VolumeSnapshot>("apps", "early", "error naming the class", |s| {
            s.and_then(|s| s.status.as_ref()?.error.as_ref()?.message.clone())
                .is_some_and(|m| m.contains("VolumeSnapshotClass gold does not exist"))
        })
        .await
        .unwrap();
    assert!(!waiting.is_ready());
    env.wait_events("apps", "early", &["SnapshotContentCreationFailed"])
        .await;

    // The class appears: the snapshot proceeds (a class event queues it again).
    env.put_class("gold", DeletionPolicy::Delete, false);
    let ready = env.wait_ready("apps", "early").await;
    assert!(
        ready.status.unwrap().error.is_none(),
        "the old error is gone"
    );

    env.delete::<VolumeSnapshot>("apps", "early");
    env.wait_gone::<VolumeSnapshot>("apps", "early", "snapshot gone")
        .await;
    env.delete_volume(&volume_id).await;
    env.wait_images(&[]).await;
}
