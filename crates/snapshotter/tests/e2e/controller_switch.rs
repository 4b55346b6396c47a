//! `--enable-snapshot-controller`: off by default (most clusters run upstream's
//! snapshot-controller, and two binders must not race), on where none runs, and then under
//! upstream's Lease `snapshot-controller-leader`, so it and upstream's contend as one.
//!
//! The test first plays upstream's snapshot-controller beside a default snapshotter: it creates
//! the VolumeSnapshotContent for a VolumeSnapshot itself. The snapshotter's CSI half cuts it;
//! nothing binds the VolumeSnapshot and no controller Lease appears. Then a snapshotter with the
//! flag replaces it, takes `snapshot-controller-leader` and binds the snapshot.

use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use snapshot_api::{
    DeletionPolicy, VolumeSnapshot, VolumeSnapshotContent, VolumeSnapshotContentSource,
    VolumeSnapshotContentSpec,
};

use crate::harness::*;

const MIB: i64 = 1 << 20;
const CONTROLLER_LEASE: &str = "snapshot-controller-leader";
const LEADER_FLAGS: [&str; 4] = [
    "--leader-election",
    "--leader-election-lease-duration=3s",
    "--leader-election-renew-deadline=2s",
    "--leader-election-retry-period=500ms",
];

/// The content upstream's snapshot-controller creates for a dynamic VolumeSnapshot.
fn content_for(snapshot: &VolumeSnapshot, volume_id: &str, class: &str) -> VolumeSnapshotContent {
    let uid = snapshot.metadata.uid.clone().unwrap();
    VolumeSnapshotContent {
        metadata: ObjectMeta {
            name: Some(format!("snapcontent-{uid}")),
            ..ObjectMeta::default()
        },
        spec: VolumeSnapshotContentSpec {
            volume_snapshot_ref: ObjectReference {
                api_version: Some("snapshot.storage.k8s.io/v1".to_owned()),
                kind: Some("VolumeSnapshot".to_owned()),
                name: snapshot.metadata.name.clone(),
                namespace: snapshot.metadata.namespace.clone(),
                uid: Some(uid),
                ..ObjectReference::default()
            },
            deletion_policy: DeletionPolicy::Delete,
            driver: DRIVER.to_owned(),
            volume_snapshot_class_name: Some(class.to_owned()),
            source: VolumeSnapshotContentSource {
                volume_handle: Some(volume_id.to_owned()),
                snapshot_handle: None,
            },
            source_volume_mode: Some("Filesystem".to_owned()),
        },
        status: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_snapshot_controller_half_is_off_by_default_and_uses_upstreams_lease_when_on() {
    let mut env = Env::start("switch").await;
    env.start_default_snapshotter("default", &LEADER_FLAGS);
    let volume_id = env.create_volume("pvc-switch-source", 16 * MIB).await;
    env.put_bound_claim("apps", "data", &volume_id, "16Mi");
    env.put_class("rbd-switch", DeletionPolicy::Delete, true);
    let snapshot = env.put_snapshot("apps", "nightly", "data", Some("rbd-switch"));

    // Upstream's snapshot-controller's part, played by the test.
    let content = env
        .standin
        .put(&content_for(&snapshot, &volume_id, "rbd-switch"))
        .unwrap();
    let content_name = content.metadata.name.clone().unwrap();
    env.wait::<VolumeSnapshotContent>("", &content_name, "the CSI half cuts it", |c| {
        c.is_some_and(VolumeSnapshotContent::is_ready)
    })
    .await;
    // The default process did its half and nothing of the other: the snapshot it could have
    // bound all along is untouched, and it never asked for the controller's Lease.
    let untouched: VolumeSnapshot = env.get("apps", "nightly").unwrap();
    assert!(
        untouched.status.is_none(),
        "the default snapshotter acted as the snapshot controller: {:?}",
        untouched.status
    );
    assert_eq!(env.lease_holder(CONTROLLER_LEASE), None);
    assert!(
        env.lease_holder(SNAPSHOTTER_LEASE)
            .is_some_and(|h| h.starts_with("default"))
    );

    // Where no upstream snapshot-controller runs: the flag on. Both halves run in the replica
    // that holds the csi-snapshotter Lease, so the default one goes.
    let mut flags = LEADER_FLAGS.to_vec();
    flags.push("--enable-snapshot-controller");
    env.start_default_snapshotter("binder", &flags);
    env.process("default").kill().await;
    let ready = env.wait_ready("apps", "nightly").await;
    assert_eq!(
        ready.bound_content_name(),
        Some(content_name.as_str()),
        "bound to the content the CSI half cut"
    );
    // upstream's Lease, in the namespace upstream's rule gives (POD_NAMESPACE here).
    assert!(
        env.lease_holder(CONTROLLER_LEASE)
            .is_some_and(|h| h.starts_with("binder")),
        "{:?}",
        env.lease_holder(CONTROLLER_LEASE)
    );

    env.delete::<VolumeSnapshot>("apps", "nightly");
    env.wait_gone::<VolumeSnapshot>("apps", "nightly", "snapshot gone")
        .await;
    env.delete_volume(&volume_id).await;
    env.wait_images(&[]).await;
}
