//! The ABORTED answer while the mgr has not finished a clone, completion on retry, and a clone
//! that ended without completing (canceled, as a failed one) started again. Its own
//! test binary: the clone delay it sets on the mgr must not slow other tests' clones.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use tonic::Code;

/// The tests of this file one at a time: each sets and resets the mgr-wide delay.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Makes the mgr wait before it starts each clone, so a clone stays pending for a while.
/// Only clones are delayed (this crate's tests are the only ones that clone on the bed).
struct CloneDelay;

impl CloneDelay {
    fn set(seconds: u32) -> CloneDelay {
        ceph(&[
            "config",
            "set",
            "mgr",
            "mgr/volumes/snapshot_clone_delay",
            &seconds.to_string(),
        ]);
        CloneDelay
    }
}

impl Drop for CloneDelay {
    fn drop(&mut self) {
        let _ = try_ceph(&["config", "rm", "mgr", "mgr/volumes/snapshot_clone_delay"]);
    }
}

#[tokio::test]
async fn a_clone_in_progress_is_aborted_until_it_completes() {
    let _serial = SERIAL.lock().await;
    Fixture::run(|fx| async move {
        let volume = fx.create_volume("pvc-slow-src", 4 * MIB).await;
        let snapshot = fx.create_snapshot("snap-slow", &volume.volume_id).await;
        let delay = CloneDelay::set(4);
        let req = fx.restore_request("pvc-slow", 4 * MIB, &snapshot.snapshot_id);
        let s = status(fx.client().create_volume(req.clone()).await);
        assert_eq!(s.code(), Code::Aborted, "{}", s.message());
        // The clone exists and is not done; the reservation stays.
        let target = fx
            .subvolumes()
            .into_iter()
            .find(|s| *s != subvolume_of(&volume.volume_id))
            .unwrap();
        let state = fx.clone_state(&target);
        assert!(state == "pending" || state == "in-progress", "{state}");
        assert!(
            fx.omap("csi.volumes.default")
                .contains_key("csi.volume.pvc-slow")
        );
        // The snapshot is in use meanwhile.
        let mut c = fx.client();
        let busy = c
            .delete_snapshot(csi::v1::DeleteSnapshotRequest {
                snapshot_id: snapshot.snapshot_id.clone(),
                secrets: secrets(),
            })
            .await;
        if fx.clone_state(&target) != "complete" {
            // Raced only if the clone completed between the two checks.
            let s = status(busy);
            assert_eq!(s.code(), Code::FailedPrecondition, "{}", s.message());
        }
        // Retried until done, as the provisioner does.
        let restored = create(fx.client(), req).await;
        drop(delay);
        assert_eq!(subvolume_of(&restored.volume_id), target);
        assert_eq!(fx.clone_state(&target), "complete");
        fx.delete_volume(&restored.volume_id).await;
        fx.delete_snapshot(&snapshot.snapshot_id).await;
        fx.delete_volume(&volume.volume_id).await;
        assert!(fx.subvolumes().is_empty());
    })
    .await;
}

#[tokio::test]
async fn a_canceled_clone_is_removed_and_started_again() {
    let _serial = SERIAL.lock().await;
    Fixture::run(|fx| async move {
        let volume = fx.create_volume("pvc-cancel-src", 4 * MIB).await;
        let snapshot = fx.create_snapshot("snap-cancel", &volume.volume_id).await;
        let delay = CloneDelay::set(4);
        let req = fx.restore_request("pvc-canceled", 4 * MIB, &snapshot.snapshot_id);
        let s = status(fx.client().create_volume(req.clone()).await);
        assert_eq!(s.code(), Code::Aborted, "{}", s.message());
        let source = subvolume_of(&volume.volume_id);
        let target = fx.subvolumes().into_iter().find(|s| *s != source).unwrap();
        // What a clone that failed looks like to the controller: not complete, and never will be.
        ceph(&[
            "fs",
            "clone",
            "cancel",
            &bed().fs,
            &target,
            "--group_name",
            &fx.group,
        ]);
        assert_eq!(fx.clone_state(&target), "canceled");
        let restored = create(fx.client(), req).await;
        drop(delay);
        // The same subvolume name (the reservation's), cloned afresh and complete; nothing else.
        assert_eq!(subvolume_of(&restored.volume_id), target);
        assert_eq!(fx.clone_state(&target), "complete");
        let mut expected = vec![source, target];
        expected.sort();
        assert_eq!(fx.subvolumes(), expected);
        fx.delete_volume(&restored.volume_id).await;
        fx.delete_snapshot(&snapshot.snapshot_id).await;
        fx.delete_volume(&volume.volume_id).await;
        assert!(fx.subvolumes().is_empty());
    })
    .await;
}

#[tokio::test]
async fn the_end_of_a_clone_is_announced_on_nats_with_its_request_and_claim() {
    let _serial = SERIAL.lock().await;
    // A NATS of this test's own: what it stored is this clone's announcement only.
    let nats = sepia_testbed::NatsServer::start().await;
    let url = nats.url();
    Builder::default()
        .nats(url)
        .run(|fx| async move {
            let volume = fx.create_volume("pvc-told-src", 4 * MIB).await;
            let snapshot = fx.create_snapshot("snap-told", &volume.volume_id).await;
            let delay = CloneDelay::set(2);
            let mut req = fx.restore_request("pvc-told", 4 * MIB, &snapshot.snapshot_id);
            req.parameters
                .insert("csi.storage.k8s.io/pvc/name".into(), "told".into());
            req.parameters
                .insert("csi.storage.k8s.io/pvc/namespace".into(), "apps".into());
            let s = status(fx.client().create_volume(req.clone()).await);
            assert_eq!(s.code(), Code::Aborted, "{}", s.message());
            let source = subvolume_of(&volume.volume_id);
            let target = fx.subvolumes().into_iter().find(|s| *s != source).unwrap();

            // Nobody retries: the controller watches the clone on its own and announces its end.
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
            let stored = loop {
                let stored =
                    sidecar_testkit::nats::stored_events(&nats, "sepia.cephfs-controller.volume.>")
                        .await;
                if !stored.is_empty() {
                    break stored;
                }
                assert!(
                    std::time::Instant::now() < deadline,
                    "no clone announcement; the clone is {}",
                    fx.clone_state(&target)
                );
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            };
            assert_eq!(stored.len(), 1, "{stored:?}");
            let event = &stored[0];
            assert_eq!(event.verb, "cloned", "{event:?}");
            assert!(event.outcome.is_ok(), "{event:?}");
            // Announced only once the mgr says the copy is complete.
            assert_eq!(fx.clone_state(&target), "complete");
            assert_eq!(event.driver.as_deref(), Some("cephfs.csi.sepia.io"));
            assert_eq!(event.csi.request_name.as_deref(), Some("pvc-told"));
            assert_eq!(
                event.csi.snapshot_id.as_deref(),
                Some(snapshot.snapshot_id.as_str())
            );
            let claim = event.kubernetes.as_ref().unwrap();
            assert_eq!(
                (
                    claim.kind.as_str(),
                    claim.namespace.as_deref(),
                    claim.name.as_str()
                ),
                ("PersistentVolumeClaim", Some("apps"), "told")
            );
            drop(delay);

            // The retry the event triggers finds the clone done.
            let restored = create(fx.client(), req).await;
            assert_eq!(subvolume_of(&restored.volume_id), target);
            fx.delete_volume(&restored.volume_id).await;
            fx.delete_snapshot(&snapshot.snapshot_id).await;
            fx.delete_volume(&volume.volume_id).await;
            assert!(fx.subvolumes().is_empty());
        })
        .await;
}
